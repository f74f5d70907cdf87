//! The AWS configuration the functions build inside Lambda (`runcrew_shared::aws`): from the
//! runtime's environment variables, with the Amazon roots, no provider chain. The unit
//! tests beside it check what it reads; these check that a store built from it works.

use std::collections::HashMap;

use runcrew_shared::app::aws_timeouts;
use runcrew_shared::aws::AwsTrust;
use runcrew_shared::store::dynamodb::DynamoStore;
use runcrew_shared::store::{Condition, Item, Key, Store};
use runcrew_tests::{codec, dynamodb_endpoint};
use serde_json::json;

/// The configuration a function builds inside Lambda, from the variables the runtime sets.
fn lambda_sdk_config() -> aws_config::SdkConfig {
    let env: HashMap<&str, &str> = HashMap::from([
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_SESSION_TOKEN", "session"),
    ]);
    runcrew_shared::aws::from_lambda_environment(
        |name| env.get(name).map(|value| (*value).to_owned()),
        aws_timeouts(),
        AwsTrust::AmazonRoots,
    )
    .expect("a Lambda environment")
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_built_from_the_lambda_environment_writes_and_reads_the_table() {
    // given the configuration a function builds inside Lambda, on a current-thread runtime
    let sdk = lambda_sdk_config();
    let table = format!("runcrew-lambda-sdk-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::from_sdk_config(&sdk, Some(&dynamodb_endpoint()), table, codec());
    store.create_table().await.expect("create the table");
    // when an item is written and read back through it
    let key = Key::new("USER#lambda", "PROFILE");
    let body = json!({"name": "Lambda"})
        .as_object()
        .cloned()
        .expect("an object");
    store
        .put(Item::new(key.clone(), body), Condition::NotExists)
        .await
        .expect("put");
    let read = store.get(&key).await.expect("get").expect("the item");
    // then the signed requests were accepted and the item is there
    assert_eq!(read.body["name"], "Lambda");
}

/// A loopback HTTPS server whose certificate (`tests/fixtures/not-amazon-localhost.crt`, for
/// `localhost`, issued by the test authority `not-amazon-ca.crt`) is not Amazon's. A client
/// that completes the handshake gets a DynamoDB-shaped 400, so a client that trusts the
/// test authority sees a service error and one that does not sees a refused connection.
/// Returns its port.
async fn https_server_not_issued_by_amazon() -> u16 {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let certs =
        CertificateDer::pem_slice_iter(include_bytes!("../fixtures/not-amazon-localhost.crt"))
            .collect::<Result<Vec<_>, _>>()
            .expect("the test certificate");
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("../fixtures/not-amazon-localhost.key"))
        .expect("the test key");
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the server's certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut request = vec![0; 16 * 1024];
                let _ = tls.read(&mut request).await;
                let body = r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"the test server answered"}"#;
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

async fn get_item_at(sdk: &aws_config::SdkConfig, port: u16) -> String {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .endpoint_url(format!("https://localhost:{port}"))
        .build();
    let outcome = aws_sdk_dynamodb::Client::from_conf(config)
        .get_item()
        .table_name("any")
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
        .send()
        .await;
    match outcome {
        Ok(_) => "answered".to_owned(),
        Err(err) => format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&err)),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn inside_lambda_the_aws_clients_refuse_a_certificate_not_issued_by_amazon() {
    // given an HTTPS endpoint with a certificate of another authority
    let port = https_server_not_issued_by_amazon().await;
    let lambda = lambda_sdk_config();
    // when a client built as the functions build it on Lambda calls it
    let refused = get_item_at(&lambda, port).await;
    // then the TLS handshake fails on the issuer, before any request is sent
    assert!(refused.contains("dispatch failure"), "{refused}");
    assert!(
        refused.to_lowercase().contains("unknownissuer")
            || refused.contains("invalid peer certificate"),
        "{refused}"
    );
    // and the same client told to trust that authority reaches the server (so the refusal
    // above is the trust store's, not a broken server)
    use aws_smithy_http_client::tls::{
        Provider, TlsContext, TrustStore, rustls_provider::CryptoMode,
    };
    let mut roots = TrustStore::empty().with_native_roots(false);
    roots.add_pem_certificate(include_bytes!("../fixtures/not-amazon-ca.crt").as_slice());
    let trusting = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(roots)
                .build()
                .expect("TLS context"),
        )
        .build_https();
    let trusting = lambda.to_builder().http_client(trusting).build();
    let answered = get_item_at(&trusting, port).await;
    assert!(answered.contains("the test server answered"), "{answered}");
}
