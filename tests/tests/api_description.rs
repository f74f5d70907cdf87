//! openapi.yaml against template.yaml: every route has exactly one operation and every
//! operation a route, and an operation asks for a token exactly where API Gateway's
//! authorizer demands one. (Its validity as OpenAPI 3.1 and its agreement with what the
//! handlers answer are checked by infra/scripts/check_contract.py.)

use std::collections::{BTreeMap, BTreeSet};

use runcrew_local::TEMPLATE;
use runcrew_local::template::{ApiSpec, parse};
use serde_json::Value;

/// What a client must send, as the description says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// No token: `security: []` (or the document's default, which is empty).
    None,
    /// A token is read when sent (`security: [{}, {bearerAuth: []}]`): API Gateway must not
    /// demand one.
    Optional,
    /// `security: [{bearerAuth: []}]`.
    Required,
}

fn security_of(operation: &Value, document_default: &Value) -> Security {
    let requirements = operation
        .get("security")
        .unwrap_or(document_default)
        .as_array()
        .cloned()
        .unwrap_or_default();
    let anonymous = requirements
        .iter()
        .any(|r| r.as_object().is_some_and(|o| o.is_empty()));
    // Any named scheme asks for a credential: a misspelt one must not read as "no token"
    // (every name is also checked against the declared schemes, below).
    let bearer = requirements
        .iter()
        .any(|r| r.as_object().is_some_and(|o| !o.is_empty()));
    match (bearer, anonymous) {
        (false, _) => Security::None,
        (true, true) => Security::Optional,
        (true, false) => Security::Required,
    }
}

fn description() -> Value {
    serde_norway::from_str(runcrew_docs::OPENAPI_YAML).expect("openapi.yaml parses")
}

/// `METHOD /path` → its security, for every operation of `description`.
fn operations(description: &Value) -> BTreeMap<String, Security> {
    let document_default = description.get("security").cloned().unwrap_or(Value::Null);
    let mut found = BTreeMap::new();
    for (path, item) in description["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if matches!(
                method.as_str(),
                "parameters" | "summary" | "description" | "servers"
            ) {
                continue;
            }
            found.insert(
                format!("{} {path}", method.to_uppercase()),
                security_of(operation, &document_default),
            );
        }
    }
    found
}

fn template_in(environment: &str) -> ApiSpec {
    parse(
        TEMPLATE,
        &[
            ("Environment".to_owned(), environment.to_owned()),
            (
                "PublicBaseUrl".to_owned(),
                "https://api.example.com".to_owned(),
            ),
        ]
        .into(),
    )
    .expect("template.yaml parses")
}

/// The differences between `spec`'s routes and the description's operations, in words.
fn disagreements(spec: &ApiSpec, operations: &BTreeMap<String, Security>) -> Vec<String> {
    let routes: BTreeMap<String, bool> = spec
        .routes
        .iter()
        .map(|r| (r.route_key(), r.authorizer.is_some()))
        .collect();
    let mut problems = Vec::new();
    for (key, guarded) in &routes {
        match operations.get(key) {
            None => problems.push(format!("{key}: a route of template.yaml with no operation")),
            Some(Security::Required) if !guarded => problems.push(format!(
                "{key}: the operation requires a token but the route has Authorizer: NONE"
            )),
            Some(Security::None | Security::Optional) if *guarded => problems.push(format!(
                "{key}: the route's authorizer demands a token but the operation does not"
            )),
            Some(_) => {}
        }
    }
    for key in operations.keys().filter(|k| !routes.contains_key(*k)) {
        problems.push(format!(
            "{key}: an operation with no route in template.yaml"
        ));
    }
    problems
}

#[test]
fn every_route_of_the_template_has_one_operation_and_each_operation_a_route() {
    let problems = disagreements(&template_in("dev"), &operations(&description()));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_security_requirement_names_a_declared_scheme() {
    let description = description();
    let declared = description["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    for (path, item) in description["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for scheme in requirement.as_object().expect("a requirement").keys() {
                    assert!(
                        declared.contains_key(scheme),
                        "{method} {path} names an undeclared scheme {scheme}"
                    );
                }
            }
        }
    }
}

#[test]
fn an_operation_that_disagrees_with_its_route_is_named() {
    let mut description = description();
    let paths = description["paths"].as_object_mut().expect("paths");
    paths["/v1/courses"]["post"]["security"] = serde_json::json!([]);
    paths["/readyz"]["get"]["security"] = serde_json::json!([{"bearerAuth": []}]);
    paths.insert(
        "/v1/ghosts".into(),
        serde_json::json!({"get": {"responses": {}}}),
    );
    paths.remove("/healthz");

    let problems = disagreements(&template_in("dev"), &operations(&description));

    assert_eq!(
        problems,
        [
            "GET /healthz: a route of template.yaml with no operation",
            "GET /readyz: the operation requires a token but the route has Authorizer: NONE",
            "POST /v1/courses: the route's authorizer demands a token but the operation does not",
            "GET /v1/ghosts: an operation with no route in template.yaml",
        ]
    );
}

#[test]
fn production_serves_no_description() {
    let production = template_in("prod");
    let keys: BTreeSet<String> = production.routes.iter().map(|r| r.route_key()).collect();
    assert!(!keys.contains("GET /openapi.json"), "{keys:?}");
    assert!(
        template_in("dev")
            .routes
            .iter()
            .any(|r| r.route_key() == "GET /openapi.json")
    );
}
