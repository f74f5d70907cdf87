//! Floor 2: a hello-world that builds what most of our functions build at init (aws-config
//! and a DynamoDB client) and makes one GetItem per request. Functions with AWS clients are
//! measured against it.
//!
//! A function that also builds the S3 or SQS client is measured against this floor built
//! with the same clients: features `floor-s3` and `floor-sqs` (infra/scripts/bench builds
//! each combination and names it `floor-aws-s3`, `floor-aws-sqs`, `floor-aws-s3-sqs`).
//!
//! Feature `floor-bundled-roots` (`floor-aws-bundled-roots`) gives the SDK Mozilla's roots
//! compiled in (`webpki-root-certs`) instead of the platform's: the alternative to
//! `SSL_CERT_FILE` that the SDK's TLS start-up is measured against.
//!
//! Feature `floor-lean` (`floor-aws-lean`) makes the same trims as every function: the SDK
//! configuration from the Lambda environment with the Amazon roots
//! (`runcrew_shared::aws::sdk_config`) and a current-thread runtime. It keeps the ratios
//! honest: a function is compared with a floor that starts the way it does.
//!
//! With `floor-pie` as well (`floor-aws-lean-pie`) the lean floor is linked
//! position-independent, as rustc links by default, rather than at a fixed address as the
//! functions are (build.rs): the two side by side show what that link saves. The bench
//! builds the lean floors as it builds the functions, statically linked (`+crt-static`), so
//! that one is `-static-pie` against a plain static executable.
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, Response, service_fn};

/// The SDK's configuration from the environment, as the default provider chains load it.
#[cfg(not(any(feature = "floor-bundled-roots", feature = "floor-lean")))]
async fn sdk() -> Result<aws_config::SdkConfig, Error> {
    Ok(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
}

/// The same with the roots compiled in. The SDK's trust store takes PEM, so the bundled
/// DER roots are wrapped once here.
#[cfg(feature = "floor-bundled-roots")]
async fn sdk() -> Result<aws_config::SdkConfig, Error> {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let mut roots = TrustStore::empty().with_native_roots(false);
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        roots.add_pem_certificate(pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())));
    }
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(TlsContext::builder().with_trust_store(roots).build()?)
        .build_https();
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await)
}

/// The SDK's configuration as every function builds it, after the name lookups every
/// function's start keeps inside a static binary (`runcrew_shared::function::begin`).
#[cfg(feature = "floor-lean")]
async fn sdk() -> Result<aws_config::SdkConfig, Error> {
    runcrew_nss::keep_lookups_inside_the_binary()?;
    Ok(runcrew_shared::aws::sdk_config(
        runcrew_shared::app::aws_timeouts(),
        runcrew_shared::aws::AwsTrust::AmazonRoots,
    )
    .await)
}

#[cfg_attr(feature = "floor-lean", tokio::main(flavor = "current_thread"))]
#[cfg_attr(not(feature = "floor-lean"), tokio::main)]
async fn main() -> Result<(), Error> {
    let sdk = sdk().await?;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
        config = config.endpoint_url(endpoint);
    }
    let client = aws_sdk_dynamodb::Client::from_conf(config.build());
    #[cfg(feature = "floor-s3")]
    let _bucket = std::hint::black_box(aws_sdk_s3::Client::new(&sdk));
    #[cfg(feature = "floor-sqs")]
    let _queue = std::hint::black_box(aws_sdk_sqs::Client::new(&sdk));
    let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "runcrew-bench".into());
    lambda_http::run(service_fn(move |_req: Request| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let found = client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S("BENCH".into()))
                .key("sk", AttributeValue::S("FLOOR".into()))
                .send()
                .await?;
            Ok::<_, Error>(Response::new(Body::from(format!(
                "{{\"found\":{}}}",
                found.item.is_some()
            ))))
        }
    }))
    .await
}
