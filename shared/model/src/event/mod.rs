//! Group runs: an event with a time, a meeting point and maybe a capacity; who goes, who
//! waits, who was reminded, which runs were run at it.
//!
//! | item | pk / sk | indexes |
//! |---|---|---|
//! | event | `EVENT#<eventId>` / `META` | public and scheduled: gsi1 `EVENTS#<yyyy-mm>` / `<startMs>#<id>`; gsi2 `MYEVENTS#<hostId>` / `<startMs>#<id>`; scheduled: gsi3 `EVENTSAT#<yyyy-mm-dd>` / `<startMs>#<id>` |
//! | place | `EVENT#<eventId>` / `GEO` (public, scheduled, expires at the end) | gsi3 `EVGEO#<geohash3>` / `<geohash9>#<id>` |
//! | member | `EVENT#<eventId>` / `MEMBER#<userId>` | gsi2 `MYEVENTS#<userId>` / `<startMs>#<id>` |
//! | seat | `EVENT#<eventId>` / `SEAT#G#<seq>` (going) or `SEAT#W#<seq>` (waiting) | none |
//! | reminded | `EVENT#<eventId>` / `REMINDED#<revision>` (expires a day after the end) | none |
//! | result | `EVENT#<eventId>` / `RESULT#<duration>#<userId>#<runId>` | gsi1 `RESULTS#<userId>` / `<runId>#<eventId>` |
//!
//! **Capacity and the waitlist.** The event item counts who goes and who waits and hands
//! out arrival numbers (`next_seq`). Every join and leave is a read-modify-write of that
//! one item under its version ([`runcrew_shared::store::versioned`]), in one transaction
//! with the member and seat items: concurrent joins are serialized by the table, so
//! capacity holds and arrival numbers are the order in which joins committed. The seat
//! items, sorted by arrival number in the event's own partition, are the participant list
//! and the waitlist, read with a strongly consistent Query. A newcomer goes only when a
//! seat is free *and nobody waits*: a seat freed by a leave belongs to the first on the
//! waitlist, whom the `event-changes` stream consumer moves up ([`roster::promote`]).
//!
//! **Time buckets and cells.** Public upcoming events are listed from month partitions of
//! gsi1 (a date range reads the months it spans) and found near a point from geohash cells
//! of gsi3 that hold only events not yet over (the place item expires at the end), so
//! neither list reads past events. Reminders read the day partitions of gsi3 that the next
//! hour touches.

pub mod ics;
pub mod input;
pub mod results;
pub mod roster;
pub mod search;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use runcrew_shared::ApiError;
use runcrew_shared::clock::{now_rfc3339, rfc3339_of_ms};
use runcrew_shared::route::LatLng;
use runcrew_shared::store::versioned::{Change, Versioned, VersionedError};
use runcrew_shared::store::{Condition, Index, Item, Key, Store, Write, to_body};
use runcrew_shared::{geocell, store::from_body};

use crate::author::Author;

/// The partition prefix of everything about one event.
pub const PARTITION_PREFIX: &str = "EVENT#";
/// The sort key of the event item.
pub const META_SK: &str = "META";
/// The sort key of the place item (the near index).
pub const GEO_SK: &str = "GEO";
/// The sort-key prefix of member items.
pub const MEMBER_PREFIX: &str = "MEMBER#";
/// The sort-key prefix of seat items of those who go.
pub const GOING_SEAT_PREFIX: &str = "SEAT#G#";
/// The sort-key prefix of seat items of those who wait.
pub const WAITING_SEAT_PREFIX: &str = "SEAT#W#";
/// The sort-key prefix of every seat item.
pub const SEAT_PREFIX: &str = "SEAT#";
/// The sort-key prefix of the reminders-sent markers (one per revision of the event).
pub const REMINDED_PREFIX: &str = "REMINDED#";
/// The sort-key prefix of result items.
pub const RESULT_PREFIX: &str = "RESULT#";

