//! Who goes and who waits: joining, leaving and moving up, each a read-modify-write of
//! the event item under its version, committed with the member and seat items it changes
//! (see the module above for why this keeps the capacity under any concurrency).

use serde::{Deserialize, Serialize};

use runcrew_shared::ApiError;
use runcrew_shared::clock::now_rfc3339;
use runcrew_shared::store::versioned::{Change, Versioned, VersionedError};
use runcrew_shared::store::{
    Condition, Index, Item, Key, Query, SortRange, Store, StoreError, Write, from_body, to_body,
};

use super::{
    Event, EventStatus, GOING_SEAT_PREFIX, MEMBER_PREFIX, Role, WAITING_SEAT_PREFIX, busy,
    event_key, event_not_found, event_partition, my_events_partition, start_sort_key,
};

/// The longest waitlist: past it, joining is refused (409 `waitlist_full`), so the roster's
/// lists stay a few hundred items and every fan-out over them stays bounded.
pub const MAX_WAITLIST: u32 = 500;

/// Attempts at a join or leave before answering `event_busy`: twenty people joining at
/// once need up to twenty rounds, each lost round costing a read and a failed transaction.
pub const ROSTER_ATTEMPTS: u32 = 40;

/// Seconds a client waits before trying a busy join again.
pub const BUSY_RETRY_AFTER_SECONDS: u64 = 1;

/// A participant's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Place {
    /// They have a seat.
    Going,
    /// They wait for one.
    Waiting,
}

impl Place {
    fn seat_prefix(self) -> &'static str {
        match self {
            Place::Going => GOING_SEAT_PREFIX,
            Place::Waiting => WAITING_SEAT_PREFIX,
        }
    }
}

/// A participant: the member item, found by user (is this person in?) and listed under
/// their events (gsi2, by the event's start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The event.
    pub event_id: String,
    /// Who joined.
    pub user_id: String,
    /// Their arrival number: the waitlist's order.
    pub seq: u64,
    /// Going or waiting.
    pub place: Place,
    /// The event's start, copied so their list of events sorts by it; the `event-changes`
    /// consumer rewrites it when the event moves.
    pub starts_ms: i64,
    /// RFC 3339.
    pub joined_at: String,
    /// When they moved up from the waitlist, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_at: Option<String>,
}

/// The key of `user_id`'s member item of `event_id`.
pub fn member_key(event_id: &str, user_id: &str) -> Key {
    Key::new(
        event_partition(event_id),
        format!("{MEMBER_PREFIX}{user_id}"),
    )
}

/// The key of a seat: in the event's partition, sorted by place then arrival.
pub fn seat_key(event_id: &str, place: Place, seq: u64) -> Key {
    Key::new(
        event_partition(event_id),
        format!("{}{seq:010}", place.seat_prefix()),
    )
}

impl Member {
    /// What they are to the event.
    pub fn role(&self) -> Role {
        match self.place {
            Place::Going => Role::Going,
            Place::Waiting => Role::Waiting,
        }
    }

    /// The member item, expiring with the event when it is cancelled.
    pub fn to_item(&self, version: u64, expires_at: Option<i64>) -> Result<Item, ApiError> {
        let mut item = Item::new(member_key(&self.event_id, &self.user_id), to_body(self)?)
            .with_version(version)
            .with_index(
                Index::Gsi2,
                my_events_partition(&self.user_id),
                start_sort_key(self.starts_ms, &self.event_id),
            );
        if let Some(at) = expires_at {
            item = item.expiring_at(at);
        }
        Ok(item)
    }

    /// The member in a member item, with its version.
    pub fn from_item(item: &Item) -> Result<(Member, u64), ApiError> {
        Ok((from_body(item)?, item.version))
    }

    /// Their seat item (the list entry of their place).
    pub fn seat_item(&self, expires_at: Option<i64>) -> Item {
        let mut body = serde_json::Map::new();
        body.insert("user_id".into(), self.user_id.clone().into());
        body.insert("seq".into(), self.seq.into());
        let mut item = Item::new(seat_key(&self.event_id, self.place, self.seq), body);
        if let Some(at) = expires_at {
            item = item.expiring_at(at);
        }
        item
    }
}

/// Why a person cannot join.
fn refuse_join(event: &Event, user_id: &str, now_ms: i64) -> Result<(), ApiError> {
    if event.status == EventStatus::Cancelled {
        return Err(ApiError::Conflict {
            code: "event_cancelled",
            message: "the event was cancelled".into(),
        });
    }
    if event.is_over(now_ms) {
        return Err(super::over());
    }
    if event.host_id == user_id {
        return Err(ApiError::Conflict {
            code: "host_cannot_join",
            message: "you host this event; its capacity counts those who join".into(),
        });
    }
    Ok(())
}

