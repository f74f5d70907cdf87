//! Group runs: events with a time, a meeting point and maybe a capacity; joining, leaving
//! and the waitlist; lists by date, by place and of my own; calendar files; reminders
//! (a schedule) and the roster's follow-up (a consumer of the table's stream).
//!
//! ```text
//!  POST/PATCH/DELETE /v1/events ──┐                    ┌─▶ promote the first waiter
//!  PUT/DELETE …/participation ────┴─commit─▶ table ─stream─▶ event-changes ─▶ inbox + push queue
//!                                              ▲                (moved, cancelled, moved up)
//!  every 5 min: event-reminders ──reads────────┘──────────────▶ inbox + push queue
//! ```
//!
//! Store round trips per route (DynamoDB):
//!
//! | route | reads | writes |
//! |---|---|---|
//! | `POST /v1/events` | 1 GetItem (the host's profile) [+ 1 GetItem of the course] | 1 transaction (event, place, account check[, idempotency answer]) |
//! | `GET /v1/events` (from/to) | 1 Query per month the page reaches (usually 1) + 1 BatchGetItem (hosts) | 0 |
//! | `GET /v1/events?near=` | up to 9 Queries in parallel (geohash cells) + 1 BatchGetItem (events) + 1 BatchGetItem (hosts) | 0 |
//! | `GET /v1/events/{id}` | 1 GetItem + 1 BatchGetItem (host, my membership, my follow of the host) | 0 |
//! | `PATCH /v1/events/{id}` | as GET [+ 1 GetItem of a new course] | 1 transaction (event, place) |
//! | `DELETE /v1/events/{id}` | as GET | 1 transaction (event, place) |
//! | `PUT …/participation` | as GET (which read the membership too) | 1 transaction (event, member, seat, account check); a lost race reads the event again |
//! | `DELETE …/participation` | as GET (which read the membership too) | 1 transaction (event, member, seat) |
//! | `GET …/participants` | as GET + 1 Query + 1 BatchGetItem (profiles) | 0 |
//! | `GET /v1/users/me/events` | 1–2 Queries + 1 BatchGetItem (events) + 1 BatchGetItem (hosts) | 0 |
//! | `GET …/calendar.ics` | as GET | 0 |
//! | `GET …/results` | as GET + 1 Query + 1 BatchGetItem (runners) | 0 |
//!
//! Every count a route shows (going, waiting) is kept on the event item by the same
//! transactions that join and leave: no route counts items.

pub mod calendar;
pub mod changes;
pub mod lists;
pub mod notify;
pub mod participation;
pub mod reminders;
pub mod results;

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use runcrew_model::course::load_visible as load_visible_course;
use runcrew_model::event::input::{EventChange, NewEvent};
use runcrew_model::event::{
    Event, EventStatus, Point, Role, event_key, host_change_refused, hosted, load_visible,
    new_event_id,
};
use runcrew_model::idempotency::Completion;
use runcrew_model::profile::profile_key;
use runcrew_shared::clock::{now_epoch_ms, now_rfc3339};
use runcrew_shared::store::versioned::Versioned;
use runcrew_shared::store::{Condition, Store, Write};
use runcrew_shared::tasks::schedule::ScheduleFunction;
use runcrew_shared::tasks::stream::StreamFunction;
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};

/// `POST /v1/events`.
pub static CREATE: HttpFunction = HttpFunction {
    binary: "events-create",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(create(app, req)),
};

/// `GET /v1/events/{eventId}`.
pub static GET: HttpFunction = HttpFunction {
    binary: "events-get",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(get(app, req)),
};

/// `PATCH /v1/events/{eventId}`.
pub static UPDATE: HttpFunction = HttpFunction {
    binary: "events-update",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(update(app, req)),
};

/// `DELETE /v1/events/{eventId}`.
pub static CANCEL: HttpFunction = HttpFunction {
    binary: "events-cancel",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(cancel(app, req)),
};

/// Every HTTP function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[
    &CREATE,
    &lists::LIST,
    &GET,
    &UPDATE,
    &CANCEL,
    &participation::JOIN,
    &participation::LEAVE,
    &participation::PARTICIPANTS,
    &lists::MINE,
    &calendar::CALENDAR,
    &results::RESULTS,
];

/// Every stream consumer of this crate.
pub static STREAM_TASKS: &[&StreamFunction] = &[&changes::EVENT_CHANGES];

/// Every scheduled task of this crate.
pub static SCHEDULE_TASKS: &[&ScheduleFunction] = &[&reminders::EVENT_REMINDERS];

/// The largest create or change body: a description of 2,000 characters with room.
pub const MAX_BODY: usize = 16 * 1024;

/// Now in epoch milliseconds.
pub fn now_ms() -> i64 {
    i64::try_from(now_epoch_ms()).unwrap_or(i64::MAX)
}

