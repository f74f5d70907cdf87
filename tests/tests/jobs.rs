//! Jobs at the size the request could not finish (issue 19): erasing a runner with 10,000
//! runs and deleting a course with 50,000 children, through the local gateway on DynamoDB
//! Local, answered at once with 202 and done by the jobs queue in bounded steps, with
//! nothing left behind. The big data is loaded straight into the table (the API would take
//! minutes to record 10,000 runs); everything after goes through the API.
//!
//! They keep DynamoDB Local busy for a minute or two, which would starve every other test
//! of the same run: they are ignored by a plain `cargo test` and run on their own by
//! `infra/scripts/test` (and so by CI), after the rest.

use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};
use runcrew_model::leaderboard::{Best, board_items};
use runcrew_model::reaction::Reaction;
use runcrew_model::review::{Rating, Review, ReviewText};
use runcrew_model::run::Run;
use runcrew_shared::store::dynamodb::DynamoStore;
use runcrew_shared::store::{Condition, Item, Query, SortRange, Store, Write};
use runcrew_tests::{bearer, call, create_course, dev_login, http};
use serde_json::{Value, json};

/// The local API over a fresh DynamoDB Local table, and the table.
async fn api_over_dynamodb() -> (runcrew_local::Running, Arc<DynamoStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(runcrew_tests::dynamodb_store().await);
    let app = runcrew_tests::app_over(runcrew_tests::config(dir.path(), &[]), store.clone());
    (runcrew_tests::serve_app(app).await, store, dir)
}

/// Writes `items` straight into the table, 100 to a transaction, 8 transactions at once.
async fn load(store: &dyn Store, items: Vec<Item>) {
    let batches: Vec<Vec<Item>> = items.chunks(100).map(<[Item]>::to_vec).collect();
    stream::iter(batches)
        .map(|batch| {
            store.transact(
                batch
                    .into_iter()
                    .map(|item| Write::Put {
                        item,
                        condition: Condition::None,
                    })
                    .collect(),
            )
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await
        .expect("load the table");
}

/// Every item of the table whose text holds `needle`, by a Scan (tests only).
async fn items_holding(store: &DynamoStore, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let page = store
            .client()
            .scan()
            .table_name(store.table_name())
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let text = format!("{item:?}");
            if text.contains(needle) {
                found.push(text.chars().take(200).collect());
            }
        }
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => return found,
        }
    }
}

/// A synthetic id, 32 hex digits like every id.
fn synthetic(group: u8, i: usize) -> String {
    format!("5ca1e{group:02x}{i:025x}")
}

/// `user`'s `i`-th run, started `i` hours after a fixed moment (its id as minted).
fn run_of(user: &str, i: usize) -> Run {
    let ms = 1_790_000_000_000 + (i as i64) * 3_600_000;
    serde_json::from_value(json!({
        "run_id": format!("019a{:028x}", i), "user_id": user,
        "started_at": "2026-09-21T07:00:00Z", "started_ms": ms,
        "utc_offset_minutes": 540, "local_date": "2026-09-21",
        "duration_s": 1500 + (i % 300) as i64, "distance_m": 5000.0,
        "source": "app", "visibility": if i.is_multiple_of(2) { "public" } else { "private" },
        "created_at": "2026-11-30T09:00:00Z"
    }))
    .expect("a run")
}

#[tokio::test]
#[ignore = "at scale: run alone by infra/scripts/test"]
async fn erasing_a_runner_with_ten_thousand_runs_answers_at_once_and_leaves_nothing() {
    // given alice with 10,000 runs (and a run on bob's course, on its board), followed by bob
    let (api, store, _dir) = api_over_dynamodb().await;
    let alice = dev_login(&api, "alice").await;
    let bob = dev_login(&api, "bob").await;
    let alice_id = alice["user_id"].as_str().expect("id").to_owned();
    let course = create_course(&api, &bob, "Bob's loop").await;
    runcrew_tests::record_run(&api, &alice, &course, 700).await;
    let (status, _) = call(
        http()
            .put(format!("{}/v1/users/{alice_id}/follow", api.url()))
            .bearer_auth(bearer(&bob)),
    )
    .await;
    assert_eq!(status, 204);
    let runs: Vec<Item> = (0..10_000)
        .map(|i| run_of(&alice_id, i).to_item().expect("run"))
        .collect();
    load(store.as_ref(), runs).await;

    // when she erases her account
    let (status, answer) = call(
        http()
            .delete(format!("{}/v1/users/me", api.url()))
            .bearer_auth(bearer(&alice)),
    )
    .await;
    // then the answer is 202 at once, with where to watch the job
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["kind"], "erase_account");
    // and her profile is gone from the public view before the job is done
    let (status, _) = call(http().get(format!("{}/v1/users/{alice_id}", api.url()))).await;
    assert_eq!(status, 404);
    // and asking again finds the same job
    let (status, again) = call(
        http()
            .delete(format!("{}/v1/users/me", api.url()))
            .bearer_auth(bearer(&alice)),
    )
    .await;
    assert_eq!((status, &again["job_id"]), (202, &answer["job_id"]));
    // and the job ends done, having deleted every run
    let job = runcrew_tests::delete_and_wait(&api, &alice, "/v1/users/me", 300).await;
    assert!(
        job["items_deleted"].as_u64().is_some_and(|n| n >= 10_000),
        "{job}"
    );
    // and no item anywhere holds her id
    let left = items_holding(&store, &alice_id).await;
    assert!(left.is_empty(), "left behind: {left:?}");
    // and bob's course board no longer lists her
    let (_, board) =
        call(http().get(format!("{}/v1/courses/{course}/leaderboard", api.url()))).await;
    assert_eq!(board["items"], json!([]), "{board}");
    api.stop().await;
}

