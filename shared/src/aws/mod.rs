//! The AWS SDK's configuration, built for where the function runs.
//!
//! `aws_config::defaults(..).load()` is made for any machine: it walks the region and
//! credential provider chains (environment, profile files, SSO, web identity, ECS, IMDS),
//! reads the profile files several times, and its HTTPS client loads every root
//! certificate the platform has (under `/etc/ssl/certs` on Debian) when the first client is
//! built, then parses them again for the first connection. On a cold Lambda start that is
//! about 2 ms before the first request and half a millisecond in it (BENCHMARKS.md, "Where
//! a cold start goes").
//!
//! Inside Lambda none of it is needed. The runtime puts the region and the function role's
//! credentials in the environment (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); the default chain would stop at that same
//! first link and treat them as static, since Lambda never renews them within an execution
//! environment. And every endpoint the clients call (DynamoDB, S3, SQS, KMS, Secrets
//! Manager) presents a certificate that chains to an Amazon Trust Services root. So on
//! Lambda [`sdk_config`] builds the configuration from those variables directly, with an
//! HTTPS client that trusts the five Amazon roots compiled into the binary: no file read,
//! no chain, and a trust store that refuses any certificate not issued for AWS.
//!
//! Off Lambda (laptops, tests, the local gateway, CI) it keeps the default chains, so a
//! profile, SSO or an instance role keeps working there. On Lambda without the variables
//! (a runtime that hands credentials another way) it falls back to the chains too.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};

/// The roots of Amazon Trust Services, which sign every AWS endpoint's certificate
/// (Amazon Root CA 1–4 and Starfield Services Root CA G2, valid until 2037–2040).
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services.pem");

/// The name the credentials carry in the SDK's logs and errors.
const LAMBDA_CREDENTIALS: &str = "LambdaEnvironment";

/// The SDK configuration every client of this process is built from, with `timeouts`:
/// from the Lambda environment when the process runs inside Lambda and the environment
/// holds the credentials, from the default provider chains otherwise.
pub async fn sdk_config(timeouts: TimeoutConfig) -> SdkConfig {
    let from_lambda = from_lambda_environment(|name| std::env::var(name).ok(), timeouts.clone());
    match from_lambda {
        Some(config) => config,
        None => {
            aws_config::defaults(BehaviorVersion::latest())
                .timeout_config(timeouts)
                .load()
                .await
        }
    }
}

/// The configuration straight from the variables the Lambda runtime sets, or `None` when
/// `env` is not a Lambda environment (no `AWS_LAMBDA_RUNTIME_API`) or lacks the region or
/// the credentials. A `fn` over the environment so the rule is tested without one.
pub fn from_lambda_environment(
    env: impl Fn(&str) -> Option<String>,
    timeouts: TimeoutConfig,
) -> Option<SdkConfig> {
    let present = |name: &str| env(name).filter(|value| !value.is_empty());
    present("AWS_LAMBDA_RUNTIME_API")?;
    let region = present("AWS_REGION").or_else(|| present("AWS_DEFAULT_REGION"))?;
    let credentials = Credentials::new(
        present("AWS_ACCESS_KEY_ID")?,
        present("AWS_SECRET_ACCESS_KEY")?,
        present("AWS_SESSION_TOKEN"),
        None,
        LAMBDA_CREDENTIALS,
    );
    let flag = |name: &str| present(name).map(|value| value.eq_ignore_ascii_case("true"));
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(amazon_https_client())
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        .retry_config(RetryConfig::standard())
        .timeout_config(timeouts);
    config.set_use_fips(flag("AWS_USE_FIPS_ENDPOINT"));
    config.set_use_dual_stack(flag("AWS_USE_DUALSTACK_ENDPOINT"));
    Some(config.build())
}

/// The SDK's own hyper and rustls client (its retry and timeout classification intact),
/// trusting only [`AMAZON_TRUST_SERVICES_ROOTS`].
fn amazon_https_client() -> aws_types::sdk_config::SharedHttpClient {
    let builder =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
    let mut roots = TrustStore::empty().with_native_roots(false);
    roots.add_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS.as_bytes());
    match TlsContext::builder().with_trust_store(roots).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Not reachable with a trust store and no other setting; the platform's roots are
        // still a working client if a later SDK adds a rule this breaks.
        Err(err) => {
            tracing::warn!(error = %err, "the Amazon roots were refused; using the platform's");
            builder.build_https()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lambda_env(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = [
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_REGION", "ap-northeast-2"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret-example"),
            ("AWS_SESSION_TOKEN", "session-example"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        env
    }

    fn config_from(env: &HashMap<String, String>) -> Option<SdkConfig> {
        from_lambda_environment(|name| env.get(name).cloned(), TimeoutConfig::disabled())
    }

    #[tokio::test]
    async fn inside_lambda_the_region_and_role_credentials_come_from_the_environment() {
        // given the variables the Lambda runtime sets
        let env = lambda_env(&[]);
        // when the configuration is built
        let config = config_from(&env).expect("a Lambda environment");
        // then it names that region and hands out those credentials, with their session token
        assert_eq!(config.region().map(|r| r.as_ref()), Some("ap-northeast-2"));
        use aws_credential_types::provider::ProvideCredentials as _;
        let provider = config.credentials_provider().expect("credentials");
        let credentials = provider
            .provide_credentials()
            .await
            .expect("static credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret-example");
        assert_eq!(credentials.session_token(), Some("session-example"));
        assert!(
            config.http_client().is_some(),
            "the Amazon-roots client is set"
        );
    }

    #[test]
    fn outside_lambda_or_without_credentials_the_default_chains_are_used() {
        for missing in [
            "AWS_LAMBDA_RUNTIME_API",
            "AWS_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            let mut env = lambda_env(&[]);
            env.remove(missing);
            assert!(
                config_from(&env).is_none(),
                "without {missing} the chains decide"
            );
        }
    }

    #[test]
    fn fips_and_dual_stack_endpoints_follow_the_sdk_variables() {
        let env = lambda_env(&[
            ("AWS_USE_FIPS_ENDPOINT", "true"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "false"),
        ]);
        let config = config_from(&env).expect("a Lambda environment");
        assert_eq!(config.use_fips(), Some(true));
        assert_eq!(config.use_dual_stack(), Some(false));
    }

    #[test]
    fn the_trust_store_is_the_five_amazon_roots() {
        let roots = pem::parse_many(AMAZON_TRUST_SERVICES_ROOTS).expect("PEM");
        assert_eq!(roots.len(), 5);
        assert!(roots.iter().all(|root| root.tag() == "CERTIFICATE"));
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            let present = roots.iter().any(|root| {
                root.contents()
                    .windows(name.len())
                    .any(|w| w == name.as_bytes())
            });
            assert!(present, "{name} is in the trust store");
        }
    }
}
