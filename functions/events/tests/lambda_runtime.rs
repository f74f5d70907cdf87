//! The real `events-get` binary, run as Lambda runs it against a loopback Lambda Runtime API
//! with its sample event.

use std::path::Path;

use runcrew_lambda_fake::answer_to_sample;

#[tokio::test]
async fn the_events_get_binary_answers_404_in_the_envelope_for_an_unknown_event() {
    let (status, body) =
        answer_to_sample(Path::new(env!("CARGO_BIN_EXE_events-get")), "events-get").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "event_not_found");
    assert!(body["error"]["request_id"].is_string(), "{body}");
}
