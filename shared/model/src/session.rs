//! Login sessions, refresh tokens and access tokens.
//!
//! A session is one item in the user's partition, `USER#<userId>` / `SESSION#<sessionId>`,
//! with time-ordered session ids (UUID v7), so "a user's sessions, oldest first" is one
//! Query and erasure of the partition ends them all. It holds only the SHA-256 of the
//! current refresh token and of the tokens it replaced.
//!
//! The refresh token is `<userId>.<sessionId>.<secret>` with 256 random bits of secret: the
//! ids say which item to read (one GetItem), the secret is what proves possession. Each
//! refresh replaces the secret under a version condition, so of two refreshes racing with
//! one token exactly one wins. A secret that was already replaced, presented again, means
//! the token was copied: the whole session ends and the event is audited.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use runcrew_shared::clock::now_rfc3339;
use runcrew_shared::digest::sha256_hex;
use runcrew_shared::identity::Provider;
use runcrew_shared::ids::has_id_shape;
use runcrew_shared::store::{
    Condition, Item, Key, Query, SortRange, Store, StoreError, Write, from_body, to_body,
};
use runcrew_shared::{ApiError, App};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::profile::{account_closed, is_user_id, open_account_check, user_partition};

/// The sort-key prefix of sessions in a user's partition.
pub const SESSION_PREFIX: &str = "SESSION#";

/// Replaced refresh-token hashes a session remembers for reuse detection.
pub const ROTATED_HASHES_KEPT: usize = 20;

/// The key of one session, `USER#<userId>` / `SESSION#<sessionId>`: in the user's
/// partition, so erasing the partition ends every session.
pub fn session_key(user_id: &str, session_id: &str) -> Key {
    Key::new(
        user_partition(user_id),
        format!("{SESSION_PREFIX}{session_id}"),
    )
}

/// A refresh token: which session, and the secret that proves possession.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The first part of the token: which partition to read. Only the secret proves the
    /// token is the user's.
    pub user_id: String,
    /// The second part: the session's id, which names its item.
    pub session_id: String,
    secret: String,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    /// A new token of the session with a fresh 256-bit secret.
    pub fn generate(user_id: &str, session_id: &str) -> Self {
        let secret: [u8; 32] = rand::random();
        RefreshToken {
            user_id: user_id.to_owned(),
            session_id: session_id.to_owned(),
            secret: URL_SAFE_NO_PAD.encode(secret),
        }
    }

    /// Reads a token a client sent; `None` for anything of another shape.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let (user_id, session_id, secret) = (parts.next()?, parts.next()?, parts.next()?);
        let secret_ok = URL_SAFE_NO_PAD
            .decode(secret)
            .is_ok_and(|bytes| bytes.len() == 32);
        (parts.next().is_none() && is_user_id(user_id) && has_id_shape(session_id) && secret_ok)
            .then(|| RefreshToken {
                user_id: user_id.to_owned(),
                session_id: session_id.to_owned(),
                secret: secret.to_owned(),
            })
    }

    /// The text the client keeps, `<userId>.<sessionId>.<secret>`; `Debug` leaves the
    /// secret out, this does not, so never log it.
    pub fn expose(&self) -> String {
        format!("{}.{}.{}", self.user_id, self.session_id, self.secret)
    }

    /// What the table keeps instead of the secret.
    pub fn hash(&self) -> String {
        sha256_hex(&[self.secret.as_bytes()])
    }
}

fn same_hash(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A session as stored. Its item expires `REFRESH_TOKEN_TTL` after the last refresh, so a
/// session used often enough never ends on its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// A UUID v7 as 32 hex digits, so a user's sessions sort oldest first.
    pub session_id: String,
    /// The owner, in whose partition the item lives; the `sub` of its access tokens.
    pub user_id: String,
    /// The provider of the login that opened it; refreshes keep it.
    pub provider: Provider,
    /// SHA-256 of the current refresh token's secret.
    pub refresh_hash: String,
    /// SHA-256 of the secrets it replaced, newest first.
    #[serde(default)]
    pub rotated_hashes: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339 of the last refresh.
    pub refreshed_at: String,
}

impl Session {
    /// The session without its hashes (export).
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "session_id": self.session_id,
            "provider": self.provider,
            "created_at": self.created_at,
            "refreshed_at": self.refreshed_at,
        })
    }
}

/// What presenting a refresh token found.
#[derive(Debug)]
pub enum Presented {
    /// The current token: rotate it.
    Current(Session, u64),
    /// A token this session already replaced: it was copied.
    Reused(Session),
    /// No such session, or a secret it never issued.
    Unknown,
}

/// Reads the session a refresh token names and judges the token.
pub async fn present(store: &dyn Store, token: &RefreshToken) -> Result<Presented, ApiError> {
    let Some(item) = store
        .get(&session_key(&token.user_id, &token.session_id))
        .await?
    else {
        return Ok(Presented::Unknown);
    };
    let session: Session = from_body(&item)?;
    let hash = token.hash();
    if same_hash(&hash, &session.refresh_hash) {
        Ok(Presented::Current(session, item.version))
    } else if session.rotated_hashes.iter().any(|h| same_hash(h, &hash)) {
        Ok(Presented::Reused(session))
    } else {
        Ok(Presented::Unknown)
    }
}

fn session_item(session: &Session, expires_at: i64, version: u64) -> Result<Item, ApiError> {
    Ok(Item::new(
        session_key(&session.user_id, &session.session_id),
        to_body(session)?,
    )
    .expiring_at(expires_at)
    .with_version(version))
}

