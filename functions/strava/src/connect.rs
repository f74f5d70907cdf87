//! `GET /v1/strava/connect` and `GET /v1/strava/callback`: OAuth with Strava.
//!
//! The callback is public (Strava sends the browser to it); what binds it to the caller is
//! the `state` (`runcrew_model::strava::state`). It checks, in order: the state, Strava's
//! refusal (`error=access_denied`), the granted scope (a person may untick it), then
//! exchanges the code, seals the tokens, stores the connection with its athlete link and
//! queues the first import. The browser goes back to the app (`STRAVA_APP_REDIRECT_URI`,
//! with `?outcome=`) or, when that is unset, gets JSON.

use lambda_http::{Body, Request, Response};
use runcrew_model::strava::connection::{
    self, ConnectError, Connection, MAX_SYNC_ACTIVITIES, SyncKind, SyncProgress,
};
use runcrew_model::strava::state;
use runcrew_shared::clock::{now_epoch_ms, now_rfc3339};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde_json::json;

use crate::client::{StravaError, granted};
use crate::jobs::{self, Job};
use crate::port;

/// `GET /v1/strava/connect`.
pub static CONNECT: HttpFunction = HttpFunction {
    binary: "strava-connect",
    needs: Needs::NOTHING.store().extension(port::build),
    handler: |app, req| Box::pin(connect(app, req)),
};

/// `GET /v1/strava/callback`.
pub static CALLBACK: HttpFunction = HttpFunction {
    binary: "strava-callback",
    needs: Needs::NOTHING
        .store()
        .queue()
        .cipher()
        .extension(port::build),
    handler: |app, req| Box::pin(callback(app, req)),
};

/// The key the state's MAC is made with.
pub(crate) async fn state_key(app: &App) -> Result<Vec<u8>, ApiError> {
    Ok(app.derived_key("strava-state").await?)
}

/// The context a user's Strava tokens are sealed under: a sealed token moved to another
/// user does not open.
pub fn token_context(user_id: &str) -> String {
    format!("strava-token:{user_id}")
}

/// `{authorize_url}` for the caller, with a fresh state.
pub async fn connect(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let client = port::client(app)?;
    let config = port::config(app)?;
    let now_s = now_epoch_ms() as i64 / 1000;
    let state = state::issue(app.store()?, &state_key(app).await?, &caller.user_id, now_s).await?;
    let url = client.authorize_url(&config.redirect_uri, &config.scope, &state);
    response::no_store(http::StatusCode::OK, &json!({"authorize_url": url}))
}

/// How a callback ended, as the app's deep link says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Connected; the first import is queued.
    Connected,
    /// The person said no on Strava.
    Denied,
    /// The person unticked the activities scope.
    ScopeMissing,
    /// That Strava account belongs to another RunCrew account.
    AthleteTaken,
    /// Strava's cap of connected athletes for this app is reached.
    AthleteLimit,
    /// The state was forged, expired or used.
    InvalidState,
}

impl Outcome {
    /// The `outcome` of the redirect.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Connected => "connected",
            Outcome::Denied => "denied",
            Outcome::ScopeMissing => "scope_missing",
            Outcome::AthleteTaken => "athlete_taken",
            Outcome::AthleteLimit => "athlete_limit",
            Outcome::InvalidState => "invalid_state",
        }
    }

    /// The JSON answer when no app redirect is configured.
    fn to_api(self) -> ApiError {
        match self {
            Outcome::Connected => ApiError::Internal("connected is not an error".into()),
            Outcome::Denied => ApiError::bad_request(
                "access_denied",
                Some("error"),
                "the Strava connection was declined on Strava",
            ),
            Outcome::ScopeMissing => ApiError::bad_request(
                "scope_missing",
                Some("scope"),
                "reading activities was not granted on Strava; connect again and keep it ticked",
            ),
            Outcome::AthleteTaken => ApiError::Conflict {
                code: "athlete_taken",
                message: "this Strava account is connected to another RunCrew account".into(),
            },
            Outcome::AthleteLimit => ApiError::Conflict {
                code: "athlete_limit",
                message: "Strava limits how many athletes this app may connect, and the limit is reached; try again later".into(),
            },
            Outcome::InvalidState => ApiError::bad_request(
                "invalid_state",
                Some("state"),
                "this connect link is not valid any more; connect again",
            ),
        }
    }
}

