//! The data the `events/` samples name, so each sample succeeds against its handler: the
//! dev users `alice` and `bob`, alice's course along the Han river with its route file,
//! her run on it, her group run at its start, and a finished job of hers. The events test and the route benchmarks seed it the same way.

use runcrew_model::course::{Course, Visibility, route_blob_key};
use runcrew_model::event::{Event, EventStatus, EventVisibility, Point};
use runcrew_model::job::{Job, JobKind, JobState};
use runcrew_model::profile as users;
use runcrew_model::run::{Run, RunVisibility, Source};
use runcrew_shared::identity::{Identity, Provider};
use runcrew_shared::route::Route;
use runcrew_shared::store::{Condition, Write};
use runcrew_shared::{ApiError, App};

/// The course the samples name: alice's, public, in Yeouido.
pub const COURSE_ID: &str = "019aa5c0e1f27d4b8c9d0e1f2a3b4c5d";
/// The run the samples name: alice's 3 km on that course.
pub const RUN_ID: &str = "019aa5c0f0a17b2c8d3e4f5a6b7c8d9e";

/// The group run the samples name: alice's, public, at the start of her course.
pub const EVENT_ID: &str = "019aa5c1a2b37c4d8e9f0a1b2c3d4e5f";

/// The job the samples name: alice's finished deletion of an earlier course.
pub const JOB_ID: &str = "019aa5c1b3c47d5e8f9a0b1c2d3e4f50";

/// The id the dev provider gives `name` (as `POST /v1/auth/login` with `dev` does).
pub fn dev_user_id(name: &str) -> String {
    runcrew_shared::app::external_user_id("runcrew-dev", name)
}

/// Makes sure the dev user `name` exists; returns the id.
pub async fn dev_user(app: &App, name: &str) -> Result<String, ApiError> {
    let identity = Identity {
        provider: Provider::Dev,
        subject: name.to_owned(),
        email: None,
        display_name: Some(name.to_owned()),
    };
    let id = dev_user_id(name);
    Ok(users::find_or_create(app.store()?, &identity, || id)
        .await?
        .user_id)
}

fn sample_route() -> Route {
    Route::from_json(
        &serde_json::json!({"type": "LineString", "coordinates": [
            [126.9356, 37.5283], [126.9410, 37.5262], [126.9502, 37.5231], [126.9672, 37.5170]
        ]}),
        "route",
    )
    .expect("the sample route is valid")
}

/// Puts alice's sample course and its route file in place (again, after a sample deleted
/// them).
pub async fn seed_course(app: &App) -> Result<(), ApiError> {
    let route = sample_route();
    let mut course = Course::new(
        &dev_user_id("alice"),
        "Yeouido Han river 3k".into(),
        String::new(),
        Visibility::Public,
        &route,
        "2026-11-21T05:35:00.000Z",
    );
    course.course_id = COURSE_ID.into();
    app.store()?
        .put(course.to_item(1)?, Condition::None)
        .await?;
    let file =
        serde_json::to_vec(&route.to_geojson()).map_err(|e| ApiError::Internal(e.to_string()))?;
    app.blobs()?
        .put(&route_blob_key(COURSE_ID), file, "application/geo+json")
        .await?;
    Ok(())
}

/// Puts alice's sample run in place (again, after a sample deleted it), with its totals
/// and leaderboard entry.
pub async fn seed_run(app: &App) -> Result<(), ApiError> {
    let run = Run {
        run_id: RUN_ID.into(),
        user_id: dev_user_id("alice"),
        started_at: "2026-11-20T22:10:00.000Z".into(),
        started_ms: 1_795_212_600_000,
        utc_offset_minutes: 540,
        time_zone: Some("Asia/Seoul".into()),
        local_date: "2026-11-21".into(),
        duration_s: 1020,
        distance_m: 3050.0,
        course_id: Some(COURSE_ID.into()),
        source: Source::App,
        visibility: RunVisibility::Public,
        flag: None,
        path_points: None,
        created_at: "2026-11-20T22:30:00.000Z".into(),
    };
    let store = app.store()?;
    let mut writes = vec![Write::Put {
        item: run.to_item()?,
        condition: Condition::None,
    }];
    writes.extend(runcrew_model::stats::tally(&run, 1)?);
    store.transact(writes).await?;
    runcrew_model::leaderboard::offer(store, &run).await?;
    Ok(())
}

/// Puts alice's sample group run in place as new (nobody joined, again after a sample
/// joined or cancelled it): public, at her course's start, ten places, starting
/// 2028-05-06T07:00+09:00 (so a sample may still join it until then).
pub async fn seed_event(app: &App) -> Result<(), ApiError> {
    runcrew_shared::store::delete_all(
        app.store()?,
        runcrew_shared::store::Query::partition(runcrew_model::event::event_partition(EVENT_ID)),
    )
    .await?;
    let route = sample_route();
    let start = route.start();
    let event = Event {
        event_id: EVENT_ID.into(),
        host_id: dev_user_id("alice"),
        title: "Saturday sunrise 3k".into(),
        description: "Easy pace, coffee after.".into(),
        starts_ms: 1_841_176_800_000,
        duration_min: 60,
        utc_offset_minutes: 540,
        time_zone: Some("Asia/Seoul".into()),
        meeting_point: Point {
            lat: start.lat,
            lng: start.lng,
        },
        meeting_point_name: Some("Yeouido Han river 3k".into()),
        course_id: Some(COURSE_ID.into()),
        capacity: Some(10),
        pace: None,
        visibility: EventVisibility::Public,
        status: EventStatus::Scheduled,
        going: 0,
        waiting: 0,
        next_seq: 0,
        revision: 0,
        created_at: "2026-11-21T05:35:00.000Z".into(),
        updated_at: "2026-11-21T05:35:00.000Z".into(),
    };
    let mut writes = vec![Write::Put {
        item: event.to_item(1)?,
        condition: Condition::None,
    }];
    writes.extend(event.geo_item().map(|item| Write::Put {
        item,
        condition: Condition::None,
    }));
    app.store()?.transact(writes).await?;
    Ok(())
}

/// Alice's finished course deletion, whose status `jobs-get` reads.
pub async fn seed_job(app: &App) -> Result<(), ApiError> {
    let alice = dev_user_id("alice");
    let mut job = Job::new(
        JOB_ID.into(),
        JobKind::DeleteCourse,
        runcrew_model::job::owner_of(app, &alice).await?,
        "019aa5c0e1f27d4b8c9d0e1f2a3b4c00",
    );
    job.state = JobState::Done;
    job.subject = None;
    job.steps = 1;
    job.items_deleted = 12;
    job.finished_at = Some(job.updated_at.clone());
    app.store()?.put(job.to_item(1)?, Condition::None).await?;
    Ok(())
}

/// Everything the samples name: alice and bob, the course, the run, the group run, the
/// job.
pub async fn seed(app: &App) -> Result<(), ApiError> {
    dev_user(app, "alice").await?;
    dev_user(app, "bob").await?;
    seed_course(app).await?;
    seed_run(app).await?;
    seed_event(app).await?;
    seed_job(app).await
}
