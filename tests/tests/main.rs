//! The workspace-level tests, in one test binary: each file of this folder is a module of
//! it, so the test names read `audit::...`, `store_contract::dynamodb_local::...`, and a
//! change to a common crate relinks one executable instead of one per file.
//! `autotests = false` (tests/Cargo.toml) keeps cargo from also building each file as a
//! binary of its own; [`every_file_of_this_folder_is_a_module`] catches a file left out.
//!
//! One process runs every test, on parallel threads, so no test may change what the others
//! see: none sets an environment variable (the endpoints of the test servers are only read)
//! or installs a global subscriber (`runcrew_tests::logs` captures one thread's logs), and
//! each uses its own free ports, data folders, tables, buckets and queues. `stall` freezes
//! a DynamoDB Local of its own, never the one the others use.

mod api_description;
mod audit;
mod audit_fallback;
mod auth_journey;
mod blobs_contract;
mod cipher_contract;
mod courses_journey;
mod error_reports;
mod events;
mod fcm;
mod group_runs;
mod identity_providers;
mod jobs;
mod lambda_sdk;
mod local_api;
mod notifications;
mod projections;
mod push_consumer;
mod queue_consumers;
mod queue_contract;
mod runs_journey;
mod secrets;
mod stall;
mod store_contract;
mod strava_client;
mod strava_journey;
mod stream_contract;
mod template;
mod uploads_journey;
mod users;
mod web_sessions;

/// With `autotests = false`, a file of this folder that no `mod` names would neither build
/// nor run, and nothing would say so.
#[test]
fn every_file_of_this_folder_is_a_module() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut declared: Vec<&str> = include_str!("main.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    declared.sort_unstable();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&folder).expect("tests/tests") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().and_then(|s| s.to_str()).expect("utf-8");
        if name != "main"
            && !name.starts_with('.')
            && (path.is_dir() || path.extension().is_some_and(|x| x == "rs"))
        {
            files.push(name.to_owned());
        }
    }
    files.sort();
    assert_eq!(declared, files, "mod declarations of tests/tests/main.rs");
}
