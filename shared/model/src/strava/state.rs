//! The `state` of a Strava connect: signed, expiring, bound to the caller, single-use.
//!
//! `GET /v1/strava/connect` issues `<nonce>.<expires s>.<mac>`, where the MAC (HMAC-SHA256
//! under a key derived from our secret) covers the nonce, the expiry and the caller's id,
//! and stores the nonce with the caller's id. The callback checks the MAC and the expiry
//! (a forged or stale state is refused before anything is read), then consumes the stored
//! nonce with a conditional delete: a state used once is refused the second time, even
//! within its ten minutes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use runcrew_shared::ApiError;
use runcrew_shared::store::{Condition, Item, Key, Store, StoreError};
use serde_json::json;
use sha2::Sha256;

/// How long a connect may take, from the authorize URL to the callback.
pub const STATE_SECONDS: i64 = 600;

/// Why a callback's state is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not one we issued (bad shape or MAC).
    #[error("the state was not issued by this API")]
    Forged,
    /// Issued more than ten minutes ago.
    #[error("the state has expired; connect again")]
    Expired,
    /// Used already (a replayed callback).
    #[error("the state was used already; connect again")]
    Used,
}

impl StateError {
    /// The 4xx a callback answers.
    pub fn to_api(self) -> ApiError {
        ApiError::bad_request("invalid_state", Some("state"), self.to_string())
    }
}

fn state_key(nonce: &str) -> Key {
    Key::new(format!("STRAVA_STATE#{nonce}"), "STATE")
}

fn mac(key: &[u8], nonce: &str, expires: i64, user_id: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{nonce}.{expires}.{user_id}").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Issues a state for `user_id` at `now_s` and stores its nonce; returns the state text.
pub async fn issue(
    store: &dyn Store,
    key: &[u8],
    user_id: &str,
    now_s: i64,
) -> Result<String, ApiError> {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let expires = now_s + STATE_SECONDS;
    let mut body = serde_json::Map::new();
    body.insert("user_id".into(), json!(user_id));
    store
        .put(
            Item::new(state_key(&nonce), body).expiring_at(expires),
            Condition::NotExists,
        )
        .await?;
    let tag = URL_SAFE_NO_PAD.encode(mac(key, &nonce, expires, user_id));
    Ok(format!("{nonce}.{expires}.{tag}"))
}

/// Checks `state` at `now_s` and consumes it; returns whose connect it is.
pub async fn consume(
    store: &dyn Store,
    key: &[u8],
    state: &str,
    now_s: i64,
) -> Result<Result<String, StateError>, ApiError> {
    let mut parts = state.splitn(3, '.');
    let (Some(nonce), Some(expires), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(Err(StateError::Forged));
    };
    let (Ok(expires), Ok(tag)) = (expires.parse::<i64>(), URL_SAFE_NO_PAD.decode(tag)) else {
        return Ok(Err(StateError::Forged));
    };
    if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Err(StateError::Forged));
    }
    let Some(item) = store.get(&state_key(nonce)).await? else {
        // Gone: used, or expired and swept by TTL; the MAC decides which to say.
        return Ok(Err(if expires < now_s {
            StateError::Expired
        } else {
            StateError::Used
        }));
    };
    let user_id = item.str("user_id").unwrap_or_default().to_owned();
    let expected = mac(key, nonce, expires, &user_id);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_slice(),
        tag.as_slice(),
    )) {
        return Ok(Err(StateError::Forged));
    }
    if expires < now_s {
        return Ok(Err(StateError::Expired));
    }
    match store.delete(&state_key(nonce), Condition::Exists).await {
        Ok(()) => Ok(Ok(user_id)),
        Err(StoreError::ConditionFailed) => Ok(Err(StateError::Used)),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runcrew_shared::store::embedded::EmbeddedStore;

    const KEY: &[u8] = b"a key derived from the signing secret";

    fn store() -> EmbeddedStore {
        EmbeddedStore::in_memory(runcrew_shared::store::cursor::CursorCodec::new(
            "test-cursor-secret-of-at-least-32-bytes!",
        ))
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[tokio::test]
    async fn a_state_opens_once_for_whom_it_was_issued() {
        let store = store();
        let state = issue(&store, KEY, "u1", now()).await.expect("issued");
        assert_eq!(
            consume(&store, KEY, &state, now()).await.expect("read"),
            Ok("u1".into())
        );
        assert_eq!(
            consume(&store, KEY, &state, now()).await.expect("read"),
            Err(StateError::Used)
        );
    }

    #[tokio::test]
    async fn a_forged_altered_or_stale_state_is_refused() {
        let store = store();
        let state = issue(&store, KEY, "u1", now()).await.expect("issued");
        let forged = issue(&store, b"another key", "u1", now())
            .await
            .expect("issued");
        assert_eq!(
            consume(&store, KEY, &forged, now()).await.expect("read"),
            Err(StateError::Forged)
        );
        let (head, _) = state.rsplit_once('.').expect("three parts");
        let altered = format!("{head}.AAAA");
        assert_eq!(
            consume(&store, KEY, &altered, now()).await.expect("read"),
            Err(StateError::Forged)
        );
        for junk in ["", "abc", "a.b.c", "../../x.1.y"] {
            assert_eq!(
                consume(&store, KEY, junk, now()).await.expect("read"),
                Err(StateError::Forged),
                "{junk}"
            );
        }
        // issued eleven minutes ago: its item is gone by TTL, its MAC says when it ended
        let stale = issue(&store, KEY, "u1", now() - STATE_SECONDS - 60)
            .await
            .expect("issued");
        assert_eq!(
            consume(&store, KEY, &stale, now()).await.expect("read"),
            Err(StateError::Expired)
        );
        // and the fresh one is still good after all those refusals
        assert_eq!(
            consume(&store, KEY, &state, now()).await.expect("read"),
            Ok("u1".into())
        );
    }
}
