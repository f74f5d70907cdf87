//! Strava's OAuth: the page an athlete approves us on, the two grants of the token endpoint
//! and deauthorization.
//!
//! Access tokens live 6 hours. A refresh may return a new refresh token, and the old one
//! dies at once: store the new one before anything else, and never refresh one athlete's
//! tokens twice at the same time (the loser's old token is refused, which reads as
//! [`StravaError::Revoked`]).

use serde::Deserialize;

use super::errors::{Call, StravaError};
use super::strava::{StravaClient, decode_secret};

/// The scope the import asks for: every activity, private ones included. Athletes may
/// untick it on Strava's page; see [`granted`].
pub const SCOPE: &str = "activity:read_all";

/// New tokens for one athlete. `Debug` shows neither token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The bearer token of API calls, valid until `expires_at`.
    pub access_token: String,
    /// The token of the next refresh; it replaces the one the refresh used.
    pub refresh_token: String,
    /// When the access token expires, epoch seconds.
    pub expires_at: i64,
    /// The Strava athlete the tokens are for: `Some` after a code exchange (the answer
    /// names the athlete), `None` after a refresh (it does not).
    pub athlete_id: Option<i64>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("athlete_id", &self.athlete_id)
            .finish()
    }
}

/// The token endpoint's answer to a grant.
#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    refresh_token: String,
    expires_at: Option<i64>,
    expires_in: Option<i64>,
    athlete: Option<AthleteRef>,
}

/// The athlete of a code exchange's answer; only its id is used.
#[derive(Deserialize)]
struct AthleteRef {
    id: i64,
}

/// Whether the `scope` parameter of Strava's redirect (the scopes the athlete left ticked,
/// comma-separated, e.g. "read,activity:read_all") includes `wanted`.
pub fn granted(scope: &str, wanted: &str) -> bool {
    scope.split(',').any(|s| s.trim() == wanted)
}

impl StravaClient {
    /// The page where an athlete approves us (`{oauth_url}/authorize`), sending them back
    /// to `redirect_uri` with `code`, `scope` and `state`, or with `error=access_denied`.
    /// Every parameter is form-encoded, so a redirect URI with its own query or a state
    /// with `&` stays one parameter.
    pub fn authorize_url(&self, redirect_uri: &str, scope: &str, state: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", self.client_id())
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("approval_prompt", "auto")
            .append_pair("state", state)
            .finish();
        format!("{}/authorize?{query}", self.oauth_url())
    }

    /// Trades the `code` of Strava's redirect for the athlete's first tokens; the grant
    /// names the athlete. A used or wrong code is `Rejected`, our application at its
    /// athlete cap `AthleteLimit`.
    pub async fn exchange_code(&self, code: &str) -> Result<TokenGrant, StravaError> {
        let grant = self
            .grant(
                Call::Code,
                &[("grant_type", "authorization_code"), ("code", code)],
                code,
            )
            .await?;
        if grant.athlete_id.is_none() {
            return Err(StravaError::Unavailable {
                reason: "Strava's token answer to a code names no athlete".to_owned(),
            });
        }
        Ok(grant)
    }

    /// New tokens for the athlete of `refresh_token`. The grant's refresh token replaces
    /// the one given, which Strava no longer accepts; a refresh token Strava refuses is
    /// `Revoked` (the athlete must reconnect).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenGrant, StravaError> {
        self.grant(
            Call::Refresh,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
            refresh_token,
        )
        .await
    }

    /// Revokes our access for the athlete of `access_token` (they disconnected Strava from
    /// RunCrew): every token of theirs stops working. A token already refused is
    /// `Revoked`, which a caller disconnecting can take as done.
    pub async fn deauthorize(&self, access_token: &str) -> Result<(), StravaError> {
        let request = self
            .http()
            .post(format!("{}/deauthorize", self.oauth_url()))
            .form(&[("access_token", access_token)]);
        self.send(Call::Deauthorize, request, &[access_token])
            .await
            .map(|_| ())
    }

    /// One request to the token endpoint with our credentials and `fields`; `secret` is
    /// the code or refresh token sent.
    async fn grant(
        &self,
        call: Call,
        fields: &[(&str, &str)],
        secret: &str,
    ) -> Result<TokenGrant, StravaError> {
        let mut form = vec![
            ("client_id", self.client_id()),
            ("client_secret", self.client_secret()),
        ];
        form.extend_from_slice(fields);
        let request = self
            .http()
            .post(format!("{}/token", self.oauth_url()))
            .form(&form);
        let asked_at = self.now();
        let reply = self
            .send(call, request, &[secret, self.client_secret()])
            .await?;
        let token: TokenReply = decode_secret(&reply.body, "token answer")?;
        if token.access_token.is_empty() || token.refresh_token.is_empty() {
            return Err(StravaError::Unavailable {
                reason: "Strava's token answer has an empty token".to_owned(),
            });
        }
        let expires_at = match (token.expires_at, token.expires_in) {
            (Some(at), _) => at,
            (None, Some(seconds)) => asked_at + seconds,
            (None, None) => {
                return Err(StravaError::Unavailable {
                    reason: "Strava's token answer says no expiry".to_owned(),
                });
            }
        };
        Ok(TokenGrant {
            access_token: token.access_token,
            refresh_token: token.refresh_token,
            expires_at,
            athlete_id: token.athlete.map(|a| a.id),
        })
    }
}
