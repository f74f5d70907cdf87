//! The real `users-get` binary, run as Lambda runs it against a loopback Lambda Runtime API
//! with its sample event.

use std::path::Path;

use runcrew_lambda_fake::answer_to_sample;

#[tokio::test]
async fn the_users_get_binary_answers_404_in_the_envelope_for_an_unknown_user() {
    let (status, body) =
        answer_to_sample(Path::new(env!("CARGO_BIN_EXE_users-get")), "users-get").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "user_not_found");
    assert_eq!(body["error"]["request_id"], "Zx1bQhJ7oAMEbKw=");
}
