//! `Idempotency-Key` on POSTs that create: a client that retries after a timeout gets the
//! first answer again instead of a second course or run.
//!
//! The first request with a key claims it with a conditional write (a `pending` item that
//! lives 30 seconds, stamped with a version of its own), runs, and keeps its answer for 24
//! hours. A repeat within that time replays the stored answer (`Idempotent-Replayed: true`);
//! a repeat while the first still runs is 409 `idempotent_request_in_progress` with
//! `Retry-After`; the same key with another body is 422. Keys are per user and route, kept
//! in the user's partition (`USER#<userId>` / `IDEMPOTENCY#<digest>`), so erasing the
//! account erases them. The key is any header bytes but control characters (UTF-8 such as
//! `café-1` included), hashed as sent: a key is never ignored.
//!
//! **The answer commits with the resource.** With [`once_committed`], the handler receives
//! a [`Completion`] and puts [`Completion::answer`] (the `done` record, conditioned on this
//! request's claim) in the same transaction as what it creates. So there is no moment at
//! which the resource exists while the key is still `pending`: a request cut off right
//! after its commit (a Lambda timeout, a lost reply) is replayed on retry, never run again
//! once the claim expires; and a claim that expired and was taken by another request fails
//! the transaction instead of creating twice. The answer committed is what the handler
//! knew before its commit; the final answer replaces it best-effort afterwards.
//!
//! A failed attempt releases the key so the client may retry, but only its own claim: an
//! answer already committed (an error after the commit, or a commit whose reply was lost)
//! stays and is replayed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};

use runcrew_shared::ApiError;
use runcrew_shared::store::{Condition, Item, Key, Store, StoreError, Write};
use runcrew_shared::{digest, request, response};

use crate::profile::user_partition;

/// The request header; without it a create runs as often as it is sent.
pub const HEADER: &str = "idempotency-key";
/// How long an answer is replayed.
pub const WINDOW_SECONDS: i64 = 24 * 3600;
/// How long a claim holds while its request runs: API Gateway gives up on a request after
/// 30 s, so no request a client waits on outlives it. A request still running after that
/// cannot commit anyway (its answer is conditioned on its own claim).
const PENDING_SECONDS: i64 = 30;
/// How long a failed request waits to release its claim before leaving it to expire.
const RELEASE_BUDGET: std::time::Duration = std::time::Duration::from_secs(1);
/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 255;
/// What `Retry-After` tells a client whose key is still being answered: most requests
/// finish well within a second or two.
pub const BUSY_RETRY_AFTER_SECONDS: u64 = 1;

/// The item of `user_id`'s `key` (its bytes as sent) on `route`.
pub fn item_key(user_id: &str, route: &str, key: &[u8]) -> Key {
    let hashed = digest::sha256_hex(&[route.as_bytes(), b"\n", key]);
    Key::new(user_partition(user_id), format!("IDEMPOTENCY#{hashed}"))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The 409 of a key whose first request still runs (or whose claim this request lost).
fn busy() -> ApiError {
    ApiError::busy(
        "idempotent_request_in_progress",
        "a request with this Idempotency-Key is still running; retry shortly",
        BUSY_RETRY_AFTER_SECONDS,
    )
}

/// The key's bytes, `None` without the header; 422 for a key that cannot be one (empty,
/// too long, control characters, or sent twice). Bytes beyond ASCII are accepted as sent:
/// `HeaderValue::to_str` refuses them, and a key that looked absent would run twice.
fn key_of(req: &Request) -> Result<Option<&[u8]>, ApiError> {
    let mut values = req.headers().get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid("Idempotency-Key", "must be sent once"));
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || bytes.iter().any(|&b| b < 0x20 || b == 0x7f)
    {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_LEN} bytes without control characters"),
        ));
    }
    Ok(Some(bytes))
}

/// What a create handler needs to commit its answer in its own transaction: the key's
/// item, the request's fingerprint and the version of this request's claim.
#[derive(Debug, Clone)]
pub struct Completion {
    inner: Arc<CompletionState>,
}

#[derive(Debug)]
struct CompletionState {
    item_key: Key,
    fingerprint: String,
    claim_version: u64,
    /// Whether the handler took [`Completion::answer`] for its transaction.
    offered: AtomicBool,
}

impl Completion {
    /// The version the committed answer carries (the claim's plus one), so the final
    /// answer can replace exactly it.
    fn answer_version(&self) -> u64 {
        self.inner.claim_version + 1
    }

    /// The `done` record holding `response`, at `version`.
    fn record(&self, response: &Response<Body>, version: u64) -> Item {
        let mut done = Map::new();
        done.insert("state".into(), json!("done"));
        done.insert("fingerprint".into(), json!(self.inner.fingerprint));
        done.insert("status".into(), json!(response.status().as_u16()));
        done.insert(
            "body".into(),
            json!(String::from_utf8_lossy(request::body_bytes(
                response.body()
            ))),
        );
        if let Some(location) = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
        {
            done.insert("location".into(), json!(location));
        }
        Item::new(self.inner.item_key.clone(), done)
            .with_version(version)
            .expiring_at(now() + WINDOW_SECONDS)
    }

