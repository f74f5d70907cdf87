//! One contract, every Store adapter: the embedded store (in memory and on disk) and
//! DynamoDB (through DynamoDB Local). Each case is written once in `cases` and run against
//! each adapter by `store_contract!`, so the test names read
//! `store_contract::dynamodb_local::...`, `store_contract::embedded_file::...`,
//! `store_contract::embedded_memory::...`.

use runcrew_shared::ApiError;
use runcrew_shared::store::{
    Condition, Index, Item, Key, Query, SortRange, Store, StoreError, Write,
};
use serde_json::{Map, Value, json};

fn body(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

fn item(pk: &str, sk: &str, value: Value) -> Item {
    Item::new(Key::new(pk, sk), body(value))
}

async fn all_pages(store: &dyn Store, mut query: Query) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    loop {
        let page = store.query(&query).await.expect("query");
        pages.push(page.items.iter().map(|i| i.key.sk.clone()).collect());
        match page.cursor {
            Some(c) => query.cursor = Some(c),
            None => return pages,
        }
        assert!(pages.len() < 50, "paging does not end");
    }
}

mod cases {
    use super::*;

    pub async fn a_conditional_put_creates_once(store: &dyn Store) {
        // given a new course
        let course = item(
            "COURSE#1",
            "META",
            json!({"name": "Han River loop", "distance_m": 8200}),
        );
        store
            .put(course.clone(), Condition::NotExists)
            .await
            .expect("first create");
        // when it is created again
        let again = store
            .put(
                item("COURSE#1", "META", json!({"name": "impostor"})),
                Condition::NotExists,
            )
            .await;
        // then the second create fails and the first stays
        assert_eq!(again, Err(StoreError::ConditionFailed));
        let stored = store
            .get(&Key::new("COURSE#1", "META"))
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(stored.str("name"), Some("Han River loop"));
        assert_eq!(stored.i64("distance_m"), Some(8200));
    }

    pub async fn version_equals_prevents_lost_updates(store: &dyn Store) {
        store
            .put(
                item("USER#1", "PROFILE", json!({"name": "a"})).with_version(1),
                Condition::NotExists,
            )
            .await
            .expect("create");
        // two writers read version 1; the first wins
        store
            .put(
                item("USER#1", "PROFILE", json!({"name": "b"})).with_version(2),
                Condition::VersionIs(1),
            )
            .await
            .expect("first update");
        let second = store
            .put(
                item("USER#1", "PROFILE", json!({"name": "c"})).with_version(2),
                Condition::VersionIs(1),
            )
            .await;
        assert_eq!(second, Err(StoreError::ConditionFailed));
        let stored = store
            .get(&Key::new("USER#1", "PROFILE"))
            .await
            .expect("get")
            .expect("exists");
        assert_eq!((stored.str("name"), stored.version), (Some("b"), 2));
        // Exists on a missing item fails, and so does a conditional delete
        let missing = store
            .put(item("USER#2", "PROFILE", json!({})), Condition::Exists)
            .await;
        assert_eq!(missing, Err(StoreError::ConditionFailed));
        assert_eq!(
            store
                .delete(&Key::new("USER#2", "PROFILE"), Condition::Exists)
                .await,
            Err(StoreError::ConditionFailed)
        );
        store
            .delete(&Key::new("USER#1", "PROFILE"), Condition::VersionIs(2))
            .await
            .expect("delete at version 2");
        assert_eq!(
            store
                .get(&Key::new("USER#1", "PROFILE"))
                .await
                .expect("get"),
            None
        );
    }

