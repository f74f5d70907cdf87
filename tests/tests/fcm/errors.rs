//! FCM's error answers, each sorted into what the push consumer does next.

use std::time::Duration;

use runcrew_notifications::fcm::{PushSender, SendError};
use serde_json::Value;
use wiremock::ResponseTemplate;

use runcrew_fcm_fake::{DEVICE, Fake, bad_request, fcm_error, message};

/// What one send answers when FCM answers `response`.
async fn send_answered(response: ResponseTemplate) -> SendError {
    let fake = Fake::start().await;
    fake.grants_tokens(3600, Duration::ZERO).await;
    fake.answers_messages_with("ya29.token-1", response).await;
    fake.client()
        .send(&message())
        .await
        .expect_err("FCM refused the message")
}

/// FCM answering `status` with `body`.
fn answer(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

#[tokio::test]
async fn an_unregistered_device_is_deleted() {
    let error = send_answered(answer(
        404,
        fcm_error(
            404,
            "NOT_FOUND",
            "Requested entity was not found.",
            Some("UNREGISTERED"),
            vec![],
        ),
    ))
    .await;

    assert_eq!(
        error,
        SendError::DeadToken {
            code: "UNREGISTERED".to_owned()
        }
    );
}

#[tokio::test]
async fn a_device_of_another_sender_is_deleted() {
    let error = send_answered(answer(
        403,
        fcm_error(
            403,
            "PERMISSION_DENIED",
            "SenderId mismatch",
            Some("SENDER_ID_MISMATCH"),
            vec![],
        ),
    ))
    .await;

    assert_eq!(
        error,
        SendError::DeadToken {
            code: "SENDER_ID_MISMATCH".to_owned()
        }
    );
}

#[tokio::test]
async fn an_invalid_registration_token_is_deleted() {
    let error = send_answered(answer(
        400,
        fcm_error(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            Some("INVALID_ARGUMENT"),
            vec![],
        ),
    ))
    .await;

    assert_eq!(
        error,
        SendError::DeadToken {
            code: "INVALID_ARGUMENT".to_owned()
        }
    );
}

#[tokio::test]
async fn a_token_named_by_a_field_violation_is_deleted() {
    let error = send_answered(answer(
        400,
        fcm_error(
            400,
            "INVALID_ARGUMENT",
            "Request contains an invalid argument.",
            Some("INVALID_ARGUMENT"),
            vec![bad_request("message.token", "Invalid registration token")],
        ),
    ))
    .await;

    assert_eq!(
        error,
        SendError::DeadToken {
            code: "INVALID_ARGUMENT".to_owned()
        }
    );
}

#[tokio::test]
async fn a_payload_error_keeps_the_device_and_is_not_retried() {
    let error = send_answered(answer(
        400,
        fcm_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid value at 'message.data[0].value' (TYPE_STRING), 12",
            Some("INVALID_ARGUMENT"),
            vec![bad_request(
                "message.data[0].value",
                "Invalid value at 'message.data[0].value' (TYPE_STRING), 12",
            )],
        ),
    ))
    .await;

    let SendError::Rejected { reason } = &error else {
        panic!("expected Rejected, got {error:?}");
    };
    assert!(reason.contains("message.data[0].value"), "{reason}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_payload_error_without_an_fcm_detail_keeps_the_device() {
    let error = send_answered(answer(
        400,
        fcm_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), \"1 hour\"",
            None,
            vec![bad_request("message.android.ttl", "Invalid value")],
        ),
    ))
    .await;

    assert!(matches!(error, SendError::Rejected { .. }), "{error:?}");
}

