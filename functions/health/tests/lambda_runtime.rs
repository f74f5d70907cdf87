//! The real `healthz` and `readyz` binaries, run as Lambda runs them: started against a
//! loopback Lambda Runtime API, fed their sample events, answering in API Gateway's
//! response format. And a production start with an insecure configuration is refused.

use std::path::Path;
use std::time::Duration;

use runcrew_lambda_fake::{FakeRuntimeApi, invoke_once, lambda_env, refused_start, sample_event};
use serde_json::Value;

#[tokio::test]
async fn the_healthz_binary_answers_its_sample_event_through_the_runtime_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let response = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_healthz")),
        &sample_event("healthz"),
        dir.path(),
        &[("ENVIRONMENT", "local")],
    )
    .await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value =
        serde_json::from_str(response["body"].as_str().expect("text body")).expect("json body");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["environment"], "local");
    assert_eq!(response["headers"]["x-frame-options"], "DENY", "{response}");
}

#[tokio::test]
async fn the_readyz_binary_checks_its_table_and_bucket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let response = invoke_once(
        Path::new(env!("CARGO_BIN_EXE_readyz")),
        &sample_event("readyz"),
        dir.path(),
        &[],
    )
    .await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value =
        serde_json::from_str(response["body"].as_str().expect("text body")).expect("json body");
    assert_eq!(body["checks"]["table"]["status"], "ok");
}

#[tokio::test]
async fn production_refuses_to_start_with_an_insecure_configuration() {
    // given a production start with the dev login on and no signing-key source
    let runtime = FakeRuntimeApi::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    runtime.queue("req-1", &sample_event("healthz"));
    let mut env = lambda_env(&runtime, dir.path());
    env.extend(
        [
            ("ENVIRONMENT", "production"),
            ("DEV_LOGIN", "true"),
            ("PUBLIC_BASE_URL", "https://api.runcrew.app"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    // when it starts, then it exits with an error naming each problem, and serves nothing
    let logs = refused_start(Path::new(env!("CARGO_BIN_EXE_healthz")), &env).await;
    assert!(logs.contains("DEV_LOGIN"), "{logs}");
    assert!(logs.contains("signing-key source"), "{logs}");
    assert!(logs.contains("CURSOR_SECRET"), "{logs}");
    assert_eq!(
        runtime.outcome("req-1", Duration::from_millis(100)).await,
        None
    );
}

#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn the_lambda_binaries_are_linked_at_a_fixed_address_so_the_loader_has_nothing_to_relocate() {
    // The ELF header's `e_type`: 2 for an executable linked at a fixed address, 3 for a
    // position-independent one.
    let elf_type = |binary: &str| {
        let bytes = std::fs::read(binary).expect("the binary is readable");
        assert_eq!(&bytes[..4], b"\x7fELF", "{binary} is not an ELF file");
        u16::from_le_bytes([bytes[16], bytes[17]])
    };
    // given the binaries cargo built for this crate (its build script asks for the link),
    // unless the build asked for position-independent ones back (`runcrew_build`'s switch)
    let pie_asked = runcrew_build::pie_requested(option_env!("RUNCREW_LINK_PIE"));
    // when their headers are read, then each is what was asked for
    for binary in [env!("CARGO_BIN_EXE_healthz"), env!("CARGO_BIN_EXE_readyz")] {
        assert_eq!(elf_type(binary), if pie_asked { 3 } else { 2 }, "{binary}");
    }
}
