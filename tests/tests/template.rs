//! template.yaml against the code: every route's binary has a handler, every handler has a
//! function in the template, and the table definition is the one the Store adapters use.

use std::collections::HashMap;

use runcrew_local::gateway::check_registry;
use runcrew_local::template::parse;
use runcrew_local::{TEMPLATE, registry};
use runcrew_shared::store::Index;
use serde_norway::Value;

fn spec() -> runcrew_local::template::ApiSpec {
    parse(
        TEMPLATE,
        &HashMap::from([(
            "PublicBaseUrl".to_owned(),
            "https://api.example.com".to_owned(),
        )]),
    )
    .expect("template.yaml parses")
}

#[test]
fn template_and_handler_registry_agree() {
    check_registry(&spec(), &registry())
        .expect("every binary has a handler and every handler a function");
}

#[test]
fn a_route_without_a_handler_is_reported() {
    let mut spec = spec();
    let mut orphan = spec.routes[0].clone();
    orphan.binary = "ghost".into();
    orphan.path = "/v1/ghost".into();
    spec.routes.push(orphan);
    let err = check_registry(&spec, &registry()).expect_err("ghost has no handler");
    assert!(err.to_string().contains("\"ghost\""), "{err}");
}

#[test]
fn a_handler_without_a_function_in_the_template_is_reported() {
    let mut spec = spec();
    spec.binaries.retain(|b| b != "readyz");
    spec.routes.retain(|r| r.binary != "readyz");
    let err = check_registry(&spec, &registry())
        .expect_err("readyz is registered but not in the template");
    assert!(err.to_string().contains("\"readyz\""), "{err}");
}

#[test]
fn the_foundation_routes_are_public_and_everything_else_needs_a_token_by_default() {
    let spec = spec();
    let keys: Vec<String> = spec.routes.iter().map(|r| r.route_key()).collect();
    for key in [
        "GET /healthz",
        "GET /readyz",
        "GET /.well-known/jwks.json",
        "GET /.well-known/openid-configuration",
    ] {
        let route = spec
            .routes
            .iter()
            .find(|r| r.route_key() == key)
            .unwrap_or_else(|| panic!("{key} in {keys:?}"));
        assert_eq!(route.authorizer, None, "{key} is public");
    }
    let jwt = &spec.authorizers["RunCrewJwt"];
    assert_eq!(jwt.issuer, "https://api.example.com");
    assert_eq!(jwt.audience, ["runcrew-api"]);
    let cors = spec.cors.expect("cors");
    assert!(!cors.allow_origins.contains(&"*".to_owned()));
    assert!(!cors.allow_credentials);
    assert!(spec.default_throttle.is_some());
}

#[test]
fn the_table_in_the_template_has_the_keys_and_indexes_the_store_uses() {
    let doc: Value = serde_norway::from_str(TEMPLATE).expect("yaml");
    let table = &doc["Resources"]["Table"]["Properties"];
    let key_names = |schema: &Value| -> Vec<String> {
        schema
            .as_sequence()
            .expect("key schema")
            .iter()
            .map(|k| k["AttributeName"].as_str().expect("name").to_owned())
            .collect()
    };
    assert_eq!(key_names(&table["KeySchema"]), ["pk", "sk"]);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some("expires_at")
    );
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    let indexes = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes");
    assert_eq!(indexes.len(), Index::ALL.len());
    for (index, declared) in Index::ALL.iter().zip(indexes) {
        let (pk, sk) = index.attributes();
        assert_eq!(declared["IndexName"].as_str(), Some(index.name()));
        assert_eq!(key_names(&declared["KeySchema"]), [pk, sk]);
        assert_eq!(
            declared["Projection"]["ProjectionType"].as_str(),
            Some("ALL")
        );
    }
}
