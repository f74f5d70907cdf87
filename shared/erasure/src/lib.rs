//! Erasing an account: every item that carries the user's id, gone.
//!
//! This crate is the one place allowed to know every area (it depends on the whole
//! `runcrew-model`). `DELETE /v1/users/me` calls [`close_account`], which closes the account
//! at once and starts the erasure job; the job (`jobs-run`) calls [`erase`] step by step,
//! each step over a store that stops it after a bounded number of calls. Each area's part is a module here: [`courses`], [`runs`], [`social`],
//! [`notifications`], [`strava`], [`events`].
//!
//! What a user owns, by key pattern (each later feature that stores user-owned items adds
//! its pattern here and its step in [`erase`], and the erasure test proves the table holds
//! nothing with the id afterwards):
//!
//! | pattern | what |
//! |---|---|
//! | `IDENTITY#<provider>#<subject>` / `IDENTITY` | the provider links, found through the profile |
//! | `USER#<userId>` / `PROFILE` | the profile |
//! | `USER#<userId>` / `SESSION#<sessionId>` | sessions and their refresh-token hashes |
//! | `USER#<userId>` / `IDEMPOTENCY#<digest>` | answers kept for `Idempotency-Key` replays |
//! | `COURSE#<courseId>` / `META` | the user's courses, with every like, favorite and review on them, their route and thumbnail files |
//! | `COURSE#<courseId>` / `LIKE#<userId>`, `FAVORITE#<userId>`, `REVIEW#<userId>` | the user's reactions to other courses, taken off their counters |
//! | `USER#<userId>` / `RUN#`, `RUNPATH#`, `STATS#`, `RECORDS` | runs, their paths, totals and records (with the partition) |
//! | `COURSE#<courseId>` / `BEST#<userId>` | the user's leaderboard entries, found through the runs' courses |
//! | `USER#<userId>` / `FOLLOWS#<userId>` | follows both ways: the user's own, and others' follows of the user (their counts drop) |
//! | `USER#<otherId>` / `FEED#<runId>` | the user's runs in others' feeds (through gsi1 `FEEDBY#<userId>`); the user's own feed goes with the partition |
//! | `USER#<userId>` / `DEVICE#<digest>`, `NOTIF#<id>`, `NOTIFSETTINGS`, `NOTIFSTATE` | devices, inbox and notification settings (with the partition) |
//! | `DEVICE#<digest>` / `OWNER` | who owns each of the user's device tokens |
//! | `USER#<userId>` / `STRAVA`, `IMPORT#strava#<activityId>` | the Strava connection (sealed tokens) and import keys (with the partition) |
//! | `STRAVA_ATHLETE#<athleteId>` / `LINK` | the Strava athlete's link to the user |
//! | `USER#<otherId>` / `NOTIF#<id>` | notifications in others' inboxes that tell of the user (through gsi1 `NOTIFIED_BY#<userId>`) |
//! | `EVENT#<eventId>` / `MEMBER#<userId>`, `SEAT#…` | the user's places in group runs (left, so waiters move up) |
//! | `EVENT#<eventId>` / `RESULT#…#<userId>#<runId>` | the user's results at group runs (through gsi1 `RESULTS#<userId>`) |
//! | `EVENT#<eventId>` / `META` | group runs the user hosts: kept without their host (`erased`), cancelled unless over, so their participants are told |
//!
//! Files: the user's courses' route and map files go with the courses; uploaded photos and
//! their thumbnails (`uploads/<userId>/`, `thumbnails/uploads/<userId>/`) and exports
//! (`private/exports/<userId>/`) go by folder.
//!
//! Not erased, because they carry no user id: audit items (a pseudonym), rate-limit windows
//! (a digest, gone within minutes by TTL).
//!
//! The course library goes first ([`courses::erase_user`]), found through
//! the indexes that list a user's courses, likes, favorites and reviews; then the runs, a
//! page at a time with the leaderboard entries of their courses, and follows both ways.
//! Every part deletes as it reads, so a step stopped anywhere resumes without reading
//! again what is gone. Then the links (already gone when [`close_account`] ran), and last
//! the rest of the partition, 100 items per transaction.

pub mod courses;
pub mod events;
pub mod export;
pub mod notifications;
pub mod runs;
pub mod social;
pub mod strava;

use runcrew_model::job::{self, Job, JobState};
use runcrew_model::profile::{
    being_erased_key, identity_key, load_profile, profile_key, user_partition,
};
use runcrew_shared::ApiError;
use runcrew_shared::blobs::Blobs;
use runcrew_shared::store::{Condition, Item, Query, Store, StoreError, Write, delete_all};

