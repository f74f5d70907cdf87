//! Opaque, tamper-evident paging cursors.
//!
//! A cursor is `base64url(nonce ‖ ciphertext ‖ tag)`: the position where the last page
//! ended, sealed with AES-256-GCM-SIV under a key derived from the cursor secret, with the
//! query's scope (index, order, partition) as associated data. Clients see random bytes,
//! so they cannot read the table's keys out of a cursor or build on its layout; a cursor
//! edited by a client, sealed under another secret, or taken from one list to page
//! another, fails with [`StoreError::BadCursor`] (400).
//!
//! GCM-SIV rather than plain GCM: nonces are random, and should two ever repeat, SIV only
//! reveals that two cursors hold the same position, where GCM would leak the
//! authentication key. Rotating the cursor secret invalidates the cursors in flight
//! (clients start the list again), as it did when cursors were only signed.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{Key, StoreError};

/// The length of the authentication tag that follows the ciphertext.
const TAG_LEN: usize = 16;

/// Where the last page ended: the table key, and the index key for index queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Table key of the last item.
    pub key: Key,
    /// Index key of the last item, for index queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_key: Option<Key>,
}

/// The cursor codec of a store whose secret may not have been read yet.
///
/// A DynamoDB store on AWS keys its cursors with a secret from Secrets Manager. Reading it
/// at start would put a network call in every function's cold start, yet most requests
/// never make a cursor (a single page, a write): so the secret is read the first time a
/// cursor is sealed or opened, then kept for the execution environment. A failed read is
/// not kept; that request fails as unavailable (503) and the next one tries again.
#[derive(Debug, Clone)]
pub struct Cursors(CursorsState);

#[derive(Debug, Clone)]
enum CursorsState {
    Ready(CursorCodec),
    Lazy {
        secret: Arc<crate::secrets::SigningSecret>,
        codec: Arc<tokio::sync::OnceCell<CursorCodec>>,
    },
}

impl Cursors {
    /// Cursors keyed by the `"cursor"` key of `secret`, read on first use.
    pub fn lazy(secret: Arc<crate::secrets::SigningSecret>) -> Self {
        Cursors(CursorsState::Lazy {
            secret,
            codec: Arc::default(),
        })
    }

    /// The codec, reading the secret if this is the first cursor.
    pub async fn codec(&self) -> Result<&CursorCodec, StoreError> {
        match &self.0 {
            CursorsState::Ready(codec) => Ok(codec),
            CursorsState::Lazy { secret, codec } => {
                codec
                    .get_or_try_init(|| async {
                        let key = secret.derived_key("cursor").await.map_err(|e| {
                            tracing::error!(error = %e, "the cursor secret cannot be read");
                            StoreError::Unavailable(format!("the cursor secret: {e}"))
                        })?;
                        Ok::<_, StoreError>(CursorCodec::new(key))
                    })
                    .await
            }
        }
    }
}

impl From<CursorCodec> for Cursors {
    fn from(codec: CursorCodec) -> Self {
        Cursors(CursorsState::Ready(codec))
    }
}

/// Seals and opens cursors with one secret.
#[derive(Clone)]
pub struct CursorCodec {
    key: Arc<LessSafeKey>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

impl CursorCodec {
    /// A codec keyed by `secret` (at least 32 bytes outside local use). The AES key is
    /// derived from it (HMAC-SHA256 with a label), so a secret of any length gives a full
    /// 256-bit key that serves no other purpose.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_ref()).expect("HMAC takes any key length");
        mac.update(b"runcrew-cursor-aes-256-gcm-siv");
        let key_bytes = mac.finalize().into_bytes();
        let key = UnboundKey::new(&AES_256_GCM_SIV, &key_bytes)
            .expect("HMAC-SHA256 gives exactly the 32 bytes AES-256 takes");
        CursorCodec {
            key: Arc::new(LessSafeKey::new(key)),
        }
    }

