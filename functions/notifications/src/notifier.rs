//! The notifier: a consumer of the table's stream that turns committed writes into inbox
//! items and push jobs. The routes that follow, like, review or run never notify anyone
//! themselves; a notification is a projection of what committed, so none is lost to a
//! failure after the commit, and none is sent for a write that was rolled back.
//!
//! | committed write | who is told |
//! |---|---|
//! | a follow (`USER#<a>` / `FOLLOWS#<b>`, insert) | `b`, a new follower |
//! | a like (`COURSE#<c>` / `LIKE#<a>`, insert) | the course's creator |
//! | a review (`COURSE#<c>` / `REVIEW#<a>`, insert; an edit is not news) | the creator |
//! | a faster board entry (`COURSE#<c>` / `BEST#<a>`, insert or faster) | the runners whose standing times it passed, nearest first, at most [`MAX_OVERTAKEN`] |
//!
//! Nobody is told about their own act, and nobody whose account is gone. Each inbox item
//! is keyed by its cause, so a record delivered twice is one item; the push job is queued
//! every time (the `push` consumer sends once per job and device). Board entries exist
//! only for runs that may be on a board, so Strava and flagged runs never notify.

use runcrew_model::author::Author;
use runcrew_model::course::{Course, course_key};
use runcrew_model::leaderboard::{Best, board_partition};
use runcrew_model::notification::inbox::{self, Notification, NotificationId};
use runcrew_model::notification::{Kind, job};
use runcrew_model::profile::profile_key;
use runcrew_model::review::Review;
use runcrew_shared::queue::QueueName;
use runcrew_shared::store::stream::{Change, ChangeKind};
use runcrew_shared::store::{Index, Item, Query, SortRange, Store, from_body};
use runcrew_shared::tasks::stream::{ChangeFuture, StreamFunction};
use runcrew_shared::{ApiError, App, Needs, TaskError};

/// The `notifier` stream consumer.
pub static NOTIFIER: StreamFunction = StreamFunction {
    binary: "notifier",
    needs: Needs::NOTHING.store().queue(),
    handler: notify_handler,
};

/// The most runners told about one overtaking: those just behind the new time, who lost a
/// place nearest the top. A first run on a busy course passes thousands; it tells these.
pub const MAX_OVERTAKEN: usize = 20;

/// The sort-key prefixes of the items the notifier reads (template.yaml's filters let no
/// other record reach it on AWS).
pub const PREFIXES: [&str; 4] = ["FOLLOWS#", "LIKE#", "REVIEW#", "BEST#"];

fn notify_handler<'a>(app: &'a App, change: &'a Change) -> ChangeFuture<'a> {
    Box::pin(notify(app, change))
}

/// What happened, read from one stream record.
#[derive(Debug, Clone, PartialEq)]
pub enum Cause {
    /// `follower` started following `followee`.
    Followed {
        /// Who follows now.
        follower: String,
        /// Who is followed.
        followee: String,
    },
    /// `liker` liked `course_id`.
    Liked {
        /// The course.
        course_id: String,
        /// Who liked it.
        liker: String,
    },
    /// `reviewer` reviewed `course_id`.
    Reviewed {
        /// The course.
        course_id: String,
        /// Who wrote the review.
        reviewer: String,
    },
    /// `runner`'s entry on `course_id`'s board moved up to `best`, from `previous_key`
    /// (its board key before, `None` for a first entry).
    Overtook {
        /// The new entry.
        best: Best,
        /// The entry's board key before, if it had one.
        previous_key: Option<String>,
    },
}