/// Opens a session for `user_id`; returns it with its first refresh token.
pub async fn open(
    app: &App,
    user_id: &str,
    provider: Provider,
    now: i64,
) -> Result<(Session, RefreshToken), ApiError> {
    let session_id = uuid::Uuid::now_v7().simple().to_string();
    let token = RefreshToken::generate(user_id, &session_id);
    let at = now_rfc3339();
    let session = Session {
        session_id,
        user_id: user_id.to_owned(),
        provider,
        refresh_hash: token.hash(),
        rotated_hashes: Vec::new(),
        created_at: at.clone(),
        refreshed_at: at,
    };
    let expires_at = now + app.config.auth.refresh_token_ttl_seconds;
    app.store()?
        .put(session_item(&session, expires_at, 1)?, Condition::NotExists)
        .await?;
    Ok((session, token))
}

/// Replaces the session's refresh token; `None` when another refresh with the same token
/// won the race.
pub async fn rotate(
    app: &App,
    mut session: Session,
    version: u64,
    now: i64,
) -> Result<Option<(Session, RefreshToken)>, ApiError> {
    let token = RefreshToken::generate(&session.user_id, &session.session_id);
    let replaced = std::mem::replace(&mut session.refresh_hash, token.hash());
    session.rotated_hashes.insert(0, replaced);
    session.rotated_hashes.truncate(ROTATED_HASHES_KEPT);
    session.refreshed_at = now_rfc3339();
    let expires_at = now + app.config.auth.refresh_token_ttl_seconds;
    let item = session_item(&session, expires_at, version + 1)?;
    match app.store()?.put(item, Condition::VersionIs(version)).await {
        Ok(()) => Ok(Some((session, token))),
        Err(runcrew_shared::store::StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A user's live sessions, oldest first.
pub async fn list(store: &dyn Store, user_id: &str) -> Result<Vec<Session>, ApiError> {
    let mut sessions = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(
                &Query::partition(user_partition(user_id))
                    .range(SortRange::BeginsWith(SESSION_PREFIX.into()))
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            sessions.push(from_body::<Session>(item)?);
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(sessions),
        }
    }
}

/// Ends sessions, all or none per transaction of up to 100.
pub async fn end(store: &dyn Store, user_id: &str, session_ids: &[String]) -> Result<(), ApiError> {
    for chunk in session_ids.chunks(runcrew_shared::store::MAX_TRANSACTION_WRITES) {
        let writes = chunk
            .iter()
            .map(|sid| Write::Delete {
                key: session_key(user_id, sid),
                condition: Condition::None,
            })
            .collect();
        store.transact(writes).await?;
    }
    Ok(())
}

/// Ends sessions of an account that must still be open (a logout): each transaction also
/// checks that the profile exists, so a token that outlived its account's erasure is told
/// [`crate::profile::account_closed`] (401) instead of a quiet 204 and an audit
/// event for an account that is gone. With no session to end it writes nothing and checks
/// nothing.
pub async fn end_for_open_account(
    store: &dyn Store,
    user_id: &str,
    session_ids: &[String],
) -> Result<(), ApiError> {
    for chunk in session_ids.chunks(runcrew_shared::store::MAX_TRANSACTION_WRITES - 1) {
        let mut writes = vec![open_account_check(user_id)];
        writes.extend(chunk.iter().map(|sid| Write::Delete {
            key: session_key(user_id, sid),
            condition: Condition::None,
        }));
        match store.transact(writes).await {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled { failed }) if failed.contains(&0) => {
                return Err(account_closed());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The claims of our access tokens.
#[derive(Debug, Serialize)]
struct AccessClaims<'a> {
    sub: &'a str,
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    sid: &'a str,
}

/// The login and refresh answer: a new access token and the session's new refresh token.
pub fn token_response(
    app: &App,
    session: &Session,
    refresh: &RefreshToken,
    now: i64,
) -> Result<serde_json::Value, ApiError> {
    let auth = &app.config.auth;
    let claims = AccessClaims {
        sub: &session.user_id,
        iss: app.config.issuer(),
        aud: &app.config.token_audience,
        iat: now,
        nbf: now,
        exp: now + auth.access_token_ttl_seconds,
        jti: uuid::Uuid::new_v4().simple().to_string(),
        sid: &session.session_id,
    };
    let access_token = app
        .keys()?
        .sign(&claims)
        .map_err(|e| ApiError::Internal(format!("signing an access token: {e}")))?;
    Ok(serde_json::json!({
        "token_type": "Bearer",
        "access_token": access_token,
        "expires_in": auth.access_token_ttl_seconds,
        "refresh_token": refresh.expose(),
        "refresh_token_expires_in": auth.refresh_token_ttl_seconds,
        "session_id": session.session_id,
        "user_id": session.user_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_token_round_trips_and_other_shapes_are_refused() {
        let user = crate::profile::new_user_id();
        let sid = uuid::Uuid::now_v7().simple().to_string();
        let token = RefreshToken::generate(&user, &sid);
        let parsed = RefreshToken::parse(&token.expose()).expect("parses");
        assert_eq!(parsed, token);
        assert_eq!(parsed.hash(), token.hash());
        assert!(!token.hash().contains(&token.secret));
        assert!(RefreshToken::parse("abc").is_none());
        assert!(RefreshToken::parse(&format!("{user}.{sid}.short")).is_none());
        assert!(RefreshToken::parse(&format!("{}.x", token.expose())).is_none());
        assert!(!format!("{token:?}").contains(&token.secret));
    }

    #[test]
    fn two_tokens_of_one_session_differ() {
        let a = RefreshToken::generate("u", "s");
        let b = RefreshToken::generate("u", "s");
        assert_ne!(a.hash(), b.hash());
    }
}
