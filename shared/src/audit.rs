//! The audit trail of security-relevant actions: logins (success and failure), refresh-token
//! reuse, logouts, session evictions, exports and erasures.
//!
//! Each event becomes one item `AUDIT#<day>` / `<epoch ms>#<uuid>` that expires after
//! `AUDIT_RETENTION_DAYS` (TTL), and one `audit` log line. The person is recorded as a
//! pseudonym (a digest of the user id), never the id itself, so the trail outlives an
//! erasure without keeping the erased id, yet anyone holding an id can still find its
//! events. If the audit write fails the action still completes: the log line then carries
//! `audit_fallback=true` and is the record.

use crate::digest::short_sha256_hex;
use serde_json::{Map, Value};

use crate::app::App;
use crate::store::{Condition, Item, Key};

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// It happened.
    Success,
    /// It was refused.
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

/// One audited action.
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
    /// The session concerned.
    pub session_id: Option<&'a str>,
    /// The client address.
    pub client_ip: Option<&'a str>,
    /// Why it was refused, in a few words (never a token or an e-mail).
    pub reason: Option<&'a str>,
    /// The request that did it.
    pub request_id: &'a str,
}

/// The pseudonym of a user in the audit trail.
pub fn actor_pseudonym(user_id: &str) -> String {
    short_sha256_hex(&[b"runcrew-audit\n", user_id.as_bytes()])
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
    let actor = event.user_id.map(actor_pseudonym);
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
