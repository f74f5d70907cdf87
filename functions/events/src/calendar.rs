//! `GET /v1/events/{eventId}/calendar.ics`: the event as a calendar file.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};

use runcrew_model::event::ics;
use runcrew_shared::{ApiError, App, HttpFunction, Needs, response};

use crate::now_ms;

/// `GET /v1/events/{eventId}/calendar.ics`.
pub static CALENDAR: HttpFunction = HttpFunction {
    binary: "events-calendar",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(calendar(app, req)),
};

/// An RFC 5545 file of the event (`text/calendar`), for whoever may see the event: its UID
/// stays the same, so importing it again after a change updates the calendar entry, and
/// a cancelled event's file removes it. Not cached: it changes when the event does.
pub async fn calendar(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let (seen, _) = crate::seen_by_viewer(app, &req).await?;
    let text = ics::calendar(&seen.event, now_ms())?;
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"event-{}.ics\"",
        seen.event.event_id
    )) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response::add_security_headers(headers);
    Ok(resp)
}
