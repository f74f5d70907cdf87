//! What a host may send to create or change an event, read into types that hold only
//! acceptable values: a handler never sees a start in the past, a zone that does not exist
//! or a capacity of 0. Every refusal is a 422 naming the field.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use runcrew_shared::ApiError;
use runcrew_shared::route::round_coordinate;
use runcrew_shared::text::{Shape, visible_text};

use super::{EventVisibility, Pace, Point};

/// The longest title, in characters: it must fit a list card and a calendar entry.
pub const MAX_TITLE: usize = 100;
/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 2_000;
/// The longest meeting point name, in characters.
pub const MAX_PLACE_NAME: usize = 100;
/// The largest capacity: the roster's lists stay a few hundred items.
pub const MAX_CAPACITY: u32 = 500;
/// The shortest event, in minutes.
pub const MIN_DURATION_MIN: u32 = 10;
/// The longest event, in minutes (an ultra's day).
pub const MAX_DURATION_MIN: u32 = 24 * 60;
/// The duration of an event that names none, in minutes.
pub const DEFAULT_DURATION_MIN: u32 = 60;
/// How far ahead an event may be set, in days: a race day two years out, not a date typed
/// with the wrong year.
pub const MAX_DAYS_AHEAD: i64 = 730;
/// The fastest pace a group run may name, seconds per km (2:00/km).
pub const FASTEST_PACE_S_PER_KM: u32 = 120;
/// The slowest pace a group run may name, seconds per km (20:00/km, a walk).
pub const SLOWEST_PACE_S_PER_KM: u32 = 1_200;

/// A start the API accepts: RFC 3339 with an offset, after now, at most
/// [`MAX_DAYS_AHEAD`] ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Epoch milliseconds.
    pub ms: i64,
    /// The offset it was written with, in minutes.
    pub utc_offset_minutes: i32,
}

impl Start {
    /// `raw` as a start seen at `now_ms`; 422 naming `starts_at` otherwise.
    pub fn parse(raw: &str, now_ms: i64) -> Result<Start, ApiError> {
        let at = OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
            ApiError::invalid(
                "starts_at",
                "must be RFC 3339 with an offset, e.g. 2026-12-05T07:00:00+09:00",
            )
        })?;
        let ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| ApiError::invalid("starts_at", "is out of range"))?;
        if ms <= now_ms {
            return Err(ApiError::invalid("starts_at", "is in the past"));
        }
        if ms > now_ms + MAX_DAYS_AHEAD * 24 * 3600 * 1000 {
            return Err(ApiError::invalid(
                "starts_at",
                format!("is more than {MAX_DAYS_AHEAD} days ahead"),
            ));
        }
        Ok(Start {
            ms,
            utc_offset_minutes: i32::from(at.offset().whole_minutes()),
        })
    }
}

/// An IANA zone name the bundled database knows.
pub fn time_zone(raw: &str) -> Result<String, ApiError> {
    if jiff::tz::db().get(raw).is_err() {
        return Err(ApiError::invalid(
            "time_zone",
            "must be an IANA time zone, e.g. Asia/Seoul",
        ));
    }
    Ok(raw.to_owned())
}

/// A title: trimmed, 1 to [`MAX_TITLE`] characters that show something.
pub fn title(raw: &str) -> Result<String, ApiError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || raw.chars().count() > MAX_TITLE {
        return Err(ApiError::invalid(
            "title",
            format!("must be 1 to {MAX_TITLE} characters"),
        ));
    }
    visible_text("title", trimmed, Shape::Line)?;
    Ok(trimmed.to_owned())
}

/// A description: at most [`MAX_DESCRIPTION`] characters, kept as written.
pub fn description(raw: &str) -> Result<String, ApiError> {
    if raw.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    visible_text("description", raw, Shape::Paragraph)?;
    Ok(raw.to_owned())
}

/// A whole number of 0 or more, also when written with a point (`60.0`): JSON has one
/// number type, and the rest of the API reads whole numbers so.
fn whole(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|v| v.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(v))
            .map(|v| v as u64)
    })
}

/// A duration in minutes, [`MIN_DURATION_MIN`] to [`MAX_DURATION_MIN`].
pub fn duration_min(value: &Value) -> Result<u32, ApiError> {
    whole(value)
        .and_then(|m| u32::try_from(m).ok())
        .filter(|m| (MIN_DURATION_MIN..=MAX_DURATION_MIN).contains(m))
        .ok_or_else(|| {
            ApiError::invalid(
                "duration_min",
                format!("must be a whole number from {MIN_DURATION_MIN} to {MAX_DURATION_MIN}"),
            )
        })
}