    pub async fn a_failed_condition_leaves_the_whole_transaction_unwritten(store: &dyn Store) {
        // given a like that already exists
        store
            .put(
                item("COURSE#7", "LIKE#bob", json!({})),
                Condition::NotExists,
            )
            .await
            .expect("existing like");
        // when a transaction adds a new like, a duplicate like and a counter
        let result = store
            .transact(vec![
                Write::Put {
                    item: item("COURSE#7", "LIKE#ann", json!({})),
                    condition: Condition::NotExists,
                },
                Write::Put {
                    item: item("COURSE#7", "LIKE#bob", json!({})),
                    condition: Condition::NotExists,
                },
                Write::Add {
                    key: Key::new("COURSE#7", "META"),
                    field: "likes".into(),
                    delta: 2,
                },
            ])
            .await;
        // then it is canceled at the duplicate and nothing of it is written
        assert_eq!(
            result,
            Err(StoreError::TransactionCanceled { failed: vec![1] })
        );
        assert_eq!(
            store
                .get(&Key::new("COURSE#7", "LIKE#ann"))
                .await
                .expect("get"),
            None
        );
        assert_eq!(
            store.get(&Key::new("COURSE#7", "META")).await.expect("get"),
            None
        );
        // and a valid transaction writes everything
        store
            .transact(vec![
                Write::Put {
                    item: item("COURSE#7", "LIKE#ann", json!({})),
                    condition: Condition::NotExists,
                },
                Write::Add {
                    key: Key::new("COURSE#7", "META"),
                    field: "likes".into(),
                    delta: 1,
                },
                Write::Check {
                    key: Key::new("COURSE#7", "LIKE#bob"),
                    condition: Condition::Exists,
                },
                Write::Delete {
                    key: Key::new("COURSE#7", "LIKE#zed"),
                    condition: Condition::None,
                },
            ])
            .await
            .expect("valid transaction");
        assert!(
            store
                .get(&Key::new("COURSE#7", "LIKE#ann"))
                .await
                .expect("get")
                .is_some()
        );
        let meta = store
            .get(&Key::new("COURSE#7", "META"))
            .await
            .expect("get")
            .expect("counter item");
        assert_eq!(meta.i64("likes"), Some(1));
        // two writes on one item are refused before anything is sent
        let twice = store
            .transact(vec![
                Write::Delete {
                    key: Key::new("COURSE#7", "LIKE#ann"),
                    condition: Condition::None,
                },
                Write::Add {
                    key: Key::new("COURSE#7", "LIKE#ann"),
                    field: "n".into(),
                    delta: 1,
                },
            ])
            .await;
        assert!(matches!(twice, Err(StoreError::Invalid(_))), "{twice:?}");
    }

    pub async fn queries_page_in_order_with_limits_and_cursors(store: &dyn Store) {
        // given seven runs of one runner and one of another
        for day in 1..=7 {
            store
                .put(
                    item(
                        "USER#ann",
                        &format!("RUN#2026-11-0{day}"),
                        json!({"day": day}),
                    ),
                    Condition::None,
                )
                .await
                .expect("put");
        }
        store
            .put(
                item("USER#bob", "RUN#2026-11-03", json!({})),
                Condition::None,
            )
            .await
            .expect("put");
        store
            .put(item("USER#ann", "PROFILE", json!({})), Condition::None)
            .await
            .expect("put");
        let runs = Query::partition("USER#ann").range(SortRange::BeginsWith("RUN#".into()));
        // oldest first, three at a time
        let pages = all_pages(store, runs.clone().limit(3)).await;
        assert_eq!(
            pages,
            vec![
                vec!["RUN#2026-11-01", "RUN#2026-11-02", "RUN#2026-11-03"],
                vec!["RUN#2026-11-04", "RUN#2026-11-05", "RUN#2026-11-06"],
                vec!["RUN#2026-11-07"],
            ]
        );
        // newest first, four at a time: the last full page has no cursor when nothing follows
        let pages = all_pages(store, runs.clone().descending().limit(4)).await;
        assert_eq!(
            pages[0],
            [
                "RUN#2026-11-07",
                "RUN#2026-11-06",
                "RUN#2026-11-05",
                "RUN#2026-11-04"
            ]
        );
        assert_eq!(
            pages[1],
            ["RUN#2026-11-03", "RUN#2026-11-02", "RUN#2026-11-01"]
        );
        assert_eq!(pages.len(), 2);
        let exact = all_pages(store, runs.clone().limit(7)).await;
        assert_eq!(exact.len(), 1, "seven of seven: no cursor to an empty page");
        // a range between two keys
        let week = Query::partition("USER#ann").range(SortRange::Between(
            "RUN#2026-11-02".into(),
            "RUN#2026-11-04".into(),
        ));
        assert_eq!(
            all_pages(store, week).await.concat(),
            ["RUN#2026-11-02", "RUN#2026-11-03", "RUN#2026-11-04"]
        );
        let later = Query::partition("USER#ann")
            .range(SortRange::AtLeast("RUN#2026-11-06".into()))
            .limit(10);
        assert_eq!(
            all_pages(store, later).await.concat(),
            ["RUN#2026-11-06", "RUN#2026-11-07"]
        );
    }

