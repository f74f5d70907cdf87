//! Reviews: one per user and course (posting again replaces it), with the course's rating
//! sum and count changed in the same transaction.

use lambda_http::{Body, Request, Response};
use runcrew_model::profile::{account_closed, open_account_check, profile_key};
use runcrew_shared::clock::now_rfc3339;
use runcrew_shared::store::from_body;
use runcrew_shared::store::versioned::{Change, Versioned, VersionedError};
use runcrew_shared::store::{Index, Key, Query, Write};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde::Deserialize;
use serde_json::Value;

use crate::{BUSY_RETRY_AFTER_SECONDS, DEFAULT_PAGE, MAX_LIST_PAGE};
use runcrew_model::author::Author;
use runcrew_model::course::{
    course_key, course_not_found, is_course_id, load_visible, load_visible_with,
};
use runcrew_model::review::{Rating, Review, ReviewText, TallyChange, review_key};

/// `POST /v1/courses/{courseId}/reviews`.
pub static CREATE: HttpFunction = HttpFunction {
    binary: "reviews-create",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(create(app, req)),
};

/// `GET /v1/courses/{courseId}/reviews`.
pub static LIST: HttpFunction = HttpFunction {
    binary: "reviews-list",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(list(app, req)),
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewReview {
    rating: i64,
    #[serde(default)]
    text: String,
}

/// Attempts before a review racing with another write of the same author gives up.
const WRITE_ATTEMPTS: u32 = 3;

/// `POST /v1/courses/{courseId}/reviews`: creates (201) or replaces (200) the caller's
/// review; the course's count and rating sum follow in the same transaction, with a check
/// that the caller's account is still open (401 otherwise: a review must never outlive its
/// author's erasure). Losing the race with the same author's other writes three times is
/// 409 `review_busy` with `Retry-After`.
pub async fn create(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let course_id = request::path_param(&req, "courseId")?;
    let input: NewReview = request::json_body(&req)?;
    let rating = Rating::parse(input.rating)?;
    let text = ReviewText::parse(&input.text)?;
    let store = app.store()?;
    let (course, _) = load_visible(store, course_id, Some(&caller.user_id)).await?;
    let (course_id, user_id, text) = (course.course_id.as_str(), caller.user_id.as_str(), &text);
    let (review, replaced) = Versioned::new(review_key(course_id, user_id))
        .attempts(WRITE_ATTEMPTS)
        .apply(store, |current| async move {
            let replaced: Option<Review> = current.as_ref().map(from_body).transpose()?;
            let review = Review::written(
                course_id,
                user_id,
                rating,
                text,
                replaced.as_ref(),
                now_rfc3339(),
            );
            let tally = TallyChange::of(replaced.as_ref(), rating);
            Ok(
                Change::put(review.to_item(0)?, (review, replaced.is_some()))
                    .with(Write::Increment {
                        key: course_key(course_id),
                        deltas: tally.deltas(),
                        must_exist: true,
                    })
                    .with(open_account_check(user_id)),
            )
        })
        .await
        .map_err(|err| match err {
            // The extra writes: 0 the course's counters, 1 the account check.
            VersionedError::ExtraFailed { failed } if failed.contains(&1) => account_closed(),
            VersionedError::ExtraFailed { .. } => course_not_found(),
            other => other.or_conflict(|| {
                ApiError::busy(
                    "review_busy",
                    "the review changed while it was being written; try again",
                    BUSY_RETRY_AFTER_SECONDS,
                )
            }),
        })?;
    let status = if replaced {
        http::StatusCode::OK
    } else {
        http::StatusCode::CREATED
    };
    response::json(status, &review.view(None))
}

/// `GET /v1/courses/{courseId}/reviews`: newest first, each with its author's display
/// name and avatar (one batch read for the page).
pub async fn list(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let viewer = app.viewer(&req).await?;
    let course_id = request::path_param(&req, "courseId")?;
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let store = app.store()?;
    let query = Query::index(Index::Gsi1, format!("REVIEWS#{course_id}"))
        .descending()
        .limit(limit)
        .after(request::page_cursor(&req));
    if !is_course_id(course_id) {
        return Err(course_not_found());
    }
    // Two round trips: the page, then the course (may the viewer see it?) together with
    // the page's authors in one BatchGetItem.
    let page = store.query(&query).await?;
    let reviews: Vec<Review> = page
        .items
        .iter()
        .map(from_body::<Review>)
        .collect::<Result<_, _>>()?;
    let keys: Vec<Key> = reviews.iter().map(|r| profile_key(&r.user_id)).collect();
    let viewer_id = viewer.as_ref().map(|c| c.user_id.as_str());
    let (_, _, profiles) = load_visible_with(store, course_id, viewer_id, keys).await?;
    let authors = Author::by_id(&profiles);
    let views: Vec<Value> = reviews
        .iter()
        .map(|r| r.view(authors.get(&r.user_id)))
        .collect();
    response::page(&views, page.cursor.as_deref())
}