#[tokio::test]
async fn an_apns_credential_problem_keeps_the_device_without_retry() {
    let error = send_answered(answer(
        401,
        fcm_error(
            401,
            "UNAUTHENTICATED",
            "Auth error from APNS or Web Push Service",
            Some("THIRD_PARTY_AUTH_ERROR"),
            vec![],
        ),
    ))
    .await;

    let SendError::ThirdPartyAuth { reason } = &error else {
        panic!("expected ThirdPartyAuth, got {error:?}");
    };
    assert!(reason.contains("APNS"), "{reason}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn an_exceeded_quota_is_retried_after_the_seconds_fcm_gives() {
    let error = send_answered(
        answer(
            429,
            fcm_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute'.",
                Some("QUOTA_EXCEEDED"),
                vec![],
            ),
        )
        .insert_header("Retry-After", "30"),
    )
    .await;

    assert!(matches!(error, SendError::Retry { .. }), "{error:?}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn an_unavailable_fcm_is_retried_after_the_seconds_fcm_gives() {
    let error = send_answered(
        answer(
            503,
            fcm_error(
                503,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                Some("UNAVAILABLE"),
                vec![],
            ),
        )
        .insert_header("Retry-After", "10"),
    )
    .await;

    assert_eq!(
        error.retry_after(),
        Some(Duration::from_secs(10)),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unavailable_fcm_without_retry_after_is_retried() {
    let error = send_answered(answer(
        503,
        fcm_error(
            503,
            "UNAVAILABLE",
            "The service is currently unavailable.",
            Some("UNAVAILABLE"),
            vec![],
        ),
    ))
    .await;

    assert!(
        matches!(error, SendError::Retry { after: None, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_internal_fcm_error_is_retried() {
    let error = send_answered(answer(
        500,
        fcm_error(
            500,
            "INTERNAL",
            "Internal error encountered.",
            Some("INTERNAL"),
            vec![],
        ),
    ))
    .await;

    assert!(matches!(error, SendError::Retry { .. }), "{error:?}");
}

#[tokio::test]
async fn a_bad_gateway_without_a_body_is_retried() {
    let error = send_answered(ResponseTemplate::new(502).set_body_string("<html>502</html>")).await;

    assert!(matches!(error, SendError::Retry { .. }), "{error:?}");
}

#[tokio::test]
async fn a_not_found_that_names_no_device_keeps_the_device() {
    // A wrong project id: no FcmError detail, so no device is to blame.
    let error = send_answered(answer(
        404,
        fcm_error(
            404,
            "NOT_FOUND",
            "Requested entity was not found.",
            None,
            vec![],
        ),
    ))
    .await;

    assert!(matches!(error, SendError::Rejected { .. }), "{error:?}");
}

#[tokio::test]
async fn a_refused_access_token_is_dropped_and_the_next_send_asks_for_a_new_one() {
    let fake = Fake::start().await;
    fake.grants_tokens(3600, Duration::ZERO).await;
    fake.answers_messages_with(
        "ya29.token-1",
        answer(
            401,
            fcm_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                None,
                vec![],
            ),
        ),
    )
    .await;
    fake.accepts_messages_with("ya29.token-2").await;
    let client = fake.client();

    let error = client.send(&message()).await.expect_err("token refused");
    assert!(matches!(error, SendError::Unauthorized { .. }), "{error:?}");
    assert!(error.is_retryable());

    client
        .send(&message())
        .await
        .expect("sent with a new token");
    assert_eq!(fake.tokens_granted(), 2);
}

#[tokio::test]
async fn a_stalled_fcm_is_retried_later() {
    let fake = Fake::start().await;
    fake.grants_tokens(3600, Duration::ZERO).await;
    fake.answers_messages_with(
        "ya29.token-1",
        ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
    )
    .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("an HTTP client");

    let error = fake
        .client_with(http)
        .send(&message())
        .await
        .expect_err("timed out");

    assert!(matches!(error, SendError::Retry { .. }), "{error:?}");
}

#[tokio::test]
async fn an_error_never_quotes_the_device_token() {
    let quoted = format!("Invalid value at 'message.data[0].value' for token {DEVICE}");
    let error = send_answered(answer(
        400,
        fcm_error(
            400,
            "INVALID_ARGUMENT",
            &quoted,
            None,
            vec![bad_request("message.data[0].value", &quoted)],
        ),
    ))
    .await;

    assert!(matches!(error, SendError::Rejected { .. }), "{error:?}");
    assert!(!error.to_string().contains(DEVICE), "{error}");
    assert!(!format!("{error:?}").contains(DEVICE), "{error:?}");
}
