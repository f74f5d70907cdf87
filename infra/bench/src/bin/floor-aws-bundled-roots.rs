//! Floor 2 with the TLS roots compiled in (Mozilla's, from `webpki-root-certs`) instead of
//! the platform's: the alternative to `SSL_CERT_FILE` that the AWS SDK's start-up is
//! measured against. Otherwise the same as `floor-aws`.
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The SDK's trust store takes PEM, so the bundled DER roots are wrapped once here.
    let mut roots = TrustStore::empty().with_native_roots(false);
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        roots.add_pem_certificate(pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())));
    }
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(TlsContext::builder().with_trust_store(roots).build()?)
        .build_https();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
        config = config.endpoint_url(endpoint);
    }
    let client = aws_sdk_dynamodb::Client::from_conf(config.build());
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
