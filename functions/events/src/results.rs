//! `GET /v1/events/{eventId}/results`: the runs run at the event, fastest first.

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use runcrew_model::author::Author;
use runcrew_model::event::results;
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};

/// `GET /v1/events/{eventId}/results`.
pub static RESULTS: HttpFunction = HttpFunction {
    binary: "events-results",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(list(app, req)),
};

/// Page size unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 50;
/// The largest page: one BatchGetItem of runners.
pub const MAX_PAGE: usize = 100;

/// The results of an event the viewer may see, fastest first, each with its runner's name
/// and picture. A Strava or private run shows to its runner only, so another viewer's page
/// may hold fewer rows than `limit` (the cursor still goes on).
pub async fn list(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_PAGE)?;
    let store = app.store()?;
    let (seen, viewer) = crate::seen_by_viewer(app, &req).await?;
    let viewer = viewer.as_deref();
    let (rows, cursor) = results::page(
        store,
        &seen.event.event_id,
        limit,
        request::page_cursor(&req),
    )
    .await?;
    let shown: Vec<&results::EventResult> =
        rows.iter().filter(|row| row.visible_to(viewer)).collect();
    let authors = Author::load(store, shown.iter().map(|row| row.user_id.as_str())).await?;
    let views: Vec<Value> = shown
        .iter()
        .map(|row| {
            let mut view = row.view();
            view["runner"] = Author::summary(&row.user_id, authors.get(&row.user_id));
            view
        })
        .collect();
    response::page(&views, cursor.as_deref())
}
