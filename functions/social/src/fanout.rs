//! The feed's writers ([`runcrew_model::feed`]): `feed-changes` reads runs and follows off
//! the table's stream and queues the feed work each asks for; `feed-writer` does that work
//! from the feed queue, one bounded step per message, queuing the next step itself.
//!
//! | function | trigger | per record or step |
//! |---|---|---|
//! | `feed-changes` | the stream: runs (`RUN#`) and follows (`FOLLOWS#`) | 1 SendMessage |
//! | `feed-writer` | the feed queue | fan-out: 2 GetItem + 1 Query + up to [`FANOUT_PAGE`] puts + 3 BatchGetItem (the readers' follows, read again: the index lags); withdrawal: 1 Query + up to [`FANOUT_PAGE`] deletes; backfill: 2 GetItem + 1 Query + up to [`BACKFILL_RUNS`] puts; unfollow: 1 GetItem + 1 Query + up to 100 deletes |
//!
//! Every step is idempotent (a put of the same entry, a delete of a missing one) and
//! order-tolerant: a fan-out that finds its run deleted stops, and takes back what it had
//! just written if the run went while it wrote; a backfill does the same for an unfollow.

use futures::stream::{self, StreamExt, TryStreamExt};
use runcrew_model::feed::{
    BACKFILL_RUNS, FANOUT_PAGE, FeedJob, entries_of_author_in, entry_item, entry_key,
};
use runcrew_model::follow::{follow_key, followers_partition};
use runcrew_model::run::{Run, feed_partition, run_key};
use runcrew_shared::queue::QueueName;
use runcrew_shared::store::stream::Change;
use runcrew_shared::store::{Condition, Index, Item, Key, Query, Store, get_all};
use runcrew_shared::tasks::queue::{Handled, MessageFuture, QueueFunction, QueueMessage};
use runcrew_shared::tasks::stream::{ChangeFuture, StreamFunction};
use runcrew_shared::{ApiError, App, Needs, TaskError};

/// The `feed-changes` stream consumer.
pub static FEED_CHANGES: StreamFunction = StreamFunction {
    binary: "feed-changes",
    needs: Needs::NOTHING.store().queue(),
    handler: changes_handler,
};

/// The `feed-writer` queue consumer.
pub static FEED_WRITER: QueueFunction = QueueFunction {
    binary: "feed-writer",
    queue: QueueName::Feed,
    needs: Needs::NOTHING.store().queue(),
    handler: writer_handler,
};

/// Every stream consumer of this crate, for the local gateway's registry.
pub static STREAM_TASKS: &[&StreamFunction] = &[&FEED_CHANGES];

/// Every queue consumer of this crate, for the local gateway's registry.
pub static QUEUE_TASKS: &[&QueueFunction] = &[&FEED_WRITER];

/// Writes in flight at once within a step.
const IN_FLIGHT: usize = 16;

/// Entries deleted per step of an unfollow.
const UNFOLLOW_PAGE: usize = 100;

fn changes_handler<'a>(app: &'a App, change: &'a Change) -> ChangeFuture<'a> {
    Box::pin(async move {
        if let Some(job) = job_of(change)? {
            send(app, &job).await?;
        }
        Ok(())
    })
}

/// Queues `job`; a queue that refuses fails the record (or the step), which Lambda or SQS
/// delivers again: feed work is never dropped.
async fn send(app: &App, job: &FeedJob) -> Result<(), TaskError> {
    let body = serde_json::to_value(job).map_err(|e| TaskError(e.to_string()))?;
    app.queue()?
        .send(QueueName::Feed, &body)
        .await
        .map_err(|err| TaskError(format!("feed work could not be queued: {err}")))
}

/// The feed work a committed write asks for, if any.
pub fn job_of(change: &Change) -> Result<Option<FeedJob>, ApiError> {
    let sk = change.key.sk.as_str();
    if sk.starts_with("RUN#") {
        let in_feed = |item: &Option<Item>| -> Result<Option<Run>, ApiError> {
            Ok(item
                .as_ref()
                .map(Run::from_item)
                .transpose()?
                .filter(Run::in_feed))
        };
        return Ok(match (in_feed(&change.old)?, in_feed(&change.new)?) {
            (None, Some(run)) => Some(FeedJob::FanOut {
                author: run.user_id,
                run_id: run.run_id,
                course_id: run.course_id,
                cursor: None,
            }),
            (Some(run), None) => Some(FeedJob::Withdraw {
                author: run.user_id,
                run_id: run.run_id,
                cursor: None,
            }),
            _ => None,
        });
    }
    if sk.starts_with("FOLLOWS#") {
        let image = change.new.as_ref().or(change.old.as_ref());
        let (Some(reader), Some(author)) = (
            image.and_then(|i| i.str("follower_id")),
            image.and_then(|i| i.str("followee_id")),
        ) else {
            return Ok(None);
        };
        let (reader, author) = (reader.to_owned(), author.to_owned());
        return Ok(match (&change.old, &change.new) {
            (None, Some(_)) => Some(FeedJob::Backfill { reader, author }),
            (Some(_), None) => Some(FeedJob::Unfollow {
                reader,
                author,
                cursor: None,
            }),
            _ => None,
        });
    }
    Ok(None)
}

fn writer_handler<'a>(app: &'a App, message: &'a QueueMessage) -> MessageFuture<'a> {
    Box::pin(async move {
        let job: FeedJob = serde_json::from_value(message.body.clone())
            .map_err(|e| TaskError(format!("message {} is no feed job: {e}", message.id)))?;
        if let Some(next) = step(app.store()?, &job).await? {
            send(app, &next).await?;
        }
        Ok(Handled::Done)
    })
}