/// Who may see an event (and so join it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventVisibility {
    /// Everyone: listed by date and place.
    Public,
    /// The host's followers (and its participants); listed nowhere.
    Followers,
    /// The host and its participants only.
    Private,
}

/// Whether it still happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    /// It happens as announced.
    #[default]
    Scheduled,
    /// The host called it off: readable until it would have ended, then gone.
    Cancelled,
}

/// Where runners meet: a point on the map and what people call it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Degrees, rounded to 7 decimals.
    pub lat: f64,
    /// Degrees, rounded to 7 decimals.
    pub lng: f64,
}

impl From<Point> for LatLng {
    fn from(point: Point) -> LatLng {
        LatLng {
            lat: point.lat,
            lng: point.lng,
        }
    }
}

/// A pace range, seconds per kilometre: who the group run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pace {
    /// The fastest pace the group runs.
    pub min_s_per_km: u32,
    /// The slowest pace the group runs.
    pub max_s_per_km: u32,
}

/// The event item's body: everything a list or a calendar file shows, and the roster's
/// counters, so a page of events is one read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// UUIDv7 in hex.
    pub event_id: String,
    /// Who organizes it: the one person who may change or cancel it. Not a participant:
    /// the capacity counts those who join.
    pub host_id: String,
    /// As [`input::Title`] accepted it.
    pub title: String,
    /// As [`input::Description`] accepted it.
    pub description: String,
    /// The start in epoch milliseconds: the instant every index sorts by.
    pub starts_ms: i64,
    /// Minutes, [`input::MIN_DURATION_MIN`] to [`input::MAX_DURATION_MIN`].
    pub duration_min: u32,
    /// The offset the host wrote the start with, in minutes: the local time shown when no
    /// zone is named.
    pub utc_offset_minutes: i32,
    /// The IANA zone of the meeting point, when the host named one: calendars show the
    /// start in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Where runners meet.
    pub meeting_point: Point,
    /// What the host calls the meeting point, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_point_name: Option<String>,
    /// The course run, if any: its start was the meeting point when the event was set, and
    /// runs on it during the event are its results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course_id: Option<String>,
    /// How many may go, 1 to [`input::MAX_CAPACITY`]; `None` for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// Who it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace: Option<Pace>,
    /// Who may see and join it.
    pub visibility: EventVisibility,
    /// Whether it still happens.
    #[serde(default)]
    pub status: EventStatus,
    /// Participants who go.
    #[serde(default)]
    pub going: u32,
    /// Participants on the waitlist.
    #[serde(default)]
    pub waiting: u32,
    /// The last arrival number handed out: each join takes the next.
    #[serde(default)]
    pub next_seq: u64,
    /// Bumped whenever the time, the place or the status changes: the calendar file's
    /// `SEQUENCE`, and part of the cause of a change notification.
    #[serde(default)]
    pub revision: u32,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The table key of an event.
pub fn event_key(event_id: &str) -> Key {
    Key::new(event_partition(event_id), META_SK)
}

/// The partition holding the event, its members, seats and results.
pub fn event_partition(event_id: &str) -> String {
    format!("{PARTITION_PREFIX}{event_id}")
}

/// The key of the place item.
pub fn geo_key(event_id: &str) -> Key {
    Key::new(event_partition(event_id), GEO_SK)
}

/// The key of the marker saying the reminders of `revision` of the event went out: an
/// event moved after its reminders (a new revision) is reminded again at its new time.
pub fn reminded_key(event_id: &str, revision: u32) -> Key {
    Key::new(
        event_partition(event_id),
        format!("{REMINDED_PREFIX}{revision}"),
    )
}

/// The gsi2 partition of the events a person hosts or joined.
pub fn my_events_partition(user_id: &str) -> String {
    format!("MYEVENTS#{user_id}")
}

