//! The Salesforce access token kept between requests, sealed.
//!
//! Every pull page and sweep is its own request (its own Wasm instance), so
//! the token is kept in the store ([`crate::store::SF_TOKEN_KEY`]) rather
//! than asked for each time. An access token is a live credential, and the
//! store is often a shared Redis, backed up and read by other tools: so the
//! store never holds it in the clear. It is sealed with XChaCha20-Poly1305
//! under a key derived (SHA-256) from the connected app's consumer key and
//! secret, which live only in Spin's variables:
//!
//! - a copy of the store, without the variables, holds no usable token;
//! - a changed secret (or app) makes the sealed token unreadable, and a new
//!   one is asked for — what rotating the secret should do anyway;
//! - an entry that does not open (tampered, another app's, an older form)
//!   is treated as no entry.
//!
//! The nonce is 24 bytes of SHA-256 over the token, the time it was issued
//! and this request's random seed: unique per token, so never reused under
//! one key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the store holds: when the token was issued, and the token sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub at: DateTime<Utc>,
    nonce: String,
    sealed: String,
}

fn cipher(client_id: &str, client_secret: &str) -> XChaCha20Poly1305 {
    let mut h = Sha256::new();
    h.update(b"sfsync salesforce token cache v1\0");
    h.update(client_id.as_bytes());
    h.update([0]);
    h.update(client_secret.as_bytes());
    let key = h.finalize();
    XChaCha20Poly1305::new(Key::from_slice(&key))
}

/// Seal `token`, issued at `at`; `seed` is random per request.
pub fn seal(
    client_id: &str,
    client_secret: &str,
    token: &str,
    at: DateTime<Utc>,
    seed: u32,
) -> Option<Sealed> {
    let mut h = Sha256::new();
    h.update(token.as_bytes());
    h.update(at.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    h.update(seed.to_le_bytes());
    let digest = h.finalize();
    let nonce = XNonce::from_slice(&digest[..24]);
    let sealed = cipher(client_id, client_secret)
        .encrypt(nonce, token.as_bytes())
        .ok()?;
    Some(Sealed {
        at,
        nonce: STANDARD.encode(nonce),
        sealed: STANDARD.encode(sealed),
    })
}

/// The token in `entry` (the stored bytes), if it opens under this app.
pub fn open(client_id: &str, client_secret: &str, entry: &[u8]) -> Option<(String, DateTime<Utc>)> {
    let s: Sealed = serde_json::from_slice(entry).ok()?;
    let nonce = STANDARD.decode(&s.nonce).ok().filter(|n| n.len() == 24)?;
    let sealed = STANDARD.decode(&s.sealed).ok()?;
    let plain = cipher(client_id, client_secret)
        .decrypt(XNonce::from_slice(&nonce), sealed.as_ref())
        .ok()?;
    Some((String::from_utf8(plain).ok()?, s.at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_under_the_same_app_and_holds_no_clear_text() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let token = "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog.39AsX.LVpxezPwuX5VAIrrbbHMuol7GQxnMeYMN7cj8EoWr78nt1u44zU31IbYNNJguseu";
        let sealed = seal("app", "secret", token, at, 7).expect("sealed");
        let bytes = serde_json::to_vec(&sealed).expect("json");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("00Dxx"), "{text}");
        assert_eq!(open("app", "secret", &bytes), Some((token.to_string(), at)));
        assert_eq!(open("app", "rotated secret", &bytes), None);
        assert_eq!(open("other app", "secret", &bytes), None);
        let mut tampered = sealed.clone();
        tampered.sealed.replace_range(0..2, "AA");
        let tampered = serde_json::to_vec(&tampered).expect("json");
        assert_eq!(open("app", "secret", &tampered), None);
        assert_eq!(
            open(
                "app",
                "secret",
                br#"{"access_token":"t","at":"2026-12-01T00:00:00Z"}"#
            ),
            None,
            "an entry in the clear (sfsync before this) is not used"
        );
        let again = seal("app", "secret", token, at, 8).expect("sealed");
        assert_ne!(again.nonce, sealed.nonce, "a nonce per request");
    }
}
