//! [`FetchKeys`] over the AWS SDK's own HTTP stack (hyper and rustls through
//! `aws-smithy-http-client`), for the functions that verify a bearer token on a route open
//! to everyone ([`crate::App::viewer`]). They link the SDK's client anyway; `reqwest` would
//! add a second copy of hyper's client, h2 and a TLS connector to each of them (about
//! 0.6 MB of a 12 MB binary, BENCHMARKS.md).
//!
//! It trusts the platform's roots (`SSL_CERT_FILE`), as `reqwest` does, not the Amazon
//! roots the AWS clients keep to: the issuer is our own domain, whatever certificate it
//! has, or an external OIDC provider. The social logins' timeouts apply, and no redirect
//! is followed.

use async_trait::async_trait;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::http::Request;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;

use super::{FetchKeys, Fetched, MAX_JWKS_BYTES};
use crate::identity::{PROVIDER_CONNECT_TIMEOUT, PROVIDER_REQUEST_TIMEOUT};
use crate::outbound::error_chain;

/// GETs through one pooled SDK connector, kept for the execution environment.
#[derive(Debug)]
pub struct SdkHttpKeys {
    connector: Connector,
}

impl Default for SdkHttpKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl SdkHttpKeys {
    /// A connector with the providers' connect and read timeouts. Nothing is read or
    /// connected until the first fetch.
    pub fn new() -> Self {
        let settings = HttpConnectorSettings::builder()
            .connect_timeout(PROVIDER_CONNECT_TIMEOUT)
            .read_timeout(PROVIDER_REQUEST_TIMEOUT)
            .build();
        let connector = Connector::builder()
            .connector_settings(settings)
            .sleep_impl(TokioSleep::new())
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build();
        SdkHttpKeys { connector }
    }

    async fn get(&self, url: &str) -> Result<Fetched, String> {
        let mut request = Request::new(SdkBody::empty());
        request.set_uri(url).map_err(|e| error_chain(&e))?;
        let response = self
            .connector
            .call(request)
            .await
            .map_err(|e| error_chain(&e))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status().as_u16()));
        }
        let cache_control = response.headers().get("cache-control").map(str::to_owned);
        let mut stream = ByteStream::new(response.into_body());
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk.map_err(|e| error_chain(&e))?);
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

#[async_trait]
impl FetchKeys for SdkHttpKeys {
    async fn fetch(&self, url: &str) -> Result<Fetched, String> {
        // the read timeout bounds each wait for bytes; this bounds the whole answer
        tokio::time::timeout(PROVIDER_REQUEST_TIMEOUT, self.get(url))
            .await
            .map_err(|_| format!("no answer within {PROVIDER_REQUEST_TIMEOUT:?}"))?
    }
}