/// A capacity: `null` for no limit, else 1 to [`MAX_CAPACITY`].
pub fn capacity(value: &Value) -> Result<Option<u32>, ApiError> {
    if value.is_null() {
        return Ok(None);
    }
    whole(value)
        .and_then(|c| u32::try_from(c).ok())
        .filter(|c| (1..=MAX_CAPACITY).contains(c))
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(
                "capacity",
                format!("must be a whole number from 1 to {MAX_CAPACITY}, or null for no limit"),
            )
        })
}

/// A pace range: `null` for none, else `{min_s_per_km, max_s_per_km}` within
/// [`FASTEST_PACE_S_PER_KM`]..=[`SLOWEST_PACE_S_PER_KM`], min at most max.
pub fn pace(value: &Value) -> Result<Option<Pace>, ApiError> {
    if value.is_null() {
        return Ok(None);
    }
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::invalid("pace", "must be {min_s_per_km, max_s_per_km} or null"))?;
    only(object, "pace", &["min_s_per_km", "max_s_per_km"])?;
    let bound = |name: &str| {
        object
            .get(name)
            .and_then(whole)
            .and_then(|s| u32::try_from(s).ok())
            .filter(|s| (FASTEST_PACE_S_PER_KM..=SLOWEST_PACE_S_PER_KM).contains(s))
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("pace.{name}"),
                    format!(
                        "must be seconds per km from {FASTEST_PACE_S_PER_KM} to {SLOWEST_PACE_S_PER_KM}"
                    ),
                )
            })
    };
    let (min, max) = (bound("min_s_per_km")?, bound("max_s_per_km")?);
    if min > max {
        return Err(ApiError::invalid(
            "pace.max_s_per_km",
            "must be at least min_s_per_km (the slower bound)",
        ));
    }
    Ok(Some(Pace {
        min_s_per_km: min,
        max_s_per_km: max,
    }))
}

/// A meeting point `{lat, lng, name?}`: on the map, coordinates rounded as routes' are.
pub fn meeting_point(value: &Value) -> Result<(Point, Option<String>), ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::invalid("meeting_point", "must be {lat, lng, name?}"))?;
    only(object, "meeting_point", &["lat", "lng", "name"])?;
    let coordinate = |name: &str, limit: f64| {
        object
            .get(name)
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite() && v.abs() <= limit)
            .map(round_coordinate)
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("meeting_point.{name}"),
                    format!("must be degrees from -{limit} to {limit}"),
                )
            })
    };
    let point = Point {
        lat: coordinate("lat", 90.0)?,
        lng: coordinate("lng", 180.0)?,
    };
    let name = match object.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => Some(place_name(raw)?),
        Some(_) => {
            return Err(ApiError::invalid(
                "meeting_point.name",
                "must be text or null",
            ));
        }
    };
    Ok((point, name))
}

fn place_name(raw: &str) -> Result<String, ApiError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || raw.chars().count() > MAX_PLACE_NAME {
        return Err(ApiError::invalid(
            "meeting_point.name",
            format!("must be 1 to {MAX_PLACE_NAME} characters"),
        ));
    }
    visible_text("meeting_point.name", trimmed, Shape::Line)?;
    Ok(trimmed.to_owned())
}

/// Where the event meets, as sent: a point, a course (its start is the point), or both (a
/// point near the course, the course for the results).
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceInput {
    /// The point and its name, when sent.
    pub point: Option<(Point, Option<String>)>,
    /// The course, when sent; the handler checks the host may see it.
    pub course_id: Option<String>,
}

/// A new event as the host sent it, every field accepted. The course, if any, is checked
/// by the handler (a store read).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Accepted by [`title`].
    pub title: String,
    /// Accepted by [`description`].
    pub description: String,
    /// Accepted by [`Start::parse`].
    pub start: Start,
    /// Accepted by [`time_zone`].
    pub time_zone: Option<String>,
    /// Accepted by [`duration_min`], [`DEFAULT_DURATION_MIN`] when not sent.
    pub duration_min: u32,
    /// Where it meets.
    pub place: PlaceInput,
    /// Accepted by [`capacity`].
    pub capacity: Option<u32>,
    /// Accepted by [`pace`].
    pub pace: Option<Pace>,
    /// Who may see it.
    pub visibility: EventVisibility,
}

/// The fields `POST /v1/events` reads.
const CREATE_FIELDS: &[&str] = &[
    "title",
    "description",
    "starts_at",
    "time_zone",
    "duration_min",
    "meeting_point",
    "course_id",
    "capacity",
    "pace",
    "visibility",
];

