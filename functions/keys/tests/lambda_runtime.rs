//! The real `jwks` and `openid-configuration` binaries, run as Lambda runs them against a
//! loopback Lambda Runtime API with their sample events.

use std::path::Path;

use runcrew_lambda_fake::{invoke_once, sample_event};
use serde_json::Value;

/// The JSON body of the binary's 200 answer to its sample event.
async fn invoke(binary: &str, path: &str, data_dir: &Path) -> Value {
    let response = invoke_once(Path::new(path), &sample_event(binary), data_dir, &[]).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    serde_json::from_str(response["body"].as_str().expect("text body")).expect("json body")
}

#[tokio::test]
async fn the_jwks_binary_publishes_the_key_kept_in_the_data_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jwks = invoke("jwks", env!("CARGO_BIN_EXE_jwks"), dir.path()).await;
    let kid = jwks["keys"][0]["kid"].as_str().expect("kid").to_owned();
    assert!(
        dir.path().join("keys").join(format!("{kid}.pem")).exists(),
        "{kid} is the generated key"
    );
    // a second cold start publishes the same key, not a new one
    let again = invoke("jwks", env!("CARGO_BIN_EXE_jwks"), dir.path()).await;
    assert_eq!(again["keys"][0]["kid"], kid.as_str());
}

#[tokio::test]
async fn the_openid_configuration_binary_names_issuer_and_jwks_uri() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = invoke(
        "openid-configuration",
        env!("CARGO_BIN_EXE_openid-configuration"),
        dir.path(),
    )
    .await;
    assert_eq!(doc["issuer"], "http://127.0.0.1:3000");
    assert_eq!(
        doc["jwks_uri"],
        "http://127.0.0.1:3000/.well-known/jwks.json"
    );
}
