//! The audit trail: what is recorded, per day, with a retention expiry.

use std::sync::Arc;

use runcrew_shared::store::embedded::EmbeddedStore;
use runcrew_shared::store::{Query, SortRange, Store};

#[tokio::test]
async fn logins_refusals_and_exports_are_audit_items_of_the_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::in_memory(runcrew_tests::codec()));
    let app = runcrew_tests::app_over(runcrew_tests::config(dir.path(), &[]), store.clone());
    assert_eq!(
        runcrew_auth::LOGIN
            .call(&app, runcrew_tests::sample("auth-login"))
            .await
            .status(),
        201
    );
    let mut refused = runcrew_tests::sample("auth-login");
    *refused.body_mut() =
        lambda_http::Body::Text(r#"{"provider":"dev","token":"no spaces allowed"}"#.into());
    assert_eq!(runcrew_auth::LOGIN.call(&app, refused).await.status(), 422);
    assert_eq!(
        runcrew_users::ME_EXPORT
            .call(&app, runcrew_tests::sample("users-me-export"))
            .await
            .status(),
        202
    );

    let day = time::OffsetDateTime::now_utc().date();
    let page = store
        .query(
            &Query::partition(format!("AUDIT#{day}"))
                .range(SortRange::All)
                .limit(100),
        )
        .await
        .expect("audit items");
    let events: Vec<(String, String)> = page
        .items
        .iter()
        .map(|i| {
            (
                i.str("action").unwrap_or_default().to_owned(),
                i.str("outcome").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("login".to_owned(), "success".to_owned()),
            ("login".to_owned(), "failure".to_owned()),
            ("export".to_owned(), "success".to_owned()),
        ]
    );
    assert!(page.items.iter().all(|i| i.expires_at.is_some()));
}

/// Every audit item of today, as `(action, actor)`.
async fn actors_of_today(store: &EmbeddedStore) -> Vec<(String, String)> {
    let day = time::OffsetDateTime::now_utc().date();
    store
        .query(
            &Query::partition(format!("AUDIT#{day}"))
                .range(SortRange::All)
                .limit(100),
        )
        .await
        .expect("audit items")
        .items
        .iter()
        .map(|i| {
            (
                i.str("action").unwrap_or_default().to_owned(),
                i.str("actor").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_erased_users_logins_cannot_be_found_from_her_public_user_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::in_memory(runcrew_tests::codec()));
    let app = runcrew_tests::app_over(runcrew_tests::config(dir.path(), &[]), store.clone());
    let login = runcrew_auth::LOGIN
        .call(&app, runcrew_tests::sample("auth-login"))
        .await;
    assert_eq!(login.status(), 201);
    let body: serde_json::Value =
        serde_json::from_slice(runcrew_shared::request::body_bytes(login.body())).expect("json");
    let user_id = body["user_id"].as_str().expect("user_id").to_owned();
    assert_eq!(
        runcrew_users::ME_DELETE
            .call(&app, runcrew_tests::sample("users-me-delete"))
            .await
            .status(),
        202
    );

    let events = actors_of_today(&store).await;
    let actions: Vec<&str> = events.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["login", "erase"]);
    // Her user id is public (profiles, leaderboards, follower lists): digests of it that
    // anyone can compute must not lead to her events.
    let guesses = [
        runcrew_shared::digest::short_sha256_hex(&[b"runcrew-audit\n", user_id.as_bytes()]),
        runcrew_shared::digest::short_sha256_hex(&[user_id.as_bytes()]),
        runcrew_shared::digest::sha256_hex(&[user_id.as_bytes()]),
    ];
    for (action, actor) in &events {
        assert!(!actor.is_empty(), "{action} has an actor");
        assert!(!actor.contains(&user_id), "{action}");
        assert!(!guesses.contains(actor), "{action}: {actor} is computable");
    }
    // Yet both events are hers under one pseudonym, which the holder of the secret can find.
    let key = app.audit_key().await.expect("audit key");
    let pseudonym = runcrew_shared::audit::actor_pseudonym(key, &user_id);
    assert!(events.iter().all(|(_, actor)| *actor == pseudonym));
}

#[tokio::test]
async fn audit_pseudonyms_differ_between_deployments_with_different_secrets() {
    let mut actors = Vec::new();
    for secret in [
        "first-deployment-secret-of-32-bytes-or-more",
        "second-deployment-secret-of-32-bytes-or-more",
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(EmbeddedStore::in_memory(runcrew_tests::codec()));
        let config = runcrew_tests::config(dir.path(), &[("CURSOR_SECRET", secret)]);
        let app = runcrew_tests::app_over(config, store.clone());
        assert_eq!(
            runcrew_auth::LOGIN
                .call(&app, runcrew_tests::sample("auth-login"))
                .await
                .status(),
            201
        );
        actors.push(actors_of_today(&store).await[0].1.clone());
    }
    assert_ne!(actors[0], actors[1], "the same user, two keys: {actors:?}");
}