    /// The cursor after `position` in the list named by `scope`.
    pub fn encode(&self, scope: &str, position: &Position) -> String {
        // Neither step can fail: a position is two pairs of strings, and AES-GCM-SIV seals
        // anything shorter than 2^36 bytes.
        let mut sealed = serde_json::to_vec(position).expect("keys serialize");
        let nonce: [u8; NONCE_LEN] = rand::random();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(scope.as_bytes()),
                &mut sealed,
            )
            .expect("a position is far below the AEAD length limit");
        let mut cursor = Vec::with_capacity(NONCE_LEN + sealed.len());
        cursor.extend_from_slice(&nonce);
        cursor.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(cursor)
    }

    /// The position a cursor stands for, if we sealed it for this `scope`.
    pub fn decode(&self, scope: &str, cursor: &str) -> Result<Position, StoreError> {
        let mut bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| StoreError::BadCursor)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(StoreError::BadCursor);
        }
        let mut sealed = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| StoreError::BadCursor)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(scope.as_bytes()), &mut sealed)
            .map_err(|_| StoreError::BadCursor)?;
        serde_json::from_slice(plain).map_err(|_| StoreError::BadCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: &str = "table|asc|COURSE#1";

    fn codec() -> CursorCodec {
        CursorCodec::new("k".repeat(32))
    }

    fn position() -> Position {
        Position {
            key: Key::new("COURSE#1", "REVIEW#b"),
            index_key: Some(Key::new("REVIEWS#1", "1700000000000#b")),
        }
    }

    #[test]
    fn a_cursor_round_trips_and_rejects_edits_and_other_lists() {
        let codec = codec();
        let cursor = codec.encode(SCOPE, &position());
        assert_eq!(codec.decode(SCOPE, &cursor).expect("valid"), position());
        assert_eq!(
            codec.decode("table|asc|COURSE#2", &cursor),
            Err(StoreError::BadCursor)
        );
        assert_eq!(
            codec.decode("table|desc|COURSE#1", &cursor),
            Err(StoreError::BadCursor)
        );
        assert_eq!(codec.decode(SCOPE, "garbage"), Err(StoreError::BadCursor));
        assert_eq!(codec.decode(SCOPE, ""), Err(StoreError::BadCursor));
    }

    #[test]
    fn a_cursor_does_not_show_the_table_keys() {
        let cursor = codec().encode(SCOPE, &position());
        let bytes = URL_SAFE_NO_PAD.decode(&cursor).expect("base64url");
        let text = String::from_utf8_lossy(&bytes);
        for part in ["COURSE#1", "REVIEW#b", "REVIEWS#1", "\"pk\"", "index_key"] {
            assert!(!text.contains(part), "{part} readable in {text:?}");
        }
        assert!(!cursor.contains('.'), "no readable payload part: {cursor}");
    }

    #[test]
    fn two_cursors_for_the_same_position_differ() {
        let codec = codec();
        let (a, b) = (
            codec.encode(SCOPE, &position()),
            codec.encode(SCOPE, &position()),
        );
        assert_ne!(
            a, b,
            "a fresh nonce each time, so equal positions cannot be matched"
        );
        assert_eq!(codec.decode(SCOPE, &b).expect("valid"), position());
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let codec = codec();
        let bytes = URL_SAFE_NO_PAD
            .decode(codec.encode(SCOPE, &position()))
            .expect("base64url");
        for i in 0..bytes.len() {
            let mut edited = bytes.clone();
            edited[i] ^= 0x01;
            assert_eq!(
                codec.decode(SCOPE, &URL_SAFE_NO_PAD.encode(&edited)),
                Err(StoreError::BadCursor),
                "byte {i}"
            );
        }
        assert_eq!(
            codec.decode(SCOPE, &URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() - 1])),
            Err(StoreError::BadCursor)
        );
    }

    #[test]
    fn a_cursor_sealed_under_another_secret_is_refused() {
        let theirs = CursorCodec::new("t".repeat(32)).encode(SCOPE, &position());
        assert_eq!(codec().decode(SCOPE, &theirs), Err(StoreError::BadCursor));
    }

    #[test]
    fn a_signed_cursor_of_the_previous_format_is_refused() {
        // base64url(json).base64url(hmac), as cursors were before they were sealed
        let json = URL_SAFE_NO_PAD.encode(br#"{"key":{"pk":"COURSE#1","sk":"REVIEW#b"}}"#);
        let old = format!("{json}.{}", URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert_eq!(codec().decode(SCOPE, &old), Err(StoreError::BadCursor));
    }
}
