//! `GET /v1/strava/status`, `POST /v1/strava/sync-all` and `DELETE /v1/strava/connection`.

use lambda_http::{Body, Request, Response};
use runcrew_model::strava::connection::{self, MAX_SYNC_ACTIVITIES, SyncKind, SyncProgress};
use runcrew_shared::clock::now_epoch_ms;
use runcrew_shared::{ApiError, App, HttpFunction, Needs, response};
use serde_json::json;

use crate::client::StravaError;
use crate::connect::token_context;
use crate::jobs::{self, Job};
use crate::port;

/// `GET /v1/strava/status`.
pub static STATUS: HttpFunction = HttpFunction {
    binary: "strava-status",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(status(app, req)),
};

/// `POST /v1/strava/sync-all`.
pub static SYNC_ALL: HttpFunction = HttpFunction {
    binary: "strava-sync-all",
    needs: Needs::NOTHING.store().queue(),
    handler: |app, req| Box::pin(sync_all(app, req)),
};

/// `DELETE /v1/strava/connection`.
pub static DISCONNECT: HttpFunction = HttpFunction {
    binary: "strava-disconnect",
    needs: Needs::NOTHING
        .store()
        .queue()
        .cipher()
        .extension(port::build),
    handler: |app, req| Box::pin(disconnect(app, req)),
};

fn not_connected() -> ApiError {
    ApiError::NotFound {
        code: "strava_not_connected",
        message: "no Strava account is connected; connect one first".into(),
    }
}

/// The caller's connection as a person should see it (never a token).
pub async fn status(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    port::config(app)?;
    let body = match connection::load(app.store()?, &caller.user_id).await? {
        Some((connection, _)) => connection.status(),
        None => json!({"connected": false}),
    };
    response::no_store(http::StatusCode::OK, &body)
}

/// Queues an import of the caller's most recent activities (up to 200): 202; 409 while an
/// import runs; 404 when not connected.
pub async fn sync_all(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    port::config(app)?;
    let started = connection::update(app.store()?, &caller.user_id, |c| {
        // A sync lost a day ago (its message dead-lettered) does not block a new one.
        if c.sync
            .as_ref()
            .is_some_and(|s| s.is_live(now_epoch_ms() as i64))
        {
            return Err(ApiError::Conflict {
                code: "import_in_progress",
                message: "an import from Strava is running; see GET /v1/strava/status".into(),
            });
        }
        if c.problem
            .as_ref()
            .is_some_and(|p| p.code == "reconnect_needed")
        {
            return Err(ApiError::Conflict {
                code: "reconnect_needed",
                message: "Strava no longer accepts this connection; connect again".into(),
            });
        }
        c.sync = Some(SyncProgress {
            kind: SyncKind::SyncAll,
            page: 1,
            remaining: MAX_SYNC_ACTIVITIES,
            imported: 0,
            started_ms: now_epoch_ms() as i64,
            after_s: 0,
        });
        Ok(())
    })
    .await?;
    if started.is_none() {
        return Err(not_connected());
    }
    jobs::queue(
        app,
        &Job::Sync {
            user_id: caller.user_id.clone(),
        },
    )
    .await?;
    response::json(
        http::StatusCode::ACCEPTED,
        &json!({"status_url": "/v1/strava/status"}),
    )
}

/// Deauthorizes at Strava, deletes the tokens at once and queues the deletion of every
/// Strava-sourced run (the API agreement's rule when access ends): 204, also when not
/// connected.
pub async fn disconnect(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let client = port::client(app)?;
    let store = app.store()?;
    let Some(connection) = connection::remove(store, &caller.user_id).await? else {
        return Ok(response::no_content());
    };
    // The tokens are gone from the table already; telling Strava is courtesy that a
    // Strava outage must not block.
    match app
        .cipher()?
        .open(&connection.access_token, &token_context(&caller.user_id))
        .await
    {
        Ok(token) => match client.deauthorize(token.expose()).await {
            Ok(()) | Err(StravaError::Revoked) => {}
            Err(err) => {
                tracing::warn!(error = %err, "Strava did not take the deauthorization; the tokens are deleted here")
            }
        },
        Err(err) => {
            tracing::warn!(error = %err, "the access token could not be opened to deauthorize")
        }
    }
    jobs::queue(
        app,
        &Job::Purge {
            user_id: caller.user_id.clone(),
        },
    )
    .await?;
    Ok(response::no_content())
}
