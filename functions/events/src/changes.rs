//! `event-changes`: a consumer of the table's stream that does what follows an event's
//! committed writes, so no route does it as a best-effort second step:
//!
//! | committed write | what follows |
//! |---|---|
//! | an event with a free seat and a waitlist (a leave, a raised capacity) | the first waiters move up ([`roster::promote`]) |
//! | a member moved from waiting to going | they are told they have a place |
//! | an event moved in time or place (its revision went up) | every participant is told; their lists of events sort by the new start |
//! | an event cancelled | every participant is told; members and seats expire with the event |
//! | a run recorded or changed (`USER#<id>` / `RUN#<runId>`) | it is linked to the events its runner ran it at ([`results::link`]) |
//! | a run deleted | its results go |
//!
//! Each step is idempotent: promoting finds no free seat the second time, notifications
//! are keyed by their cause, and a member already at the new start is left alone. A record
//! that fails is retried by Lambda (bisected, then to the failure queue), never dropped.

use runcrew_model::event::results;
use runcrew_model::event::roster::{self, Member, Place, member_key};
use runcrew_model::event::{Event, EventStatus, MEMBER_PREFIX, META_SK, PARTITION_PREFIX};
use runcrew_model::run::Run;
use runcrew_shared::store::stream::{Change, ChangeKind};
use runcrew_shared::store::versioned::{self, Versioned};
use runcrew_shared::store::{Condition, Query, SortRange, StoreError, read_all};
use runcrew_shared::tasks::stream::{ChangeFuture, StreamFunction};
use runcrew_shared::{ApiError, App, Needs, TaskError};

use crate::notify::{News, notification, tell};

/// The `event-changes` stream consumer.
pub static EVENT_CHANGES: StreamFunction = StreamFunction {
    binary: "event-changes",
    needs: Needs::NOTHING.store().queue(),
    handler: follow_up_handler,
};

fn follow_up_handler<'a>(app: &'a App, change: &'a Change) -> ChangeFuture<'a> {
    Box::pin(follow_up(app, change))
}

/// What one record asks for.
#[derive(Debug, Clone)]
pub enum FollowUp {
    /// Move waiters up, then maybe tell and re-sort.
    Event {
        /// The event after the write.
        event: Box<Event>,
        /// Whether its time or place changed (participants are told).
        moved: bool,
        /// Whether its start changed (members' lists sort by it).
        start_moved: bool,
        /// Whether it was just cancelled.
        cancelled: bool,
    },
    /// Tell a member they moved up.
    Promoted(Box<Member>),
    /// Link a run to the events it was run at; a changed run's results are taken down
    /// first (its duration is in their keys, and a run flagged or moved off the course
    /// since is no longer a result).
    RunRecorded {
        /// The run as it is now.
        run: Box<Run>,
        /// The run as it was, for a change.
        before: Option<Box<Run>>,
    },
    /// Unlink a deleted run.
    RunDeleted(Box<Run>),
}

/// What `change` asks for, or `None`.
pub fn follow_up_of(change: &Change) -> Result<Option<FollowUp>, ApiError> {
    if change.key.pk.starts_with("USER#") && change.key.sk.starts_with("RUN#") {
        let before = change.old.as_ref().map(Run::from_item).transpose()?;
        return Ok(Some(match (&change.new, before) {
            (Some(new), before) => FollowUp::RunRecorded {
                run: Box::new(Run::from_item(new)?),
                before: before.map(Box::new),
            },
            (None, Some(before)) => FollowUp::RunDeleted(Box::new(before)),
            (None, None) => return Ok(None),
        }));
    }
    if !change.key.pk.starts_with(PARTITION_PREFIX) || change.kind != ChangeKind::Modify {
        return Ok(None);
    }
    let (Some(old), Some(new)) = (&change.old, &change.new) else {
        return Ok(None);
    };
    if change.key.sk == META_SK {
        let (before, _) = Event::from_item(old)?;
        let (after, _) = Event::from_item(new)?;
        let cancelled =
            before.status == EventStatus::Scheduled && after.status == EventStatus::Cancelled;
        let moved = !cancelled && after.revision > before.revision;
        return Ok(Some(FollowUp::Event {
            start_moved: before.starts_ms != after.starts_ms,
            event: Box::new(after),
            moved,
            cancelled,
        }));
    }
    if change.key.sk.starts_with(MEMBER_PREFIX) {
        let (before, _) = Member::from_item(old)?;
        let (after, _) = Member::from_item(new)?;
        if before.place == Place::Waiting && after.place == Place::Going {
            return Ok(Some(FollowUp::Promoted(Box::new(after))));
        }
    }
    Ok(None)
}

