//! A person's notification settings: which types may push, and quiet hours in their own
//! time zone. Every notification still reaches the inbox; settings decide only the push.
//!
//! A push that falls in quiet hours is held and sent when they end (the push consumer puts
//! its message back on the queue until then), unless by then it is older than
//! [`STALE_AFTER`]: a day-old "someone followed you" is for the inbox, not the lock screen.

use std::collections::BTreeMap;
use std::time::Duration;

use runcrew_shared::ApiError;
use runcrew_shared::store::versioned::{Change, Versioned, VersionedError};
use runcrew_shared::store::{Item, Key, Store, from_body, to_body};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Kind;
use crate::profile::{account_closed, open_account_check, user_partition};

/// A held push older than this when quiet hours end is dropped (the inbox keeps it).
pub const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);
const SETTINGS_SK: &str = "NOTIFSETTINGS";

/// A time of day, `HH:MM` on the 24-hour clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime {
    minute_of_day: u16,
}

impl ClockTime {
    /// Reads `HH:MM` (two digits each, 00:00 to 23:59).
    pub fn parse(text: &str) -> Option<ClockTime> {
        let (h, m) = text.split_once(':')?;
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(ClockTime {
            minute_of_day: h * 60 + m,
        })
    }

    fn hour(self) -> i8 {
        (self.minute_of_day / 60) as i8
    }

    fn minute(self) -> i8 {
        (self.minute_of_day % 60) as i8
    }
}

impl std::fmt::Display for ClockTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl Serialize for ClockTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ClockTime::parse(&text).ok_or_else(|| serde::de::Error::custom("not HH:MM"))
    }
}

/// The hours a person wants no pushes, in their zone; `start` after `end` spans midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// When they begin.
    pub start: ClockTime,
    /// When they end (pushes held meanwhile go then).
    pub end: ClockTime,
    /// The IANA zone the times are in, e.g. `Asia/Seoul`.
    pub time_zone: String,
}

impl QuietHours {
    /// If `now` falls inside quiet hours, how long until they end; `None` outside them.
    /// Daylight-saving changes are the zone's (an end that does not exist that night is
    /// the first moment after it).
    pub fn remaining(&self, now: jiff::Timestamp) -> Option<Duration> {
        let zone = jiff::tz::db().get(&self.time_zone).ok()?;
        let local = now.to_zoned(zone);
        let minute = (local.hour() as u16) * 60 + local.minute() as u16;
        let (start, end) = (self.start.minute_of_day, self.end.minute_of_day);
        let inside = if start < end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        };
        if !inside {
            return None;
        }
        let mut until = local
            .with()
            .hour(self.end.hour())
            .minute(self.end.minute())
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?;
        if until.timestamp() <= now {
            until = until.checked_add(jiff::Span::new().days(1)).ok()?;
        }
        let seconds = until.timestamp().as_second() - now.as_second();
        Some(Duration::from_secs(seconds.max(1) as u64))
    }
}

/// What a person allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Whether each type may push (all do unless turned off).
    pub types: BTreeMap<Kind, bool>,
    /// When not to push at all, if ever.
    pub quiet_hours: Option<QuietHours>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            types: Kind::ALL.into_iter().map(|kind| (kind, true)).collect(),
            quiet_hours: None,
        }
    }
}

impl Settings {
    /// Whether a notification of `kind` may push at all.
    pub fn allows(&self, kind: Kind) -> bool {
        self.types.get(&kind).copied().unwrap_or(true)
    }

    /// The settings with `patch` applied.
    pub fn patched(mut self, patch: SettingsPatch) -> Settings {
        self.types.extend(patch.types);
        if let Some(quiet_hours) = patch.quiet_hours {
            self.quiet_hours = quiet_hours;
        }
        self
    }
}

/// A change a client asked for (`PATCH /v1/users/me/notification-settings`): some types on
/// or off, and quiet hours set or cleared (`null`); what it leaves out stays as it was.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SettingsPatch {
    /// Types turned on (`true`) or off.
    pub types: BTreeMap<Kind, bool>,
    /// `Some(None)`: quiet hours cleared; `Some(Some(..))`: set; `None`: left alone.
    pub quiet_hours: Option<Option<QuietHours>>,
}

