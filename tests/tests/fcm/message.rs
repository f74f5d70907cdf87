//! The request body: its shape and its 4096-byte limit.

use std::time::Duration;

use runcrew_notifications::fcm::{MAX_PAYLOAD_BYTES, PushSender, SendError, message_body};
use serde_json::Value;

use runcrew_fcm_fake::{DEVICE, Fake, message};

/// The serialized size of `body`, as sent.
fn size(body: &Value) -> usize {
    serde_json::to_vec(body).expect("JSON").len()
}

#[test]
fn a_message_that_fits_is_sent_unchanged() {
    let body = message_body(&message()).expect("a body");

    assert_eq!(body["message"]["token"], DEVICE);
    assert_eq!(
        body["message"]["notification"]["body"],
        "Mina started following you"
    );
    assert_eq!(
        body["message"]["apns"]["payload"]["aps"]["alert"]["body"],
        "Mina started following you"
    );
}

#[test]
fn an_oversize_body_is_shortened_on_a_character_boundary_to_fit_4096_bytes() {
    let mut long = message();
    // Three-byte characters, so a cut in the middle of one would show.
    long.body = "달리기 기록을 축하해요! ".repeat(300);
    assert!(long.body.len() > MAX_PAYLOAD_BYTES);

    let body = message_body(&long).expect("a shortened body");

    assert!(size(&body) <= MAX_PAYLOAD_BYTES, "{} bytes", size(&body));
    let text = body["message"]["notification"]["body"]
        .as_str()
        .expect("a body text");
    assert!(text.ends_with('…'), "{text}");
    let kept = text.trim_end_matches('…');
    assert!(long.body.starts_with(kept), "a prefix of the body");
    assert!(
        size(&body) > MAX_PAYLOAD_BYTES - 40,
        "as much kept as fits: {} bytes",
        size(&body)
    );
    assert_eq!(
        body["message"]["apns"]["payload"]["aps"]["alert"]["body"],
        text
    );
}

#[test]
fn a_body_of_characters_json_escapes_is_shortened_by_its_escaped_size() {
    let mut long = message();
    // Each control character is six bytes once escaped (\u0001).
    long.body = "\u{1}".repeat(1000);

    let body = message_body(&long).expect("a shortened body");

    assert!(size(&body) <= MAX_PAYLOAD_BYTES, "{} bytes", size(&body));
}

#[test]
fn a_message_that_cannot_fit_is_rejected() {
    let mut huge = message();
    huge.title = "x".repeat(MAX_PAYLOAD_BYTES);

    let error = message_body(&huge).expect_err("too big");

    assert!(matches!(error, SendError::Rejected { .. }), "{error:?}");
}

#[tokio::test]
async fn fcm_receives_the_shortened_message() {
    let fake = Fake::start().await;
    fake.grants_tokens(3600, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;
    let mut long = message();
    long.body = "a".repeat(5000);

    fake.client().send(&long).await.expect("sent");

    let sends = fake.requests_to(&Fake::send_path()).await;
    assert!(
        sends[0].body.len() <= MAX_PAYLOAD_BYTES,
        "{}",
        sends[0].body.len()
    );
}

#[tokio::test]
async fn a_message_that_cannot_fit_is_not_sent() {
    let fake = Fake::start().await;
    fake.grants_tokens(3600, Duration::ZERO).await;
    fake.accepts_messages_with("ya29.token-1").await;
    let mut huge = message();
    huge.data.insert("blob".to_owned(), "x".repeat(5000));

    let error = fake.client().send(&huge).await.expect_err("too big");

    assert!(matches!(error, SendError::Rejected { .. }), "{error:?}");
    assert!(fake.requests_to(&Fake::send_path()).await.is_empty());
    assert_eq!(
        fake.tokens_granted(),
        0,
        "no token asked for a message that cannot go"
    );
}
