//! Login, refresh and logout: social-login tokens in, our own tokens out.
//!
//! - `POST /v1/auth/login` `{provider, token, nonce?}`: the provider vouches for the person
//!   ([`runcrew_shared::identity`]), the first login creates the user, a session opens, and
//!   the answer carries an RS256 access token and an opaque refresh token.
//! - `POST /v1/auth/refresh` `{refresh_token}`: rotates the refresh token; a replaced one
//!   presented again ends the session ([`runcrew_model::session`]).
//! - `POST /v1/auth/logout` `{all?}`: ends this session, or every session.
//!
//! Web pages keep the refresh token in an `HttpOnly` cookie instead of the body
//! ([`web_session`]): a login asks for it, a refresh sends the cookie and a custom header,
//! a logout clears it.
//!
//! Login and refresh are limited per client address and per account in the table
//! ([`runcrew_shared::rate_limit`]), and every outcome that matters is audited.

use lambda_http::{Body, Request, Response};
use runcrew_model::profile::{self, new_user_id};
use runcrew_shared::app::external_user_id;
use runcrew_shared::audit::{self, AuditEvent};
use runcrew_shared::identity::{Identity, IdentityError, Provider};
use runcrew_shared::rate_limit::FixedWindow;
use runcrew_shared::store::Store;
use runcrew_shared::{ApiError, App, HandlerFuture, HttpFunction, Needs, request, response};
use serde::Deserialize;

use runcrew_model::session::{self, Presented, RefreshToken};

pub mod web_session;

use web_session::Delivery;

/// `POST /v1/auth/login`.
pub static LOGIN: HttpFunction = HttpFunction {
    binary: "auth-login",
    needs: Needs::NOTHING.store().keys().identity(),
    handler: login_handler,
};

/// `POST /v1/auth/refresh`.
pub static REFRESH: HttpFunction = HttpFunction {
    binary: "auth-refresh",
    needs: Needs::NOTHING.store().keys(),
    handler: refresh_handler,
};

/// `POST /v1/auth/logout`.
pub static LOGOUT: HttpFunction = HttpFunction {
    binary: "auth-logout",
    needs: Needs::NOTHING.store(),
    handler: logout_handler,
};

/// Every function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[&LOGIN, &REFRESH, &LOGOUT];

fn login_handler(app: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(login(app, req))
}

fn refresh_handler(app: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(refresh(app, req))
}

fn logout_handler(app: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(logout(app, req))
}

/// The longest provider token read (Apple and Google id_tokens are about 1 KB).
pub const MAX_PROVIDER_TOKEN_BYTES: usize = 8 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    provider: String,
    token: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    refresh_token_delivery: Delivery,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LogoutRequest {
    #[serde(default)]
    all: bool,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The two limits every login and refresh passes: per client address, then per account.
struct Limits {
    per_ip: FixedWindow,
    per_account: FixedWindow,
}

impl Limits {
    fn of(app: &App) -> Self {
        let auth = &app.config.auth;
        Limits {
            per_ip: FixedWindow {
                scope: "auth-ip",
                limit: auth.rate_limit_per_ip,
                window_seconds: auth.rate_limit_window_seconds,
            },
            per_account: FixedWindow {
                scope: "auth-account",
                limit: auth.rate_limit_per_account,
                window_seconds: auth.rate_limit_window_seconds,
            },
        }
    }
}

/// What login and refresh check first, before reading the body: the per-address limit
/// (every attempt counts, malformed ones too), then external OIDC mode.
struct Attempt<'a> {
    store: &'a dyn Store,
    request_id: String,
    ip: String,
    limits: Limits,
}

impl<'a> Attempt<'a> {
    async fn begin(app: &'a App, req: &Request) -> Result<Self, ApiError> {
        let store = app.store()?;
        let ip = request::client_ip(req, app.config.auth.client_ip);
        let limits = Limits::of(app);
        limits.per_ip.hit(store, &ip, now()).await?;
        external_mode(app)?;
        Ok(Attempt {
            store,
            request_id: request::request_id(req),
            ip,
            limits,
        })
    }
}

fn external_mode(app: &App) -> Result<(), ApiError> {
    match &app.config.auth.external_oidc {
        None => Ok(()),
        Some(oidc) => Err(ApiError::Conflict {
            code: "external_identity_provider",
            message: format!(
                "this API accepts tokens of {} and issues none itself: sign in there",
                oidc.issuer
            ),
        }),
    }
}