    pub async fn an_index_query_reads_only_indexed_items_in_index_order(store: &dyn Store) {
        // given courses by two creators, indexed by creator and creation time, and one
        // item that is not in the index at all
        for (id, creator, created) in [
            ("c1", "ann", "2026-01-03"),
            ("c2", "bob", "2026-01-01"),
            ("c3", "ann", "2026-01-01"),
            ("c4", "ann", "2026-01-02"),
        ] {
            store
                .put(
                    item(&format!("COURSE#{id}"), "META", json!({"creator": creator})).with_index(
                        Index::Gsi1,
                        format!("CREATOR#{creator}"),
                        created,
                    ),
                    Condition::None,
                )
                .await
                .expect("put");
        }
        store
            .put(
                item("COURSE#c5", "META", json!({"creator": "ann"})),
                Condition::None,
            )
            .await
            .expect("unindexed");
        // when ann's courses are read newest first, two at a time
        let query = Query::index(Index::Gsi1, "CREATOR#ann")
            .descending()
            .limit(2);
        let mut seen = Vec::new();
        let mut pages = 0;
        let mut next = Some(query);
        while let Some(q) = next.take() {
            let page = store.query(&q).await.expect("index query");
            pages += 1;
            seen.extend(page.items.iter().map(|i| i.key.pk.clone()));
            next = page.cursor.map(|c| Query {
                cursor: Some(c),
                ..q
            });
        }
        // then they come in index order across pages, and the unindexed one is absent
        assert_eq!(seen, ["COURSE#c1", "COURSE#c4", "COURSE#c3"]);
        assert_eq!(pages, 2);
        let bob = store
            .query(&Query::index(Index::Gsi1, "CREATOR#bob"))
            .await
            .expect("query");
        assert_eq!(bob.items.len(), 1);
        assert_eq!(
            bob.items[0].index_key(Index::Gsi1),
            Some(&Key::new("CREATOR#bob", "2026-01-01"))
        );
        // moving an item out of the index removes it from there
        store
            .put(item("COURSE#c2", "META", json!({})), Condition::None)
            .await
            .expect("re-put unindexed");
        assert!(
            store
                .query(&Query::index(Index::Gsi1, "CREATOR#bob"))
                .await
                .expect("query")
                .items
                .is_empty()
        );
    }

    pub async fn counters_add_atomically(store: &dyn Store) {
        let key = Key::new("COURSE#9", "META");
        // twenty concurrent likes
        let adds = (0..20).map(|_| store.add(&key, "likes", 1, None));
        let results = futures::future::join_all(adds).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(
            store
                .get(&key)
                .await
                .expect("get")
                .expect("item")
                .i64("likes"),
            Some(20)
        );
        assert_eq!(
            store.add(&key, "likes", -3, None).await.expect("unlike"),
            17
        );
        // the window's expiry is set once, on creation
        let window = Key::new("RATE#ip#1.2.3.4", "W#100");
        let first = now() + 60;
        assert_eq!(
            store
                .add(&window, "count", 1, Some(first))
                .await
                .expect("add"),
            1
        );
        assert_eq!(
            store
                .add(&window, "count", 1, Some(first + 500))
                .await
                .expect("add"),
            2
        );
        assert_eq!(
            store
                .get(&window)
                .await
                .expect("get")
                .expect("item")
                .expires_at,
            Some(first)
        );
    }

    pub async fn items_past_their_ttl_are_hidden_on_read(store: &dyn Store) {
        // given an expired session and a live one
        store
            .put(
                item("USER#1", "SESSION#old", json!({})).expiring_at(now() - 10),
                Condition::None,
            )
            .await
            .expect("put");
        store
            .put(
                item("USER#1", "SESSION#new", json!({})).expiring_at(now() + 3600),
                Condition::None,
            )
            .await
            .expect("put");
        // then reads see only the live one
        assert_eq!(
            store
                .get(&Key::new("USER#1", "SESSION#old"))
                .await
                .expect("get"),
            None
        );
        let page = store
            .query(&Query::partition("USER#1"))
            .await
            .expect("query");
        assert_eq!(
            page.items
                .iter()
                .map(|i| i.key.sk.as_str())
                .collect::<Vec<_>>(),
            ["SESSION#new"]
        );
        // and an expired item counts as absent for conditions and counters
        store
            .put(
                item("USER#1", "SESSION#old", json!({"reborn": true})),
                Condition::NotExists,
            )
            .await
            .expect("create over an expired item");
        let window = Key::new("RATE#1", "W#1");
        store
            .put(
                item("RATE#1", "W#1", json!({"count": 9})).expiring_at(now() - 1),
                Condition::None,
            )
            .await
            .expect("old window");
        assert_eq!(
            store
                .add(&window, "count", 1, Some(now() + 60))
                .await
                .expect("add"),
            1,
            "an expired counter restarts"
        );
    }