/// The gsi1 partition of the public events starting in a UTC month (`yyyy-mm`).
pub fn month_partition(month: &str) -> String {
    format!("EVENTS#{month}")
}

/// The gsi3 partition of every scheduled event starting on a UTC day (`yyyy-mm-dd`).
pub fn day_partition(day: &str) -> String {
    format!("EVENTSAT#{day}")
}

/// The gsi3 partition of a geohash cell's events.
pub fn geo_partition(cell: &str) -> String {
    format!("EVGEO#{cell}")
}

/// The sort key that orders by start (`<13-digit ms>#<id>`).
pub fn start_sort_key(starts_ms: i64, event_id: &str) -> String {
    format!("{:013}#{event_id}", starts_ms.max(0))
}

/// The UTC month (`yyyy-mm`) of an instant.
pub fn month_of(ms: i64) -> String {
    rfc3339_of_ms(ms)[..7].to_owned()
}

/// The UTC day (`yyyy-mm-dd`) of an instant.
pub fn day_of(ms: i64) -> String {
    rfc3339_of_ms(ms)[..10].to_owned()
}

/// Whether `id` has the shape of an event id (so a malformed one is a 404, not a read).
pub fn is_event_id(id: &str) -> bool {
    runcrew_shared::ids::has_id_shape(id)
}

/// A new time-ordered id.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The one 404 of every event route: the same for an event that does not exist and one the
/// caller may not see.
pub fn event_not_found() -> ApiError {
    ApiError::not_found("event_not_found", "no such event")
}

/// What a person is to an event, as its view tells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// They organize it.
    Host,
    /// They have a place.
    Going,
    /// They are on the waitlist.
    Waiting,
}

impl Event {
    /// When it ends, epoch milliseconds.
    pub fn ends_ms(&self) -> i64 {
        self.starts_ms + i64::from(self.duration_min) * 60_000
    }

    /// Whether it is over at `now_ms`.
    pub fn is_over(&self, now_ms: i64) -> bool {
        self.ends_ms() <= now_ms
    }

    /// Whether it starts, lasts, meets or runs other than `before`: news for its
    /// participants, a new revision (and so new reminders). Resending the same start is not.
    pub fn moved_from(&self, before: &Event) -> bool {
        self.starts_ms != before.starts_ms
            || self.duration_min != before.duration_min
            || self.meeting_point != before.meeting_point
            || self.course_id != before.course_id
    }

    /// Calls it off: cancelled, at a new revision (so its participants are told and its
    /// calendar file replaces the entry), and changed now.
    pub fn call_off(&mut self) {
        self.status = EventStatus::Cancelled;
        self.revision += 1;
        self.updated_at = now_rfc3339();
    }

    /// The write of a change its host made: the event under the version read, its place
    /// item as it now is, and the host's open-account check, so a token outliving its
    /// erased account changes nothing. [`host_change_refused`] reads the failures.
    pub fn host_change<T>(&self, value: T) -> Result<Change<T>, ApiError> {
        Ok(Change::put(self.to_item(0)?, value)
            .with(self.geo_write())
            .with(crate::profile::open_account_check(&self.host_id)))
    }

    /// Whether it is listed by date and place: public and not cancelled.
    pub fn is_listed(&self) -> bool {
        self.visibility == EventVisibility::Public && self.status == EventStatus::Scheduled
    }

    /// The event item: listed (gsi1) while public and scheduled, in its host's list
    /// (gsi2) always, in the reminders' day partition (gsi3) while scheduled. A cancelled
    /// event expires when it would have ended.
    pub fn to_item(&self, version: u64) -> Result<Item, ApiError> {
        let sort = start_sort_key(self.starts_ms, &self.event_id);
        let mut item = Item::new(event_key(&self.event_id), to_body(self)?).with_version(version);
        if self.host_id != ERASED_HOST {
            item = item.with_index(
                Index::Gsi2,
                my_events_partition(&self.host_id),
                sort.clone(),
            );
        }
        if self.is_listed() {
            item = item.with_index(
                Index::Gsi1,
                month_partition(&month_of(self.starts_ms)),
                sort.clone(),
            );
        }
        match self.status {
            EventStatus::Scheduled => {
                item = item.with_index(Index::Gsi3, day_partition(&day_of(self.starts_ms)), sort);
            }
            EventStatus::Cancelled => item = item.expiring_at(self.ends_ms() / 1000),
        }
        Ok(item)
    }

