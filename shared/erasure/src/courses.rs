//! Erasing what a user left in the course library: their courses (each with everything
//! under it, [`delete_course`]), and their likes, favorites and reviews of others' courses.

use runcrew_model::course::{Visibility, course_key, creator_partition, delete_course};
use runcrew_model::reaction::Reaction;
use runcrew_model::review::{Review, reviewer_partition};
use runcrew_shared::ApiError;
use runcrew_shared::blobs::Blobs;
use runcrew_shared::store::{
    Index, MAX_TRANSACTION_WRITES, Query, Store, delete_and_count, from_body, read_all,
};

/// The key patterns [`erase_user`] removes, for the account erasure's list.
pub const ERASED_KEY_PATTERNS: &[&str] = &[
    "COURSE#<courseId> / META",
    "COURSE#<courseId> / LIKE#<userId>",
    "COURSE#<courseId> / FAVORITE#<userId>",
    "COURSE#<courseId> / REVIEW#<userId>",
];

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
