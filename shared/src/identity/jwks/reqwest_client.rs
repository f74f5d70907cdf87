//! [`FetchKeys`] over `reqwest`, the client the social logins already hold
//! ([`crate::identity::http_client`]: its timeouts, no redirects).

use async_trait::async_trait;

use super::{FetchKeys, Fetched, MAX_JWKS_BYTES};

#[async_trait]
impl FetchKeys for reqwest::Client {
    async fn fetch(&self, url: &str) -> Result<Fetched, String> {
        let mut response = self.get(url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let cache_control = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
            }
        }
        Ok(Fetched {
            body,
            cache_control,
        })
    }
}