impl SettingsPatch {
    /// Reads a patch body; a wrong field is a 422 naming it.
    pub fn parse(body: &Value) -> Result<SettingsPatch, ApiError> {
        let object = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("body", "must be a JSON object"))?;
        let mut patch = SettingsPatch::default();
        for (name, value) in object {
            match name.as_str() {
                "types" => patch.types = parse_types(value)?,
                "quiet_hours" => patch.quiet_hours = Some(parse_quiet_hours(value)?),
                other => {
                    return Err(ApiError::invalid(
                        other,
                        "is not a setting; use types or quiet_hours",
                    ));
                }
            }
        }
        Ok(patch)
    }
}

fn parse_types(value: &Value) -> Result<BTreeMap<Kind, bool>, ApiError> {
    let object = value.as_object().ok_or_else(|| {
        ApiError::invalid(
            "types",
            "must be an object of notification types to true or false",
        )
    })?;
    object
        .iter()
        .map(|(name, on)| {
            let field = format!("types.{name}");
            let kind = Kind::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                ApiError::invalid(
                    &field,
                    format!("is not a notification type; one of {}", known.join(", ")),
                )
            })?;
            let on = on
                .as_bool()
                .ok_or_else(|| ApiError::invalid(&field, "must be true or false"))?;
            Ok((kind, on))
        })
        .collect()
}

fn parse_quiet_hours(value: &Value) -> Result<Option<QuietHours>, ApiError> {
    if value.is_null() {
        return Ok(None);
    }
    let object: &Map<String, Value> = value.as_object().ok_or_else(|| {
        ApiError::invalid("quiet_hours", "must be {start, end, time_zone} or null")
    })?;
    if let Some(other) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "start" | "end" | "time_zone"))
    {
        return Err(ApiError::invalid(
            format!("quiet_hours.{other}"),
            "is not part of quiet hours; use start, end and time_zone",
        ));
    }
    let time = |name: &str| {
        let field = format!("quiet_hours.{name}");
        object
            .get(name)
            .and_then(Value::as_str)
            .and_then(ClockTime::parse)
            .ok_or_else(|| ApiError::invalid(field, "must be a time of day, HH:MM (24-hour)"))
    };
    let (start, end) = (time("start")?, time("end")?);
    if start == end {
        return Err(ApiError::invalid(
            "quiet_hours.end",
            "must differ from start (clear quiet hours with null)",
        ));
    }
    let time_zone = object
        .get("time_zone")
        .and_then(Value::as_str)
        .filter(|zone| jiff::tz::db().get(zone).is_ok())
        .ok_or_else(|| {
            ApiError::invalid(
                "quiet_hours.time_zone",
                "must be an IANA time zone, e.g. Asia/Seoul",
            )
        })?;
    Ok(Some(QuietHours {
        start,
        end,
        time_zone: time_zone.to_owned(),
    }))
}

fn settings_key(user_id: &str) -> Key {
    Key::new(user_partition(user_id), SETTINGS_SK)
}

/// The settings a stored item holds, the defaults without one; a type added since they
/// were saved keeps its default (on).
fn stored(item: Option<&Item>) -> Result<Settings, ApiError> {
    let Some(item) = item else {
        return Ok(Settings::default());
    };
    let saved: Settings = from_body(item)?;
    Ok(Settings::default().patched(SettingsPatch {
        types: saved.types,
        quiet_hours: Some(saved.quiet_hours),
    }))
}

/// `user_id`'s settings, the defaults when they never changed any.
pub async fn load(store: &dyn Store, user_id: &str) -> Result<Settings, ApiError> {
    stored(store.get(&settings_key(user_id)).await?.as_ref())
}

