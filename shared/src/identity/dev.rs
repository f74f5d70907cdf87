//! The `dev` provider: on a laptop, a name is enough to log in as that person.
//!
//! It exists so the whole API can be tried without any provider account. It is only built
//! when `ENVIRONMENT=local` and `DEV_LOGIN` is on, and a deployed stage refuses `DEV_LOGIN`
//! at start-up, so it cannot be reached in AWS.

use async_trait::async_trait;

use super::{Identity, IdentityError, IdentityVerifier, Provider};

/// Accepts `token` = a name of 1–40 letters, digits, `-`, `_` or `.`.
#[derive(Debug, Clone, Copy)]
pub struct DevLogin;

#[async_trait]
impl IdentityVerifier for DevLogin {
    async fn verify(&self, token: &str, _nonce: Option<&str>) -> Result<Identity, IdentityError> {
        let name = token.trim();
        let valid = (1..=40).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(IdentityError::Invalid {
                field: "token",
                message:
                    "the dev provider takes a name of 1 to 40 letters, digits, '-', '_' or '.'"
                        .into(),
            });
        }
        Ok(Identity {
            provider: Provider::Dev,
            subject: name.to_lowercase(),
            email: None,
            display_name: Some(name.to_owned()),
        })
    }
}