/// The cause of `change`, or `None` when it is nothing to tell anyone.
pub fn cause_of(change: &Change) -> Result<Option<Cause>, ApiError> {
    let (pk, sk) = (&change.key.pk, &change.key.sk);
    let inserted = change.kind == ChangeKind::Insert;
    if let (true, Some(follower), Some(followee)) = (
        inserted,
        pk.strip_prefix("USER#"),
        sk.strip_prefix("FOLLOWS#"),
    ) {
        return Ok(Some(Cause::Followed {
            follower: follower.to_owned(),
            followee: followee.to_owned(),
        }));
    }
    let Some(course_id) = pk.strip_prefix("COURSE#") else {
        return Ok(None);
    };
    let course_id = course_id.to_owned();
    if let (true, Some(liker)) = (inserted, sk.strip_prefix("LIKE#")) {
        return Ok(Some(Cause::Liked {
            course_id,
            liker: liker.to_owned(),
        }));
    }
    if let (true, Some(reviewer)) = (inserted, sk.strip_prefix("REVIEW#")) {
        return Ok(Some(Cause::Reviewed {
            course_id,
            reviewer: reviewer.to_owned(),
        }));
    }
    if sk.starts_with("BEST#") {
        let Some(new) = &change.new else {
            return Ok(None);
        };
        let best = Best::from_item(new)?;
        let previous_key = change
            .old
            .as_ref()
            .map(Best::from_item)
            .transpose()?
            .map(|old| old.board_key());
        // A slower entry (its run deleted, the next best took its place) passes nobody.
        if previous_key
            .as_ref()
            .is_some_and(|previous| best.board_key() >= *previous)
        {
            return Ok(None);
        }
        return Ok(Some(Cause::Overtook { best, previous_key }));
    }
    Ok(None)
}

/// Applies one stream record: inbox items for whoever it concerns, and their push jobs.
pub async fn notify(app: &App, change: &Change) -> Result<(), TaskError> {
    let Some(cause) = cause_of(change)? else {
        return Ok(());
    };
    let store = app.store()?;
    let notifications = compose(store, &cause, change.created_ms).await?;
    for notification in notifications {
        inbox::deliver(store, &notification).await?;
        // Queued every time, also when the item was there: a record comes again when the
        // send failed last time. The consumer sends once per job and device.
        app.queue()?
            .send(QueueName::Push, &job::message(&notification)?)
            .await
            .map_err(|e| TaskError(format!("queueing a push job: {e}")))?;
    }
    Ok(())
}

/// The notifications `cause` makes, at `at_ms`: reads the people and the course named.
pub async fn compose(
    store: &dyn Store,
    cause: &Cause,
    at_ms: i64,
) -> Result<Vec<Notification>, ApiError> {
    match cause {
        Cause::Followed { follower, followee } => {
            let Some((actor, _)) = people(store, follower, &[followee.as_str()]).await? else {
                return Ok(Vec::new());
            };
            Ok(vec![Notification {
                id: NotificationId::new(at_ms, &format!("new_follower#{follower}#{followee}")),
                user_id: followee.clone(),
                kind: Kind::NewFollower,
                title: "New follower".into(),
                body: format!("{} started following you", actor.display_name),
                actor_id: Some(follower.clone()),
                course_id: None,
                event_id: None,
                job_id: None,
                read: false,
            }])
        }
        Cause::Liked { course_id, liker } => {
            course_news(
                store,
                course_id,
                liker,
                Kind::CourseLiked,
                at_ms,
                |name, course| format!("{name} liked your course {course}"),
            )
            .await
        }
        Cause::Reviewed {
            course_id,
            reviewer,
        } => {
            let review = store
                .get(&runcrew_model::review::review_key(course_id, reviewer))
                .await?
                .map(|item| from_body::<Review>(&item))
                .transpose()?;
            let stars = review.map_or(String::new(), |r| format!(" ({}★)", r.rating));
            course_news(
                store,
                course_id,
                reviewer,
                Kind::CourseReviewed,
                at_ms,
                |name, course| format!("{name} reviewed your course {course}{stars}"),
            )
            .await
        }
        Cause::Overtook { best, previous_key } => overtaken(store, best, previous_key, at_ms).await,
    }
}