/// The seats of `event`: its capacity, or [`super::input::MAX_CAPACITY`] when it names
/// none, so every roster (and every fan-out over it) stays a few hundred people.
pub fn seats(event: &Event) -> u32 {
    event.capacity.unwrap_or(super::input::MAX_CAPACITY)
}

/// The place a newcomer gets: a seat only when one is free and nobody waits (a seat
/// freed by a leave is the first waiter's); else the waitlist, unless it is full.
pub fn place_for_newcomer(event: &Event) -> Result<Place, ApiError> {
    let seat_free = event.going < seats(event);
    if seat_free && event.waiting == 0 {
        return Ok(Place::Going);
    }
    if event.waiting >= MAX_WAITLIST {
        return Err(ApiError::Conflict {
            code: "waitlist_full",
            message: format!("the event is full and {MAX_WAITLIST} people are waiting"),
        });
    }
    Ok(Place::Waiting)
}

/// Whether the first waiter may move up: a seat is free and someone waits.
pub fn can_promote(event: &Event) -> bool {
    event.status == EventStatus::Scheduled && event.waiting > 0 && event.going < seats(event)
}

/// What a join or leave left: the caller's place (none after a leave) and the counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// The caller's place now.
    pub place: Option<Place>,
    /// The event after the write.
    pub event: Event,
}

fn account_or_store(failed_write: usize, err: VersionedError<ApiError>) -> ApiError {
    match err {
        VersionedError::ExtraFailed { failed } if failed.contains(&failed_write) => {
            crate::profile::account_closed()
        }
        other => other.or_conflict(busy),
    }
}

/// `user_id` joins the event they were seen to may see (`known`: the event item and their
/// member item as the route just read them). Once: a person already in gets their place
/// back, unchanged. The join and its arrival number commit with the event's counters under
/// its version, so capacity holds however many join at once. The first attempt reads
/// nothing again; a join that found its person already in (another request of theirs won)
/// reads their place and the event anew.
pub async fn join(
    store: &dyn Store,
    known: Known,
    user_id: &str,
    now_ms: i64,
) -> Result<Standing, ApiError> {
    let event_id = known
        .event
        .key
        .pk
        .trim_start_matches(super::PARTITION_PREFIX)
        .to_owned();
    let mut known = Some(known);
    for _ in 0..3 {
        let (event_item, member) = match known.take() {
            Some(Known { event, member }) => (Some(event), member),
            None => {
                let member = match store.get(&member_key(&event_id, user_id)).await? {
                    Some(item) => Some(Member::from_item(&item)?),
                    None => None,
                };
                (None, member)
            }
        };
        if let Some((member, _)) = member {
            let event_item = match event_item {
                Some(item) => item,
                None => store
                    .get(&event_key(&event_id))
                    .await?
                    .ok_or_else(event_not_found)?,
            };
            let (event, _) = Event::from_item(&event_item)?;
            return Ok(Standing {
                place: Some(member.place),
                event,
            });
        }
        let versioned = match event_item {
            Some(item) => Versioned::new(event_key(&event_id)).already_read(Some(item)),
            None => Versioned::new(event_key(&event_id)),
        };
        let result = versioned
            .attempts(ROSTER_ATTEMPTS)
            .apply(store, |current| async move {
                let (mut event, _) =
                    Event::from_item(current.as_ref().ok_or_else(event_not_found)?)?;
                refuse_join(&event, user_id, now_ms)?;
                let place = place_for_newcomer(&event)?;
                event.next_seq += 1;
                match place {
                    Place::Going => event.going += 1,
                    Place::Waiting => event.waiting += 1,
                }
                let member = Member {
                    event_id: event.event_id.clone(),
                    user_id: user_id.to_owned(),
                    seq: event.next_seq,
                    place,
                    starts_ms: event.starts_ms,
                    joined_at: now_rfc3339(),
                    promoted_at: None,
                };
                Ok(Change::put(
                    event.to_item(0)?,
                    Standing {
                        place: Some(place),
                        event,
                    },
                )
                .with(Write::Put {
                    item: member.to_item(1, None)?,
                    condition: Condition::NotExists,
                })
                // No condition of its own: its arrival number is unique because the event's
                // version is (a racing join that read the same number is cancelled whole).
                .with(Write::Put {
                    item: member.seat_item(None),
                    condition: Condition::None,
                })
                .with(crate::profile::open_account_check(user_id)))
            })
            .await;
        match result {
            Ok(standing) => return Ok(standing),
            // Another request of theirs joined first: answer with that place.
            Err(VersionedError::ExtraFailed { failed }) if failed.contains(&0) => continue,
            Err(other) => return Err(account_or_store(2, other)),
        }
    }
    Err(busy())
}

