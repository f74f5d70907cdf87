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
//! first link and hold them as static credentials, which is what this module does too. And
//! every endpoint the clients call (DynamoDB, S3, SQS, KMS, Secrets
//! Manager) presents a certificate that chains to an Amazon Trust Services root. So on
//! Lambda [`sdk_config`] builds the configuration from those variables directly, with an
//! HTTPS client that trusts the five Amazon roots compiled into the binary: no file read,
//! no chain, and a trust store that refuses any certificate not issued for AWS.
//!
//! Off Lambda (laptops, tests, the local gateway, CI) it keeps the default chains, so a
//! profile, SSO or an instance role keeps working there. On Lambda it falls back to the
//! chains too whenever the direct path could differ from them: the credentials missing (a
//! runtime that hands them another way), a setting only the chains read
//! ([`CHAIN_ONLY_SETTINGS`], such as an emulator's `AWS_ENDPOINT_URL`), an unreadable flag,
//! or a region of the China partition, whose endpoints are not certified by Amazon Trust
//! Services. A client pointed at an HTTPS endpoint of its own keeps the platform's roots
//! ([`AwsTrust::PlatformRoots`]).

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

/// Settings the default chains honour and the direct path does not. With any of them set
/// the chains decide, so the setting is obeyed: an emulator running the functions with its
/// own endpoints, a retry policy or an application id set by hand, container credentials.
pub const CHAIN_ONLY_SETTINGS: &[&str] = &[
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_SDK_UA_APP_ID",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
];

/// Which roots the AWS clients' HTTPS client trusts when the configuration is built from
/// the Lambda environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsTrust {
    /// Only [`AMAZON_TRUST_SERVICES_ROOTS`]: every AWS endpoint, and nothing else.
    AmazonRoots,
    /// The platform's roots (`SSL_CERT_FILE`): for a client pointed at an HTTPS endpoint of
    /// its own (an S3-compatible store in a development stage), which Amazon did not certify.
    PlatformRoots,
}

/// The SDK configuration every client of this process is built from, with `timeouts`:
/// from the Lambda environment, trusting `trust`, when the process runs inside Lambda and
/// the environment holds the credentials; from the default provider chains otherwise.
pub async fn sdk_config(timeouts: TimeoutConfig, trust: AwsTrust) -> SdkConfig {
    let from_lambda =
        from_lambda_environment(|name| std::env::var(name).ok(), timeouts.clone(), trust);
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
/// the chains must decide: `env` is not a Lambda environment (no `AWS_LAMBDA_RUNTIME_API`),
/// lacks the region or the credentials, sets one of [`CHAIN_ONLY_SETTINGS`] or a FIPS or
/// dual-stack flag other than `true` or `false`, or names a China region. A `fn` over the
/// environment so the rule is tested without one.
pub fn from_lambda_environment(
    env: impl Fn(&str) -> Option<String>,
    timeouts: TimeoutConfig,
    trust: AwsTrust,
) -> Option<SdkConfig> {
    let present = |name: &str| env(name).filter(|value| !value.is_empty());
    present("AWS_LAMBDA_RUNTIME_API")?;
    if CHAIN_ONLY_SETTINGS
        .iter()
        .any(|name| present(name).is_some())
    {
        return None;
    }
    let region = present("AWS_REGION").or_else(|| present("AWS_DEFAULT_REGION"))?;
    if region.starts_with("cn-") {
        return None;
    }
    let flag = |name: &str| match present(name) {
        None => Some(None),
        Some(value) if value.eq_ignore_ascii_case("true") => Some(Some(true)),
        Some(value) if value.eq_ignore_ascii_case("false") => Some(Some(false)),
        Some(_) => None,
    };
    let use_fips = flag("AWS_USE_FIPS_ENDPOINT")?;
    let use_dual_stack = flag("AWS_USE_DUALSTACK_ENDPOINT")?;
    let credentials = Credentials::new(
        present("AWS_ACCESS_KEY_ID")?,
        present("AWS_SECRET_ACCESS_KEY")?,
        present("AWS_SESSION_TOKEN"),
        None,
        LAMBDA_CREDENTIALS,
    );
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client(trust))
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        .retry_config(RetryConfig::standard())
        .timeout_config(timeouts);
    config.set_use_fips(use_fips);
    config.set_use_dual_stack(use_dual_stack);
    Some(config.build())
}

/// The SDK's own hyper and rustls client (its retry and timeout classification intact),
/// trusting only [`AMAZON_TRUST_SERVICES_ROOTS`] or, for [`AwsTrust::PlatformRoots`], the
/// platform's roots.
fn https_client(trust: AwsTrust) -> aws_types::sdk_config::SharedHttpClient {
    let builder =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
    if trust == AwsTrust::PlatformRoots {
        return builder.build_https();
    }
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
        from_lambda_environment(
            |name| env.get(name).cloned(),
            TimeoutConfig::disabled(),
            AwsTrust::AmazonRoots,
        )
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
    fn a_setting_only_the_chains_read_sends_the_start_through_the_chains() {
        for name in CHAIN_ONLY_SETTINGS {
            // given a Lambda environment that also sets what the direct path would ignore
            let env = lambda_env(&[(name, "http://localhost:4566")]);
            // then the chains build the configuration, so the setting is obeyed
            assert!(config_from(&env).is_none(), "with {name} the chains decide");
        }
    }

    #[test]
    fn a_china_region_or_an_unreadable_flag_sends_the_start_through_the_chains() {
        for extra in [
            ("AWS_REGION", "cn-north-1"),
            ("AWS_USE_FIPS_ENDPOINT", "1"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "yes"),
        ] {
            let env = lambda_env(&[extra]);
            assert!(
                config_from(&env).is_none(),
                "with {extra:?} the chains decide"
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