    pub async fn a_tampered_cursor_is_rejected_with_400(store: &dyn Store) {
        for n in 0..3 {
            store
                .put(
                    item("FEED#1", &format!("E#{n}"), json!({})),
                    Condition::None,
                )
                .await
                .expect("put");
        }
        let first = store
            .query(&Query::partition("FEED#1").limit(1))
            .await
            .expect("query");
        let cursor = first.cursor.expect("a next page");
        // flip one character of the payload
        let mut bytes = cursor.clone().into_bytes();
        bytes[2] = if bytes[2] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).expect("ascii");
        let result = store
            .query(&Query::partition("FEED#1").limit(1).after(Some(tampered)))
            .await;
        assert_eq!(result, Err(StoreError::BadCursor));
        let api: ApiError = result.expect_err("bad cursor").into();
        assert_eq!(api.status().as_u16(), 400);
        // a cursor of one list does not page another
        let other = store
            .query(
                &Query::partition("FEED#2")
                    .limit(1)
                    .after(Some(cursor.clone())),
            )
            .await;
        assert_eq!(other, Err(StoreError::BadCursor));
        // and the genuine cursor still works
        let second = store
            .query(&Query::partition("FEED#1").limit(1).after(Some(cursor)))
            .await
            .expect("query");
        assert_eq!(second.items[0].key.sk, "E#1");
    }

    pub async fn increments_need_the_item_and_bump_its_version(store: &dyn Store) {
        // given a course at version 3 with two likes
        store
            .put(
                item("COURSE#9", "META", json!({"name": "Han river", "likes": 2})).with_version(3),
                Condition::NotExists,
            )
            .await
            .expect("course");
        // when a like and a rating are counted in one transaction
        store
            .transact(vec![
                Write::Put {
                    item: item("COURSE#9", "LIKE#ann", json!({})),
                    condition: Condition::NotExists,
                },
                Write::Increment {
                    key: Key::new("COURSE#9", "META"),
                    deltas: vec![("likes".into(), 1), ("rating_sum".into(), 4)],
                    must_exist: true,
                },
            ])
            .await
            .expect("increment");
        // then both counters moved, the rest of the item stayed and the version went up,
        // so an owner's rename that read version 3 cannot overwrite the new count
        let meta = store
            .get(&Key::new("COURSE#9", "META"))
            .await
            .expect("get")
            .expect("course");
        assert_eq!(meta.i64("likes"), Some(3));
        assert_eq!(meta.i64("rating_sum"), Some(4));
        assert_eq!(meta.str("name"), Some("Han river"));
        assert_eq!(meta.version, 4);
        let stale_rename = store
            .put(
                item("COURSE#9", "META", json!({"name": "Renamed", "likes": 2})).with_version(4),
                Condition::VersionIs(3),
            )
            .await;
        assert_eq!(stale_rename, Err(StoreError::ConditionFailed));
        // and counting on a course that does not exist cancels the transaction
        let ghost = store
            .transact(vec![
                Write::Put {
                    item: item("COURSE#404", "LIKE#ann", json!({})),
                    condition: Condition::NotExists,
                },
                Write::Increment {
                    key: Key::new("COURSE#404", "META"),
                    deltas: vec![("likes".into(), 1)],
                    must_exist: true,
                },
            ])
            .await;
        assert_eq!(
            ghost,
            Err(StoreError::TransactionCanceled { failed: vec![1] })
        );
        assert_eq!(
            store
                .get(&Key::new("COURSE#404", "META"))
                .await
                .expect("get"),
            None
        );
    }

    pub async fn counts_cover_the_whole_range_and_tallies_create_their_item(store: &dyn Store) {
        // given a leaderboard of 1,205 runners in an index (more than one page)
        let writes: Vec<Write> = (0..1205)
            .map(|i| Write::Put {
                item: item(&format!("BEST#{i}"), "E", json!({})).with_index(
                    Index::Gsi1,
                    "BOARD#c1",
                    format!("{:09}#{i:05}", 1000 + i),
                ),
                condition: Condition::None,
            })
            .collect();
        for chunk in writes.chunks(100) {
            store.transact(chunk.to_vec()).await.expect("seed");
        }
        // when counting those at or faster than a time
        let faster = Query::index(Index::Gsi1, "BOARD#c1")
            .range(SortRange::AtMost(format!("{:09}#{:05}", 1000 + 1100, 1100)))
            .limit(5);
        // then every one in the range counts, whatever the query's limit
        assert_eq!(store.count(&faster).await.expect("count"), 1101);
        assert_eq!(
            store
                .count(&Query::index(Index::Gsi1, "BOARD#none"))
                .await
                .expect("count"),
            0
        );
        // and a tally creates its bucket on first use and adds after that
        for _ in 0..2 {
            store
                .transact(vec![Write::Increment {
                    key: Key::new("USER#ann", "STATS#W#2026-W47"),
                    deltas: vec![("distance_m".into(), 5000), ("runs".into(), 1)],
                    must_exist: false,
                }])
                .await
                .expect("tally");
        }
        let bucket = store
            .get(&Key::new("USER#ann", "STATS#W#2026-W47"))
            .await
            .expect("get")
            .expect("created");
        assert_eq!(
            (bucket.i64("distance_m"), bucket.i64("runs")),
            (Some(10_000), Some(2))
        );
    }

    pub async fn get_many_reads_live_items_and_skips_missing_ones(store: &dyn Store) {
        // given two profiles, one expired session and no third profile
        for (pk, name) in [("USER#a", "Ann"), ("USER#b", "Bob")] {
            store
                .put(item(pk, "PROFILE", json!({"name": name})), Condition::None)
                .await
                .expect("put");
        }
        store
            .put(
                item("USER#a", "SESSION#1", json!({})).expiring_at(now() - 10),
                Condition::None,
            )
            .await
            .expect("put");
        // when they are read in one batch with a missing key
        let keys = [
            Key::new("USER#b", "PROFILE"),
            Key::new("USER#zz", "PROFILE"),
            Key::new("USER#a", "PROFILE"),
            Key::new("USER#a", "SESSION#1"),
        ];
        let mut names: Vec<String> = store
            .get_many(&keys)
            .await
            .expect("batch")
            .iter()
            .map(|i| i.str("name").unwrap_or_default().to_owned())
            .collect();
        names.sort();
        // then the live items come back and nothing else
        assert_eq!(names, ["Ann", "Bob"]);
        assert!(store.get_many(&[]).await.expect("empty").is_empty());
        // and a batch over the limit is refused before anything is sent
        let too_many: Vec<Key> = (0..101).map(|i| Key::new(format!("U#{i}"), "P")).collect();
        assert!(matches!(
            store.get_many(&too_many).await,
            Err(StoreError::Invalid(_))
        ));
    }

    pub async fn reserved_attributes_cannot_be_overwritten_by_a_body(store: &dyn Store) {
        let result = store
            .put(item("X#1", "Y", json!({"pk": "other"})), Condition::None)
            .await;
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    }

    pub async fn numbers_the_table_cannot_hold_are_refused_alike(store: &dyn Store) {
        // given numbers at DynamoDB's edges: 1e-130 is its smallest magnitude, 9.9e125 near
        // its largest, and plain decimals a route or a run carries
        let edges = json!({
            "tiny": 1e-130, "huge": -9.9e125, "lat": 37.566_535_7, "distance_m": 8200.1,
            "nested": {"coords": [[126.978_000_1, 0.0]]}, "count": i64::MAX
        });
        store
            .put(item("NUM#1", "EDGES", edges.clone()), Condition::None)
            .await
            .expect("numbers at the edges are stored");
        // then they come back exactly as written
        let stored = store
            .get(&Key::new("NUM#1", "EDGES"))
            .await
            .expect("get")
            .expect("exists");
        // (compared as numbers: the table gives 0.0 back as 0)
        fn numbers(value: &Value) -> Vec<f64> {
            match value {
                Value::Number(n) => vec![n.as_f64().expect("a number")],
                Value::Array(items) => items.iter().flat_map(numbers).collect(),
                Value::Object(fields) => fields.values().flat_map(numbers).collect(),
                _ => vec![],
            }
        }
        for (name, value) in body(edges) {
            let back = stored.body.get(&name).expect("the attribute is there");
            assert_eq!(numbers(back), numbers(&value), "{name}");
        }
        // and past the edges every adapter refuses the write the same way, naming the
        // attribute, where DynamoDB alone used to answer "Number underflow"
        for (name, bad) in [
            ("tiny", json!({"distance_m": 1e-131})),
            ("nested", json!({"route": {"coords": [[126.9, -1e-300]]}})),
            ("huge", json!({"distance_m": 1e127})),
        ] {
            let put = store
                .put(item("NUM#1", name, bad.clone()), Condition::None)
                .await;
            assert!(
                matches!(&put, Err(StoreError::Invalid(m)) if m.contains("outside")),
                "{name}: {put:?}"
            );
            let in_transaction = store
                .transact(vec![Write::Put {
                    item: item("NUM#1", name, bad),
                    condition: Condition::None,
                }])
                .await;
            assert!(
                matches!(in_transaction, Err(StoreError::Invalid(_))),
                "{name}: {in_transaction:?}"
            );
            assert_eq!(
                store.get(&Key::new("NUM#1", name)).await.expect("get"),
                None,
                "{name}: nothing written"
            );
        }
    }

    fn now() -> i64 {
        runcrew_tests::now()
    }
}

