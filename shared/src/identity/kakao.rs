//! Kakao Login: the client's access token, checked with Kakao's user API.
//!
//! `GET /v1/user/access_token_info` says which app the token was issued to (a token of
//! another app must not log anyone in here) and `GET /v2/user/me` gives the numeric user id;
//! both are asked at once.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Identity, IdentityError, IdentityVerifier, Provider, display_name, provider_json};

/// Kakao Login against `api_url` (`https://kapi.kakao.com`, or a fake in tests).
#[derive(Debug, Clone)]
pub struct Kakao {
    client: reqwest::Client,
    api_url: String,
    app_id: String,
}

#[derive(Deserialize)]
struct TokenInfo {
    id: i64,
    app_id: i64,
}

#[derive(Deserialize, Default)]
struct Profile {
    #[serde(default)]
    nickname: Option<String>,
}

#[derive(Deserialize, Default)]
struct Account {
    #[serde(default)]
    profile: Option<Profile>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    is_email_verified: Option<bool>,
}

#[derive(Deserialize)]
struct Me {
    id: i64,
    #[serde(default)]
    kakao_account: Option<Account>,
    #[serde(default)]
    properties: Option<Profile>,
}

impl Kakao {
    /// A verifier accepting only tokens issued to `app_id`.
    pub fn new(client: reqwest::Client, api_url: &str, app_id: &str) -> Self {
        Kakao {
            client,
            api_url: api_url.trim_end_matches('/').to_owned(),
            app_id: app_id.to_owned(),
        }
    }
}

#[async_trait]
impl IdentityVerifier for Kakao {
    async fn verify(&self, token: &str, _nonce: Option<&str>) -> Result<Identity, IdentityError> {
        let info = self
            .client
            .get(format!("{}/v1/user/access_token_info", self.api_url))
            .bearer_auth(token)
            .send();
        let me = self
            .client
            .get(format!("{}/v2/user/me", self.api_url))
            .bearer_auth(token)
            .send();
        let (info, me) = tokio::join!(info, me);
        let info: TokenInfo = provider_json(Provider::Kakao, info).await?;
        if info.app_id.to_string() != self.app_id {
            return Err(IdentityError::Rejected(format!(
                "kakao token belongs to app {}",
                info.app_id
            )));
        }
        let me: Me = provider_json(Provider::Kakao, me).await?;
        if me.id != info.id {
            return Err(IdentityError::Rejected(
                "kakao token info and profile disagree on the user".into(),
            ));
        }
        let account = me.kakao_account.unwrap_or_default();
        let nickname = account
            .profile
            .and_then(|p| p.nickname)
            .or_else(|| me.properties.and_then(|p| p.nickname));
        Ok(Identity {
            provider: Provider::Kakao,
            subject: me.id.to_string(),
            email: account
                .email
                .filter(|_| account.is_email_verified.unwrap_or(false)),
            display_name: display_name(nickname.as_deref()),
        })
    }
}
