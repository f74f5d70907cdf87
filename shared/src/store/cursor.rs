//! Opaque, tamper-evident paging cursors.
//!
//! A cursor is `base64url(json of the last key) . base64url(HMAC-SHA256)`, where the MAC
//! also covers the query's scope (index, order, partition). A cursor edited by a client,
//! or taken from one list to page another, fails with [`StoreError::BadCursor`] (400).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{Key, StoreError};

type HmacSha256 = Hmac<Sha256>;

/// Where the last page ended: the table key, and the index key for index queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Table key of the last item.
    pub key: Key,
    /// Index key of the last item, for index queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_key: Option<Key>,
}

/// Signs and checks cursors with one secret.
#[derive(Clone)]
pub struct CursorCodec {
    secret: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

impl CursorCodec {
    /// A codec keyed by `secret` (at least 32 bytes outside local use).
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        CursorCodec {
            secret: secret.as_ref().to_vec(),
        }
    }

    fn mac(&self, scope: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    /// The cursor after `position` in the list named by `scope`.
    pub fn encode(&self, scope: &str, position: &Position) -> String {
        let payload = serde_json::to_vec(position).expect("keys serialize");
        let tag = self.mac(scope, &payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The position a cursor stands for, if we issued it for this `scope`.
    pub fn decode(&self, scope: &str, cursor: &str) -> Result<Position, StoreError> {
        let (payload, tag) = cursor.split_once('.').ok_or(StoreError::BadCursor)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| StoreError::BadCursor)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| StoreError::BadCursor)?;
        self.mac(scope, &payload)
            .verify_slice(&tag)
            .map_err(|_| StoreError::BadCursor)?;
        serde_json::from_slice(&payload).map_err(|_| StoreError::BadCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_rejects_edits_and_other_lists() {
        let codec = CursorCodec::new("k".repeat(32));
        let position = Position {
            key: Key::new("COURSE#1", "REVIEW#b"),
            index_key: None,
        };
        let cursor = codec.encode("table|asc|COURSE#1", &position);
        assert_eq!(
            codec.decode("table|asc|COURSE#1", &cursor).expect("valid"),
            position
        );
        assert_eq!(
            codec.decode("table|asc|COURSE#2", &cursor),
            Err(StoreError::BadCursor)
        );
        let forged = Position {
            key: Key::new("COURSE#1", "REVIEW#z"),
            index_key: None,
        };
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json")),
            cursor.split_once('.').expect("dot").1
        );
        assert_eq!(
            codec.decode("table|asc|COURSE#1", &forged),
            Err(StoreError::BadCursor)
        );
        assert_eq!(
            codec.decode("table|asc|COURSE#1", "garbage"),
            Err(StoreError::BadCursor)
        );
    }
}