macro_rules! store_contract {
    ($adapter:ident, $make:expr) => {
        mod $adapter {
            use super::*;

            #[tokio::test]
            async fn a_conditional_put_creates_once() {
                cases::a_conditional_put_creates_once(&$make).await
            }
            #[tokio::test]
            async fn version_equals_prevents_lost_updates() {
                cases::version_equals_prevents_lost_updates(&$make).await
            }
            #[tokio::test]
            async fn a_failed_condition_leaves_the_whole_transaction_unwritten() {
                cases::a_failed_condition_leaves_the_whole_transaction_unwritten(&$make).await
            }
            #[tokio::test]
            async fn queries_page_in_order_with_limits_and_cursors() {
                cases::queries_page_in_order_with_limits_and_cursors(&$make).await
            }
            #[tokio::test]
            async fn an_index_query_reads_only_indexed_items_in_index_order() {
                cases::an_index_query_reads_only_indexed_items_in_index_order(&$make).await
            }
            #[tokio::test]
            async fn counters_add_atomically() {
                cases::counters_add_atomically(&$make).await
            }
            #[tokio::test]
            async fn items_past_their_ttl_are_hidden_on_read() {
                cases::items_past_their_ttl_are_hidden_on_read(&$make).await
            }
            #[tokio::test]
            async fn a_tampered_cursor_is_rejected_with_400() {
                cases::a_tampered_cursor_is_rejected_with_400(&$make).await
            }
            #[tokio::test]
            async fn increments_need_the_item_and_bump_its_version() {
                cases::increments_need_the_item_and_bump_its_version(&$make).await
            }
            #[tokio::test]
            async fn counts_cover_the_whole_range_and_tallies_create_their_item() {
                cases::counts_cover_the_whole_range_and_tallies_create_their_item(&$make).await
            }
            #[tokio::test]
            async fn get_many_reads_live_items_and_skips_missing_ones() {
                cases::get_many_reads_live_items_and_skips_missing_ones(&$make).await
            }
            #[tokio::test]
            async fn numbers_the_table_cannot_hold_are_refused_alike() {
                cases::numbers_the_table_cannot_hold_are_refused_alike(&$make).await
            }
            #[tokio::test]
            async fn reserved_attributes_cannot_be_overwritten_by_a_body() {
                cases::reserved_attributes_cannot_be_overwritten_by_a_body(&$make).await
            }
        }
    };
}

