//! The audit trail of security-relevant actions: logins (success and failure), refresh-token
//! reuse, logouts, session evictions, exports and erasures.
//!
//! Each event becomes one item `AUDIT#<day>` / `<epoch ms>#<uuid>` that expires after
//! `AUDIT_RETENTION_DAYS` (TTL), and one `audit` log line. The person is recorded as a
//! pseudonym, never the id itself, so the trail outlives an erasure without keeping the
//! erased id. The pseudonym is keyed (HMAC-SHA256 under [`App::audit_key`], a key derived
//! from the cursor secret): user ids are public, and an unkeyed digest would let anyone
//! who knows an erased user's id find her logins and addresses in the trail. Events of one
//! user still share one pseudonym (until the secret is rotated), so an operator holding
//! the secret can follow an account through the trail. If the audit write fails the
//! action still completes: the log line then carries `audit_fallback=true` and is the
//! record.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::app::App;
use crate::store::{Condition, Item, Key};

/// How an audited action ended; a refused one is a `Failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One audited action, as a handler passes it to [`record`]; `..AuditEvent::default()`
/// leaves out what does not apply.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent<'a> {
    /// `login`, `refresh_reuse`, `logout`, `session_evicted`, `export`, `erase`.
    pub action: &'static str,
    /// Refused actions are audited too.
    pub failed: bool,
    /// Whose account, when known.
    pub user_id: Option<&'a str>,
    /// The login provider, when one is involved.
    pub provider: Option<&'a str>,
    /// The session logged into, ended or evicted, or whose refresh token was replayed.
    pub session_id: Option<&'a str>,
    /// The client's address as [`crate::request::client_ip`] reads it (logins and
    /// refreshes).
    pub client_ip: Option<&'a str>,
    /// Why it was refused, in a few words (never a token or an e-mail).
    pub reason: Option<&'a str>,
    /// The id of the request that did it ([`crate::request::request_id`]), which links the
    /// item to the request's log lines.
    pub request_id: &'a str,
}

/// The pseudonym of a user in the audit trail: the first 128 bits of HMAC-SHA256 of the id
/// under `key` ([`App::audit_key`]), as 32 hex digits. Without the key it cannot be
/// computed from the id.
pub fn actor_pseudonym(key: &[u8], user_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(user_id.as_bytes());
    crate::digest::hex(&mac.finalize().into_bytes()[..16])
}

/// Writes the audit item, kept `AUDIT_RETENTION_DAYS`, and the log line; never fails the
/// action.
pub async fn record(app: &App, event: &AuditEvent<'_>) {
    let retention_days = app.config.auth.audit_retention_days;
    let now = time::OffsetDateTime::now_utc();
    let outcome = if event.failed {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    let actor = match event.user_id {
        None => None,
        Some(id) => match app.audit_key().await {
            Ok(key) => Some(actor_pseudonym(key, id)),
            Err(err) => {
                // Never an unkeyed digest instead: the event is kept without its actor.
                tracing::error!(target: "audit", error = %err, "no audit pseudonym key");
                None
            }
        },
    };
    let mut body = Map::new();
    let mut set = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            body.insert(name.into(), Value::String(v.to_owned()));
        }
    };
    set("action", Some(event.action));
    set("outcome", Some(outcome.as_str()));
    set("actor", actor.as_deref());
    set("provider", event.provider);
    set("session_id", event.session_id);
    set("client_ip", event.client_ip);
    set("reason", event.reason);
    set("request_id", Some(event.request_id));
    body.insert(
        "at_ms".into(),
        Value::from(i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)),
    );
    let day = now.date();
    let key = Key::new(
        format!("AUDIT#{day}"),
        format!(
            "{:013}#{}",
            now.unix_timestamp_nanos() / 1_000_000,
            // v7 ids rise within a millisecond too, so events keep their order
            uuid::Uuid::now_v7().simple()
        ),
    );
    let item =
        Item::new(key, body).expiring_at(now.unix_timestamp() + retention_days.max(1) * 86_400);
    let written = match app.store() {
        Ok(store) => store
            .put(item, Condition::NotExists)
            .await
            .map_err(|e| e.to_string()),
        Err(_) => Err("the store port is not built for this function".to_owned()),
    };
    let fallback = match written {
        Ok(()) => false,
        Err(err) => {
            tracing::error!(target: "audit", error = %err, "audit write failed");
            true
        }
    };
    tracing::info!(
        target: "audit",
        action = event.action,
        outcome = outcome.as_str(),
        actor = actor.as_deref().unwrap_or("-"),
        provider = event.provider.unwrap_or("-"),
        session_id = event.session_id.unwrap_or("-"),
        client_ip = event.client_ip.unwrap_or("-"),
        reason = event.reason.unwrap_or("-"),
        request_id = event.request_id,
        audit_fallback = fallback,
        "audit"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pseudonym_is_stable_under_one_key_and_differs_under_another() {
        let id = "9abf35084b4364dbea7b4b9994a2165a";
        let ours = actor_pseudonym(b"our-audit-key-of-at-least-32-bytes", id);
        assert_eq!(ours.len(), 32);
        assert!(ours.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            ours,
            actor_pseudonym(b"our-audit-key-of-at-least-32-bytes", id)
        );
        assert_ne!(
            ours,
            actor_pseudonym(b"another-key-of-at-least-32-bytes!!", id)
        );
        assert_ne!(
            ours,
            actor_pseudonym(b"our-audit-key-of-at-least-32-bytes", "another-user")
        );
    }

    #[test]
    fn a_pseudonym_is_not_a_plain_digest_of_the_id() {
        let id = "9abf35084b4364dbea7b4b9994a2165a";
        let pseudonym = actor_pseudonym(b"our-audit-key-of-at-least-32-bytes", id);
        for guess in [
            crate::digest::short_sha256_hex(&[b"runcrew-audit\n", id.as_bytes()]),
            crate::digest::short_sha256_hex(&[id.as_bytes()]),
        ] {
            assert_ne!(pseudonym, guess);
        }
    }
}
