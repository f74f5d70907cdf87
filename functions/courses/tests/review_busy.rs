//! A review that keeps losing the race with its author's other writes: the answer tells the
//! client when to try again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use runcrew_model::course::{Course, Visibility};
use runcrew_shared::App;
use runcrew_shared::config::Config;
use runcrew_shared::route::Route;
use runcrew_shared::store::cursor::CursorCodec;
use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::{Condition, Item, Key, Page, Query, Store, StoreError, Write};

/// The course of the `reviews-create` sample event.
const SAMPLE_COURSE_ID: &str = "019aa5c0e1f27d4b8c9d0e1f2a3b4c5d";

/// A table where another write of the same review always lands first: every transaction
/// is cancelled on its first write's condition. (The port's methods written out as the
/// `async_trait` macro expands them, the rest delegated to the embedded store.)
struct AlwaysRaced(EmbeddedStore);

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

impl Store for AlwaysRaced {
    fn get<'s, 'k, 'a>(&'s self, key: &'k Key) -> Answer<'a, Option<Item>>
    where
        's: 'a,
        'k: 'a,
        Self: 'a,
    {
        self.0.get(key)
    }
    fn get_many<'s, 'k, 'a>(&'s self, keys: &'k [Key]) -> Answer<'a, Vec<Item>>
    where
        's: 'a,
        'k: 'a,
        Self: 'a,
    {
        self.0.get_many(keys)
    }
    fn put<'s, 'a>(&'s self, item: Item, condition: Condition) -> Answer<'a, ()>
    where
        's: 'a,
        Self: 'a,
    {
        self.0.put(item, condition)
    }
    fn delete<'s, 'k, 'a>(&'s self, key: &'k Key, condition: Condition) -> Answer<'a, ()>
    where
        's: 'a,
        'k: 'a,
        Self: 'a,
    {
        self.0.delete(key, condition)
    }
    fn query<'s, 'q, 'a>(&'s self, query: &'q Query) -> Answer<'a, Page>
    where
        's: 'a,
        'q: 'a,
        Self: 'a,
    {
        self.0.query(query)
    }
    fn count<'s, 'q, 'a>(&'s self, query: &'q Query) -> Answer<'a, usize>
    where
        's: 'a,
        'q: 'a,
        Self: 'a,
    {
        self.0.count(query)
    }
    fn add<'s, 'k, 'f, 'a>(
        &'s self,
        key: &'k Key,
        field: &'f str,
        delta: i64,
        expires_at: Option<i64>,
    ) -> Answer<'a, i64>
    where
        's: 'a,
        'k: 'a,
        'f: 'a,
        Self: 'a,
    {
        self.0.add(key, field, delta, expires_at)
    }
    fn transact<'s, 'a>(&'s self, _writes: Vec<Write>) -> Answer<'a, ()>
    where
        's: 'a,
        Self: 'a,
    {
        Box::pin(async { Err(StoreError::TransactionCanceled { failed: vec![0] }) })
    }
    fn ping<'s, 'a>(&'s self) -> Answer<'a, ()>
    where
        's: 'a,
        Self: 'a,
    {
        self.0.ping()
    }
}

#[tokio::test]
async fn a_review_that_keeps_losing_the_race_is_409_review_busy_with_retry_after() {
    // given the sample's course, in a table where the author's other write always wins
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        EmbeddedStore::open(&dir.path().join("store.redb"), CursorCodec::new("x")).expect("store");
    let route = Route::from_json(
        &serde_json::json!({"type": "LineString", "coordinates": [[126.93, 37.52], [126.96, 37.51]]}),
        "route",
    )
    .expect("route");
    let mut course = Course::new(
        "0123456789abcdef0123456789abcdef",
        "Sample".into(),
        String::new(),
        Visibility::Public,
        &route,
        "2026-11-21T05:35:00.000Z",
    );
    course.course_id = SAMPLE_COURSE_ID.into();
    store
        .put(course.to_item(1).expect("item"), Condition::NotExists)
        .await
        .expect("course");
    let data_dir = dir.path().display().to_string();
    let config = Config::from_lookup(|k| (k == "RUNCREW_DATA_DIR").then(|| data_dir.clone()))
        .expect("config");
    let app = App::from_parts(config, Some(Arc::new(AlwaysRaced(store))), None, None);
    // when the sample review is posted
    let sample = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/reviews-create.json"),
    )
    .expect("sample");
    let request = lambda_http::request::from_str(&sample).expect("event");
    let response = runcrew_courses::reviews::CREATE.call(&app, request).await;
    // then it is 409 review_busy, and the client is told when to try again
    assert_eq!(response.status(), 409);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).expect("json");
    assert_eq!(body["error"]["code"], "review_busy");
}