async fn put_all(store: &dyn Store, items: Vec<Item>) -> Result<(), ApiError> {
    stream::iter(items)
        .map(|item| store.put(item, Condition::None))
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

async fn delete_all_keys(store: &dyn Store, keys: Vec<Key>) -> Result<(), ApiError> {
    stream::iter(keys)
        .map(|key| async move { store.delete(&key, Condition::None).await })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// One step of `job`; the next step, when work is left.
pub async fn step(store: &dyn Store, job: &FeedJob) -> Result<Option<FeedJob>, ApiError> {
    match job {
        FeedJob::FanOut {
            author,
            run_id,
            course_id,
            cursor,
        } => {
            let run = run_key(author, run_id);
            let exists = store.get(&run).await?.is_some();
            let (readers, next) = followers(store, author, cursor.clone()).await?;
            if !exists {
                // Deleted: this page may hold entries an earlier, failed try of this step
                // wrote after the withdrawal passed; they go, and the fan-out stops.
                let keys = readers.iter().map(|r| entry_key(r, run_id)).collect();
                delete_all_keys(store, keys).await?;
                return Ok(None);
            }
            let items = readers
                .iter()
                .map(|reader| entry_item(reader, author, run_id, course_id.as_deref()))
                .collect();
            put_all(store, items).await?;
            // Deleted while this step wrote: its withdrawal may have passed these readers.
            if store.get(&run).await?.is_none() {
                let keys = readers.iter().map(|r| entry_key(r, run_id)).collect();
                delete_all_keys(store, keys).await?;
                return Ok(None);
            }
            // The followers index lags the table: a reader who has unfollowed, or whose
            // account was erased, may still be listed. Their follow, read consistently,
            // says; their entry goes again (an erased reader's partition stays empty).
            take_back_from_unfollowed(store, author, run_id, &readers).await?;
            Ok(next.map(|cursor| FeedJob::FanOut {
                author: author.clone(),
                run_id: run_id.clone(),
                course_id: course_id.clone(),
                cursor: Some(cursor),
            }))
        }
        FeedJob::Withdraw {
            author,
            run_id,
            cursor,
        } => {
            let (readers, next) = followers(store, author, cursor.clone()).await?;
            let keys = readers.iter().map(|r| entry_key(r, run_id)).collect();
            delete_all_keys(store, keys).await?;
            Ok(next.map(|cursor| FeedJob::Withdraw {
                author: author.clone(),
                run_id: run_id.clone(),
                cursor: Some(cursor),
            }))
        }
        FeedJob::Backfill { reader, author } => {
            let follow = follow_key(reader, author);
            if store.get(&follow).await?.is_none() {
                return Ok(None);
            }
            let page = store
                .query(
                    &Query::index(Index::Gsi1, feed_partition(author))
                        .descending()
                        .limit(BACKFILL_RUNS),
                )
                .await?;
            let runs = page
                .items
                .iter()
                .map(Run::from_item)
                .collect::<Result<Vec<_>, _>>()?;
            let items = runs
                .iter()
                .filter(|run| run.in_feed())
                .map(|run| entry_item(reader, author, &run.run_id, run.course_id.as_deref()))
                .collect();
            put_all(store, items).await?;
            // Unfollowed while this step wrote: the unfollow may have run already.
            if store.get(&follow).await?.is_none() {
                let keys = runs.iter().map(|r| entry_key(reader, &r.run_id)).collect();
                delete_all_keys(store, keys).await?;
            }
            Ok(None)
        }
        FeedJob::Unfollow {
            reader,
            author,
            cursor,
        } => {
            // Followed again since: the entries are wanted.
            if store.get(&follow_key(reader, author)).await?.is_some() {
                return Ok(None);
            }
            let page = store
                .query(
                    &entries_of_author_in(author, reader)
                        .limit(UNFOLLOW_PAGE)
                        .after(cursor.clone()),
                )
                .await?;
            let keys = page.items.into_iter().map(|item| item.key).collect();
            delete_all_keys(store, keys).await?;
            Ok(page.cursor.map(|cursor| FeedJob::Unfollow {
                reader: reader.clone(),
                author: author.clone(),
                cursor: Some(cursor),
            }))
        }
    }
}

/// Deletes `run_id`'s entry of every reader among `readers` who does not follow `author`
/// any more (their follow, read consistently in batches of 100, is gone).
async fn take_back_from_unfollowed(
    store: &dyn Store,
    author: &str,
    run_id: &str,
    readers: &[String],
) -> Result<(), ApiError> {
    let keys: Vec<Key> = readers.iter().map(|r| follow_key(r, author)).collect();
    let found = get_all(store, &keys).await?;
    let following: std::collections::HashSet<&str> = found
        .iter()
        .filter_map(|item| item.str("follower_id"))
        .collect();
    let gone = readers
        .iter()
        .filter(|r| !following.contains(r.as_str()))
        .map(|r| entry_key(r, run_id))
        .collect();
    delete_all_keys(store, gone).await
}

/// A page of `author`'s followers from `cursor`, and where the next begins.
async fn followers(
    store: &dyn Store,
    author: &str,
    cursor: Option<String>,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let page = store
        .query(
            &Query::index(Index::Gsi1, followers_partition(author))
                .limit(FANOUT_PAGE)
                .after(cursor),
        )
        .await?;
    let readers = page
        .items
        .iter()
        .filter_map(|item| item.str("follower_id").map(str::to_owned))
        .collect();
    Ok((readers, page.cursor))
}
