//! Reading the service account, and keeping its secrets out of every printout.

use std::time::Duration;

use runcrew_notifications::fcm::{
    FcmClient, FcmSetupError, PushSender, ServiceAccount, http_client,
};
use serde_json::Value;

use runcrew_fcm_fake::{DEVICE, EMAIL, Fake, PROJECT, account_json, key, message};

/// The account JSON with `field` set to `value`.
fn account_with(field: &str, value: Value) -> String {
    let mut json: Value =
        serde_json::from_str(&account_json("https://oauth2.googleapis.com/token")).expect("JSON");
    json[field] = value;
    json.to_string()
}

/// A line from the middle of the private key's PEM: what a leak would show.
fn key_line() -> &'static str {
    key().pem.lines().nth(5).expect("a long key")
}

#[test]
fn the_console_file_is_read() {
    let account = ServiceAccount::from_json(&account_json("https://oauth2.googleapis.com/token"))
        .expect("the account");

    assert_eq!(account.project_id(), PROJECT);
    assert_eq!(account.client_email(), EMAIL);
    assert_eq!(
        account.token_uri(),
        Some("https://oauth2.googleapis.com/token")
    );
}

#[test]
fn without_a_token_uri_google_s_token_endpoint_is_used() {
    let mut json: Value = serde_json::from_str(&account_json("unused")).expect("JSON");
    json.as_object_mut().expect("an object").remove("token_uri");
    let account = ServiceAccount::from_json(&json.to_string()).expect("the account");

    let client = FcmClient::new(
        http_client().expect("an HTTP client"),
        account,
        "https://fcm.googleapis.com/",
        None,
    )
    .expect("a client");

    assert_eq!(client.token_url(), "https://oauth2.googleapis.com/token");
    assert_eq!(
        client.send_url(),
        format!("https://fcm.googleapis.com/v1/projects/{PROJECT}/messages:send")
    );
}

#[test]
fn a_file_of_another_kind_is_refused() {
    let error = ServiceAccount::from_json(&account_with("type", "authorized_user".into()))
        .expect_err("not a service account");

    assert!(
        matches!(error, FcmSetupError::ServiceAccount(_)),
        "{error:?}"
    );
}

#[test]
fn a_file_without_a_project_is_refused() {
    let mut json: Value = serde_json::from_str(&account_json("unused")).expect("JSON");
    json.as_object_mut()
        .expect("an object")
        .remove("project_id");

    let error = ServiceAccount::from_json(&json.to_string()).expect_err("no project");

    assert!(error.to_string().contains("project_id"), "{error}");
}

#[test]
fn a_project_id_that_would_change_the_url_is_refused() {
    let error = ServiceAccount::from_json(&account_with("project_id", "a/../b?".into()))
        .expect_err("not a project id");

    assert!(
        matches!(error, FcmSetupError::ServiceAccount(_)),
        "{error:?}"
    );
}

#[test]
fn a_broken_private_key_is_refused_without_being_quoted() {
    let broken = key().pem.replace(key_line(), "AAAA");
    let error = ServiceAccount::from_json(&account_with("private_key", broken.clone().into()))
        .expect_err("a broken key");

    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("AAAA"), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
}

#[test]
fn a_url_that_is_not_http_is_refused() {
    let account = ServiceAccount::from_json(&account_json("https://oauth2.googleapis.com/token"))
        .expect("the account");

    let error = FcmClient::new(
        http_client().expect("an HTTP client"),
        account,
        "fcm.googleapis.com",
        None,
    )
    .expect_err("not a URL");

    assert!(
        matches!(error, FcmSetupError::Url { what: "API", .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn debug_output_never_shows_the_key_or_the_tokens() {
    let fake = Fake::start().await;
    fake.grants_tokens(3600, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;
    let client = fake.client();
    client.send(&message()).await.expect("sent");

    let account = ServiceAccount::from_json(&account_json(&fake.token_url())).expect("the account");
    let shown = format!("{account:?} {client:?} {:?}", message());

    assert!(!shown.contains(key_line()), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    assert!(!shown.contains("ya29."), "{shown}");
    assert!(!shown.contains(DEVICE), "{shown}");
    assert!(shown.contains(PROJECT), "still useful: {shown}");
}

#[test]
fn a_secret_stored_as_a_json_string_is_refused_without_quoting_it() {
    // the service account encoded twice, as a JSON string holding the file's text
    let twice = serde_json::to_string(&account_json("unused")).expect("JSON");

    let error = ServiceAccount::from_json(&twice).expect_err("a string, not an object");

    let text = error.to_string();
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("client_email"),
        "{text}"
    );
}
