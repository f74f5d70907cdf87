//! Notifications: what is worth telling a person, kept in their inbox and pushed to their
//! devices when their settings allow.
//!
//! | item | pk / sk | kept |
//! |---|---|---|
//! | inbox item | `USER#<userId>` / `NOTIF#<notificationId>` | 90 days (TTL) |
//! | inbox state | `USER#<userId>` / `NOTIFSTATE` (read-up-to mark) | with the account |
//! | settings | `USER#<userId>` / `NOTIFSETTINGS` | with the account |
//! | device | `USER#<userId>` / `DEVICE#<token digest>` | until removed, replaced or dead |
//! | token owner | `DEVICE#<token digest>` / `OWNER` | with the device |
//! | push sent | `PUSHSENT#<notificationId>` / `<token digest>` | 2 days (TTL) |
//!
//! The notifier (a consumer of the table's stream) writes inbox items from committed
//! writes and queues a [`job::PushJob`]; the `push` consumer reads [`settings`] and
//! [`device`]s and sends. Everything that lands in the inbox is keyed by what caused it,
//! so a record delivered twice notifies once.

pub mod device;
pub mod inbox;
pub mod job;
pub mod settings;

use serde::{Deserialize, Serialize};

/// What happened: the type of a notification, which a person may opt out of pushes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Someone started following me.
    NewFollower,
    /// Someone liked a course I drew.
    CourseLiked,
    /// Someone reviewed a course I drew.
    CourseReviewed,
    /// Someone beat my time on a course's leaderboard.
    LeaderboardOvertaken,
    /// An import from Strava brought new runs.
    StravaImported,
    /// A group run I joined starts soon.
    EventReminder,
    /// A group run I joined moved in time or place.
    EventChanged,
    /// A group run I joined was cancelled.
    EventCancelled,
    /// I moved up from a group run's waitlist: I have a place.
    EventPromoted,
    /// The export of my account I asked for is ready to download.
    ExportReady,
}

impl Kind {
    /// Every type, in the order settings list them.
    pub const ALL: [Kind; 10] = [
        Kind::NewFollower,
        Kind::CourseLiked,
        Kind::CourseReviewed,
        Kind::LeaderboardOvertaken,
        Kind::StravaImported,
        Kind::EventReminder,
        Kind::EventChanged,
        Kind::EventCancelled,
        Kind::EventPromoted,
        Kind::ExportReady,
    ];

    /// The name in requests, settings, push data and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NewFollower => "new_follower",
            Kind::CourseLiked => "course_liked",
            Kind::CourseReviewed => "course_reviewed",
            Kind::LeaderboardOvertaken => "leaderboard_overtaken",
            Kind::StravaImported => "strava_imported",
            Kind::EventReminder => "event_reminder",
            Kind::EventChanged => "event_changed",
            Kind::EventCancelled => "event_cancelled",
            Kind::EventPromoted => "event_promoted",
            Kind::ExportReady => "export_ready",
        }
    }

    /// Reads a type name a client sent.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_from_its_name_and_serializes_as_it() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).expect("json"),
                serde_json::json!(kind.as_str())
            );
        }
        assert_eq!(Kind::parse("newsletter"), None);
    }
}
