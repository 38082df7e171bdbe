//! The Zendesk Support API calls sfsync makes (`shared/specs/zendesk-api.md`),
//! each one request through [`Http`], answers classified by
//! [`super::super::classify`]. Auth is `email/token:{api token}` Basic.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::destination::classify::{status_failure, transport_failure, Failure};
use crate::destination::send_once_more_after_short_wait;
use crate::io::{Http, HttpRequest, HttpResponse};
use crate::settings::Settings;
use crate::web::percent_encode;

const WHO: &str = "Zendesk";

/// A Zendesk user, as far as sfsync cares.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: u64,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub organization_id: Option<u64>,
}

/// One organization membership.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Membership {
    pub id: u64,
    pub organization_id: u64,
    #[serde(default)]
    pub default: Option<bool>,
}

/// A configured client.
pub struct Client<'a, H> {
    http: &'a H,
    base: &'a str,
    auth: String,
    blank_url_variables: &'a [&'static str],
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

impl<'a, H: Http> Client<'a, H> {
    /// A client from the settings, or the configuration error to record.
    pub fn new(settings: &'a Settings, http: &'a H) -> Result<Self, Failure> {
        let missing = |v: &str| {
            Failure::config(format!(
                "destination is zendesk but the variable {v} is not set; set zendesk_url, zendesk_email and zendesk_api_token"
            ))
        };
        let base = settings
            .zendesk_url
            .as_deref()
            .ok_or_else(|| missing("zendesk_url"))?;
        let email = settings
            .zendesk_email
            .as_deref()
            .ok_or_else(|| missing("zendesk_email"))?;
        let token = settings
            .zendesk_api_token
            .as_ref()
            .ok_or_else(|| missing("zendesk_api_token"))?;
        Ok(Client {
            http,
            base,
            auth: basic(&format!("{email}/token"), token.expose()),
            blank_url_variables: &settings.blank_url_variables,
        })
    }

    /// One call; `Ok` only for 2xx. `Err(None)` is a 404.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<HttpResponse, Option<Failure>> {
        let req = HttpRequest::json(method, format!("{}{path}", self.base), body.as_ref())
            .with_header("authorization", &self.auth);
        match send_once_more_after_short_wait(self.http, req).await {
            Ok(resp) if (200..300).contains(&resp.status) => Ok(resp),
            Ok(resp) if resp.status == 404 => Err(None),
            Ok(resp) => Err(Some(status_failure(WHO, &resp))),
            Err(e) => Err(Some(transport_failure(
                WHO,
                "zendesk_url",
                self.blank_url_variables,
                &e,
            ))),
        }
    }

    /// A call where 404 is a failure too.
    async fn call_found(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<HttpResponse, Failure> {
        self.call(method, path, body).await.map_err(|e| {
            e.unwrap_or_else(|| Failure {
                kind: crate::record::ErrorKind::Permanent,
                http_status: Some(404),
                message: format!("Zendesk answered 404 for {method} {path}"),
            })
        })
    }

    fn field<T: for<'de> Deserialize<'de>>(resp: &HttpResponse, key: &str) -> Result<T, Failure> {
        serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v.get(key).cloned())
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| Failure {
                kind: crate::record::ErrorKind::Transient,
                http_status: Some(resp.status),
                message: format!("Zendesk's answer has no readable \"{key}\""),
            })
    }

    /// `users/me`: the authenticated agent; a call that changes nothing.
    pub async fn me(&self) -> Result<(), Failure> {
        self.call_found("GET", "/api/v2/users/me", None)
            .await
            .map(|_| ())
    }

    /// `organizations/create_or_update`: the organization's id.
    pub async fn upsert_organization(&self, organization: Value) -> Result<u64, Failure> {
        let resp = self
            .call_found(
                "POST",
                "/api/v2/organizations/create_or_update",
                Some(json!({ "organization": organization })),
            )
            .await?;
        Ok(Self::field::<IdOnly>(&resp, "organization")?.id)
    }

    /// `PUT organizations/{id}`; `None` when it is gone.
    pub async fn update_organization(
        &self,
        id: u64,
        organization: Value,
    ) -> Result<Option<u64>, Failure> {
        match self
            .call(
                "PUT",
                &format!("/api/v2/organizations/{id}"),
                Some(json!({ "organization": organization })),
            )
            .await
        {
            Ok(resp) => Ok(Some(Self::field::<IdOnly>(&resp, "organization")?.id)),
            Err(None) => Ok(None),
            Err(Some(f)) => Err(f),
        }
    }

    /// The organization with this external id, if one exists.
    pub async fn find_organization(&self, external_id: &str) -> Result<Option<u64>, Failure> {
        let resp = self
            .call_found(
                "GET",
                &format!(
                    "/api/v2/organizations/search?external_id={}",
                    percent_encode(external_id)
                ),
                None,
            )
            .await?;
        let orgs: Vec<IdOnly> = Self::field(&resp, "organizations")?;
        Ok(orgs.first().map(|o| o.id))
    }

    /// `users/create_or_update`: matches by external_id, then email.
    pub async fn upsert_user(&self, user: Value) -> Result<User, Failure> {
        let resp = self
            .call_found(
                "POST",
                "/api/v2/users/create_or_update",
                Some(json!({ "user": user })),
            )
            .await?;
        Self::field(&resp, "user")
    }

    /// `PUT users/{id}`; `None` when the user is gone.
    pub async fn update_user(&self, id: u64, user: Value) -> Result<Option<User>, Failure> {
        match self
            .call(
                "PUT",
                &format!("/api/v2/users/{id}"),
                Some(json!({ "user": user })),
            )
            .await
        {
            Ok(resp) => Ok(Some(Self::field(&resp, "user")?)),
            Err(None) => Ok(None),
            Err(Some(f)) => Err(f),
        }
    }

    /// `PUT users/{source}/merge` with `{"user":{"id":target}}`: the end
    /// user `source` is merged into `target` (its tickets and identities
    /// move there; `source` is gone). `None` when `source` is gone already.
    pub async fn merge_user(&self, source: u64, target: u64) -> Result<Option<()>, Failure> {
        match self
            .call(
                "PUT",
                &format!("/api/v2/users/{source}/merge"),
                Some(json!({ "user": { "id": target } })),
            )
            .await
        {
            Ok(_) => Ok(Some(())),
            Err(None) => Ok(None),
            Err(Some(f)) => Err(f),
        }
    }

    /// `GET users/{id}`; `None` when gone.
    pub async fn get_user(&self, id: u64) -> Result<Option<User>, Failure> {
        match self.call("GET", &format!("/api/v2/users/{id}"), None).await {
            Ok(resp) => Ok(Some(Self::field(&resp, "user")?)),
            Err(None) => Ok(None),
            Err(Some(f)) => Err(f),
        }
    }

    async fn search_users(&self, query: String) -> Result<Option<User>, Failure> {
        let resp = self
            .call_found("GET", &format!("/api/v2/users/search?{query}"), None)
            .await?;
        let users: Vec<User> = Self::field(&resp, "users")?;
        Ok(users.into_iter().next())
    }

    pub async fn find_user_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<User>, Failure> {
        self.search_users(format!("external_id={}", percent_encode(external_id)))
            .await
    }

    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, Failure> {
        self.search_users(format!(
            "query={}",
            percent_encode(&format!("email:{email}"))
        ))
        .await
    }

    /// A user's organization memberships.
    pub async fn memberships(&self, user_id: u64) -> Result<Vec<Membership>, Failure> {
        let resp = self
            .call_found(
                "GET",
                &format!("/api/v2/users/{user_id}/organization_memberships"),
                None,
            )
            .await?;
        Self::field(&resp, "organization_memberships")
    }

    /// Add a membership. One that already exists is not an error.
    pub async fn add_membership(&self, user_id: u64, organization_id: u64) -> Result<(), Failure> {
        let body = json!({ "organization_membership": { "user_id": user_id, "organization_id": organization_id } });
        match self.call("POST", "/api/v2/organization_memberships", Some(body)).await {
            Ok(_) => Ok(()),
            Err(Some(f)) if f.http_status == Some(422) && f.message.to_ascii_lowercase().contains("already") => Ok(()),
            Err(Some(f)) => Err(f),
            Err(None) => Err(Failure {
                kind: crate::record::ErrorKind::Permanent,
                http_status: Some(404),
                message: format!("Zendesk has no user {user_id} or organization {organization_id} for the membership"),
            }),
        }
    }
}

