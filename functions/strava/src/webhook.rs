//! `GET` and `POST /v1/strava/webhook`: Strava's push subscription.
//!
//! The GET validates a subscription (`hub.verify_token` must be ours; the challenge is
//! echoed). The POST answers 200 at once (Strava waits 2 s and retries 3 times) after
//! queueing the event as a job; the work happens in `strava-import`. Events are not
//! signed: one whose `subscription_id` is not ours, or whose athlete is not connected here,
//! is acknowledged and ignored, and a delete or an update is checked with Strava before
//! anything changes, so a forged event can only make the importer look.

use lambda_http::{Body, Request, Response};
use runcrew_model::strava::connection;
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::jobs::{self, Job};
use crate::port;

/// `GET /v1/strava/webhook`.
pub static VERIFY: HttpFunction = HttpFunction {
    binary: "strava-webhook-verify",
    needs: Needs::NOTHING,
    handler: |app, req| Box::pin(verify(app, req)),
};

/// `POST /v1/strava/webhook`.
pub static EVENT: HttpFunction = HttpFunction {
    binary: "strava-webhook",
    needs: Needs::NOTHING.store().queue(),
    handler: |app, req| Box::pin(event(app, req)),
};

/// Echoes `hub.challenge` when `hub.verify_token` is ours.
pub async fn verify(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let config = port::config(app)?;
    let ours = config
        .webhook_verify_token
        .as_deref()
        .ok_or_else(|| ApiError::NotConfigured {
            code: "strava_not_configured",
            message: "no webhook verify token is set up (STRAVA_WEBHOOK_VERIFY_TOKEN)".into(),
        })?;
    let param = |name: &str| request::query_param::<String>(&req, name);
    if param("hub.mode")?.as_deref() != Some("subscribe") {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            Some("hub.mode"),
            "must be subscribe",
        ));
    }
    let given = param("hub.verify_token")?.unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(ours.as_bytes())) {
        return Err(ApiError::Forbidden("the verify token is not ours".into()));
    }
    let challenge = param("hub.challenge")?.ok_or_else(|| {
        ApiError::bad_request(
            "missing_parameter",
            Some("hub.challenge"),
            "Strava sends a challenge to echo",
        )
    })?;
    response::ok(&json!({"hub.challenge": challenge}))
}

/// One webhook event as Strava posts it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// `activity` or `athlete`.
    pub object_type: String,
    /// The activity's id, or the athlete's.
    pub object_id: i64,
    /// `create`, `update` or `delete`.
    pub aspect_type: String,
    /// What changed (`title`, `type`, `private`; `authorized` for an athlete), as strings.
    #[serde(default)]
    pub updates: serde_json::Map<String, Value>,
    /// The athlete.
    pub owner_id: i64,
    /// Our subscription, if the event is ours.
    pub subscription_id: i64,
}

/// The job an event asks for, for `user_id`; `None` for one we do not act on.
pub fn job_of(event: &Event, user_id: &str) -> Option<Job> {
    let user_id = user_id.to_owned();
    let text = |name: &str| event.updates.get(name).and_then(Value::as_str);
    match (event.object_type.as_str(), event.aspect_type.as_str()) {
        ("activity", "create") => Some(Job::Activity {
            user_id,
            activity_id: event.object_id,
        }),
        ("activity", "delete") => Some(Job::Delete {
            user_id,
            activity_id: event.object_id,
        }),
        ("activity", "update") => {
            let private = text("private").map(|p| p == "true");
            let sport_type = text("type").map(str::to_owned);
            (private.is_some() || sport_type.is_some()).then_some(Job::Update {
                user_id,
                activity_id: event.object_id,
                private,
                sport_type,
            })
        }
        ("athlete", "update") if text("authorized") == Some("false") => {
            Some(Job::Revoked { user_id })
        }
        _ => None,
    }
}

/// Acknowledges at once; queues what the event asks for.
pub async fn event(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let config = port::config(app)?;
    let event: Event = request::json_body(&req)?;
    let ignored = |why: &str| {
        tracing::info!(object_type = %event.object_type, aspect_type = %event.aspect_type, why, "Strava event ignored");
        response::ok(&json!({"received": true}))
    };
    if config
        .subscription_id
        .is_some_and(|ours| ours != event.subscription_id)
    {
        return ignored("another subscription");
    }
    let Some(user_id) = connection::user_of_athlete(app.store()?, event.owner_id).await? else {
        return ignored("athlete not connected here");
    };
    let Some(job) = job_of(&event, &user_id) else {
        return ignored("nothing to do");
    };
    jobs::queue(app, &job).await?;
    response::ok(&json!({"received": true}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(object_type: &str, aspect_type: &str, updates: Value) -> Event {
        serde_json::from_value(json!({
            "object_type": object_type, "object_id": 42, "aspect_type": aspect_type,
            "updates": updates, "owner_id": 7, "subscription_id": 120475, "event_time": 1516126040
        }))
        .expect("an event")
    }

    #[test]
    fn each_event_becomes_the_job_it_asks_for() {
        assert!(matches!(
            job_of(&event("activity", "create", json!({})), "u"),
            Some(Job::Activity {
                activity_id: 42,
                ..
            })
        ));
        assert!(matches!(
            job_of(&event("activity", "delete", json!({})), "u"),
            Some(Job::Delete { .. })
        ));
        assert_eq!(
            job_of(
                &event("activity", "update", json!({"private": "true"})),
                "u"
            ),
            Some(Job::Update {
                user_id: "u".into(),
                activity_id: 42,
                private: Some(true),
                sport_type: None
            })
        );
        assert_eq!(
            job_of(
                &event("activity", "update", json!({"title": "Morning Run"})),
                "u"
            ),
            None,
            "titles are not kept"
        );
        assert_eq!(
            job_of(
                &event("athlete", "update", json!({"authorized": "false"})),
                "u"
            ),
            Some(Job::Revoked {
                user_id: "u".into()
            })
        );
        assert_eq!(
            job_of(
                &event("athlete", "update", json!({"authorized": "true"})),
                "u"
            ),
            None
        );
    }
}