    /// The event in an event item, with its version.
    pub fn from_item(item: &Item) -> Result<(Event, u64), ApiError> {
        Ok((from_body(item)?, item.version))
    }

    /// The place item of a listed event (found near its meeting point until it ends);
    /// `None` when it is not listed, so a write deletes it.
    pub fn geo_item(&self) -> Option<Item> {
        if !self.is_listed() {
            return None;
        }
        let hash = geocell::encode(self.meeting_point.into());
        let body = serde_json::Map::from_iter([
            ("event_id".to_owned(), Value::from(self.event_id.as_str())),
            ("starts_ms".to_owned(), Value::from(self.starts_ms)),
            ("lat".to_owned(), Value::from(self.meeting_point.lat)),
            ("lng".to_owned(), Value::from(self.meeting_point.lng)),
        ]);
        Some(
            Item::new(geo_key(&self.event_id), body)
                .with_index(
                    Index::Gsi3,
                    geo_partition(geocell::partition_of(&hash)),
                    format!("{hash}#{}", self.event_id),
                )
                .expiring_at(self.ends_ms() / 1000),
        )
    }

    /// The write that puts the place item as the event now is: written while listed,
    /// deleted otherwise.
    pub fn geo_write(&self) -> Write {
        match self.geo_item() {
            Some(item) => Write::Put {
                item,
                condition: Condition::None,
            },
            None => Write::Delete {
                key: geo_key(&self.event_id),
                condition: Condition::None,
            },
        }
    }

    /// Whether `viewer` may see it: anyone a public one, the host's followers a
    /// followers-only one, its host and participants always. `follows_host` and `role`
    /// come from reads the caller made ([`Access`]).
    pub fn visible_to(&self, viewer: Option<&str>, access: &Access) -> bool {
        if viewer == Some(self.host_id.as_str()) || access.role.is_some() {
            return true;
        }
        match self.visibility {
            EventVisibility::Public => true,
            EventVisibility::Followers => access.follows_host,
            EventVisibility::Private => false,
        }
    }