/// The fields `PATCH /v1/events/{eventId}` reads.
const UPDATE_FIELDS: &[&str] = &[
    "title",
    "description",
    "starts_at",
    "time_zone",
    "duration_min",
    "meeting_point",
    "course_id",
    "capacity",
    "pace",
];

impl NewEvent {
    /// The create body `body`, seen at `now_ms`.
    pub fn parse(body: &Value, now_ms: i64) -> Result<NewEvent, ApiError> {
        let object = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("body", "must be a JSON object"))?;
        only(object, "", CREATE_FIELDS)?;
        let title = title(required_str(object, "title")?)?;
        let description = match optional_str(object, "description")? {
            Some(raw) => description(raw)?,
            None => String::new(),
        };
        let start = Start::parse(required_str(object, "starts_at")?, now_ms)?;
        let time_zone = optional_str(object, "time_zone")?
            .map(time_zone)
            .transpose()?;
        let duration_min = match object.get("duration_min") {
            None | Some(Value::Null) => DEFAULT_DURATION_MIN,
            Some(value) => duration_min(value)?,
        };
        let place = PlaceInput {
            point: match object.get("meeting_point") {
                None | Some(Value::Null) => None,
                Some(value) => Some(meeting_point(value)?),
            },
            course_id: optional_str(object, "course_id")?.map(str::to_owned),
        };
        if place.point.is_none() && place.course_id.is_none() {
            return Err(ApiError::invalid(
                "meeting_point",
                "is required unless course_id names the course whose start is the meeting point",
            ));
        }
        let capacity = object.get("capacity").map(capacity).transpose()?.flatten();
        let pace = object.get("pace").map(pace).transpose()?.flatten();
        let visibility = match optional_str(object, "visibility")? {
            Some("public") => EventVisibility::Public,
            Some("followers") => EventVisibility::Followers,
            Some("private") => EventVisibility::Private,
            _ => {
                return Err(ApiError::invalid(
                    "visibility",
                    "must be public, followers or private",
                ));
            }
        };
        Ok(NewEvent {
            title,
            description,
            start,
            time_zone,
            duration_min,
            place,
            capacity,
            pace,
            visibility,
        })
    }
}

/// A change the host sent: each field `None` when not sent; `Some(None)` where `null`
/// clears it (zone, course, capacity, pace).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventChange {
    /// A new title.
    pub title: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new start.
    pub start: Option<Start>,
    /// A new zone, or none.
    pub time_zone: Option<Option<String>>,
    /// A new duration.
    pub duration_min: Option<u32>,
    /// A new meeting point.
    pub point: Option<(Point, Option<String>)>,
    /// A new course, or none.
    pub course_id: Option<Option<String>>,
    /// A new capacity, or no limit.
    pub capacity: Option<Option<u32>>,
    /// A new pace, or none.
    pub pace: Option<Option<Pace>>,
}

impl EventChange {
    /// The change body `body`, seen at `now_ms`.
    pub fn parse(body: &Value, now_ms: i64) -> Result<EventChange, ApiError> {
        let object = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("body", "must be a JSON object"))?;
        if object.contains_key("visibility") {
            return Err(ApiError::invalid(
                "visibility",
                "cannot change: participants joined it as it was; cancel and create a new event",
            ));
        }
        only(object, "", UPDATE_FIELDS)?;
        let nullable_str = |name: &str| -> Result<Option<Option<&str>>, ApiError> {
            match object.get(name) {
                None => Ok(None),
                Some(Value::Null) => Ok(Some(None)),
                Some(Value::String(s)) => Ok(Some(Some(s.as_str()))),
                Some(_) => Err(ApiError::invalid(name, "must be text or null")),
            }
        };
        let not_null = |name: &str| -> Result<(), ApiError> {
            if object.get(name).is_some_and(Value::is_null) {
                return Err(ApiError::invalid(name, "cannot be null"));
            }
            Ok(())
        };
        for name in [
            "title",
            "description",
            "starts_at",
            "duration_min",
            "meeting_point",
        ] {
            not_null(name)?;
        }
        Ok(EventChange {
            title: optional_str(object, "title")?.map(title).transpose()?,
            description: optional_str(object, "description")?
                .map(description)
                .transpose()?,
            start: optional_str(object, "starts_at")?
                .map(|raw| Start::parse(raw, now_ms))
                .transpose()?,
            time_zone: nullable_str("time_zone")?
                .map(|zone| zone.map(time_zone).transpose())
                .transpose()?,
            duration_min: object.get("duration_min").map(duration_min).transpose()?,
            point: object.get("meeting_point").map(meeting_point).transpose()?,
            course_id: nullable_str("course_id")?.map(|id| id.map(str::to_owned)),
            capacity: object.get("capacity").map(capacity).transpose()?,
            pace: object.get("pace").map(pace).transpose()?,
        })
    }

    /// Whether it names the event's time or place at all (whether it really moves the
    /// event is [`super::Event::moved_from`]'s to say).
    pub fn moves(&self) -> bool {
        self.start.is_some()
            || self.duration_min.is_some()
            || self.point.is_some()
            || self.course_id.is_some()
    }
}