/// What a caller read of an event and of their own place in it, handed to [`leave`].
#[derive(Debug, Clone)]
pub struct Known {
    /// The event item.
    pub event: Item,
    /// The caller's member item and its version, `None` when they are not in the event.
    pub member: Option<(Member, u64)>,
}

/// `user_id` leaves the event. Nothing to do when they are not in it. A leave that frees
/// a seat while others wait leaves it free: the `event-changes` consumer moves the first
/// waiter up ([`promote`]), so no newcomer takes it meanwhile.
///
/// `known` is what the caller has just read (the route, after checking the caller may see
/// the event): the event item and the caller's member item, if any. The first attempt then
/// reads nothing again.
pub async fn leave(
    store: &dyn Store,
    event_id: &str,
    user_id: &str,
    known: Option<Known>,
) -> Result<(), ApiError> {
    let mut known = known;
    for _ in 0..3 {
        let (event_item, member) = match known.take() {
            Some(Known { event, member }) => (Some(event), member),
            None => {
                let member = match store.get(&member_key(event_id, user_id)).await? {
                    Some(item) => Some(Member::from_item(&item)?),
                    None => None,
                };
                (None, member)
            }
        };
        let Some((member, member_version)) = member else {
            return Ok(());
        };
        let member = &member;
        let versioned = match event_item {
            Some(item) => Versioned::new(event_key(event_id)).already_read(Some(item)),
            None => Versioned::new(event_key(event_id)),
        };
        let result = versioned
            .attempts(ROSTER_ATTEMPTS)
            .apply(store, |current| async move {
                let deletes = [
                    Write::Delete {
                        key: member_key(event_id, user_id),
                        condition: Condition::VersionIs(member_version),
                    },
                    Write::Delete {
                        key: seat_key(event_id, member.place, member.seq),
                        condition: Condition::None,
                    },
                ];
                let Some(current) = current else {
                    // The event expired (cancelled and over): no counts to keep.
                    let [member_write, seat_write] = deletes;
                    return Ok(Change::keep(()).with(member_write).with(seat_write));
                };
                let (mut event, _) = Event::from_item(&current)?;
                match member.place {
                    Place::Going => event.going = event.going.saturating_sub(1),
                    Place::Waiting => event.waiting = event.waiting.saturating_sub(1),
                }
                let [member_write, seat_write] = deletes;
                Ok(Change::put(event.to_item(0)?, ())
                    .with(member_write)
                    .with(seat_write))
            })
            .await;
        match result {
            Ok(()) => return Ok(()),
            // Moved up meanwhile: leave from the new place.
            Err(VersionedError::ExtraFailed { .. }) => continue,
            Err(other) => return Err(other.or_conflict(busy)),
        }
    }
    Err(busy())
}

/// Moves waiters up while seats are free, first arrival first; returns who moved. Each
/// move is one transaction under the event's version (the event's counters, the waiter's
/// seat moved from the waitlist to the seats, their member item), so a join or leave
/// racing it is read again. Safe to repeat: a state with no free seat or no waiter does
/// nothing.
pub async fn promote(store: &dyn Store, event_id: &str) -> Result<Vec<String>, ApiError> {
    let mut moved = Vec::new();
    let mut lost = 0;
    while lost < ROSTER_ATTEMPTS {
        let Some(item) = store.get(&event_key(event_id)).await? else {
            break;
        };
        let (mut event, version) = Event::from_item(&item)?;
        if !can_promote(&event) {
            break;
        }
        let first = store
            .query(
                &Query::partition(event_partition(event_id))
                    .range(SortRange::BeginsWith(WAITING_SEAT_PREFIX.into()))
                    .limit(1),
            )
            .await?;
        let Some(seat) = first.items.first() else {
            // The count says someone waits but no seat says so: repair the count.
            event.waiting = 0;
            match store
                .put(event.to_item(version + 1)?, Condition::VersionIs(version))
                .await
            {
                Ok(()) | Err(StoreError::ConditionFailed) => {
                    lost += 1;
                    continue;
                }
                Err(other) => return Err(other.into()),
            }
        };
        let user_id = seat.str("user_id").unwrap_or_default().to_owned();
        let Some(member_item) = store.get(&member_key(event_id, &user_id)).await? else {
            // A seat without its member (never written so): drop the seat.
            store.delete(&seat.key, Condition::None).await?;
            lost += 1;
            continue;
        };
        let (mut member, member_version) = Member::from_item(&member_item)?;
        event.going += 1;
        event.waiting = event.waiting.saturating_sub(1);
        member.place = Place::Going;
        member.starts_ms = event.starts_ms;
        member.promoted_at = Some(now_rfc3339());
        let writes = vec![
            Write::Put {
                item: event.to_item(version + 1)?,
                condition: Condition::VersionIs(version),
            },
            Write::Delete {
                key: seat.key.clone(),
                condition: Condition::Exists,
            },
            Write::Put {
                item: member.seat_item(None),
                condition: Condition::NotExists,
            },
            Write::Put {
                item: member.to_item(member_version + 1, None)?,
                condition: Condition::VersionIs(member_version),
            },
        ];
        match store.transact(writes).await {
            Ok(()) => moved.push(user_id),
            Err(StoreError::TransactionCanceled { .. }) => {
                lost += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5 + 5 * u64::from(lost))).await;
            }
            Err(other) => return Err(other.into()),
        }
    }
    if lost >= ROSTER_ATTEMPTS {
        // A seat is still free and someone still waits: fail, so the record comes again
        // (the moves made so far stay; the next attempt goes on from them).
        return Err(busy());
    }
    Ok(moved)
}

