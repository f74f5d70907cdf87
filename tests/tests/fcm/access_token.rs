//! The access token: how it is asked for, carried, cached and replaced.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runcrew_notifications::fcm::{FcmClient, PushSender, SendError, ServiceAccount, http_client};
use serde_json::{Value, json};

use runcrew_fcm_fake::{
    DEVICE, EMAIL, Fake, PROJECT, SCOPE, account_json, account_json_with_key, generate_key, message,
};

/// An hour, as Google grants them.
const HOUR: u64 = 3600;

#[tokio::test]
async fn the_token_endpoint_receives_a_jwt_bearer_grant_signed_by_the_service_account() {
    let fake = Fake::start().await;
    fake.grants_tokens(HOUR, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;

    fake.client().send(&message()).await.expect("sent");

    let assertions = fake.assertions();
    assert_eq!(assertions.len(), 1, "one verified assertion");
    let claims = &assertions[0];
    assert_eq!(claims.iss, EMAIL);
    assert_eq!(claims.scope, SCOPE);
    assert_eq!(claims.aud, fake.token_url());
    assert_eq!(claims.exp, claims.iat + 3600);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert!(
        claims.iat.abs_diff(now) < 60,
        "iat {} now {now}",
        claims.iat
    );
    let requests = fake.requests_to("/token").await;
    assert_eq!(
        requests[0]
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn a_send_carries_the_access_token_and_the_message_to_the_project_endpoint() {
    let fake = Fake::start().await;
    fake.grants_tokens(HOUR, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;

    fake.client().send(&message()).await.expect("sent");

    let sends = fake
        .requests_to(&format!("/v1/projects/{PROJECT}/messages:send"))
        .await;
    assert_eq!(sends.len(), 1);
    let send = &sends[0];
    assert_eq!(
        send.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer ya29.token-1")
    );
    let agent = send
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(agent.starts_with("runcrew-api/"), "{agent}");
    let body: Value = send.body_json().expect("a JSON body");
    assert_eq!(
        body,
        json!({
            "message": {
                "token": DEVICE,
                "notification": { "title": "New follower", "body": "Mina started following you" },
                "data": { "kind": "new_follower", "user_id": "019aa5c0e1f27d4b" },
                "android": {
                    "priority": "high",
                    "ttl": "3600s",
                    "collapse_key": "new_follower",
                    "notification": { "channel_id": "new_follower" }
                },
                "apns": {
                    "headers": {
                        "apns-priority": "10",
                        "apns-push-type": "alert",
                        "apns-collapse-id": "new_follower"
                    },
                    "payload": {
                        "aps": {
                            "alert": { "title": "New follower", "body": "Mina started following you" },
                            "sound": "default"
                        }
                    }
                }
            }
        })
    );
    let data = body["message"]["data"].as_object().expect("data");
    assert!(
        data.values().all(Value::is_string),
        "data values are strings"
    );
}

#[tokio::test]
async fn the_access_token_is_requested_once_for_many_sends() {
    let fake = Fake::start().await;
    fake.grants_tokens(HOUR, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;
    let client = fake.client();

    for _ in 0..5 {
        client.send(&message()).await.expect("sent");
    }

    assert_eq!(fake.tokens_granted(), 1);
    assert_eq!(
        fake.requests_to(&Fake::send_path()).await.len(),
        5,
        "five messages"
    );
}

#[tokio::test]
async fn concurrent_sends_without_a_cached_token_cause_one_token_request() {
    let fake = Fake::start().await;
    // A slow token endpoint, so every send arrives while the first request is out.
    fake.grants_tokens(HOUR, Duration::from_millis(300)).await;
    fake.accepts_messages_with("ya29.token-1").await;
    let client = fake.client();

    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client = client.clone();
        sends.spawn(async move { client.send(&message()).await });
    }
    while let Some(result) = sends.join_next().await {
        result.expect("the task").expect("sent");
    }

    assert_eq!(fake.tokens_granted(), 1);
    assert_eq!(fake.requests_to("/token").await.len(), 1);
    assert_eq!(fake.requests_to(&Fake::send_path()).await.len(), 8);
}

#[tokio::test]
async fn a_token_about_to_expire_is_replaced_before_the_next_send() {
    let fake = Fake::start().await;
    // One minute of validity is inside the five-minute refresh margin.
    fake.grants_tokens(60, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;
    fake.accepts_messages_with("ya29.token-2").await;
    let client = fake.client();

    client.send(&message()).await.expect("first sent");
    client.send(&message()).await.expect("second sent");

    assert_eq!(fake.tokens_granted(), 2);
    let tokens: Vec<String> = fake
        .requests_to(&Fake::send_path())
        .await
        .iter()
        .filter_map(|r| {
            r.headers
                .get("authorization")?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(tokens, ["Bearer ya29.token-1", "Bearer ya29.token-2"]);
}

#[tokio::test]
async fn an_explicit_token_url_overrides_the_accounts_token_uri() {
    let fake = Fake::start().await;
    fake.grants_tokens(HOUR, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;
    let account = ServiceAccount::from_json(&account_json("https://oauth2.invalid/token"))
        .expect("the account");
    let client = FcmClient::new(
        http_client().expect("an HTTP client"),
        account,
        &format!("{}/", fake.server.uri()),
        Some(&fake.token_url()),
    )
    .expect("a client");

    client.send(&message()).await.expect("sent");

    assert_eq!(client.token_url(), fake.token_url());
    assert_eq!(fake.tokens_granted(), 1);
    assert_eq!(fake.assertions()[0].aud, fake.token_url());
}

#[tokio::test]
async fn a_refused_grant_is_reported_as_unauthorized() {
    let fake = Fake::start().await;
    fake.token_endpoint_answers(
        400,
        json!({ "error": "invalid_grant", "error_description": "Invalid JWT Signature." }),
    )
    .await;

    let error = fake.client().send(&message()).await.expect_err("refused");

    let SendError::Unauthorized { reason } = &error else {
        panic!("expected Unauthorized, got {error:?}");
    };
    assert!(reason.contains("invalid_grant"), "{reason}");
    assert!(reason.contains("Invalid JWT Signature."), "{reason}");
    assert!(error.is_retryable());
    assert!(fake.requests_to(&Fake::send_path()).await.is_empty());
}

#[tokio::test]
async fn an_account_whose_key_google_does_not_know_is_unauthorized() {
    let fake = Fake::start().await;
    fake.grants_tokens(HOUR, Duration::ZERO).await;
    let stranger = generate_key();
    let account =
        ServiceAccount::from_json(&account_json_with_key(&fake.token_url(), &stranger.pem))
            .expect("the account");
    let client = FcmClient::new(
        http_client().expect("an HTTP client"),
        account,
        &fake.server.uri(),
        None,
    )
    .expect("a client");

    let error = client.send(&message()).await.expect_err("refused");

    let SendError::Unauthorized { reason } = &error else {
        panic!("expected Unauthorized, got {error:?}");
    };
    assert!(reason.contains("invalid_grant"), "{reason}");
    assert_eq!(fake.tokens_granted(), 0);
}

#[tokio::test]
async fn sends_waiting_on_a_refused_grant_share_its_answer() {
    let fake = Fake::start().await;
    fake.token_endpoint_answers(
        401,
        json!({ "error": "invalid_client", "error_description": "The OAuth client was not found." }),
    )
    .await;
    let client = fake.client();

    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let client = client.clone();
        sends.spawn(async move { client.send(&message()).await });
    }
    while let Some(result) = sends.join_next().await {
        let error = result.expect("the task").expect_err("refused");
        assert!(matches!(error, SendError::Unauthorized { .. }), "{error:?}");
    }

    assert_eq!(fake.requests_to("/token").await.len(), 1);
}

#[tokio::test]
async fn a_token_endpoint_outage_is_retried_later() {
    let fake = Fake::start().await;
    fake.token_endpoint_answers(503, json!({ "error": "temporarily_unavailable" }))
        .await;

    let error = fake.client().send(&message()).await.expect_err("no token");

    assert!(matches!(error, SendError::Retry { .. }), "{error:?}");
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_retried_later() {
    let fake = Fake::start().await;
    // A port nobody listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}/token", closed.local_addr().expect("its address"));
    drop(closed);
    let account = ServiceAccount::from_json(&account_json(&url)).expect("the account");
    let client = FcmClient::new(
        http_client().expect("an HTTP client"),
        account,
        &fake.server.uri(),
        None,
    )
    .expect("a client");

    let error = client.send(&message()).await.expect_err("no token");

    assert!(matches!(error, SendError::Retry { .. }), "{error:?}");
}