/// Our user id for a new account: random, except the `dev` provider's, which is derived
/// from the name so `alice` is the same user on every laptop and in every sample event.
fn user_id_for(identity: &Identity) -> String {
    match identity.provider {
        Provider::Dev => external_user_id("runcrew-dev", &identity.subject),
        _ => new_user_id(),
    }
}

fn failure_reason(err: &IdentityError) -> &'static str {
    match err {
        IdentityError::Rejected(_) => "token rejected",
        IdentityError::Invalid { .. } => "invalid request",
        IdentityError::NotConfigured(_) => "provider not enabled",
        IdentityError::Unavailable { .. } => "provider unavailable",
    }
}

/// `POST /v1/auth/login`: 201 with `new_user: true` on a provider account's first login,
/// else 200; never cached.
pub async fn login(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let Attempt {
        store,
        request_id,
        ip,
        limits,
    } = Attempt::begin(app, &req).await?;

    let body: LoginRequest = request::json_body(&req)?;
    let body_delivery = body.refresh_token_delivery;
    let provider = Provider::parse_login(&body.provider).ok_or_else(|| {
        ApiError::invalid(
            "provider",
            "must be one of kakao, naver, google, apple, dev",
        )
    })?;
    if body.token.trim().is_empty() {
        return Err(ApiError::invalid("token", "must not be empty"));
    }
    if body.token.len() > MAX_PROVIDER_TOKEN_BYTES {
        return Err(ApiError::invalid(
            "token",
            format!("must be at most {MAX_PROVIDER_TOKEN_BYTES} bytes"),
        ));
    }

    let verified = app
        .identity()?
        .verify(provider, body.token.trim(), body.nonce.as_deref())
        .await;
    let identity = match verified {
        Ok(identity) => identity,
        Err(err) => {
            tracing::info!(provider = provider.as_str(), reason = %err, "login refused");
            audit::record(
                app,
                &AuditEvent {
                    action: "login",
                    failed: true,
                    provider: Some(provider.as_str()),
                    client_ip: Some(&ip),
                    reason: Some(failure_reason(&err)),
                    request_id: &request_id,
                    ..AuditEvent::default()
                },
            )
            .await;
            return Err(err.into());
        }
    };
    limits
        .per_account
        .hit(
            store,
            &format!("{}:{}", provider.as_str(), identity.subject),
            now(),
        )
        .await?;

    let account = profile::find_or_create(store, &identity, || user_id_for(&identity)).await?;
    let now = now();
    let (session, refresh) = session::open(app, &account.user_id, provider, now).await?;
    evict_beyond_cap(app, &account.user_id, &request_id).await?;
    audit::record(
        app,
        &AuditEvent {
            action: "login",
            user_id: Some(&account.user_id),
            provider: Some(provider.as_str()),
            session_id: Some(&session.session_id),
            client_ip: Some(&ip),
            reason: account.created.then_some("new user"),
            request_id: &request_id,
            ..AuditEvent::default()
        },
    )
    .await;
    let mut body = session::token_response(app, &session, &refresh, now)?;
    body["new_user"] = serde_json::Value::Bool(account.created);
    let status = if account.created {
        http::StatusCode::CREATED
    } else {
        http::StatusCode::OK
    };
    tokens_answer(app, status, body, &refresh, body_delivery)
}

/// The token answer, with the refresh token where `delivery` says: in the body, or only in
/// the web session's cookie.
fn tokens_answer(
    app: &App,
    status: http::StatusCode,
    mut body: serde_json::Value,
    refresh: &RefreshToken,
    delivery: Delivery,
) -> Result<Response<Body>, ApiError> {
    if delivery == Delivery::Body {
        return response::no_store(status, &body);
    }
    if let Some(fields) = body.as_object_mut() {
        fields.remove("refresh_token");
    }
    let mut answer = response::no_store(status, &body)?;
    answer.headers_mut().append(
        http::header::SET_COOKIE,
        web_session::set_cookie(
            &refresh.expose(),
            app.config.auth.refresh_token_ttl_seconds,
            secure_cookies(app),
        ),
    );
    Ok(answer)
}

/// Cookies are `Secure` everywhere but on a laptop, which serves plain HTTP.
fn secure_cookies(app: &App) -> bool {
    app.config.environment != runcrew_shared::config::Environment::Local
}