#[tokio::test]
#[ignore = "at scale: run alone by infra/scripts/test"]
async fn deleting_a_course_with_fifty_thousand_children_takes_several_steps_and_leaves_nothing() {
    // given bob's course with 20,000 likes, 15,000 reviews and 15,000 board entries
    let (api, store, _dir) = api_over_dynamodb().await;
    let bob = dev_login(&api, "bob").await;
    let course = create_course(&api, &bob, "Bob's popular loop").await;
    let text = ReviewText::parse("Fast and flat.").expect("text");
    let rating = Rating::parse(5).expect("rating");
    let mut children: Vec<Item> = (0..20_000)
        .map(|i| Reaction::Like.item(&course, &synthetic(1, i)))
        .collect();
    children.extend((0..15_000).map(|i| {
        Review::written(
            &course,
            &synthetic(2, i),
            rating,
            &text,
            None,
            "2026-11-30T09:00:00Z".into(),
        )
        .to_item(1)
        .expect("review")
    }));
    let entries: Vec<Best> = (0..15_000)
        .map(|i| Best {
            course_id: course.clone(),
            user_id: synthetic(3, i),
            run_id: format!("019a{:028x}", i),
            duration_s: 600 + (i % 900) as i64,
            distance_m: 2000.0,
            started_at: "2026-11-20T21:00:00Z".into(),
            started_ms: 1_795_000_000_000 + i as i64,
        })
        .collect();
    children.extend(board_items(&entries).expect("board"));
    load(store.as_ref(), children).await;

    // when bob deletes it
    let course_url = format!("{}/v1/courses/{course}", api.url());
    let (status, answer) = call(http().delete(&course_url).bearer_auth(bearer(&bob))).await;
    // then it is gone from view at once, answered 202 with the job's status URL
    assert_eq!(status, 202, "{answer}");
    assert_eq!(call(http().get(&course_url)).await.0, 404);
    // and the job ends done after more than one bounded step
    let status_url = answer["status_url"].as_str().expect("status url");
    let job_path = format!("/v1/jobs/{}", answer["job_id"].as_str().expect("id"));
    assert!(status_url.ends_with(&job_path), "{answer}");
    let job: Value = runcrew_tests::eventually_within("the course deleted", 300, || async {
        let (status, job) = call(
            http()
                .get(format!("{}{job_path}", api.url()))
                .bearer_auth(bearer(&bob)),
        )
        .await;
        assert_eq!(status, 200, "{job}");
        (job["state"] == "done").then_some(job)
    })
    .await;
    assert!(job["steps"].as_u64().is_some_and(|s| s >= 2), "{job}");
    assert!(
        job["items_deleted"].as_u64().is_some_and(|n| n >= 50_000),
        "{job}"
    );
    // and nothing of it is left: not in its partition, not in anyone's likes
    let page = store
        .query(&Query::partition(format!("COURSE#{course}")))
        .await
        .expect("query");
    assert!(page.items.is_empty(), "{:?}", page.items.first());
    let likes = store
        .query(
            &Query::index(
                runcrew_shared::store::Index::Gsi1,
                Reaction::Like.user_partition(&synthetic(1, 7)),
            )
            .range(SortRange::All),
        )
        .await
        .expect("likes of a liker");
    assert!(likes.items.is_empty());
    assert!(items_holding(&store, &course).await.is_empty());
    api.stop().await;
}

