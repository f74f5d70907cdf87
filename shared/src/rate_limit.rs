//! Fixed-window rate limits kept in the table, for limits API Gateway cannot express
//! (per client address, per account).
//!
//! Each window is one counter item `RATE#<scope>#<digest>` / `W#<window start>`, incremented
//! atomically and expiring with DynamoDB TTL a minute after the window ends. The subject
//! (an address, an account) is stored only as a digest.

use crate::digest::short_sha256_hex;

use crate::error::ApiError;
use crate::store::{Key, Store};

/// One limit: at most `limit` hits per `window_seconds` for one subject of `scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedWindow {
    /// What is counted, e.g. `auth-ip`.
    pub scope: &'static str,
    /// Hits allowed per window; the next one answers 429 until the window ends.
    pub limit: i64,
    /// Window length in seconds (less than 1 counts as 1). Windows start at multiples of it
    /// since the epoch, not at a subject's first hit.
    pub window_seconds: i64,
}

/// The key of the counter of `subject` in the window holding `now`, and the window's end.
pub fn window_key(scope: &str, subject: &str, window_seconds: i64, now: i64) -> (Key, i64) {
    let window = window_seconds.max(1);
    let start = now - now.rem_euclid(window);
    let digest = short_sha256_hex(&[subject.as_bytes()]);
    (
        Key::new(format!("RATE#{scope}#{digest}"), format!("W#{start}")),
        start + window,
    )
}

impl FixedWindow {
    /// Counts one hit of `subject` at `now` (epoch seconds); over the limit it answers 429
    /// with the seconds left in the window.
    pub async fn hit(&self, store: &dyn Store, subject: &str, now: i64) -> Result<(), ApiError> {
        let (key, end) = window_key(self.scope, subject, self.window_seconds, now);
        let count = store.add(&key, "count", 1, Some(end + 60)).await?;
        if count > self.limit {
            return Err(ApiError::TooManyRequests {
                retry_after: u64::try_from(end - now).unwrap_or(1).max(1),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::window_key;

    #[test]
    fn a_window_starts_on_its_boundary_and_hides_the_subject() {
        let (key, end) = window_key("auth-ip", "203.0.113.7", 60, 1_000_030);
        assert_eq!(key.sk, "W#1000020");
        assert_eq!(end, 1_000_080);
        assert!(!key.pk.contains("203.0.113.7"));
        let (same, _) = window_key("auth-ip", "203.0.113.7", 60, 1_000_079);
        assert_eq!(same, key);
        let (next, _) = window_key("auth-ip", "203.0.113.7", 60, 1_000_080);
        assert_ne!(next, key);
    }
}
