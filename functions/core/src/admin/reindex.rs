//! `POST /admin/reindex`: rebuild the record index ([`crate::index`]) into a
//! fresh generation, a batch of records per call (`sfsync reindex` follows
//! the cursor).
//!
//! The first call (no `cursor`) makes generation `g + 1` current: from then
//! on every sync enters its record there, and stats and pages read it. Each
//! call then enters up to [`BATCH`] more records, each under its lease, as
//! if new: so the counts of the new generation are exact, whatever drift the
//! old one had. Records come from the previous generation's `all` logs — or,
//! when rebuilding generation 0 or with `from=keys`, from a listing of every
//! `rec/` key, the one way to find records stored by a version of sfsync
//! that kept no index (a listing is refused by Spin past 128 MiB of keys).
//!
//! Each call also stores where the rebuild goes on (`ix/rebuild`),
//! so a rebuild that stopped half-way (an error, a closed terminal) resumes
//! there when called again without a cursor, rather than starting a new
//! generation from the half-built one, which would lack the records not yet
//! entered.
//!
//! Run it when few messages arrive: a request that read the generation just
//! before the switch may still enter its record in the old one, and such a
//! record moves over on its next write or the next rebuild. The old
//! generation's keys stay in the store.

use serde::{Deserialize, Serialize};

use super::error::AdminError;
use super::filter;
use crate::context::Context;
use crate::index::{self, Log, Position, Reach};
use crate::io::{Http, Kv, KvError};
use crate::lease;
use crate::store::{self, Generation};
use crate::web::{Request, Response};

/// Records entered per call at most.
pub const BATCH: usize = 500;

/// The answer of `POST /admin/reindex`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReindexReply {
    /// The generation being built (current since the first call).
    pub generation: u64,
    /// Records entered by this call.
    pub indexed: usize,
    /// Records already in the new generation (written since it started).
    pub already: usize,
    /// Pass back to continue; `null` when every record is in.
    pub next_cursor: Option<String>,
}

/// Where a rebuild is: the generation it builds, where its records come
/// from, and the last one entered.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// `rec/` keys after this one.
    Keys(Option<String>),
    /// The previous generation's `all` logs after this slot.
    Index(Option<Position>),
}

const CURSOR_PREFIX: &str = "reindex:";

fn encode(generation: u64, source: &Source) -> String {
    let rest = match source {
        Source::Keys(after) => format!("keys/{}", after.as_deref().unwrap_or("")),
        Source::Index(at) => format!(
            "index/{}",
            at.as_ref().map(Position::encode).unwrap_or_default()
        ),
    };
    filter::encode_cursor(&format!("{CURSOR_PREFIX}{generation}/{rest}"))
}

fn decode(cursor: &str) -> Result<(u64, Source), String> {
    let bad = || {
        "malformed cursor; pass back the next_cursor of the previous reindex call unchanged, or omit it to start a new rebuild".to_string()
    };
    let text = filter::decode_cursor(cursor, CURSOR_PREFIX)?;
    let rest = text.strip_prefix(CURSOR_PREFIX).ok_or_else(bad)?;
    let (generation, rest) = rest.split_once('/').ok_or_else(bad)?;
    let generation = generation.parse().map_err(|_| bad())?;
    let source = match rest.split_once('/') {
        Some(("keys", "")) => Source::Keys(None),
        Some(("keys", after)) if after.starts_with(store::RECORD_PREFIX) => {
            Source::Keys(Some(after.to_string()))
        }
        Some(("index", "")) => Source::Index(None),
        Some(("index", at)) => Source::Index(Some(Position::parse(at).ok_or_else(bad)?)),
        _ => return Err(bad()),
    };
    Ok((generation, source))
}

/// Handle `POST /admin/reindex[?cursor=…][&from=keys]`: go on with the
/// rebuild in progress (from `cursor`, or where the last call stopped), or
/// start one (`from=keys` always starts one, listing every record key).
pub async fn handle<K: Kv, H: Http>(
    req: &Request,
    ctx: &Context<'_, K, H>,
) -> Result<Response, AdminError> {
    let get = |k: &str| req.query_param(k).filter(|v| !v.is_empty());
    let from_keys = match get("from").as_deref() {
        None => false,
        Some("keys") => true,
        Some(other) => {
            return Err(AdminError::BadRequest(format!(
                "from \"{other}\" is not a source; use from=keys to list every record key, or leave it out"
            )))
        }
    };
    let current = store::generation(ctx.kv).await?;
    let resume = store::rebuild_in_progress(ctx.kv)
        .await?
        .filter(|r| r.generation == current.number && !from_keys);
    let (generation, source) = match (get("cursor"), resume) {
        (Some(c), _) => {
            let (generation, source) = decode(&c).map_err(AdminError::BadRequest)?;
            if generation != current.number {
                return Err(AdminError::Conflict(format!(
                    "this rebuild (generation {generation}) was overtaken by another (generation {}); call again without a cursor to go on with that one",
                    current.number
                )));
            }
            (generation, source)
        }
        (None, Some(stored)) => {
            let (_, source) = decode(&stored.cursor).map_err(|e| {
                KvError(format!("{} holds an unreadable rebuild position ({e}); start a new rebuild with from=keys", store::REBUILD_KEY))
            })?;
            (stored.generation, source)
        }
        (None, None) => {
            let source = if from_keys || current.number == 0 {
                Source::Keys(None)
            } else {
                Source::Index(None)
            };
            let next = Generation {
                number: current.number + 1,
                since: Some(ctx.now),
            };
            let progress = store::Rebuild {
                generation: next.number,
                cursor: encode(next.number, &source),
            };
            store::set_rebuild(ctx.kv, Some(&progress)).await?;
            store::set_generation(ctx.kv, &next).await?;
            (next.number, source)
        }
    };
    let reply = rebuild(ctx, generation, source).await?;
    let progress = reply
        .next_cursor
        .clone()
        .map(|cursor| store::Rebuild { generation, cursor });
    store::set_rebuild(ctx.kv, progress.as_ref()).await?;
    Ok(Response::json(200, &reply))
}