/// A like or a review: the course's creator is told, unless they did it themselves.
async fn course_news(
    store: &dyn Store,
    course_id: &str,
    actor_id: &str,
    kind: Kind,
    at_ms: i64,
    text: impl Fn(&str, &str) -> String,
) -> Result<Vec<Notification>, ApiError> {
    let Some(course) = store.get(&course_key(course_id)).await? else {
        return Ok(Vec::new());
    };
    let course: Course = from_body(&course)?;
    if course.creator_id == actor_id {
        return Ok(Vec::new());
    }
    let Some((actor, _)) = people(store, actor_id, &[course.creator_id.as_str()]).await? else {
        return Ok(Vec::new());
    };
    Ok(vec![Notification {
        id: NotificationId::new(at_ms, &format!("{}#{course_id}#{actor_id}", kind.as_str())),
        user_id: course.creator_id.clone(),
        kind,
        title: course.name.clone(),
        body: text(&actor.display_name, &course.name),
        actor_id: Some(actor_id.to_owned()),
        course_id: Some(course_id.to_owned()),
        event_id: None,
        job_id: None,
        read: false,
    }])
}

/// The runners `best` passed: board entries faster than its previous time and slower than
/// its new one, nearest first.
async fn overtaken(
    store: &dyn Store,
    best: &Best,
    previous_key: &Option<String>,
    at_ms: i64,
) -> Result<Vec<Notification>, ApiError> {
    let new_key = best.board_key();
    let passed = store
        .query(
            &Query::index(Index::Gsi1, board_partition(&best.course_id))
                .range(SortRange::Between(
                    new_key.clone(),
                    previous_key.clone().unwrap_or_else(|| "~".into()),
                ))
                .limit(MAX_OVERTAKEN + 2),
        )
        .await?;
    let recipients: Vec<String> = passed
        .items
        .iter()
        .map(Best::from_item)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        // Only times that stood when this run was run: a slower run made later (or
        // recorded before this stream record was read) was never beaten, only slower.
        .filter(|entry| {
            entry.user_id != best.user_id
                && entry.board_key() > new_key
                && entry.started_ms < best.started_ms
                && previous_key.as_ref().is_none_or(|p| entry.board_key() < *p)
        })
        .map(|entry| entry.user_id)
        .take(MAX_OVERTAKEN)
        .collect();
    if recipients.is_empty() {
        return Ok(Vec::new());
    }
    let Some(course) = store.get(&course_key(&best.course_id)).await? else {
        return Ok(Vec::new());
    };
    let course: Course = from_body(&course)?;
    let names: Vec<&str> = recipients.iter().map(String::as_str).collect();
    let Some((actor, present)) = people(store, &best.user_id, &names).await? else {
        return Ok(Vec::new());
    };
    let time = clock_of(best.duration_s);
    Ok(present
        .into_iter()
        .map(|user_id| Notification {
            id: NotificationId::new(
                at_ms,
                &format!(
                    "leaderboard_overtaken#{}#{}#{}#{user_id}",
                    best.course_id, best.user_id, best.run_id
                ),
            ),
            user_id,
            kind: Kind::LeaderboardOvertaken,
            title: course.name.clone(),
            body: format!(
                "{} beat your time on {} with {time}",
                actor.display_name, course.name
            ),
            actor_id: Some(best.user_id.clone()),
            course_id: Some(best.course_id.clone()),
            event_id: None,
            job_id: None,
            read: false,
        })
        .collect())
}

/// The actor's public summary and which of `recipients` still have an account, in one
/// batch read; `None` when the actor's account is gone (nothing to tell of them).
async fn people(
    store: &dyn Store,
    actor_id: &str,
    recipients: &[&str],
) -> Result<Option<(Author, Vec<String>)>, ApiError> {
    let mut keys = vec![profile_key(actor_id)];
    keys.extend(recipients.iter().map(|r| profile_key(r)));
    let items: Vec<Item> = store.get_many(&keys).await?;
    let authors = Author::by_id(&items);
    let Some(actor) = authors.get(actor_id).cloned() else {
        return Ok(None);
    };
    let present = recipients
        .iter()
        .filter(|r| authors.contains_key(**r))
        .map(|r| (*r).to_owned())
        .collect();
    Ok(Some((actor, present)))
}