/// 422 for the first field of `object` that is not one of `known` (`prefix.name` inside
/// an object): a misspelt field is never silently ignored.
fn only(object: &Map<String, Value>, prefix: &str, known: &[&str]) -> Result<(), ApiError> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(other) => {
            let field = if prefix.is_empty() {
                other.clone()
            } else {
                format!("{prefix}.{other}")
            };
            Err(ApiError::invalid(
                field,
                format!("is not a field here; use {}", known.join(", ")),
            ))
        }
    }
}

fn required_str<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    optional_str(object, name)?.ok_or_else(|| ApiError::invalid(name, "is required"))
}

fn optional_str<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, ApiError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(name, "must be text")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_796_000_000_000; // 2026-11-30T00:53:20Z

    fn field_of(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        result
            .expect_err("refused")
            .field()
            .expect("names a field")
            .to_owned()
    }

    fn body() -> Value {
        json!({
            "title": "Sunrise 10K",
            "starts_at": "2026-12-05T07:00:00+09:00",
            "time_zone": "Asia/Seoul",
            "meeting_point": {"lat": 37.5665, "lng": 126.978, "name": "City Hall"},
            "capacity": 5,
            "visibility": "public"
        })
    }

    #[test]
    fn a_well_formed_event_reads_with_its_instant_and_offset() {
        let mut sent = body();
        sent["capacity"] = json!(5.0);
        let event = NewEvent::parse(&sent, NOW).expect("accepted");
        // 2026-12-05T07:00+09:00 is 2026-12-04T22:00Z.
        assert_eq!(event.start.ms, 1_796_421_600_000);
        assert_eq!(event.start.utc_offset_minutes, 540);
        assert_eq!(event.duration_min, DEFAULT_DURATION_MIN);
        assert_eq!(event.capacity, Some(5));
        assert_eq!(event.visibility, EventVisibility::Public);
        assert_eq!(
            event.place.point.expect("point").1.as_deref(),
            Some("City Hall")
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: [(&str, Value); 12] = [
            ("starts_at", json!("2026-11-01T07:00:00+09:00")),
            ("starts_at", json!("2026-12-05 07:00")),
            ("starts_at", json!("2029-01-01T07:00:00+09:00")),
            ("time_zone", json!("Mars/Olympus")),
            ("capacity", json!(0)),
            ("capacity", json!(501)),
            ("capacity", json!(4.5)),
            ("duration_min", json!(5)),
            ("title", json!("   ")),
            ("visibility", json!("friends")),
            ("pace", json!({"min_s_per_km": 400, "max_s_per_km": 300})),
            ("meeting_point", json!({"lat": 91, "lng": 0})),
        ];
        for (field, value) in cases {
            let mut sent = body();
            sent[field] = value;
            let named = field_of(NewEvent::parse(&sent, NOW));
            assert!(named.starts_with(field), "{field}: named {named}");
        }
    }

    #[test]
    fn an_event_needs_a_meeting_point_or_a_course_and_no_unknown_field() {
        let mut sent = body();
        sent.as_object_mut()
            .expect("object")
            .remove("meeting_point");
        assert_eq!(field_of(NewEvent::parse(&sent, NOW)), "meeting_point");
        sent["course_id"] = json!("0193a1b2c3d4e5f60718293a4b5c6d7e");
        assert!(NewEvent::parse(&sent, NOW).is_ok());
        sent["colour"] = json!("red");
        assert_eq!(field_of(NewEvent::parse(&sent, NOW)), "colour");
    }

    #[test]
    fn a_change_tells_clearing_from_leaving_alone() {
        let change =
            EventChange::parse(&json!({"capacity": null, "title": "Later"}), NOW).expect("ok");
        assert_eq!(change.capacity, Some(None));
        assert_eq!(change.title.as_deref(), Some("Later"));
        assert_eq!(change.pace, None);
        assert!(!change.moves());
        let moved = EventChange::parse(&json!({"starts_at": "2026-12-06T07:00:00+09:00"}), NOW)
            .expect("ok");
        assert!(moved.moves());
        assert_eq!(
            field_of(EventChange::parse(&json!({"visibility": "private"}), NOW)),
            "visibility"
        );
        assert_eq!(
            field_of(EventChange::parse(&json!({"title": null}), NOW)),
            "title"
        );
    }
}
