//! Deleting a course with everything under it, and erasing what a user left in the course
//! library when the account goes (`DELETE /v1/users/me` calls [`erase_user`]).

use runcrew_shared::ApiError;
use runcrew_shared::blobs::Blobs;
use runcrew_shared::store::{
    Condition, Index, MAX_TRANSACTION_WRITES, Query, Store, Write, delete_and_count, read_all,
};
use runcrew_shared::users::from_body;

use crate::course::{
    Visibility, course_key, course_partition, creator_partition, route_file_key, thumbnail_file_key,
};
use crate::reactions::Reaction;
use crate::reviews::{Review, reviewer_partition};

/// The key patterns [`erase_user`] removes, for the account erasure's list.
pub const ERASED_KEY_PATTERNS: &[&str] = &[
    "COURSE#<courseId> / META",
    "COURSE#<courseId> / LIKE#<userId>",
    "COURSE#<courseId> / FAVORITE#<userId>",
    "COURSE#<courseId> / REVIEW#<userId>",
];

/// Deletes a course: its likes, favorites and reviews (100 per transaction), its route and
/// thumbnail files in both places (public and private: a visibility change interrupted
/// part-way may have left a copy in either), and last the course item, so a retry after a
/// failure part-way finds the course and finishes. Returns the items deleted.
pub async fn delete_course(
    store: &dyn Store,
    blobs: &dyn Blobs,
    course_id: &str,
) -> Result<usize, ApiError> {
    let mut deleted = 0;
    loop {
        // Always the first page: what the last round deleted is gone from it.
        let page = store
            .query(&Query::partition(course_partition(course_id)).limit(MAX_TRANSACTION_WRITES + 1))
            .await?;
        let children: Vec<Write> = page
            .items
            .into_iter()
            .filter(|item| item.key.sk != "META")
            .take(MAX_TRANSACTION_WRITES)
            .map(|item| Write::Delete {
                key: item.key,
                condition: Condition::None,
            })
            .collect();
        if children.is_empty() {
            break;
        }
        deleted += children.len();
        store.transact(children).await?;
    }
    let files: Vec<String> = [Visibility::Public, Visibility::Private]
        .into_iter()
        .flat_map(|v| {
            [
                route_file_key(course_id, v),
                thumbnail_file_key(course_id, v),
            ]
        })
        .collect();
    futures::future::try_join_all(files.iter().map(|key| blobs.delete(key))).await?;
    store
        .delete(&course_key(course_id), Condition::None)
        .await?;
    Ok(deleted + 1)
}

/// Erases the user's courses (with everything on them) and the user's likes, favorites and
/// reviews on other courses, whose counters go down accordingly. Safe to repeat. Returns
/// the items deleted.
pub async fn erase_user(
    store: &dyn Store,
    blobs: &dyn Blobs,
    user_id: &str,
) -> Result<usize, ApiError> {
    let mut erased = 0;
    for visibility in [Visibility::Public, Visibility::Private] {
        for item in read_all(
            store,
            Query::index(Index::Gsi1, creator_partition(user_id, visibility))
                .limit(MAX_TRANSACTION_WRITES),
        )
        .await?
        {
            if let Some(course_id) = item.str("course_id") {
                erased += delete_course(store, blobs, course_id).await?;
            }
        }
    }
    for reaction in [Reaction::Like, Reaction::Favorite] {
        for item in read_all(
            store,
            Query::index(Index::Gsi1, reaction.user_partition(user_id))
                .limit(MAX_TRANSACTION_WRITES),
        )
        .await?
        {
            let Some(course_id) = item.str("course_id") else {
                continue;
            };
            delete_and_count(
                store,
                item.key.clone(),
                course_key(course_id),
                vec![(reaction.counter().into(), -1)],
            )
            .await?;
            erased += 1;
        }
    }
    for item in read_all(
        store,
        Query::index(Index::Gsi2, reviewer_partition(user_id)).limit(MAX_TRANSACTION_WRITES),
    )
    .await?
    {
        let review: Review = from_body(&item)?;
        delete_and_count(
            store,
            item.key.clone(),
            course_key(&review.course_id),
            vec![
                ("review_count".into(), -1),
                ("rating_sum".into(), -review.rating),
            ],
        )
        .await?;
        erased += 1;
    }
    Ok(erased)
}
