//! Naver Login: the client's access token, checked with Naver's profile API.
//!
//! `GET /v1/nid/me` answers `{resultcode, message, response{id, ...}}`; only `resultcode`
//! "00" is a success, whatever the HTTP status says.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Identity, IdentityError, IdentityVerifier, Provider, display_name};

/// Naver Login against `api_url` (`https://openapi.naver.com`, or a fake in tests).
#[derive(Debug, Clone)]
pub struct Naver {
    client: reqwest::Client,
    api_url: String,
}

#[derive(Deserialize)]
struct Profile {
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Reply {
    resultcode: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    response: Option<Profile>,
}

impl Naver {
    /// A verifier asking `api_url`.
    pub fn new(client: reqwest::Client, api_url: &str) -> Self {
        Naver {
            client,
            api_url: api_url.trim_end_matches('/').to_owned(),
        }
    }
}

#[async_trait]
impl IdentityVerifier for Naver {
    async fn verify(&self, token: &str, _nonce: Option<&str>) -> Result<Identity, IdentityError> {
        let unavailable = |detail: String| IdentityError::Unavailable {
            provider: Provider::Naver,
            detail,
        };
        let response = self
            .client
            .get(format!("{}/v1/nid/me", self.api_url))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| unavailable(format!("request failed: {e}")))?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(unavailable(format!("answered {status}")));
        }
        // Naver answers token errors as JSON with a resultcode, on 200 or 401 alike.
        let reply: Reply = response
            .json()
            .await
            .map_err(|e| unavailable(format!("unreadable reply ({status}): {e}")))?;
        if reply.resultcode != "00" {
            return Err(IdentityError::Rejected(format!(
                "naver resultcode {}: {}",
                reply.resultcode, reply.message
            )));
        }
        let profile = reply
            .response
            .filter(|p| !p.id.is_empty())
            .ok_or_else(|| IdentityError::Rejected("naver reply has no user id".into()))?;
        let name = profile.nickname.or(profile.name);
        Ok(Identity {
            provider: Provider::Naver,
            subject: profile.id,
            email: profile.email,
            display_name: display_name(name.as_deref()),
        })
    }
}
