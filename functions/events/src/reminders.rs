//! `event-reminders`: every 5 minutes, reminds the participants of events starting within
//! the lead (`EVENT_REMINDER_LEAD_MINUTES`, an hour unless set) that it starts soon.
//!
//! Exactly once per participant, however often or late the schedule fires: each reminder
//! is an inbox item keyed by the event and the person, written only if absent, and once
//! an event's reminders are all out a marker (`EVENT#<id>` / `REMINDED#<revision>`,
//! written only if absent) lets later ticks skip it with one read. An event moved after its
//! reminders is a new revision: its participants are reminded again before the new start. A tick that fails part-way is retried
//! by the scheduler and by the next tick; what was delivered is not delivered again. A
//! tick that comes late still reminds everyone of events that have not started.

use futures::{StreamExt, TryStreamExt, stream};

use runcrew_model::event::roster::{self, Place};
use runcrew_model::event::{
    Event, EventStatus, day_of, day_partition, reminded_key, start_sort_key,
};
use runcrew_shared::store::{
    Condition, Index, Item, Key, MAX_BATCH_GET, MAX_PAGE, Query, SortRange, Store, StoreError,
    read_all,
};
use runcrew_shared::tasks::schedule::{ScheduleFunction, Tick, TickFuture};
use runcrew_shared::{ApiError, App, Needs, TaskError};

use crate::notify::{News, notification, tell};

/// The `event-reminders` scheduled task.
pub static EVENT_REMINDERS: ScheduleFunction = ScheduleFunction {
    binary: "event-reminders",
    needs: Needs::NOTHING.store().queue(),
    handler: remind_handler,
};

/// Events reminded at once: each is a few reads and a fan-out of inbox writes.
const EVENTS_IN_FLIGHT: usize = 8;

fn remind_handler<'a>(app: &'a App, tick: &'a Tick) -> TickFuture<'a> {
    Box::pin(remind(app, tick))
}

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reminded {
    /// Events starting within the lead.
    pub due: usize,
    /// Of those, events whose reminders went out in this tick.
    pub events: usize,
    /// Reminders new in an inbox.
    pub reminders: usize,
}

/// Reminds the participants of the events starting between the tick and the lead after it.
pub async fn remind(app: &App, tick: &Tick) -> Result<(), TaskError> {
    let lead_ms = i64::from(app.config.events.reminder_lead_minutes) * 60_000;
    let done = remind_between(app, tick.at_ms, tick.at_ms + lead_ms, lead_ms).await?;
    tracing::info!(
        schedule = %tick.schedule,
        due = done.due,
        events = done.events,
        reminders = done.reminders,
        "reminders sent"
    );
    Ok(())
}

/// Reminds the participants of the scheduled events starting in `from_ms..=to_ms` that
/// were not reminded yet.
pub async fn remind_between(
    app: &App,
    from_ms: i64,
    to_ms: i64,
    lead_ms: i64,
) -> Result<Reminded, TaskError> {
    let store = app.store()?;
    let due = due_events(store, from_ms, to_ms).await?;
    let mut done = Reminded {
        due: due.len(),
        ..Reminded::default()
    };
    let unreminded = not_yet_reminded(store, due).await?;
    let counts: Vec<usize> = stream::iter(unreminded)
        .map(|event| async move { remind_event(app, &event, lead_ms).await })
        .buffer_unordered(EVENTS_IN_FLIGHT)
        .try_collect()
        .await?;
    done.events = counts.len();
    done.reminders = counts.into_iter().sum();
    Ok(done)
}

/// The scheduled events starting in `from_ms..=to_ms`: one Query per UTC day the window
/// touches (two at most for a lead up to a day), paged.
async fn due_events(store: &dyn Store, from_ms: i64, to_ms: i64) -> Result<Vec<Event>, ApiError> {
    let mut days = vec![day_of(from_ms)];
    if day_of(to_ms) != days[0] {
        days.push(day_of(to_ms));
    }
    let mut events = Vec::new();
    for day in days {
        let query = Query::index(Index::Gsi3, day_partition(&day))
            .range(SortRange::Between(
                start_sort_key(from_ms, ""),
                format!("{:013}$", to_ms.max(0)),
            ))
            .limit(MAX_PAGE);
        for item in read_all(store, query).await? {
            let (event, _) = Event::from_item(&item)?;
            if event.status == EventStatus::Scheduled {
                events.push(event);
            }
        }
    }
    Ok(events)
}

/// Of `events`, those without a reminders-sent marker (one BatchGetItem per 100).
async fn not_yet_reminded(store: &dyn Store, events: Vec<Event>) -> Result<Vec<Event>, ApiError> {
    let mut reminded = std::collections::HashSet::new();
    let keys: Vec<Key> = events
        .iter()
        .map(|e| reminded_key(&e.event_id, e.revision))
        .collect();
    for chunk in keys.chunks(MAX_BATCH_GET) {
        for item in store.get_many(chunk).await? {
            reminded.insert(item.key);
        }
    }
    Ok(events
        .into_iter()
        .filter(|e| !reminded.contains(&reminded_key(&e.event_id, e.revision)))
        .collect())
}

/// Reminds everyone going to `event`, then marks it reminded. Returns the reminders new
/// in an inbox.
async fn remind_event(app: &App, event: &Event, lead_ms: i64) -> Result<usize, TaskError> {
    let store = app.store()?;
    let members = roster::members(store, &event.event_id).await?;
    // The reminder's time: the lead before the start, the same for every tick.
    let at_ms = event.starts_ms - lead_ms;
    let reminders = members
        .iter()
        .filter(|(member, _)| member.place == Place::Going)
        .map(|(member, _)| notification(event, News::Reminder, &member.user_id, at_ms))
        .collect();
    let new = tell(app, reminders).await?;
    let marker = Item::new(
        reminded_key(&event.event_id, event.revision),
        serde_json::Map::new(),
    )
    .expiring_at(event.ends_ms() / 1000 + 24 * 3600);
    match store.put(marker, Condition::NotExists).await {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(new),
        Err(other) => Err(ApiError::from(other).into()),
    }
}
