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
        200
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
