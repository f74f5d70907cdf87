//! Telling participants: an inbox item per person and a push job for each, the same way
//! the notifier does for follows and likes.

use futures::{StreamExt, TryStreamExt, stream};

use runcrew_model::event::Event;
use runcrew_model::notification::inbox::{self, Notification, NotificationId};
use runcrew_model::notification::{Kind, job};
use runcrew_shared::queue::QueueName;
use runcrew_shared::{App, TaskError};

/// Inbox writes and queue sends in flight at once: a fan-out to a full event (hundreds)
/// finishes in a few seconds without a burst the table would throttle.
const IN_FLIGHT: usize = 16;

/// What happened to the event, for the people it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum News {
    /// It starts soon.
    Reminder,
    /// Its time or place changed.
    Changed,
    /// It was cancelled.
    Cancelled,
    /// The person moved up from the waitlist.
    Promoted,
}

impl News {
    fn kind(self) -> Kind {
        match self {
            News::Reminder => Kind::EventReminder,
            News::Changed => Kind::EventChanged,
            News::Cancelled => Kind::EventCancelled,
            News::Promoted => Kind::EventPromoted,
        }
    }
}

/// The notification `news` about `event` makes for `user_id`. Its id is the news, the
/// event, its revision and the person, at `at_ms`, so delivering it twice is one item.
pub fn notification(event: &Event, news: News, user_id: &str, at_ms: i64) -> Notification {
    let when = local_start(event);
    let place = event
        .meeting_point_name
        .clone()
        .unwrap_or_else(|| "the meeting point".into());
    let (title, body) = match news {
        News::Reminder => (
            "Group run soon".to_owned(),
            format!("{} starts at {when} at {place}", event.title),
        ),
        News::Changed => (
            "Group run changed".to_owned(),
            format!(
                "{} changed: {when} at {place}, {} minutes",
                event.title, event.duration_min
            ),
        ),
        News::Cancelled => (
            "Group run cancelled".to_owned(),
            format!("{} on {when} was cancelled", event.title),
        ),
        News::Promoted => (
            "You have a place".to_owned(),
            format!(
                "A place opened up: you are going to {} on {when}",
                event.title
            ),
        ),
    };
    let kind = news.kind();
    Notification {
        id: NotificationId::new(
            at_ms,
            &format!(
                "{}#{}#{}#{user_id}",
                kind.as_str(),
                event.event_id,
                event.revision
            ),
        ),
        user_id: user_id.to_owned(),
        kind,
        title,
        body,
        actor_id: None,
        course_id: None,
        event_id: Some(event.event_id.clone()),
        job_id: None,
        read: false,
    }
}

/// The start as the participants live it: in the event's zone, else at the offset the host
/// wrote it with, e.g. `2026-12-05 07:00`.
pub fn local_start(event: &Event) -> String {
    let Ok(at) = jiff::Timestamp::from_millisecond(event.starts_ms) else {
        return String::new();
    };
    let zone = event
        .time_zone
        .as_deref()
        .and_then(|zone| jiff::tz::db().get(zone).ok())
        .unwrap_or_else(|| {
            jiff::tz::TimeZone::fixed(
                jiff::tz::Offset::from_seconds(event.utc_offset_minutes * 60)
                    .unwrap_or(jiff::tz::Offset::UTC),
            )
        });
    at.to_zoned(zone).strftime("%Y-%m-%d %H:%M").to_string()
}

/// Puts each notification in its inbox (once, however often this runs) and queues its
/// push job (every time: a job whose send failed comes again; the `push` consumer sends
/// once per notification and device). Returns how many were new in an inbox.
pub async fn tell(app: &App, notifications: Vec<Notification>) -> Result<usize, TaskError> {
    let store = app.store()?;
    let queue = app.queue()?;
    let delivered: Vec<bool> = stream::iter(notifications)
        .map(|notification| async move {
            let new = inbox::deliver(store, &notification).await?;
            queue
                .send(QueueName::Push, &job::message(&notification)?)
                .await
                .map_err(|e| TaskError(format!("queueing a push job: {e}")))?;
            Ok::<_, TaskError>(new)
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(delivered.into_iter().filter(|new| *new).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        crate::fixtures::event()
    }

    #[test]
    fn times_read_in_the_events_zone_or_the_hosts_offset() {
        let mut event = event();
        assert_eq!(local_start(&event), "2026-12-05 07:00");
        event.time_zone = Some("Europe/London".into());
        assert_eq!(local_start(&event), "2026-12-04 22:00");
    }

    #[test]
    fn the_same_news_of_the_same_revision_is_the_same_notification() {
        let event = event();
        let once = notification(&event, News::Changed, "u1", 5);
        let again = notification(&event, News::Changed, "u1", 5);
        assert_eq!(once.id, again.id);
        assert_ne!(once.id, notification(&event, News::Changed, "u2", 5).id);
        assert_ne!(once.id, notification(&event, News::Cancelled, "u1", 5).id);
        assert_eq!(once.event_id.as_deref(), Some("e1"));
        assert!(once.body.contains("City Hall"), "{}", once.body);
    }
}