    /// The view every route shows: the event, its host, its counts, and what the viewer is
    /// to it (`my_status`, null for a stranger).
    pub fn view(&self, host: Option<&Author>, my_role: Option<Role>) -> Value {
        json!({
            "event_id": self.event_id,
            "title": self.title,
            "description": self.description,
            "starts_at": rfc3339_of_ms(self.starts_ms),
            "ends_at": rfc3339_of_ms(self.ends_ms()),
            "duration_min": self.duration_min,
            "utc_offset_minutes": self.utc_offset_minutes,
            "time_zone": self.time_zone,
            "meeting_point": {
                "lat": self.meeting_point.lat,
                "lng": self.meeting_point.lng,
                "name": self.meeting_point_name,
            },
            "course_id": self.course_id,
            "capacity": self.capacity,
            "pace": self.pace,
            "visibility": self.visibility,
            "status": self.status,
            "host": (self.host_id != ERASED_HOST).then(|| Author::summary(&self.host_id, host)),
            "participant_count": self.going,
            "waitlist_count": self.waiting,
            "my_status": my_role,
            "calendar_url": format!("/v1/events/{}/calendar.ics", self.event_id),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// What a viewer is to an event beyond its visibility: read beside it, in one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// The viewer follows the host.
    pub follows_host: bool,
    /// The viewer's place, if they joined.
    pub role: Option<Role>,
}

/// The event `event_id` as `viewer` may see it, with its version, the host's summary and
/// the viewer's role (host, going, waiting or none): one GetItem and one BatchGetItem
/// (host profile, the viewer's member item, their follow of the host). 404 when it does not
/// exist or the viewer may not see it.
pub async fn load_visible(
    store: &dyn Store,
    event_id: &str,
    viewer: Option<&str>,
) -> Result<Seen, ApiError> {
    if !is_event_id(event_id) {
        return Err(event_not_found());
    }
    let item = store
        .get(&event_key(event_id))
        .await?
        .ok_or_else(event_not_found)?;
    let (event, version) = Event::from_item(&item)?;
    let mut keys = vec![crate::profile::profile_key(&event.host_id)];
    if let Some(viewer) = viewer.filter(|v| *v != event.host_id) {
        keys.push(roster::member_key(event_id, viewer));
        keys.push(crate::follow::follow_key(viewer, &event.host_id));
    }
    let items = store.get_many(&keys).await?;
    let host = items.iter().find_map(Author::from_profile);
    let member = items
        .iter()
        .find(|i| i.key.sk.starts_with(MEMBER_PREFIX))
        .map(roster::Member::from_item)
        .transpose()?;
    let access = Access {
        follows_host: items.iter().any(|i| i.key.sk.starts_with("FOLLOWS#")),
        role: member.as_ref().map(|(m, _)| m.role()),
    };
    if !event.visible_to(viewer, &access) {
        return Err(event_not_found());
    }
    let role = if viewer == Some(event.host_id.as_str()) {
        Some(Role::Host)
    } else {
        access.role
    };
    Ok(Seen {
        event,
        version,
        item,
        host,
        role,
        member,
    })
}

/// An event as a viewer may see it, and what they are to it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The event.
    pub event: Event,
    /// Its version when read.
    pub version: u64,
    /// The item read, for a change that starts from it ([`runcrew_shared::store::versioned::Versioned::already_read`]).
    pub item: Item,
    /// The host's name and picture, if their profile exists.
    pub host: Option<Author>,
    /// The viewer's role, if any.
    pub role: Option<Role>,
    /// The viewer's member item and its version, if they joined.
    pub member: Option<(roster::Member, u64)>,
}

impl Seen {
    /// The view of [`Event::view`] for this viewer.
    pub fn view(&self) -> Value {
        self.event.view(self.host.as_ref(), self.role)
    }
}

/// Attempts at a change of the event by its host before `event_busy`: joins may be
/// writing the same item.
pub const HOST_ATTEMPTS: u32 = 10;

/// 409 with `Retry-After` for a write that kept losing races on the event item.
pub fn busy() -> ApiError {
    ApiError::busy(
        "event_busy",
        "many people are changing, joining or leaving this event; try again",
        roster::BUSY_RETRY_AFTER_SECONDS,
    )
}

/// 409 `event_over`: what is over cannot be joined, changed or cancelled.
pub fn over() -> ApiError {
    ApiError::Conflict {
        code: "event_over",
        message: "the event is over".into(),
    }
}

/// Cancels the event read as `first` on behalf of its host `host_id` at `now_ms`: it
/// leaves every list but its host's and participants', stays readable as cancelled until
/// it would have ended, then expires; the `event-changes` consumer tells the participants.
/// Cancelling a cancelled event changes nothing. 409 when it is over; 401 when the host's
/// account was closed meanwhile.
pub async fn cancel(
    store: &dyn Store,
    first: Item,
    host_id: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let key = first.key.clone();
    Versioned::new(key)
        .already_read(Some(first))
        .attempts(HOST_ATTEMPTS)
        .apply(store, |current| async move {
            let mut event = hosted(current.as_ref(), host_id)?;
            if event.status == EventStatus::Cancelled {
                return Ok(Change::keep(()));
            }
            if event.is_over(now_ms) {
                return Err(over());
            }
            event.call_off();
            event.host_change(())
        })
        .await
        .map_err(host_change_refused)
}

/// The error of a host's change of an event ([`Event::host_change`]) that did not commit:
/// 401 when the host's account was closed meanwhile (the account check is its second extra
/// write, after the place item), 409 `event_busy` when joins kept winning the race.
pub fn host_change_refused(err: VersionedError<ApiError>) -> ApiError {
    match err {
        VersionedError::ExtraFailed { failed } if failed.contains(&1) => {
            crate::profile::account_closed()
        }
        other => other.or_conflict(busy),
    }
}

/// The host id an event keeps once its host's account is erased: in no one's list, shown
/// with no host.
pub const ERASED_HOST: &str = "erased";

/// For the erasure of `host_id`'s account: the event read as `first` loses its host (it
/// keeps [`ERASED_HOST`] and leaves the host's list) and, unless it is over, is cancelled,
/// so the `event-changes` consumer tells its participants. A past event stays, for its
/// participants' results. Safe to repeat.
pub async fn release_hosted(
    store: &dyn Store,
    first: Item,
    host_id: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let key = first.key.clone();
    Versioned::new(key)
        .already_read(Some(first))
        .attempts(HOST_ATTEMPTS)
        .apply(store, |current| async move {
            let Some(current) = current else {
                return Ok(Change::keep(()));
            };
            let (mut event, _) = Event::from_item(&current)?;
            if event.host_id != host_id {
                return Ok(Change::keep(()));
            }
            event.host_id = ERASED_HOST.into();
            if event.status == EventStatus::Scheduled && !event.is_over(now_ms) {
                event.call_off();
            } else {
                event.updated_at = now_rfc3339();
            }
            let geo = event.geo_write();
            Ok(Change::put(event.to_item(0)?, ()).with(geo))
        })
        .await
        .map_err(|err: VersionedError<ApiError>| err.or_conflict(busy))
}

/// What the account export shows of `user_id`'s group runs: those they host (in full) and
/// those they joined (their place), by start.
pub async fn exported(store: &dyn Store, user_id: &str) -> Result<Vec<Value>, ApiError> {
    let entries = runcrew_shared::store::read_all(
        store,
        runcrew_shared::store::Query::index(Index::Gsi2, my_events_partition(user_id)),
    )
    .await?;
    entries
        .iter()
        .filter_map(|item| {
            if item.key.sk == META_SK {
                Some(Event::from_item(item).map(|(event, _)| {
                    let mut view = event.view(None, Some(Role::Host));
                    view["host"] = Value::Null;
                    view
                }))
            } else if item.key.sk.starts_with(MEMBER_PREFIX) {
                Some(roster::Member::from_item(item).map(|(member, _)| {
                    json!({
                        "event_id": member.event_id,
                        "my_status": member.role(),
                        "starts_at": rfc3339_of_ms(member.starts_ms),
                        "joined_at": member.joined_at,
                    })
                }))
            } else {
                None
            }
        })
        .collect()
}

/// The event in `item` if `user_id` hosts it: 404 when it is gone, 403 when they are not
/// its host. For a read-change-write by [`runcrew_shared::store::versioned`]; the caller
/// checked visibility when it first read the event.
pub fn hosted(item: Option<&Item>, user_id: &str) -> Result<Event, ApiError> {
    let (event, _) = Event::from_item(item.ok_or_else(event_not_found)?)?;
    if event.host_id != user_id {
        return Err(ApiError::Forbidden(
            "only the event's host may change or cancel it".into(),
        ));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn event(visibility: EventVisibility) -> Event {
        Event {
            event_id: "0193a1b2c3d4e5f60718293a4b5c6d7e".into(),
            host_id: "host".into(),
            title: "Sunrise 10K".into(),
            description: String::new(),
            starts_ms: 1_796_000_000_000,
            duration_min: 90,
            utc_offset_minutes: 540,
            time_zone: Some("Asia/Seoul".into()),
            meeting_point: Point {
                lat: 37.5665,
                lng: 126.978,
            },
            meeting_point_name: Some("City Hall".into()),
            course_id: None,
            capacity: Some(5),
            pace: None,
            visibility,
            status: EventStatus::Scheduled,
            going: 0,
            waiting: 0,
            next_seq: 0,
            revision: 0,
            created_at: "2026-11-30T00:00:00Z".into(),
            updated_at: "2026-11-30T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_public_event_is_listed_by_month_and_place_and_a_private_one_only_under_its_host() {
        let public = event(EventVisibility::Public);
        let item = public.to_item(1).expect("item");
        let month = item.index_key(Index::Gsi1).expect("listed");
        assert_eq!(month.pk, format!("EVENTS#{}", month_of(public.starts_ms)));
        assert!(month.sk.starts_with("1796000000000#"));
        assert_eq!(
            item.index_key(Index::Gsi2).expect("host's").pk,
            "MYEVENTS#host"
        );
        assert!(item.index_key(Index::Gsi3).is_some(), "reminders find it");
        let geo = public.geo_item().expect("found near its meeting point");
        assert_eq!(geo.expires_at, Some(public.ends_ms() / 1000));

        let private = event(EventVisibility::Private);
        let item = private.to_item(1).expect("item");
        assert!(item.index_key(Index::Gsi1).is_none());
        assert!(private.geo_item().is_none());
        assert!(item.index_key(Index::Gsi3).is_some(), "still reminded");
    }

    #[test]
    fn only_a_real_change_of_time_or_place_is_a_move() {
        let before = event(EventVisibility::Public);
        let mut same = before.clone();
        same.title = "Renamed".into();
        assert!(!same.moved_from(&before));
        let mut later = before.clone();
        later.starts_ms += 60_000;
        assert!(later.moved_from(&before));
        let mut elsewhere = before.clone();
        elsewhere.meeting_point.lat += 0.001;
        assert!(elsewhere.moved_from(&before));
    }

    #[test]
    fn a_cancelled_event_leaves_every_list_but_its_hosts_and_expires_at_its_end() {
        let mut cancelled = event(EventVisibility::Public);
        cancelled.status = EventStatus::Cancelled;
        let item = cancelled.to_item(2).expect("item");
        assert!(item.index_key(Index::Gsi1).is_none());
        assert!(item.index_key(Index::Gsi3).is_none());
        assert!(item.index_key(Index::Gsi2).is_some());
        assert_eq!(item.expires_at, Some(cancelled.ends_ms() / 1000));
        assert!(cancelled.geo_item().is_none());
    }

    #[test]
    fn followers_see_a_followers_event_and_only_participants_see_a_private_one() {
        let stranger = Access::default();
        let follower = Access {
            follows_host: true,
            role: None,
        };
        let participant = Access {
            follows_host: false,
            role: Some(Role::Waiting),
        };
        let followers = event(EventVisibility::Followers);
        assert!(!followers.visible_to(Some("x"), &stranger));
        assert!(!followers.visible_to(None, &stranger));
        assert!(followers.visible_to(Some("x"), &follower));
        let private = event(EventVisibility::Private);
        assert!(!private.visible_to(Some("x"), &follower));
        assert!(private.visible_to(Some("x"), &participant));
        assert!(private.visible_to(Some("host"), &stranger));
        assert!(event(EventVisibility::Public).visible_to(None, &stranger));
    }

    #[test]
    fn months_and_days_are_utc() {
        // 2027-01-01T08:00+09:00, already January in Seoul, is 2026-12-31T23:00Z.
        let ms = 1_798_758_000_000;
        assert_eq!(month_of(ms), "2026-12");
        assert_eq!(day_of(ms), "2026-12-31");
    }
}