/// The key patterns [`erase`] removes, for the erasure test and the README.
pub const ERASED_KEY_PATTERNS: &[&str] = &[
    "IDENTITY#<provider>#<subject> / IDENTITY",
    "USER#<userId> / PROFILE",
    "USER#<userId> / SESSION#<sessionId>",
    "USER#<userId> / IDEMPOTENCY#<digest>",
    "USER#<userId> / RUN#<runId>",
    "USER#<userId> / RUNPATH#<runId>",
    "USER#<userId> / STATS#<period>",
    "USER#<userId> / RECORDS",
    "USER#<userId> / FOLLOWS#<userId>",
    "USER#<userId> / FEED#<runId>",
    "COURSE#<courseId> / BEST#<userId>",
    "COURSE#<courseId> / META",
    "COURSE#<courseId> / LIKE#<userId>",
    "COURSE#<courseId> / FAVORITE#<userId>",
    "COURSE#<courseId> / REVIEW#<userId>",
    "DEVICE#<digest> / OWNER",
    "USER#<userId> / DEVICE#<digest>",
    "USER#<userId> / NOTIF#<notificationId>",
    "USER#<userId> / NOTIFSETTINGS",
    "USER#<userId> / NOTIFSTATE",
    "STRAVA_ATHLETE#<athleteId> / LINK",
    "USER#<userId> / STRAVA",
    "USER#<userId> / IMPORT#strava#<activityId>",
    "EVENT#<eventId> / META",
    "EVENT#<eventId> / MEMBER#<userId>",
    "EVENT#<eventId> / SEAT#<place>#<seq>",
    "EVENT#<eventId> / RESULT#<duration>#<userId>#<runId>",
    "CLOSED#<userId> / CLOSED",
];

fn now_ms() -> i64 {
    i64::try_from(runcrew_shared::clock::now_epoch_ms()).unwrap_or(i64::MAX)
}

/// The bucket folders holding a user's uploaded photos and their thumbnails, and their
/// exports.
pub fn user_file_folders(user_id: &str) -> [String; 3] {
    [
        format!("uploads/{user_id}"),
        format!("thumbnails/uploads/{user_id}"),
        export::folder(user_id),
    ]
}

/// How much an erasure removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Erased {
    /// Items deleted from the table by this call; a repeat after a failure part-way counts
    /// only what was left.
    pub items: usize,
    /// Files deleted (uploads and their thumbnails; course files count with the courses).
    pub files: usize,
}

/// Closes `user_id`'s account at once, in one transaction with the erasure `job` that will
/// delete the rest: the profile goes (from every public view, and every write of a token
/// still in flight is refused by its open-account check; a refresh finds no account) and
/// so do the provider links (a new login starts a new account). Bounded: one read and one
/// transaction of a few writes. A marker that the account is being erased goes in the same
/// transaction ([`runcrew_model::profile::being_erased_key`]): no login or first use of a
/// token can open the same id again until the erasure's last write removes it. Returns the
/// job as stored, and whether this call started it: `job`, or the one an earlier request
/// started (a repeated `DELETE` starts nothing new).
pub async fn close_account(
    store: &dyn Store,
    user_id: &str,
    job: &Job,
) -> Result<(Job, bool), ApiError> {
    let mut links = Vec::new();
    if let Some((profile, _)) = load_profile(store, user_id).await? {
        links.extend(profile.identities.iter().map(|i| Write::Delete {
            key: identity_key(i.provider, &i.subject),
            condition: Condition::None,
        }));
    }
    let mut job_write = job.create()?;
    // Twice at most: once as asked, once more in place of a finished job of the same id.
    for _ in 0..2 {
        let mut writes = vec![
            job_write,
            Write::Delete {
                key: profile_key(user_id),
                condition: Condition::None,
            },
            Write::Put {
                item: Item::new(being_erased_key(user_id), serde_json::Map::new()),
                condition: Condition::None,
            },
        ];
        writes.extend(links.iter().cloned());
        match store.transact(writes).await {
            Ok(()) => return Ok((job.clone(), true)),
            Err(StoreError::TransactionCanceled { failed }) if failed.contains(&0) => {
                match job::load(store, &job.job_id).await? {
                    Some((earlier, version)) if earlier.state == JobState::Done => {
                        job_write = job.replace(version)?;
                    }
                    Some((earlier, _)) => return Ok((earlier, false)),
                    None => job_write = job.create()?,
                }
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::busy(
        "erasure_busy",
        "the erasure changed meanwhile; try again",
        1,
    ))
}

/// Deletes everything `user_id` owns. Safe to repeat and to stop anywhere: a second run
/// finds only what the first left.
pub async fn erase(
    store: &dyn Store,
    blobs: &dyn Blobs,
    user_id: &str,
) -> Result<Erased, ApiError> {
    let mut erased = Erased {
        items: courses::erase_user(store, blobs, user_id).await?
            + runs::erase_user(store, user_id).await?
            + social::erase_user(store, user_id).await?
            + notifications::erase_user(store, user_id).await?
            + strava::erase_user(store, user_id).await?
            + events::erase_user(store, user_id, now_ms()).await?,
        files: 0,
    };
    for folder in user_file_folders(user_id) {
        erased.files += blobs.delete_folder(&folder).await?;
    }
    if let Some((profile, _)) = load_profile(store, user_id).await? {
        let links: Vec<Write> = profile
            .identities
            .iter()
            .map(|i| Write::Delete {
                key: identity_key(i.provider, &i.subject),
                condition: Condition::None,
            })
            .collect();
        if !links.is_empty() {
            erased.items += links.len();
            store.transact(links).await?;
        }
    }
    erased.items += delete_all(store, Query::partition(user_partition(user_id))).await?;
    // Last: the account's id may be opened again (the same external login) from here on.
    store
        .delete(&being_erased_key(user_id), Condition::None)
        .await?;
    Ok(erased)
}