/// `POST /v1/events`: 201 with the event. With an `Idempotency-Key`, a retry within 24
/// hours gets the first answer and creates nothing.
pub async fn create(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    runcrew_model::idempotency::once_committed(app.store()?, &req, &caller.user_id, |completion| {
        create_event(app, &req, &caller.user_id, completion)
    })
    .await
}

async fn create_event(
    app: &App,
    req: &Request,
    host_id: &str,
    completion: Option<Completion>,
) -> Result<Response<Body>, ApiError> {
    let body: Value = request::json_body_limited(req, MAX_BODY)?;
    let now = now_ms();
    let input = NewEvent::parse(&body, now)?;
    let store = app.store()?;
    let (point, point_name) = place(
        store,
        input.place.point,
        input.place.course_id.as_deref(),
        host_id,
    )
    .await?;
    let host = store.get(&profile_key(host_id)).await?;
    let at = now_rfc3339();
    let event = Event {
        event_id: new_event_id(),
        host_id: host_id.to_owned(),
        title: input.title,
        description: input.description,
        starts_ms: input.start.ms,
        duration_min: input.duration_min,
        utc_offset_minutes: input.start.utc_offset_minutes,
        time_zone: input.time_zone,
        meeting_point: point,
        meeting_point_name: point_name,
        course_id: input.place.course_id,
        capacity: input.capacity,
        pace: input.pace,
        visibility: input.visibility,
        status: EventStatus::Scheduled,
        going: 0,
        waiting: 0,
        next_seq: 0,
        revision: 0,
        created_at: at.clone(),
        updated_at: at,
    };
    let author = host
        .as_ref()
        .and_then(runcrew_model::author::Author::from_profile);
    let mut resp = response::json(
        http::StatusCode::CREATED,
        &event.view(author.as_ref(), Some(Role::Host)),
    )?;
    if let Ok(location) = http::HeaderValue::from_str(&format!("/v1/events/{}", event.event_id)) {
        resp.headers_mut().insert(http::header::LOCATION, location);
    }
    let mut writes = vec![Write::Put {
        item: event.to_item(1)?,
        condition: Condition::NotExists,
    }];
    writes.extend(event.geo_item().map(|item| Write::Put {
        item,
        condition: Condition::None,
    }));
    runcrew_model::idempotency::commit_create(
        store,
        writes,
        host_id,
        completion.as_ref().map(|c| (c, &resp)),
    )
    .await?;
    tracing::info!(event_id = %event.event_id, "event created");
    Ok(resp)
}

/// The meeting point: the one sent, else the start of the course (which the host must be
/// able to see: 422 naming `course_id` otherwise, as for any field that names nothing
/// usable), named after the course unless a name was sent.
async fn place(
    store: &dyn Store,
    point: Option<(Point, Option<String>)>,
    course_id: Option<&str>,
    host_id: &str,
) -> Result<(Point, Option<String>), ApiError> {
    let course = match course_id {
        None => None,
        Some(id) => Some(
            load_visible_course(store, id, Some(host_id))
                .await
                .map_err(|err| match err {
                    ApiError::NotFound { .. } => {
                        ApiError::invalid("course_id", "names no course you can see")
                    }
                    other => other,
                })?
                .0,
        ),
    };
    match (point, course) {
        (Some(point), _) => Ok(point),
        (None, Some(course)) => Ok((
            Point {
                lat: course.start.lat,
                lng: course.start.lng,
            },
            Some(course.name),
        )),
        (None, None) => Err(ApiError::invalid(
            "meeting_point",
            "is required unless course_id names the course whose start is the meeting point",
        )),
    }
}

/// `GET /v1/events/{eventId}`: the event with its host, counts and my status; 404 for a
/// followers-only event to someone who does not follow the host, and for a private one to
/// anyone but its host and participants.
pub async fn get(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let (seen, _) = seen_by_viewer(app, &req).await?;
    response::ok(&seen.view())
}

/// The event of the request's `eventId` as its viewer (a token's user, or nobody) may see
/// it, and the viewer's id: the first step of every read route of one event.
pub async fn seen_by_viewer(
    app: &App,
    req: &Request,
) -> Result<(runcrew_model::event::Seen, Option<String>), ApiError> {
    let viewer = app.viewer(req).await?.map(|c| c.user_id);
    let event_id = request::path_param(req, "eventId")?;
    let seen = load_visible(app.store()?, event_id, viewer.as_deref()).await?;
    Ok((seen, viewer))
}