/// The bulk endpoints: which records one call of a hundred carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkEntity {
    Users,
    Organizations,
}

impl BulkEntity {
    /// The field of the body that holds the list.
    pub fn field(self) -> &'static str {
        match self {
            BulkEntity::Users => "users",
            BulkEntity::Organizations => "organizations",
        }
    }
}

/// One job's status as `job_statuses` shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobStatus {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// `queued`, `working`, `completed`, `failed` or `killed`.
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
    /// One entry per input once the job ends: `{"index","id","action"}` or
    /// `{"index","error","details"}` (`null` while it runs).
    #[serde(default, deserialize_with = "list_or_null")]
    pub results: Vec<Value>,
}

impl<H: Http> Client<'_, H> {
    /// `{users|organizations}/create_or_update_many`: the job's id.
    pub async fn create_or_update_many(
        &self,
        entity: BulkEntity,
        items: Vec<Value>,
    ) -> Result<String, Failure> {
        let field = entity.field();
        let resp = self
            .call_found(
                "POST",
                &format!("/api/v2/{field}/create_or_update_many"),
                Some(json!({ field: items })),
            )
            .await?;
        let job: JobId = Self::field(&resp, "job_status")?;
        Ok(job.id)
    }

    /// `job_statuses/show_many`: the status of up to 100 jobs in one call.
    /// A job Zendesk no longer keeps is missing from the answer.
    pub async fn job_statuses(&self, ids: &[String]) -> Result<Vec<JobStatus>, Failure> {
        let list: Vec<String> = ids.iter().map(|i| percent_encode(i)).collect();
        let resp = self
            .call_found(
                "GET",
                &format!("/api/v2/job_statuses/show_many?ids={}", list.join(",")),
                None,
            )
            .await?;
        Self::field(&resp, "job_statuses")
    }
}

#[derive(Deserialize)]
struct JobId {
    #[serde(deserialize_with = "id_text")]
    id: String,
}

fn list_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    Ok(Option::<Vec<Value>>::deserialize(d)?.unwrap_or_default())
}

/// Job ids are strings in Zendesk's answers; a number is taken as its text.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "a job id must be a string, not {other}"
        ))),
    }
}

#[derive(Deserialize)]
struct IdOnly {
    id: u64,
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_auth() {
        assert_eq!(
            super::basic("agent@acme.com/token", "abc123"),
            "Basic YWdlbnRAYWNtZS5jb20vdG9rZW46YWJjMTIz"
        );
        assert_eq!(super::basic("a", "b"), "Basic YTpi");
        assert_eq!(super::basic("ab", "c"), "Basic YWI6Yw==");
    }
}
