//! The real `courses-get` binary, run as Lambda runs it against a loopback Lambda Runtime API
//! with its sample event.

use std::path::Path;

use runcrew_lambda_fake::answer_to_sample;

#[tokio::test]
async fn the_courses_get_binary_answers_404_in_the_envelope_for_an_unknown_course() {
    let (status, body) =
        answer_to_sample(Path::new(env!("CARGO_BIN_EXE_courses-get")), "courses-get").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "course_not_found");
    assert_eq!(body["error"]["request_id"], "Zx1bQhJ7oAMEbKw=");
}