store_contract!(
    embedded_memory,
    runcrew_shared::store::embedded::EmbeddedStore::in_memory(runcrew_tests::codec())
);
store_contract!(embedded_file, embedded_file_store());
store_contract!(dynamodb_local, runcrew_tests::dynamodb_store().await);

/// An embedded store on disk; the folder lives as long as the process (tests are short).
fn embedded_file_store() -> runcrew_shared::store::embedded::EmbeddedStore {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    runcrew_shared::store::embedded::EmbeddedStore::open(
        &dir.join("store.redb"),
        runcrew_tests::codec(),
    )
    .expect("open")
}

#[tokio::test]
async fn the_embedded_store_keeps_its_data_across_restarts() {
    // given a store file with a course in it
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.redb");
    {
        let store =
            runcrew_shared::store::embedded::EmbeddedStore::open(&path, runcrew_tests::codec())
                .expect("open");
        store
            .put(
                item("COURSE#1", "META", json!({"name": "kept"})),
                Condition::NotExists,
            )
            .await
            .expect("put");
    }
    // when it is opened again
    let reopened =
        runcrew_shared::store::embedded::EmbeddedStore::open(&path, runcrew_tests::codec())
            .expect("reopen");
    // then the course is there
    let course = reopened
        .get(&Key::new("COURSE#1", "META"))
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(course.str("name"), Some("kept"));
}