/// Ends the oldest sessions beyond `MAX_SESSIONS`.
async fn evict_beyond_cap(app: &App, user_id: &str, request_id: &str) -> Result<(), ApiError> {
    let store = app.store()?;
    let open = session::list(store, user_id).await?;
    let excess = open.len().saturating_sub(app.config.auth.max_sessions);
    if excess == 0 {
        return Ok(());
    }
    let oldest: Vec<String> = open[..excess]
        .iter()
        .map(|s| s.session_id.clone())
        .collect();
    session::end(store, user_id, &oldest).await?;
    for session_id in &oldest {
        audit::record(
            app,
            &AuditEvent {
                action: "session_evicted",
                user_id: Some(user_id),
                session_id: Some(session_id),
                reason: Some("session cap reached"),
                request_id,
                ..AuditEvent::default()
            },
        )
        .await;
    }
    Ok(())
}

fn invalid_refresh() -> ApiError {
    ApiError::Unauthorized("the refresh token is not valid; log in again".into())
}

/// `POST /v1/auth/refresh`: a new token pair, or 401 for a token that cannot rotate
/// (unknown, expired, beaten by a parallel refresh, or replaced, which also ends its
/// session).
pub async fn refresh(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let Attempt {
        store,
        request_id,
        ip,
        limits,
    } = Attempt::begin(app, &req).await?;

    // Apps send the token in the body; a web page's browser sends the cookie, with the
    // custom header a cross-site form cannot add.
    let body: RefreshRequest = request::optional_json_body(&req)?.unwrap_or_default();
    let (raw, delivery) = match body.refresh_token {
        Some(token) => (token, Delivery::Body),
        None => {
            // No token at all is a token that cannot rotate: 401, like any other.
            let token = web_session::cookie_token(&req).ok_or_else(|| {
                ApiError::Unauthorized(
                    "no refresh token: send refresh_token, or the web session's cookie".into(),
                )
            })?;
            web_session::require_csrf_header(&req)?;
            (token, Delivery::Cookie)
        }
    };
    let token = RefreshToken::parse(&raw).ok_or_else(invalid_refresh)?;

    match session::present(store, &token).await? {
        Presented::Current(session, version) => {
            // Counted only for a proven token: user ids are public, so counting guesses
            // per account would let anyone lock a user out of refreshing.
            limits
                .per_account
                .hit(store, &format!("user:{}", token.user_id), now())
                .await?;
            let now = now();
            let (session, refresh) = session::rotate(app, session, version, now)
                .await?
                .ok_or_else(invalid_refresh)?;
            let body = session::token_response(app, &session, &refresh, now)?;
            tokens_answer(app, http::StatusCode::OK, body, &refresh, delivery)
        }
        Presented::Reused(session) => {
            session::end(
                store,
                &session.user_id,
                std::slice::from_ref(&session.session_id),
            )
            .await?;
            tracing::warn!(session_id = %session.session_id, "a replaced refresh token was presented again; session ended");
            audit::record(
                app,
                &AuditEvent {
                    action: "refresh_reuse",
                    failed: true,
                    user_id: Some(&session.user_id),
                    session_id: Some(&session.session_id),
                    client_ip: Some(&ip),
                    reason: Some("replaced refresh token presented again; session ended"),
                    request_id: &request_id,
                    ..AuditEvent::default()
                },
            )
            .await;
            Err(invalid_refresh())
        }
        Presented::Unknown => Err(invalid_refresh()),
    }
}

/// `POST /v1/auth/logout`: 204 whether or not the session was still open; 401
/// [`profile::account_closed`] when the account was erased (the access token outlives it by
/// up to 15 minutes).
pub async fn logout(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let body: LogoutRequest = request::optional_json_body(&req)?.unwrap_or_default();
    let store = app.store()?;
    // The caller's own session always, so the account is checked even with nothing else
    // left to end (`all` after the sessions expired, or after an erasure).
    let mut ended: Vec<String> = caller.session_id.iter().cloned().collect();
    if body.all {
        for session in session::list(store, &caller.user_id).await? {
            if !ended.contains(&session.session_id) {
                ended.push(session.session_id);
            }
        }
    }
    session::end_for_open_account(store, &caller.user_id, &ended).await?;
    audit::record(
        app,
        &AuditEvent {
            action: "logout",
            user_id: Some(&caller.user_id),
            session_id: caller.session_id.as_deref(),
            reason: body.all.then_some("all sessions"),
            request_id: &request::request_id(&req),
            ..AuditEvent::default()
        },
    )
    .await;
    let mut answer = response::no_content();
    if web_session::cookie_token(&req).is_some() {
        // The session is over: the browser may forget its refresh cookie too.
        answer.headers_mut().append(
            http::header::SET_COOKIE,
            web_session::clear_cookie(secure_cookies(app)),
        );
    }
    Ok(answer)
}
