//! Erasing what a user left in the course library: their courses (each with everything
//! under it, [`delete_course`]), and their likes, favorites and reviews of others' courses.

use runcrew_model::course::{Visibility, course_key, creator_partition, delete_course};
use runcrew_model::reaction::Reaction;
use runcrew_model::review::{Review, reviewer_partition};
use runcrew_shared::ApiError;
use runcrew_shared::blobs::Blobs;
use runcrew_shared::store::{
    Index, Item, MAX_TRANSACTION_WRITES, Query, Store, delete_and_count, from_body,
};

/// The key patterns [`erase_user`] removes, for the account erasure's list.
pub const ERASED_KEY_PATTERNS: &[&str] = &[
    "COURSE#<courseId> / META",
    "COURSE#<courseId> / LIKE#<userId>",
    "COURSE#<courseId> / FAVORITE#<userId>",
    "COURSE#<courseId> / REVIEW#<userId>",
];

/// Erases the user's courses (with everything on them) and the user's likes, favorites and
/// reviews on other courses, whose counters go down accordingly. Each list is read a page
/// at a time and that page deleted before the next is read, so a step of the erasure job
/// stopped anywhere has deleted what it read, and the next finds only the rest. Safe to
/// repeat. Returns the items deleted.
pub async fn erase_user(
    store: &dyn Store,
    blobs: &dyn Blobs,
    user_id: &str,
) -> Result<usize, ApiError> {
    let mut erased = 0;
    for visibility in [Visibility::Public, Visibility::Private] {
        let query = Query::index(Index::Gsi1, creator_partition(user_id, visibility));
        erased += each_page(store, query, |item| async move {
            match item.str("course_id") {
                Some(course_id) => delete_course(store, blobs, course_id).await,
                None => Ok(0),
            }
        })
        .await?;
    }
    for reaction in [Reaction::Like, Reaction::Favorite] {
        let query = Query::index(Index::Gsi1, reaction.user_partition(user_id));
        erased += each_page(store, query, |item| async move {
            let Some(course_id) = item.str("course_id") else {
                return Ok(0);
            };
            delete_and_count(
                store,
                item.key.clone(),
                course_key(course_id),
                vec![(reaction.counter().into(), -1)],
            )
            .await?;
            Ok(1)
        })
        .await?;
    }
    let query = Query::index(Index::Gsi2, reviewer_partition(user_id));
    erased += each_page(store, query, |item| async move {
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
        Ok(1)
    })
    .await?;
    Ok(erased)
}

/// Applies `delete` to every item of the index `query` finds, a page of
/// [`MAX_TRANSACTION_WRITES`] at a time, following the cursor (the index lags the deletes,
/// so the first page again could list what is already gone). Returns the sum of what
/// `delete` returned.
async fn each_page<F, Fut>(store: &dyn Store, query: Query, delete: F) -> Result<usize, ApiError>
where
    F: Fn(Item) -> Fut,
    Fut: std::future::Future<Output = Result<usize, ApiError>>,
{
    let mut query = query.limit(MAX_TRANSACTION_WRITES);
    let mut deleted = 0;
    loop {
        let page = store.query(&query).await?;
        for item in page.items {
            deleted += delete(item).await?;
        }
        match page.cursor {
            Some(cursor) => query = query.after(Some(cursor)),
            None => return Ok(deleted),
        }
    }
}