/// An app over an embedded store whose jobs queue nobody consumes: the test runs the steps.
fn app_without_consumers() -> (
    runcrew_shared::App,
    Arc<runcrew_shared::store::embedded::EmbeddedStore>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(runcrew_shared::store::embedded::EmbeddedStore::in_memory(
        runcrew_tests::codec(),
    ));
    let app = runcrew_tests::app_over(runcrew_tests::config(dir.path(), &[]), store.clone());
    (app, store, dir)
}

fn json_of(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    serde_json::from_slice(runcrew_shared::request::body_bytes(response.body())).expect("json")
}

/// Runs job `job_id` to its end in steps of `allowance` store calls; how many steps.
async fn run_job(app: &runcrew_shared::App, job_id: &str, allowance: u64) -> usize {
    for steps in 1..=10_000 {
        match runcrew_jobs::step(app, job_id, allowance)
            .await
            .expect("a step")
        {
            runcrew_jobs::Step::More => continue,
            _ => return steps,
        }
    }
    panic!("job {job_id} did not end in 10,000 steps");
}

#[tokio::test]
async fn while_an_erasure_runs_the_same_login_cannot_open_the_account_again() {
    // given alice logged in with the dev provider (her id follows from her name)
    let (app, _store, _dir) = app_without_consumers();
    let first = runcrew_auth::LOGIN
        .call(&app, runcrew_tests::sample("auth-login"))
        .await;
    assert_eq!(first.status(), 201);
    // when she erases her account, before the job has run
    let answer = runcrew_users::ME_DELETE
        .call(&app, runcrew_tests::sample("users-me-delete"))
        .await;
    assert_eq!(answer.status(), 202);
    let job_id = json_of(&answer)["job_id"]
        .as_str()
        .expect("a job")
        .to_owned();
    // then logging in again as alice is refused: the account is closed, not reopened
    let again = runcrew_auth::LOGIN
        .call(&app, runcrew_tests::sample("auth-login"))
        .await;
    assert_eq!(again.status(), 401, "{}", json_of(&again));
    // when the job has run to its end
    run_job(&app, &job_id, runcrew_jobs::STEP_STORE_CALLS).await;
    // then she may start afresh, as a new account
    let fresh = runcrew_auth::LOGIN
        .call(&app, runcrew_tests::sample("auth-login"))
        .await;
    assert_eq!(fresh.status(), 201);
    assert_eq!(json_of(&fresh)["new_user"], true);
}

#[tokio::test]
async fn an_erasure_in_small_steps_resumes_where_each_stopped_and_leaves_nothing() {
    // given alice with 300 runs, 40 likes and 30 people she follows
    let (app, store, _dir) = app_without_consumers();
    let login = runcrew_auth::LOGIN
        .call(&app, runcrew_tests::sample("auth-login"))
        .await;
    let alice = json_of(&login)["user_id"].as_str().expect("id").to_owned();
    let mut items: Vec<Item> = (0..300)
        .map(|i| run_of(&alice, i).to_item().expect("run"))
        .collect();
    items.extend((0..40).map(|i| Reaction::Like.item(&synthetic(7, i), &alice)));
    items.extend((0..30).map(|i| runcrew_model::follow::follow_item(&alice, &synthetic(8, i))));
    load(store.as_ref(), items).await;
    // when her erasure runs in steps of only 25 store calls each
    let answer = runcrew_users::ME_DELETE
        .call(&app, runcrew_tests::sample("users-me-delete"))
        .await;
    let job_id = json_of(&answer)["job_id"]
        .as_str()
        .expect("a job")
        .to_owned();
    let steps = run_job(&app, &job_id, 25).await;
    // then it took many steps, each resuming where the last stopped, and ended done
    assert!(steps > 3, "{steps} steps");
    let (job, _) = runcrew_model::job::load(store.as_ref(), &job_id)
        .await
        .expect("read")
        .expect("the job");
    assert_eq!(job.state, runcrew_model::job::JobState::Done);
    assert_eq!(job.subject, None);
    assert!(job.items_deleted >= 370, "{job:?}");
    // and nothing of hers is left: her partition, her likes, the erasure's own marker
    let partition = store
        .query(&Query::partition(format!("USER#{alice}")))
        .await
        .expect("query");
    assert!(partition.items.is_empty(), "{:?}", partition.items.first());
    let likes = store
        .query(&Query::index(
            runcrew_shared::store::Index::Gsi1,
            Reaction::Like.user_partition(&alice),
        ))
        .await
        .expect("likes");
    assert!(likes.items.is_empty());
    let marker = runcrew_model::profile::being_erased_key(&alice);
    assert_eq!(store.get(&marker).await.expect("get"), None);
}