/// Applies `patch` to `user_id`'s settings under the version read, so two changes at once
/// both land; returns the settings as saved.
pub async fn update(
    store: &dyn Store,
    user_id: &str,
    patch: SettingsPatch,
) -> Result<Settings, ApiError> {
    let patch = &patch;
    Versioned::new(settings_key(user_id))
        .apply(store, |current| async move {
            let settings = stored(current.as_ref())?.patched(patch.clone());
            let item = Item::new(settings_key(user_id), to_body(&settings)?);
            Ok::<_, ApiError>(Change::put(item, settings).with(open_account_check(user_id)))
        })
        .await
        .map_err(|err| match err {
            VersionedError::ExtraFailed { .. } => account_closed(),
            other => other.or_conflict(|| ApiError::Busy {
                code: "settings_busy",
                message: "the settings changed while they were being saved; try again".into(),
                retry_after: 1,
            }),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().expect("timestamp")
    }

    fn seoul_nights() -> QuietHours {
        QuietHours {
            start: ClockTime::parse("22:00").expect("time"),
            end: ClockTime::parse("07:00").expect("time"),
            time_zone: "Asia/Seoul".into(),
        }
    }

    #[test]
    fn quiet_hours_across_midnight_hold_until_the_morning_in_the_persons_zone() {
        let quiet = seoul_nights();
        // 23:30 in Seoul is 14:30 UTC: 7 h 30 min until 07:00.
        assert_eq!(
            quiet.remaining(at("2026-12-01T14:30:00Z")),
            Some(Duration::from_secs(7 * 3600 + 1800))
        );
        // 06:59 in Seoul: one minute left.
        assert_eq!(
            quiet.remaining(at("2026-12-01T21:59:00Z")),
            Some(Duration::from_secs(60))
        );
        // 07:00 and noon in Seoul: not quiet.
        assert_eq!(quiet.remaining(at("2026-12-01T22:00:00Z")), None);
        assert_eq!(quiet.remaining(at("2026-12-02T03:00:00Z")), None);
    }

    #[test]
    fn quiet_hours_within_one_day_hold_only_between_them() {
        let quiet = QuietHours {
            start: ClockTime::parse("13:00").expect("time"),
            end: ClockTime::parse("14:00").expect("time"),
            time_zone: "UTC".into(),
        };
        assert_eq!(
            quiet.remaining(at("2026-12-01T13:15:00Z")),
            Some(Duration::from_secs(45 * 60))
        );
        assert_eq!(quiet.remaining(at("2026-12-01T14:00:00Z")), None);
        assert_eq!(quiet.remaining(at("2026-12-01T12:59:00Z")), None);
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let patch = SettingsPatch::parse(&json!({
            "types": {"course_liked": false},
            "quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Asia/Seoul"}
        }))
        .expect("valid");
        let settings = Settings::default().patched(patch);
        assert!(!settings.allows(Kind::CourseLiked));
        assert!(settings.allows(Kind::NewFollower));
        assert_eq!(settings.quiet_hours, Some(seoul_nights()));
        let cleared =
            settings.patched(SettingsPatch::parse(&json!({"quiet_hours": null})).expect("valid"));
        assert_eq!(cleared.quiet_hours, None);
        assert!(!cleared.allows(Kind::CourseLiked), "types left alone");
    }

    #[test]
    fn a_wrong_setting_is_refused_naming_its_field() {
        let cases = [
            (json!({"types": {"newsletter": false}}), "types.newsletter"),
            (
                json!({"types": {"new_follower": "no"}}),
                "types.new_follower",
            ),
            (json!({"types": true}), "types"),
            (json!({"sound": true}), "sound"),
            (
                json!({"quiet_hours": {"start": "24:00", "end": "07:00", "time_zone": "UTC"}}),
                "quiet_hours.start",
            ),
            (
                json!({"quiet_hours": {"start": "22:00", "end": "7:00", "time_zone": "UTC"}}),
                "quiet_hours.end",
            ),
            (
                json!({"quiet_hours": {"start": "22:00", "end": "22:00", "time_zone": "UTC"}}),
                "quiet_hours.end",
            ),
            (
                json!({"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Mars/Olympus"}}),
                "quiet_hours.time_zone",
            ),
            (
                json!({"quiet_hours": {"start": "22:00", "end": "07:00"}}),
                "quiet_hours.time_zone",
            ),
            (
                json!({"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "UTC", "days": 5}}),
                "quiet_hours.days",
            ),
            (json!({"quiet_hours": "night"}), "quiet_hours"),
            (json!([]), "body"),
        ];
        for (body, field) in cases {
            let err = SettingsPatch::parse(&body).expect_err("refused");
            assert_eq!(err.field(), Some(field), "{body}");
        }
    }

    #[test]
    fn settings_read_back_as_saved() {
        let settings = Settings::default().patched(
            SettingsPatch::parse(&json!({
                "types": {"leaderboard_overtaken": false},
                "quiet_hours": {"start": "23:00", "end": "06:30", "time_zone": "Europe/Berlin"}
            }))
            .expect("valid"),
        );
        let text = serde_json::to_value(&settings).expect("json");
        assert_eq!(text["quiet_hours"]["end"], json!("06:30"));
        assert_eq!(text["types"]["leaderboard_overtaken"], json!(false));
        let back: Settings = serde_json::from_value(text).expect("reads back");
        assert_eq!(back, settings);
    }
}