/// `3725` seconds as `1:02:05`, `754` as `12:34`: how runners say a time.
pub fn clock_of(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runcrew_shared::store::Key;
    use runcrew_shared::store::to_body;

    fn change(
        kind: ChangeKind,
        pk: &str,
        sk: &str,
        old: Option<Item>,
        new: Option<Item>,
    ) -> Change {
        Change {
            kind,
            key: Key::new(pk, sk),
            old,
            new,
            sequence: "1".into(),
            created_ms: 1_764_547_200_000,
        }
    }

    fn best(user: &str, seconds: i64) -> Best {
        Best {
            course_id: "c1".into(),
            user_id: user.into(),
            run_id: format!("r-{seconds}"),
            duration_s: seconds,
            distance_m: 5000.0,
            started_at: "2026-12-01T00:00:00Z".into(),
            started_ms: 1_764_547_200_000,
        }
    }

    fn item(best: &Best) -> Item {
        Item::new(
            Key::new("COURSE#c1", format!("BEST#{}", best.user_id)),
            to_body(best).expect("body"),
        )
    }

    #[test]
    fn a_new_follow_like_or_review_is_news_and_their_removal_is_not() {
        let follow = change(
            ChangeKind::Insert,
            "USER#a",
            "FOLLOWS#b",
            None,
            Some(Item::new(
                Key::new("USER#a", "FOLLOWS#b"),
                Default::default(),
            )),
        );
        assert_eq!(
            cause_of(&follow).expect("reads"),
            Some(Cause::Followed {
                follower: "a".into(),
                followee: "b".into()
            })
        );
        let unfollow = change(ChangeKind::Remove, "USER#a", "FOLLOWS#b", None, None);
        assert_eq!(cause_of(&unfollow).expect("reads"), None);
        let like = change(ChangeKind::Insert, "COURSE#c1", "LIKE#a", None, None);
        assert_eq!(
            cause_of(&like).expect("reads"),
            Some(Cause::Liked {
                course_id: "c1".into(),
                liker: "a".into()
            })
        );
        let edited_review = change(ChangeKind::Modify, "COURSE#c1", "REVIEW#a", None, None);
        assert_eq!(cause_of(&edited_review).expect("reads"), None);
        let favorite = change(ChangeKind::Insert, "COURSE#c1", "FAVORITE#a", None, None);
        assert_eq!(cause_of(&favorite).expect("reads"), None);
    }

    #[test]
    fn only_a_faster_board_entry_overtakes_anyone() {
        let (slow, fast) = (best("a", 1500), best("a", 1400));
        let first = change(
            ChangeKind::Insert,
            "COURSE#c1",
            "BEST#a",
            None,
            Some(item(&slow)),
        );
        assert!(matches!(
            cause_of(&first).expect("reads"),
            Some(Cause::Overtook {
                previous_key: None,
                ..
            })
        ));
        let faster = change(
            ChangeKind::Modify,
            "COURSE#c1",
            "BEST#a",
            Some(item(&slow)),
            Some(item(&fast)),
        );
        assert_eq!(
            cause_of(&faster).expect("reads"),
            Some(Cause::Overtook {
                best: fast.clone(),
                previous_key: Some(slow.board_key())
            })
        );
        // Its run deleted, the slower next best takes the place: nobody was passed.
        let slower = change(
            ChangeKind::Modify,
            "COURSE#c1",
            "BEST#a",
            Some(item(&fast)),
            Some(item(&slow)),
        );
        assert_eq!(cause_of(&slower).expect("reads"), None);
        let gone = change(
            ChangeKind::Remove,
            "COURSE#c1",
            "BEST#a",
            Some(item(&fast)),
            None,
        );
        assert_eq!(cause_of(&gone).expect("reads"), None);
    }

    #[test]
    fn times_read_as_runners_say_them() {
        assert_eq!(clock_of(754), "12:34");
        assert_eq!(clock_of(3725), "1:02:05");
        assert_eq!(clock_of(59), "0:59");
    }
}