    /// The write that keeps `response` (a success, as the client would get it if the
    /// request ended right after the commit) as the key's answer, for the transaction that
    /// creates the resource. It holds only while this request's claim does: if the claim
    /// expired and another request took the key, the transaction is canceled at this
    /// write's position; answer that with [`Completion::claim_lost`].
    pub fn answer(&self, response: &Response<Body>) -> Write {
        self.inner.offered.store(true, Ordering::SeqCst);
        Write::Put {
            item: self.record(response, self.answer_version()),
            condition: Condition::VersionIs(self.inner.claim_version),
        }
    }

    /// Takes back the answer [`Completion::answer`] committed, for a handler that must undo
    /// what it created after the commit (its file could not be stored): the key is free
    /// again, so the client's retry runs anew instead of replaying a creation that was undone.
    pub fn retract(&self) -> Write {
        Write::Delete {
            key: self.inner.item_key.clone(),
            condition: Condition::VersionIs(self.answer_version()),
        }
    }

    /// The error for a transaction canceled at [`Completion::answer`]'s position: nothing
    /// was created, and another request holds the key now (409 with `Retry-After`).
    pub fn claim_lost(&self) -> ApiError {
        busy()
    }
}

/// Commits what a create writes, in one transaction with the owner's open-account check
/// and, with an `Idempotency-Key`, the answer a retry replays: nothing is written for an
/// account erased while its access token still lives (401), nor twice for one key (409
/// `idempotent_request_in_progress` when another request took the key meanwhile). Any other
/// failed condition is the store's own error.
pub async fn commit_create(
    store: &dyn Store,
    mut writes: Vec<Write>,
    user_id: &str,
    answer: Option<(&Completion, &Response<Body>)>,
) -> Result<(), ApiError> {
    let account_at = writes.len();
    writes.push(crate::profile::open_account_check(user_id));
    let answer_at = writes.len();
    writes.extend(answer.map(|(completion, response)| completion.answer(response)));
    match store.transact(writes).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&account_at) => {
            Err(crate::profile::account_closed())
        }
        Err(StoreError::TransactionCanceled { failed })
            if failed.contains(&answer_at)
                && let Some((completion, _)) = answer =>
        {
            // The claim expired and another request holds the key: nothing was written.
            Err(completion.claim_lost())
        }
        Err(other) => Err(other.into()),
    }
}

/// How a request with a key begins.
enum Begun {
    /// No `Idempotency-Key`: just run.
    NoKey,
    /// The key was answered before: this is the answer.
    Replay(Response<Body>),
    /// This request holds the key.
    Claimed(Completion),
}

async fn begin(store: &dyn Store, req: &Request, user_id: &str) -> Result<Begun, ApiError> {
    let Some(key) = key_of(req)? else {
        return Ok(Begun::NoKey);
    };
    let route = request::route_key(req);
    let item_key = item_key(user_id, &route, key);
    let fingerprint = digest::sha256_hex(&[request::body_bytes(req.body())]);
    // A version of this claim alone (an expired claim taken again gets another), kept
    // below 2^62 so the answer's version (one more) fits every adapter's integer.
    let claim_version = (rand::random::<u64>() >> 2) + 1;
    let mut pending = Map::new();
    pending.insert("state".into(), json!("pending"));
    pending.insert("fingerprint".into(), json!(fingerprint));
    let claim = Item::new(item_key.clone(), pending)
        .with_version(claim_version)
        .expiring_at(now() + PENDING_SECONDS);
    match store.put(claim, Condition::NotExists).await {
        Ok(()) => Ok(Begun::Claimed(Completion {
            inner: Arc::new(CompletionState {
                item_key,
                fingerprint,
                claim_version,
                offered: AtomicBool::new(false),
            }),
        })),
        Err(StoreError::ConditionFailed) => replay(store, &item_key, &fingerprint)
            .await
            .map(Begun::Replay),
        Err(other) => Err(other.into()),
    }
}

/// Runs `create` at most once per (`user_id`, route, `Idempotency-Key`) within
/// [`WINDOW_SECONDS`], handing it the [`Completion`] of the claim (`None` without the
/// header). `create` puts [`Completion::answer`] in the transaction that creates the
/// resource, so the key is answered exactly when the resource exists. After a successful
/// `create`, its final response replaces the committed answer best-effort (one more
/// write): a retry after a cut-off in between replays the answer as it was at the commit.
pub async fn once_committed<F, Fut>(
    store: &dyn Store,
    req: &Request,
    user_id: &str,
    create: F,
) -> Result<Response<Body>, ApiError>
where
    F: FnOnce(Option<Completion>) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let completion = match begin(store, req, user_id).await? {
        Begun::NoKey => return create(None).await,
        Begun::Replay(response) => return Ok(response),
        Begun::Claimed(completion) => completion,
    };
    let outcome = create(Some(completion.clone())).await;
    finish(store, &completion, &outcome).await;
    outcome
}