/// Applies one record.
pub async fn follow_up(app: &App, change: &Change) -> Result<(), TaskError> {
    let Some(follow_up) = follow_up_of(change)? else {
        return Ok(());
    };
    let store = app.store()?;
    match follow_up {
        FollowUp::RunRecorded { run, before } => {
            if let Some(before) = before {
                results::unlink(store, &before).await?;
            }
            let linked = results::link(store, &run).await?;
            if linked > 0 {
                tracing::info!(run_id = %run.run_id, events = linked, "run linked to events");
            }
        }
        FollowUp::RunDeleted(run) => {
            results::unlink(store, &run).await?;
        }
        FollowUp::Promoted(member) => {
            let Some(item) = store
                .get(&runcrew_model::event::event_key(&member.event_id))
                .await
                .map_err(ApiError::from)?
            else {
                return Ok(());
            };
            let (event, _) = Event::from_item(&item)?;
            let told = notification(&event, News::Promoted, &member.user_id, change.created_ms);
            tell(app, vec![told]).await?;
        }
        FollowUp::Event {
            event,
            moved,
            start_moved,
            cancelled,
        } => {
            if roster::can_promote(&event) {
                let moved_up = roster::promote(store, &event.event_id).await?;
                tracing::info!(event_id = %event.event_id, moved_up = moved_up.len(), "waiters moved up");
            }
            if !(moved || cancelled) {
                return Ok(());
            }
            let members = roster::members(store, &event.event_id).await?;
            let news = if cancelled {
                News::Cancelled
            } else {
                News::Changed
            };
            let told = members
                .iter()
                .map(|(member, _)| notification(&event, news, &member.user_id, change.created_ms))
                .collect();
            let new = tell(app, told).await?;
            tracing::info!(event_id = %event.event_id, ?news, told = new, "participants told");
            if start_moved || cancelled {
                resort_members(app, &event, &members).await?;
            }
            if cancelled {
                expire_seats(app, &event).await?;
            }
        }
    }
    Ok(())
}

/// Rewrites the members whose copy of the start is not the event's (their lists of events
/// sort by it), or that should expire with a cancelled event.
async fn resort_members(
    app: &App,
    event: &Event,
    members: &[(Member, u64)],
) -> Result<(), TaskError> {
    let store = app.store()?;
    let expires = (event.status == EventStatus::Cancelled).then(|| event.ends_ms() / 1000);
    for (member, _) in members {
        let key = member_key(&event.event_id, &member.user_id);
        Versioned::new(key)
            .attempts(versioned::DEFAULT_ATTEMPTS)
            .apply(store, |current| async move {
                let Some(current) = current else {
                    return Ok(versioned::Change::keep(()));
                };
                let (mut member, _) = Member::from_item(&current)?;
                if member.starts_ms == event.starts_ms && current.expires_at == expires {
                    return Ok(versioned::Change::keep(()));
                }
                member.starts_ms = event.starts_ms;
                Ok::<_, ApiError>(versioned::Change::put(member.to_item(0, expires)?, ()))
            })
            .await
            .map_err(|err| TaskError(format!("re-sorting a member: {err}")))?;
    }
    Ok(())
}

