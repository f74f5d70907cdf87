//! Secrets read from Secrets Manager (moto) when first needed: the cursor secret behind a
//! list's next page, and what a list does while Secrets Manager is down.

use std::sync::Arc;

use runcrew_shared::secrets::{SecretSource, SecretsManager, SigningSecret};
use runcrew_shared::store::cursor::Cursors;
use runcrew_shared::store::dynamodb::DynamoStore;
use runcrew_shared::store::{Condition, Item, Key, Query, Store, StoreError};
use serde_json::Map;

const SECRET_VALUE: &str = "cursor-secret-kept-in-secrets-manager-0123";

fn secrets_manager_at(endpoint: &str) -> Arc<SecretsManager> {
    let config = aws_sdk_secretsmanager::config::Builder::from(&runcrew_tests::sdk_config())
        .endpoint_url(endpoint)
        .build();
    Arc::new(SecretsManager::with_client(
        aws_sdk_secretsmanager::Client::from_conf(config),
    ))
}

/// A store over `table` whose cursors are keyed by `source`, read through `secrets`.
fn store_keyed_by(
    table: &str,
    source: SecretSource,
    secrets: Arc<SecretsManager>,
    dir: &std::path::Path,
) -> DynamoStore {
    let signing = Arc::new(SigningSecret::new(Some(&source), dir, secrets));
    DynamoStore::from_sdk_config(
        &runcrew_tests::sdk_config(),
        Some(&runcrew_tests::dynamodb_endpoint()),
        table,
        Cursors::lazy(signing),
    )
}

async fn a_table_with_runs(runs: usize) -> String {
    let table = format!("runcrew-secrets-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::from_sdk_config(
        &runcrew_tests::sdk_config(),
        Some(&runcrew_tests::dynamodb_endpoint()),
        table.clone(),
        runcrew_tests::codec(),
    );
    store.create_table().await.expect("create the table");
    for n in 0..runs {
        let item = Item::new(Key::new("USER#ann", format!("RUN#{n}")), Map::new());
        store.put(item, Condition::None).await.expect("put a run");
    }
    table
}

#[tokio::test]
async fn a_next_page_cursor_is_sealed_with_the_secret_read_from_secrets_manager() {
    // given the cursor secret in Secrets Manager and three runs
    let moto = runcrew_tests::s3_endpoint();
    let name = format!("runcrew/test/cursor-{}", uuid::Uuid::new_v4().simple());
    let secrets = secrets_manager_at(&moto);
    let config = aws_sdk_secretsmanager::config::Builder::from(&runcrew_tests::sdk_config())
        .endpoint_url(&moto)
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
        .create_secret()
        .name(&name)
        .secret_string(SECRET_VALUE)
        .send()
        .await
        .expect("create the secret in moto");
    let table = a_table_with_runs(3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_keyed_by(
        &table,
        SecretSource::SecretsManager(name),
        secrets,
        dir.path(),
    );

    // when the first page of two is asked for
    let first = store
        .query(&Query::partition("USER#ann").limit(2))
        .await
        .expect("first page");

    // then its cursor opens under the same secret given by value, and pages on
    let cursor = first.cursor.expect("a third run follows");
    let by_value = store_keyed_by(
        &table,
        SecretSource::Value(SECRET_VALUE.into()),
        secrets_manager_at("http://127.0.0.1:9"),
        dir.path(),
    );
    let second = by_value
        .query(
            &Query::partition("USER#ann")
                .limit(2)
                .after(Some(cursor.clone())),
        )
        .await
        .expect("second page");
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].key.sk, "RUN#2");

    // and a deployment with another secret refuses it
    let other = DynamoStore::from_sdk_config(
        &runcrew_tests::sdk_config(),
        Some(&runcrew_tests::dynamodb_endpoint()),
        table.as_str(),
        runcrew_tests::codec(),
    );
    let refused = other
        .query(&Query::partition("USER#ann").limit(2).after(Some(cursor)))
        .await;
    assert!(matches!(refused, Err(StoreError::BadCursor)), "{refused:?}");
}

#[tokio::test]
async fn with_secrets_manager_down_a_single_page_is_served_and_a_next_page_is_a_503() {
    // given a cursor secret in a Secrets Manager that does not answer, and two runs
    let table = a_table_with_runs(2).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_keyed_by(
        &table,
        SecretSource::SecretsManager("runcrew/test/cursor".into()),
        secrets_manager_at("http://127.0.0.1:9"),
        dir.path(),
    );

    // when the whole list fits one page, it is served: no cursor, no secret needed
    let whole = store
        .query(&Query::partition("USER#ann").limit(10))
        .await
        .expect("a single page needs no secret");
    assert_eq!(whole.items.len(), 2);
    assert_eq!(whole.cursor, None);

    // when a page with a next one is asked for, the client is told to retry
    let paged = store
        .query(&Query::partition("USER#ann").limit(1))
        .await
        .expect_err("the cursor cannot be sealed");
    assert!(matches!(paged, StoreError::Unavailable(_)), "{paged:?}");
    let status = runcrew_shared::ApiError::from(paged).status().as_u16();
    assert_eq!(status, 503);
}
