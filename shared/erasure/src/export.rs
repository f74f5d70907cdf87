//! The account's whole, for its owner (`POST /v1/users/me/export`): what erasure deletes,
//! read instead. Built by the export job (`jobs-run`), which writes it as one JSON file to
//! the bucket's private folder ([`file_key`]); the owner downloads it through a link that
//! lives 15 minutes, from the job's status.
//!
//! What it holds: the profile and provider links, sessions (never their token hashes),
//! devices (never their tokens), the inbox and notification settings, the Strava link
//! (never its tokens), group runs hosted and joined, every run, the courses drawn, the
//! reviews written, the courses liked and favorited, and whom the user follows.
//!
//! Its cost grows with the account (one Query per 1,000 runs, say), which is why it is a
//! job and not a request: an account of 100,000 runs reads about 100 pages.

use runcrew_model::course::{Course, Visibility, creator_partition};
use runcrew_model::profile::{load_profile, user_partition};
use runcrew_model::reaction::Reaction;
use runcrew_model::review::{Review, reviewer_partition};
use runcrew_model::run::{Run, runs_of};
use runcrew_model::{event, notification, session, strava};
use runcrew_shared::ApiError;
use runcrew_shared::clock::now_rfc3339;
use runcrew_shared::store::{Index, MAX_PAGE, Query, SortRange, Store, from_body, read_all};
use serde_json::{Value, json};

/// Where the export of `job_id` for `user_id` is kept: in the private folder (never on the
/// CDN), under the user's id (erasure deletes the folder), expiring with the bucket's
/// lifecycle rule for `private/exports/`.
pub fn file_key(user_id: &str, job_id: &str) -> String {
    format!("private/exports/{user_id}/{job_id}.json")
}

/// The folder of `user_id`'s exports.
pub fn folder(user_id: &str) -> String {
    format!("private/exports/{user_id}")
}

/// Everything `user_id` owns, as the export file holds it; `None` for an account that is
/// gone.
pub async fn account(store: &dyn Store, user_id: &str) -> Result<Option<Value>, ApiError> {
    let Some((profile, _)) = load_profile(store, user_id).await? else {
        return Ok(None);
    };
    let sessions: Vec<Value> = session::list(store, user_id)
        .await?
        .iter()
        .map(session::Session::summary)
        .collect();
    let devices: Vec<Value> = notification::device::list(store, user_id)
        .await?
        .iter()
        .map(notification::device::Device::export)
        .collect();
    let notifications: Vec<Value> = notification::inbox::all(store, user_id)
        .await?
        .iter()
        .map(notification::inbox::Notification::exported)
        .collect();
    let notification_settings = notification::settings::load(store, user_id).await?;
    let strava = strava::connection::load(store, user_id)
        .await?
        .map(|(connection, _)| connection.exported());
    let events = event::exported(store, user_id).await?;
    let runs: Vec<Value> = read_all(store, runs_of(user_id).limit(MAX_PAGE))
        .await?
        .iter()
        .map(|item| Run::from_item(item).map(|run| run.owner_view()))
        .collect::<Result<_, _>>()?;
    let mut courses = Vec::new();
    for visibility in [Visibility::Public, Visibility::Private] {
        for item in read_all(
            store,
            Query::index(Index::Gsi1, creator_partition(user_id, visibility)).limit(MAX_PAGE),
        )
        .await?
        {
            let course: Course = from_body(&item)?;
            courses
                .push(serde_json::to_value(course).map_err(|e| ApiError::Internal(e.to_string()))?);
        }
    }
    let reviews: Vec<Value> = read_all(
        store,
        Query::index(Index::Gsi2, reviewer_partition(user_id)).limit(MAX_PAGE),
    )
    .await?
    .iter()
    .map(|item| {
        from_body::<Review>(item).map(|r| {
            json!({"course_id": r.course_id, "rating": r.rating, "text": r.text,
                   "created_at": r.created_at, "updated_at": r.updated_at})
        })
    })
    .collect::<Result<_, _>>()?;
    let mut reacted = serde_json::Map::new();
    for (name, reaction) in [("liked", Reaction::Like), ("favorited", Reaction::Favorite)] {
        let ids: Vec<Value> = read_all(
            store,
            Query::index(Index::Gsi1, reaction.user_partition(user_id)).limit(MAX_PAGE),
        )
        .await?
        .iter()
        .filter_map(|item| item.str("course_id").map(Value::from))
        .collect();
        reacted.insert(name.to_owned(), Value::Array(ids));
    }
    let following: Vec<Value> = read_all(
        store,
        Query::partition(user_partition(user_id))
            .range(SortRange::BeginsWith("FOLLOWS#".into()))
            .limit(MAX_PAGE),
    )
    .await?
    .iter()
    .map(|item| json!({"user_id": item.str("followee_id"), "followed_at": item.str("followed_at")}))
    .collect();
    Ok(Some(json!({
        "exported_at": now_rfc3339(),
        "profile": profile.private_view(),
        "identities": profile.identities,
        "sessions": sessions,
        "devices": devices,
        "notifications": notifications,
        "notification_settings": notification_settings,
        "strava": strava,
        "events": events,
        "runs": runs,
        "courses": courses,
        "reviews": reviews,
        "courses_liked": reacted.remove("liked").unwrap_or_default(),
        "courses_favorited": reacted.remove("favorited").unwrap_or_default(),
        "following": following,
    })))
}
