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
    // web pages send the refresh cookie, with the header a cross-site form cannot add
    assert!(cors.allow_credentials);
    assert!(cors.allow_headers.iter().any(|h| h == "x-runcrew-csrf"));
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

/// The text of a scalar, looking through a short-form tag (`!Sub "..."`).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) => text(&tagged.value),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The texts of a scalar or a list of scalars.
fn texts(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().filter_map(text).collect(),
        other => text(other).into_iter().collect(),
    }
}

/// The policy statements of a function's inline policies.
fn statements(doc: &Value, function: &str) -> Vec<Value> {
    doc["Resources"][function]["Properties"]["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{function} has policies"))
        .iter()
        .flat_map(|policy| {
            policy["Statement"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn the_thumbnails_task_may_list_the_bucket_so_a_missing_file_is_404_not_403() {
    // given the thumbnails function's policy
    let doc: Value = serde_norway::from_str(TEMPLATE).expect("yaml");
    let statements = statements(&doc, "ThumbnailsFunction");
    // then it may list the bucket (S3 answers a missing object with 404 only then), with
    // no s3:prefix condition: a GetObject request carries no prefix, so a condition on one
    // would never be met and S3 would still answer 403
    let list = statements
        .iter()
        .find(|s| texts(&s["Action"]).contains(&"s3:ListBucket".to_owned()))
        .expect("a ListBucket grant");
    assert_eq!(text(&list["Effect"]).as_deref(), Some("Allow"));
    let bucket = texts(&list["Resource"]);
    assert_eq!(bucket.len(), 1, "{bucket:?}");
    assert!(
        bucket[0].ends_with("files-${AWS::AccountId}"),
        "the bucket itself, not its objects: {bucket:?}"
    );
    assert!(list["Condition"].is_null(), "{:?}", list["Condition"]);
    // and it reads objects under exactly the prefixes of its triggers
    let prefixes = ["private/routes/*", "routes/*", "uploads/*"];
    let read = statements
        .iter()
        .find(|s| texts(&s["Action"]).contains(&"s3:GetObject".to_owned()))
        .expect("a GetObject grant");
    let mut read: Vec<String> = texts(&read["Resource"])
        .iter()
        .filter_map(|arn| arn.split_once("}/").map(|(_, path)| path.to_owned()))
        .collect();
    read.sort();
    assert_eq!(read, prefixes);
}

#[test]
fn the_cdn_serves_no_private_file_and_private_routes_still_get_their_map() {
    let doc: Value = serde_norway::from_str(TEMPLATE).expect("yaml");
    // given the bucket policy
    let policy = doc["Resources"]["FilesBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("statements")
        .clone();
    let is_cdn = |s: &&Value| {
        text(&s["Principal"]["Service"]).as_deref() == Some("cloudfront.amazonaws.com")
    };
    // then CloudFront may read only the public folders, never the whole bucket
    let allowed: Vec<String> = policy
        .iter()
        .filter(is_cdn)
        .filter(|s| text(&s["Effect"]).as_deref() == Some("Allow"))
        .flat_map(|s| texts(&s["Resource"]))
        .collect();
    assert!(!allowed.is_empty());
    for resource in &allowed {
        assert!(!resource.ends_with("}/*"), "the whole bucket: {resource}");
        assert!(!resource.contains("/private"), "{resource}");
    }
    // and is denied the private folder outright
    assert!(
        policy
            .iter()
            .filter(is_cdn)
            .filter(|s| text(&s["Effect"]).as_deref() == Some("Deny"))
            .any(|s| texts(&s["Resource"])
                .iter()
                .any(|r| r.ends_with("/private/*"))),
        "{policy:?}"
    );
    // and a private course's route file raises the thumbnails task like a public one
    let spec = spec();
    for key in [
        "routes/019aa5c0e1f27d4b8c9d0e1f2a3b4c5d.geojson",
        "private/routes/019aa5c0e1f27d4b8c9d0e1f2a3b4c5d.geojson",
        "uploads/u1/a.png",
    ] {
        assert!(
            spec.s3_triggers
                .iter()
                .any(|t| t.binary == "thumbnails" && t.matches_created(key)),
            "{key}"
        );
    }
    // and nothing the task writes raises it again
    for key in [
        "thumbnails/courses/c.png",
        "private/thumbnails/courses/c.png",
    ] {
        assert!(
            !spec.s3_triggers.iter().any(|t| t.matches_created(key)),
            "{key}"
        );
    }
}

#[test]
fn course_files_leave_the_cdn_edges_within_minutes_of_going_private() {
    // given the CDN's cache behaviours
    let doc: Value = serde_norway::from_str(TEMPLATE).expect("yaml");
    let config = &doc["Resources"]["Cdn"]["Properties"]["DistributionConfig"];
    let behaviours = config["CacheBehaviors"]
        .as_sequence()
        .expect("cache behaviours");
    // then a course's route and map are cached under a policy that keeps them at most 5
    // minutes (a course made private would otherwise stay on the edges for a day)
    for pattern in ["routes/*", "thumbnails/courses/*"] {
        let behaviour = behaviours
            .iter()
            .find(|b| text(&b["PathPattern"]).as_deref() == Some(pattern))
            .unwrap_or_else(|| panic!("no cache behaviour for {pattern}"));
        // (`!Ref CourseFilesCachePolicy`: the tag looked through)
        let policy_ref = text(&behaviour["CachePolicyId"]).expect("a policy of ours");
        let policy = &doc["Resources"][policy_ref.as_str()]["Properties"]["CachePolicyConfig"];
        let max_ttl = policy["MaxTTL"].as_u64().expect("MaxTTL");
        assert!(max_ttl <= 300, "{pattern}: MaxTTL {max_ttl}");
    }
}