/// Strava's redirect back to us.
pub async fn callback(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let config = port::config(app)?;
    let outcome = match connect_from(app, &req).await? {
        Ok(status) => {
            return match &config.app_redirect_uri {
                Some(uri) => Ok(redirect(uri, Outcome::Connected)),
                None => response::no_store(http::StatusCode::OK, &status),
            };
        }
        Err(outcome) => outcome,
    };
    match &config.app_redirect_uri {
        Some(uri) => Ok(redirect(uri, outcome)),
        None => Err(outcome.to_api()),
    }
}

/// The connection a callback makes, as its status, or why none was made.
async fn connect_from(
    app: &App,
    req: &Request,
) -> Result<Result<serde_json::Value, Outcome>, ApiError> {
    let client = port::client(app)?;
    let config = port::config(app)?;
    let store = app.store()?;
    let now_s = now_epoch_ms() as i64 / 1000;
    let text = |name: &str| request::query_param::<String>(req, name);
    let Some(state_text) = text("state")? else {
        return Ok(Err(Outcome::InvalidState));
    };
    let user_id = match state::consume(store, &state_key(app).await?, &state_text, now_s).await? {
        Ok(user_id) => user_id,
        Err(_) => return Ok(Err(Outcome::InvalidState)),
    };
    if text("error")?.is_some() {
        return Ok(Err(Outcome::Denied));
    }
    let scope = text("scope")?.unwrap_or_default();
    if !granted(&scope, &config.scope) {
        return Ok(Err(Outcome::ScopeMissing));
    }
    let Some(code) = text("code")? else {
        return Err(ApiError::bad_request(
            "missing_parameter",
            Some("code"),
            "Strava's redirect carries no code",
        ));
    };
    let grant = match client.exchange_code(&code).await {
        Ok(grant) => grant,
        Err(StravaError::AthleteLimit) => return Ok(Err(Outcome::AthleteLimit)),
        Err(StravaError::Revoked | StravaError::Rejected { .. }) => {
            return Ok(Err(Outcome::Denied));
        }
        Err(other) => return Err(strava_unavailable(other)),
    };
    let athlete_id = grant
        .athlete_id
        .ok_or_else(|| ApiError::Internal("Strava's code exchange named no athlete".into()))?;
    let cipher = app.cipher()?;
    let context = token_context(&user_id);
    // A reconnect of the same athlete keeps what was imported and where the sweep stood.
    let previous = connection::load(store, &user_id)
        .await?
        .map(|(c, _)| c)
        .filter(|c| c.athlete_id == athlete_id);
    let connection = Connection {
        user_id: user_id.clone(),
        athlete_id,
        scopes: scope.split(',').map(str::to_owned).collect(),
        access_token: cipher.seal(&grant.access_token, &context).await?,
        refresh_token: cipher.seal(&grant.refresh_token, &context).await?,
        token_expires_at: grant.expires_at,
        connected_at: now_rfc3339(),
        last_sync_at: previous.as_ref().and_then(|c| c.last_sync_at.clone()),
        newest_start_s: previous.as_ref().map_or(0, |c| c.newest_start_s),
        runs_imported: previous.as_ref().map_or(0, |c| c.runs_imported),
        sync: Some(SyncProgress {
            kind: SyncKind::Initial,
            page: 1,
            remaining: MAX_SYNC_ACTIVITIES,
            imported: 0,
            started_ms: now_epoch_ms() as i64,
            after_s: 0,
        }),
        problem: None,
        refresh_lease_until_ms: 0,
    };
    match connection::connect(store, &connection).await? {
        Ok(()) => {}
        Err(ConnectError::AthleteTaken) => return Ok(Err(Outcome::AthleteTaken)),
    }
    jobs::queue(app, &Job::Sync { user_id }).await?;
    Ok(Ok(connection.status()))
}

/// A 302 to the app with `?outcome=`.
fn redirect(uri: &str, outcome: Outcome) -> Response<Body> {
    let mut url = uri.to_owned();
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str("outcome=");
    url.push_str(outcome.as_str());
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = http::StatusCode::FOUND;
    if let Ok(location) = http::HeaderValue::from_str(&url) {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response::add_security_headers(response.headers_mut());
    response
}

/// Strava down or refusing our own credentials: 503 with `Retry-After`.
pub fn strava_unavailable(err: StravaError) -> ApiError {
    tracing::warn!(error = %err, "Strava did not answer as expected");
    ApiError::unavailable("strava")
}
