//! Profiles: my own (`/v1/users/me`: read, change, export, erase) and anyone's public one
//! (`/v1/users/{userId}`).
//!
//! The public view never shows an e-mail address, provider ids or settings. In external
//! OIDC mode the user is created on first use of `/v1/users/me` from the token's claims.

use lambda_http::{Body, Request, Response};
use runcrew_model::job::{self, JobKind, JobState};
use runcrew_model::profile::{
    self, AvatarUrl, Bio, DisplayName, Profile, Units, is_user_id, load_profile, profile_key,
};
use runcrew_shared::audit::{self, AuditEvent};
use runcrew_shared::clock::{now_epoch_ms, now_rfc3339};
use runcrew_shared::identity::{Identity, Provider};
use runcrew_shared::request::Caller;
use runcrew_shared::store::versioned::{Change, Versioned};
use runcrew_shared::store::{StoreError, from_body};
use runcrew_shared::{ApiError, App, HandlerFuture, HttpFunction, Needs, request, response};
use serde::{Deserialize, Deserializer};

/// `GET /v1/users/me`.
pub static ME_GET: HttpFunction = HttpFunction {
    binary: "users-me-get",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(get_me(app, req)),
};

/// `PATCH /v1/users/me`.
pub static ME_UPDATE: HttpFunction = HttpFunction {
    binary: "users-me-update",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(update_me(app, req)),
};

/// `DELETE /v1/users/me`.
pub static ME_DELETE: HttpFunction = HttpFunction {
    binary: "users-me-delete",
    needs: Needs::NOTHING.store().queue(),
    handler: |app, req| Box::pin(delete_me(app, req)),
};

/// `POST /v1/users/me/export`.
pub static ME_EXPORT: HttpFunction = HttpFunction {
    binary: "users-me-export",
    needs: Needs::NOTHING.store().queue(),
    handler: |app, req| Box::pin(export_me(app, req)),
};

/// `GET /v1/users/{userId}`.
pub static GET_USER: HttpFunction = HttpFunction {
    binary: "users-get",
    needs: Needs::NOTHING.store(),
    handler: get_user_handler,
};

fn get_user_handler(app: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(get_user(app, req))
}

/// Every function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[&ME_GET, &ME_UPDATE, &ME_DELETE, &ME_EXPORT, &GET_USER];

pub use runcrew_model::profile::{MAX_AVATAR_URL, MAX_BIO, MAX_DISPLAY_NAME};

fn user_not_found() -> ApiError {
    ApiError::not_found("user_not_found", "no such user")
}

/// The caller's profile and version; created from the token's claims in external OIDC mode.
async fn my_profile(app: &App, req: &Request, caller: &Caller) -> Result<(Profile, u64), ApiError> {
    let store = app.store()?;
    if app.config.auth.external_oidc.is_none() {
        return load_profile(store, &caller.user_id)
            .await?
            .ok_or_else(user_not_found);
    }
    let claims = request::claims(req);
    let claim = |name: &str| claims.and_then(|c| c.get(name)).cloned();
    let identity = Identity {
        provider: Provider::Oidc,
        subject: claim("sub").unwrap_or_default(),
        email: claim("email").filter(|_| claim("email_verified").as_deref() == Some("true")),
        display_name: runcrew_shared::identity::display_name(claim("name").as_deref()),
    };
    profile::ensure_profile(store, &caller.user_id, &identity).await
}

/// `GET /v1/users/me`: the private view.
pub async fn get_me(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let (profile, _) = my_profile(app, &req, &caller).await?;
    response::no_store(http::StatusCode::OK, &profile.private_view())
}

/// Reads `null` as `Some(None)` (clear the field) and absence as `None` (keep it).
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A partial change of my profile; absent fields stay as they are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileChange {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    bio: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    avatar_url: Option<Option<String>>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    units: Option<Units>,
}

impl ProfileChange {
    /// The change as checked values, naming the first field that is wrong. An avatar must
    /// be one of `owner`'s own uploads ([`AvatarUrl`]).
    fn parse(self, app: &App, owner: &str) -> Result<ProfileUpdate, ApiError> {
        let display_name = self
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()?;
        let bio = self.bio.as_deref().map(Bio::parse).transpose()?;
        let avatar_url = match self.avatar_url {
            None => None,
            Some(None) => Some(None),
            Some(Some(url)) => Some(Some(AvatarUrl::parse(
                &url,
                &app.config.cdn_base_url,
                owner,
            )?)),
        };
        if let Some(zone) = &self.time_zone
            && jiff::tz::db().get(zone).is_err()
        {
            return Err(ApiError::invalid(
                "time_zone",
                "must be an IANA time zone such as Asia/Seoul or Europe/Berlin",
            ));
        }
        Ok(ProfileUpdate {
            display_name,
            bio,
            avatar_url,
            time_zone: self.time_zone,
            units: self.units,
        })
    }
}

/// A checked [`ProfileChange`]; absent fields stay as they are, a `Some(None)` avatar is
/// cleared.
#[derive(Debug)]
struct ProfileUpdate {
    display_name: Option<DisplayName>,
    bio: Option<Bio>,
    avatar_url: Option<Option<AvatarUrl>>,
    time_zone: Option<String>,
    units: Option<Units>,
}