/// Lets the seat items of a cancelled event expire when it would have ended.
async fn expire_seats(app: &App, event: &Event) -> Result<(), TaskError> {
    let store = app.store()?;
    let seats = read_all(
        store,
        Query::partition(runcrew_model::event::event_partition(&event.event_id)).range(
            SortRange::BeginsWith(runcrew_model::event::SEAT_PREFIX.into()),
        ),
    )
    .await
    .map_err(ApiError::from)?;
    let at = event.ends_ms() / 1000;
    for seat in seats {
        if seat.expires_at == Some(at) {
            continue;
        }
        match store.put(seat.expiring_at(at), Condition::Exists).await {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(other) => return Err(ApiError::from(other).into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use runcrew_shared::store::{Item, Key};

    /// Two going, one waiting, at its first revision.
    fn event() -> Event {
        let mut event = crate::fixtures::event();
        event.capacity = Some(2);
        event.going = 2;
        event.waiting = 1;
        event.next_seq = 3;
        event.revision = 0;
        event
    }

    fn change(old: Item, new: Option<Item>) -> Change {
        Change::between(old.key.clone(), Some(old), new, "1".into(), 5).expect("a change")
    }

    #[test]
    fn a_cancellation_and_a_move_are_told_and_an_edit_of_the_text_is_not() {
        let before = event();
        let mut cancelled = before.clone();
        cancelled.status = EventStatus::Cancelled;
        cancelled.revision = 1;
        let record = change(
            before.to_item(1).expect("item"),
            Some(cancelled.to_item(2).expect("item")),
        );
        assert!(matches!(
            follow_up_of(&record).expect("reads"),
            Some(FollowUp::Event {
                cancelled: true,
                moved: false,
                ..
            })
        ));
        let mut moved = before.clone();
        moved.starts_ms += 3_600_000;
        moved.revision = 1;
        let record = change(
            before.to_item(1).expect("item"),
            Some(moved.to_item(2).expect("item")),
        );
        assert!(matches!(
            follow_up_of(&record).expect("reads"),
            Some(FollowUp::Event {
                moved: true,
                start_moved: true,
                cancelled: false,
                ..
            })
        ));
        let mut retitled = before.clone();
        retitled.title = "Tempo!".into();
        let record = change(
            before.to_item(1).expect("item"),
            Some(retitled.to_item(2).expect("item")),
        );
        assert!(matches!(
            follow_up_of(&record).expect("reads"),
            Some(FollowUp::Event {
                moved: false,
                cancelled: false,
                ..
            })
        ));
    }

    #[test]
    fn a_member_moved_up_is_told_and_a_run_is_linked_or_unlinked() {
        let member = Member {
            event_id: "e1".into(),
            user_id: "u1".into(),
            seq: 3,
            place: Place::Waiting,
            starts_ms: 0,
            joined_at: String::new(),
            promoted_at: None,
        };
        let mut going = member.clone();
        going.place = Place::Going;
        let record = change(
            member.to_item(1, None).expect("item"),
            Some(going.to_item(2, None).expect("item")),
        );
        assert!(matches!(
            follow_up_of(&record).expect("reads"),
            Some(FollowUp::Promoted(m)) if m.user_id == "u1"
        ));
        let run = runcrew_model::run::Run {
            run_id: "r1".into(),
            user_id: "u1".into(),
            started_at: "2026-12-01T00:00:00Z".into(),
            started_ms: 1_796_083_200_000,
            utc_offset_minutes: 0,
            time_zone: None,
            local_date: "2026-12-01".into(),
            duration_s: 600,
            distance_m: 2000.0,
            course_id: None,
            source: runcrew_model::run::Source::App,
            visibility: runcrew_model::run::RunVisibility::Public,
            flag: None,
            path_points: None,
            created_at: "2026-12-01T00:00:00Z".into(),
        };
        let deleted_run = change(run.to_item().expect("item"), None);
        assert!(matches!(
            follow_up_of(&deleted_run).expect("reads"),
            Some(FollowUp::RunDeleted(gone)) if gone.run_id == "r1"
        ));
        let seat = Item::new(
            Key::new("EVENT#e1", "SEAT#G#0000000001"),
            Default::default(),
        );
        let mut expiring = seat.clone();
        expiring.expires_at = Some(9);
        assert!(
            follow_up_of(&change(seat, Some(expiring)))
                .expect("reads")
                .is_none()
        );
    }
}