/// One page of a place's list (going or waiting), in arrival order: user ids and the
/// cursor of the next page. A strongly consistent Query of the event's partition.
pub async fn page(
    store: &dyn Store,
    event_id: &str,
    place: Place,
    limit: usize,
    cursor: Option<String>,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let page = store
        .query(
            &Query::partition(event_partition(event_id))
                .range(SortRange::BeginsWith(place.seat_prefix().into()))
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let users = page
        .items
        .iter()
        .filter_map(|item| item.str("user_id").map(str::to_owned))
        .collect();
    Ok((users, page.cursor))
}

/// Every member of the event (going and waiting): at most capacity plus
/// [`MAX_WAITLIST`], for the fan-outs of the `event-changes` consumer and the reminders.
pub async fn members(store: &dyn Store, event_id: &str) -> Result<Vec<(Member, u64)>, ApiError> {
    let items = runcrew_shared::store::read_all(
        store,
        Query::partition(event_partition(event_id))
            .range(SortRange::BeginsWith(MEMBER_PREFIX.into())),
    )
    .await?;
    items.iter().map(Member::from_item).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventVisibility;

    fn event(capacity: Option<u32>, going: u32, waiting: u32) -> Event {
        let mut event = crate::event::tests::event(EventVisibility::Public);
        event.capacity = capacity;
        event.going = going;
        event.waiting = waiting;
        event
    }

    #[test]
    fn a_newcomer_goes_only_while_a_seat_is_free_and_nobody_waits() {
        assert_eq!(
            place_for_newcomer(&event(Some(5), 4, 0)).ok(),
            Some(Place::Going)
        );
        assert_eq!(
            place_for_newcomer(&event(Some(5), 5, 0)).ok(),
            Some(Place::Waiting)
        );
        // A seat freed by a leave is the first waiter's, not the newcomer's.
        assert_eq!(
            place_for_newcomer(&event(Some(5), 4, 2)).ok(),
            Some(Place::Waiting)
        );
        // "No limit" is the largest capacity, so no roster grows past it.
        assert_eq!(
            place_for_newcomer(&event(None, 499, 0)).ok(),
            Some(Place::Going)
        );
        assert_eq!(
            place_for_newcomer(&event(None, 500, 0)).ok(),
            Some(Place::Waiting)
        );
        let full = place_for_newcomer(&event(Some(5), 5, MAX_WAITLIST)).expect_err("full");
        assert_eq!(full.code(), "waitlist_full");
    }

    #[test]
    fn the_first_waiter_moves_up_when_a_seat_is_free() {
        assert!(can_promote(&event(Some(5), 4, 1)));
        assert!(!can_promote(&event(Some(5), 5, 1)));
        assert!(!can_promote(&event(Some(5), 4, 0)));
        let mut cancelled = event(Some(5), 4, 1);
        cancelled.status = EventStatus::Cancelled;
        assert!(!can_promote(&cancelled));
    }

    #[test]
    fn seats_sort_by_place_then_arrival() {
        let going = seat_key("e", Place::Going, 12);
        let waiting = seat_key("e", Place::Waiting, 3);
        assert_eq!(going.sk, "SEAT#G#0000000012");
        assert!(seat_key("e", Place::Waiting, 9).sk < seat_key("e", Place::Waiting, 10).sk);
        assert!(going.sk < waiting.sk);
    }

    #[test]
    fn the_host_and_latecomers_cannot_join_a_cancelled_or_past_event() {
        let open = event(Some(5), 0, 0);
        assert!(refuse_join(&open, "x", open.starts_ms - 1).is_ok());
        assert_eq!(
            refuse_join(&open, "host", 0).expect_err("host").code(),
            "host_cannot_join"
        );
        assert_eq!(
            refuse_join(&open, "x", open.ends_ms())
                .expect_err("over")
                .code(),
            "event_over"
        );
        let mut cancelled = open.clone();
        cancelled.status = EventStatus::Cancelled;
        assert_eq!(
            refuse_join(&cancelled, "x", 0)
                .expect_err("cancelled")
                .code(),
            "event_cancelled"
        );
    }
}