/// Keeps the final answer of a claimed request, or frees the key after a failure.
async fn finish(
    store: &dyn Store,
    completion: &Completion,
    outcome: &Result<Response<Body>, ApiError>,
) {
    let state = &completion.inner;
    match outcome {
        Ok(response) if response.status().is_success() => {
            let (record, condition) = if state.offered.load(Ordering::SeqCst) {
                // The answer committed with the resource; refresh it with what was learnt
                // after the commit. Losing this write only makes a replay less complete.
                (
                    completion.record(response, completion.answer_version() + 1),
                    Condition::VersionIs(completion.answer_version()),
                )
            } else {
                (
                    completion.record(response, completion.answer_version()),
                    Condition::None,
                )
            };
            if let Err(err) = store.put(record, condition).await {
                tracing::warn!(error = %err, "could not keep the final answer of an idempotent request");
            }
        }
        _ => {
            // Nothing was created: free the key so the client may try again. Only this
            // request's own claim goes: an answer committed before the failure stays. The
            // release gets RELEASE_BUDGET: when the table itself stalled, waiting out
            // another timeout would only delay the client's 503; the claim then expires by
            // itself within PENDING_SECONDS.
            let release = store.delete(&state.item_key, Condition::VersionIs(state.claim_version));
            match tokio::time::timeout(RELEASE_BUDGET, release).await {
                Ok(Ok(())) => {}
                Ok(Err(StoreError::ConditionFailed)) => {
                    tracing::info!("an idempotency key whose answer is committed stays");
                }
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "could not release an idempotency key");
                }
                Err(_) => {
                    tracing::warn!("idempotency key left to expire: its release stalled");
                }
            }
        }
    }
}

async fn replay(
    store: &dyn Store,
    item_key: &Key,
    fingerprint: &str,
) -> Result<Response<Body>, ApiError> {
    let Some(item) = store.get(item_key).await? else {
        // It expired between the two reads: the first attempt failed and let go.
        return Err(busy());
    };
    if item.str("fingerprint") != Some(fingerprint) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "was already used with a different request body",
        ));
    }
    if item.str("state") != Some("done") {
        return Err(busy());
    }
    let status = item
        .i64("status")
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .unwrap_or(http::StatusCode::OK);
    let mut response = response::json_text(status, item.str("body").unwrap_or_default().to_owned());
    let headers = response.headers_mut();
    headers.insert(
        "idempotent-replayed",
        http::HeaderValue::from_static("true"),
    );
    if let Some(location) = item
        .body
        .get("location")
        .and_then(Value::as_str)
        .and_then(|l| http::HeaderValue::from_str(l).ok())
    {
        headers.insert(http::header::LOCATION, location);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(values: &[&[u8]]) -> Request {
        let mut req = Request::default();
        for value in values {
            req.headers_mut().append(
                HEADER,
                http::HeaderValue::from_bytes(value).expect("a header value"),
            );
        }
        req
    }

    #[test]
    fn a_key_beyond_ascii_is_honoured_as_its_bytes() {
        let req = with_key(&["café-1".as_bytes()]);
        assert_eq!(
            key_of(&req).expect("accepted"),
            Some("café-1".as_bytes()),
            "a key that is not ASCII must not look absent"
        );
        assert_ne!(
            item_key("u", "POST /v1/runs", "café-1".as_bytes()),
            item_key("u", "POST /v1/runs", "cafe-1".as_bytes())
        );
    }

    #[test]
    fn an_unusable_key_is_refused_naming_the_header() {
        let long = vec![b'k'; MAX_KEY_LEN + 1];
        for values in [
            vec![&b"a\tb"[..]],
            vec![&long[..]],
            vec![&b"one"[..], &b"two"[..]],
        ] {
            match key_of(&with_key(&values)) {
                Err(ApiError::Invalid { field, .. }) => assert_eq!(field, "Idempotency-Key"),
                other => panic!("{values:?}: {other:?}"),
            }
        }
        assert_eq!(key_of(&with_key(&[])).expect("no key"), None);
    }

    #[test]
    fn the_committed_answer_holds_only_while_the_claim_does() {
        let completion = Completion {
            inner: Arc::new(CompletionState {
                item_key: item_key("u", "POST /v1/runs", b"k"),
                fingerprint: "f".into(),
                claim_version: 41,
                offered: AtomicBool::new(false),
            }),
        };
        let response = response::json_text(http::StatusCode::CREATED, "{}".into());
        match completion.answer(&response) {
            Write::Put { item, condition } => {
                assert_eq!(condition, Condition::VersionIs(41));
                assert_eq!(item.version, 42);
                assert_eq!(item.str("state"), Some("done"));
                assert_eq!(item.i64("status"), Some(201));
            }
            other => panic!("{other:?}"),
        }
        assert!(completion.inner.offered.load(Ordering::SeqCst));
        assert_eq!(
            completion.claim_lost().retry_after(),
            Some(BUSY_RETRY_AFTER_SECONDS)
        );
    }
}