impl ProfileUpdate {
    fn apply(&self, profile: &mut Profile) {
        if let Some(name) = &self.display_name {
            profile.display_name = name.as_str().to_owned();
        }
        if let Some(bio) = &self.bio {
            profile.bio = bio.as_str().to_owned();
        }
        if let Some(url) = &self.avatar_url {
            profile.avatar_url = url.as_ref().map(|u| u.as_str().to_owned());
        }
        if let Some(zone) = &self.time_zone {
            profile.time_zone = zone.clone();
        }
        if let Some(units) = self.units {
            profile.units = units;
        }
        profile.updated_at = now_rfc3339();
    }
}

/// Attempts at a read-modify-write before giving up on a busy profile.
const UPDATE_ATTEMPTS: u32 = 3;

/// `PATCH /v1/users/me`: changes only the fields sent; concurrent changes never overwrite
/// each other silently (version condition, re-read on conflict).
///
/// 401 [`profile::account_closed`] once the account is erased: its access token lives on for
/// up to 15 minutes, and the write is conditioned on the profile's version, so it never
/// brings a profile back.
pub async fn update_me(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let change: ProfileChange = request::json_body(&req)?;
    let update = change.parse(app, &caller.user_id)?;
    let store = app.store()?;
    // The first read may create the profile (external OIDC mode); later ones only re-read.
    let (first, version) = match my_profile(app, &req, &caller).await {
        Err(ApiError::NotFound { .. }) => return Err(profile::account_closed()),
        other => other?,
    };
    let update = &update;
    let profile = Versioned::new(profile_key(&caller.user_id))
        .attempts(UPDATE_ATTEMPTS)
        .already_read(Some(first.to_item(version)?))
        .apply(store, |current| async move {
            let item = current.ok_or_else(profile::account_closed)?;
            let mut profile: Profile = from_body(&item)?;
            update.apply(&mut profile);
            Ok(Change::put(profile.to_item(0)?, profile))
        })
        .await
        .map_err(|err| {
            err.or_conflict(|| ApiError::Conflict {
                code: "profile_busy",
                message: "the profile changed while it was being updated; try again".into(),
            })
        })?;
    response::no_store(http::StatusCode::OK, &profile.private_view())
}

/// `DELETE /v1/users/me`: closes the account at once (the profile and provider links go,
/// tokens find no account) and answers 202 with the erasure job's status URL; the job
/// deletes everything else the account owned in bounded steps ([`runcrew_erasure`],
/// `jobs-run`). Asking again finds the same job.
pub async fn delete_me(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let store = app.store()?;
    let asked = job::asked(app, JobKind::EraseAccount, &caller.user_id, &caller.user_id).await?;
    let (job, started) = runcrew_erasure::close_account(store, &caller.user_id, &asked).await?;
    // A job already under way has its next step queued: another chain of steps would only
    // do the same work twice. One that has not moved for a while may have lost its message
    // (parked as a dead letter): it is queued again.
    if started || (job.state != JobState::Done && job.stalled(now_epoch_ms())) {
        job::queue_step(app, &job.job_id).await?;
    }
    tracing::info!(job_id = %job.job_id, "account closed; erasure queued");
    audit::record(
        app,
        &AuditEvent {
            action: "erase",
            user_id: Some(&caller.user_id),
            request_id: &request::request_id(&req),
            ..AuditEvent::default()
        },
    )
    .await;
    job::accepted(app, &job)
}

/// `POST /v1/users/me/export`: starts the export job, which writes everything the account
/// owns as one JSON file ([`runcrew_erasure::export`]); answers 202 with the job's status
/// URL, where a download link appears once it is done. The account's size never reaches
/// the request (a heavy account's export would pass Lambda's 6 MB answer).
pub async fn export_me(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let store = app.store()?;
    // The profile must exist (made from the token's claims in external OIDC mode).
    my_profile(app, &req, &caller).await?;
    let job = job::asked(app, JobKind::Export, &caller.user_id, &caller.user_id).await?;
    store
        .transact(vec![
            job.create()?,
            profile::open_account_check(&caller.user_id),
        ])
        .await
        .map_err(|err| match err {
            StoreError::TransactionCanceled { failed } if failed.contains(&1) => {
                profile::account_closed()
            }
            other => other.into(),
        })?;
    job::queue_step(app, &job.job_id).await?;
    audit::record(
        app,
        &AuditEvent {
            action: "export",
            user_id: Some(&caller.user_id),
            request_id: &request::request_id(&req),
            ..AuditEvent::default()
        },
    )
    .await;
    job::accepted(app, &job)
}

/// `GET /v1/users/{userId}`: the public view; 404 for an unknown or malformed id.
pub async fn get_user(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let user_id = request::path_param(&req, "userId")?;
    if !is_user_id(user_id) {
        return Err(user_not_found());
    }
    let (profile, _) = load_profile(app.store()?, user_id)
        .await?
        .ok_or_else(user_not_found)?;
    response::ok(&profile.public_view())
}