/// `PATCH /v1/events/{eventId}` (host): title, description, time, place, capacity, pace.
/// A change of time or place (a value that differs, not one resent) bumps the revision;
/// the `event-changes` consumer tells the participants. Lowering the capacity below those going is 409; raising it lets the
/// waitlist move up.
pub async fn update(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let event_id = request::path_param(&req, "eventId")?;
    let body: Value = request::json_body_limited(&req, MAX_BODY)?;
    let change = EventChange::parse(&body, now_ms())?;
    let store = app.store()?;
    let user_id = caller.user_id.as_str();
    let seen = load_visible(store, event_id, Some(user_id)).await?;
    hosted(Some(&seen.item), user_id)?;
    // A new course without a new point moves the meeting point to the course's start.
    let new_place = match (&change.point, &change.course_id) {
        (point, Some(Some(course))) => {
            Some(place(store, point.clone(), Some(course.as_str()), user_id).await?)
        }
        (Some(point), _) => Some(point.clone()),
        (None, _) => None,
    };
    let (change, new_place, now) = (&change, &new_place, now_ms());
    let event = Versioned::new(event_key(event_id))
        .already_read(Some(seen.item.clone()))
        .attempts(runcrew_model::event::HOST_ATTEMPTS)
        .apply(store, |current| async move {
            let mut event = hosted(current.as_ref(), user_id)?;
            apply(&mut event, change, new_place.clone(), now)?;
            event.host_change(event.clone())
        })
        .await
        .map_err(host_change_refused)?;
    tracing::info!(event_id = %event.event_id, revision = event.revision, "event changed");
    response::ok(&event.view(seen.host.as_ref(), Some(Role::Host)))
}

/// Applies a host's change to the event: 409 when it is cancelled, over, or the capacity
/// would leave someone going without a seat.
fn apply(
    event: &mut Event,
    change: &EventChange,
    place: Option<(Point, Option<String>)>,
    now_ms: i64,
) -> Result<(), ApiError> {
    if event.status == EventStatus::Cancelled {
        return Err(ApiError::Conflict {
            code: "event_cancelled",
            message: "the event was cancelled; it can no longer change".into(),
        });
    }
    if event.is_over(now_ms) {
        return Err(runcrew_model::event::over());
    }
    if let Some(Some(capacity)) = change.capacity
        && capacity < event.going
    {
        return Err(ApiError::Conflict {
            code: "capacity_below_participants",
            message: format!(
                "{} people are going; the capacity cannot be lower",
                event.going
            ),
        });
    }
    let before = event.clone();
    if let Some(title) = &change.title {
        event.title = title.clone();
    }
    if let Some(description) = &change.description {
        event.description = description.clone();
    }
    if let Some(start) = change.start {
        event.starts_ms = start.ms;
        event.utc_offset_minutes = start.utc_offset_minutes;
    }
    if let Some(zone) = &change.time_zone {
        event.time_zone = zone.clone();
    }
    if let Some(duration) = change.duration_min {
        event.duration_min = duration;
    }
    if let Some((point, name)) = place {
        event.meeting_point = point;
        event.meeting_point_name = name;
    }
    if let Some(course) = &change.course_id {
        event.course_id = course.clone();
    }
    if let Some(capacity) = change.capacity {
        event.capacity = capacity;
    }
    if let Some(pace) = change.pace {
        event.pace = pace;
    }
    if event.moved_from(&before) {
        event.revision += 1;
    }
    event.updated_at = now_rfc3339();
    Ok(())
}

/// `DELETE /v1/events/{eventId}` (host): cancels it. It leaves every list but its
/// participants' and host's, stays readable as cancelled until it would have ended, then
/// expires; the `event-changes` consumer tells the participants. Cancelling twice is fine.
pub async fn cancel(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let event_id = request::path_param(&req, "eventId")?;
    let store = app.store()?;
    let user_id = caller.user_id.as_str();
    let seen = load_visible(store, event_id, Some(user_id)).await?;
    hosted(Some(&seen.item), user_id)?;
    runcrew_model::event::cancel(store, seen.item, user_id, now_ms()).await?;
    Ok(response::no_content())
}

/// What the unit tests of this crate start from.
#[cfg(test)]
pub(crate) mod fixtures {
    use runcrew_model::event::{Event, EventStatus, EventVisibility, Point};

    /// A public group run at City Hall, Seoul, starting 2026-12-04T22:00Z (07:00 the next
    /// day in Seoul, written at +09:00), an hour long, with no limit and nobody in it yet.
    pub(crate) fn event() -> Event {
        Event {
            event_id: "e1".into(),
            host_id: "host".into(),
            title: "Sunrise 10K".into(),
            description: String::new(),
            starts_ms: 1_796_421_600_000,
            duration_min: 60,
            utc_offset_minutes: 540,
            time_zone: None,
            meeting_point: Point {
                lat: 37.5,
                lng: 127.0,
            },
            meeting_point_name: Some("City Hall".into()),
            course_id: None,
            capacity: None,
            pace: None,
            visibility: EventVisibility::Public,
            status: EventStatus::Scheduled,
            going: 0,
            waiting: 0,
            next_seq: 0,
            revision: 2,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }
}