async fn rebuild<K: Kv, H: Http>(
    ctx: &Context<'_, K, H>,
    generation: u64,
    source: Source,
) -> Result<ReindexReply, KvError> {
    // Each record's key, and where to resume once it is entered.
    let (items, next): (Vec<(String, Source)>, Option<Source>) = match &source {
        Source::Keys(after) => {
            let keys = store::scan(ctx.kv, store::RECORD_PREFIX, after.as_deref(), BATCH).await?;
            let next = (keys.len() == BATCH).then(|| Source::Keys(keys.last().cloned()));
            let items = keys
                .into_iter()
                .map(|k| (k.clone(), Source::Keys(Some(k))))
                .collect();
            (items, next)
        }
        Source::Index(at) => {
            let reach = Reach {
                limit: BATCH,
                budget: filter::SCAN_BUDGET,
            };
            let old = generation.saturating_sub(1);
            let walked =
                index::walk(ctx.kv, old, Log::All, None, at.as_ref(), reach, &|_| true).await?;
            let items = walked
                .records
                .iter()
                .map(|r| {
                    let at = Position {
                        log: Log::All,
                        object: r.object.clone(),
                        slot: r.index.as_ref().map_or(0, |s| s.all),
                    };
                    (store::record_key(&r.reference()), Source::Index(Some(at)))
                })
                .collect();
            (items, walked.next.map(|p| Source::Index(Some(p))))
        }
    };
    let mut reply = ReindexReply {
        generation,
        indexed: 0,
        already: 0,
        next_cursor: next.as_ref().map(|s| encode(generation, s)),
    };
    let target = Generation {
        number: generation,
        since: None,
    };
    for (i, (key, _)) in items.iter().enumerate() {
        let Ok(held) = lease::hold(ctx, std::slice::from_ref(key)).await? else {
            // Being synced: the next call starts again from this record.
            let resume = if i == 0 { &source } else { &items[i - 1].1 };
            reply.next_cursor = Some(encode(generation, resume));
            return Ok(reply);
        };
        let entered = enter(ctx.kv, target, key).await;
        lease::release_all(ctx.kv, held).await;
        match entered? {
            true => reply.indexed += 1,
            false => reply.already += 1,
        }
    }
    Ok(reply)
}

/// Enter the record at `key` in `target` unless it is there already.
async fn enter<K: Kv>(kv: &K, target: Generation, key: &str) -> Result<bool, KvError> {
    let Some(mut record) = store::load_record_at(kv, key).await? else {
        return Ok(false);
    };
    if record
        .index
        .as_ref()
        .is_some_and(|s| s.generation >= target.number)
    {
        return Ok(false);
    }
    record.index = None;
    index::save(kv, target, None, &mut record).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use futures::executor::block_on;

    use super::*;
    use crate::memory::{settings_from, MemoryKv, ScriptedHttp};
    use crate::record::{Process, SyncRecord};

    fn call(kv: &MemoryKv, query: &str) -> ReindexReply {
        let settings = settings_from(&[]);
        let http = ScriptedHttp::default();
        let now: DateTime<Utc> = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let ctx = Context::new(&settings, kv, &http, now, &|| std::time::Duration::ZERO, 7);
        let req = Request {
            method: "POST".into(),
            path: "/admin/reindex".into(),
            query: query.into(),
            ..Request::default()
        };
        let resp = block_on(handle(&req, &ctx)).unwrap_or_else(|e| panic!("{e:?}"));
        serde_json::from_slice(&resp.body).expect("reply")
    }

    /// A rebuild that stopped after its first batch goes on where it
    /// stopped when called again without a cursor: the new generation ends
    /// with every record, not only the first batch's.
    #[test]
    fn a_stopped_rebuild_resumes_instead_of_starting_from_its_half() {
        let kv = MemoryKv::new();
        let first = Generation {
            number: 1,
            since: None,
        };
        block_on(store::set_generation(&kv, &first)).expect("generation");
        for n in 0..BATCH + 100 {
            let mut r = SyncRecord::new("Contact", &format!("003{n:015}"), Process::Created);
            block_on(index::save(&kv, first, None, &mut r)).expect("saved");
        }
        let started = call(&kv, "");
        assert_eq!((started.generation, started.indexed), (2, BATCH));
        assert!(started.next_cursor.is_some());
        // The caller lost the cursor (stopped); calling again resumes.
        let resumed = call(&kv, "");
        assert_eq!((resumed.generation, resumed.indexed), (2, 100));
        assert_eq!(resumed.next_cursor, None);
        let tallies = block_on(index::tallies(&kv, 2)).expect("tallies");
        assert_eq!(tallies["Contact"].members[&Log::All], (BATCH + 100) as u64);
        // Done: the next call starts generation 3.
        assert_eq!(call(&kv, "").generation, 3);
    }
}
