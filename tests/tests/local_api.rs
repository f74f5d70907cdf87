//! Journeys through the local gateway over HTTP, as a client of the API would make them.
//!
//! The first group serves the real template.yaml and handlers on embedded defaults. The
//! second serves a small fixture template with a protected route, a throttled route and a
//! failing handler, to pin down what the gateway does for API Gateway (authorizer,
//! throttling, error shapes) before real protected routes exist.

use std::collections::HashMap;
use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use runcrew_local::Running;
use runcrew_shared::request::caller;
use runcrew_shared::{ApiError, App, HandlerFuture, HttpFunction, Needs, response};
use serde_json::{Value, json};

const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
];

fn assert_security_headers(response: &reqwest::Response) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            response.headers().get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name} on {} {}",
            response.status(),
            response.url()
        );
    }
}

async fn local_api() -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().display().to_string();
    let running = runcrew_local::start(move |k| match k {
        "PORT" => Some("0".into()),
        "RUNCREW_DATA_DIR" => Some(data.clone()),
        "ALLOWED_ORIGINS" => Some("http://localhost:5173".into()),
        _ => None,
    })
    .await
    .expect("the local API starts");
    (running, dir)
}

async fn get(url: String) -> reqwest::Response {
    runcrew_tests::http()
        .get(url)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn healthz_answers_ok_with_version_and_environment() {
    let (api, _dir) = local_api().await;
    let response = get(format!("{}/healthz", api.url())).await;
    assert_eq!(response.status(), 200);
    assert_security_headers(&response);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "environment": "local"})
    );
    api.stop().await;
}

#[tokio::test]
async fn readyz_is_ready_on_embedded_defaults() {
    let (api, _dir) = local_api().await;
    let response = get(format!("{}/readyz", api.url())).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["table"]["status"], "ok");
    assert_eq!(body["checks"]["bucket"]["status"], "ok");
    api.stop().await;
}

#[tokio::test]
async fn readyz_is_503_with_retry_after_and_the_failing_dependency_when_the_table_is_unreachable() {
    // given a local API whose table is a DynamoDB endpoint nobody listens on
    let dir = tempfile::tempdir().expect("tempdir");
    let config = runcrew_tests::config(dir.path(), &[]);
    let healthy = App::build(config.clone(), Needs::EVERYTHING)
        .await
        .expect("app");
    let dead_table = runcrew_shared::store::dynamodb::DynamoStore::from_sdk_config(
        &runcrew_tests::sdk_config(),
        Some("http://127.0.0.1:9"),
        "runcrew-local",
        runcrew_tests::codec(),
    );
    let app = App::from_parts(
        config,
        Some(Arc::new(dead_table)),
        healthy.blobs_handle(),
        None,
    );
    let listener = runcrew_local::bind(0).await.expect("bind");
    let spec = runcrew_local::template::parse(
        runcrew_local::TEMPLATE,
        &HashMap::from([("PublicBaseUrl".to_owned(), "http://127.0.0.1".to_owned())]),
    )
    .expect("template");
    let api = runcrew_local::serve(listener, Arc::new(app), spec, &runcrew_local::registry())
        .expect("serve");
    // when readiness is asked
    let response = get(format!("{}/readyz", api.url())).await;
    // then it is 503, says when to retry and which dependency failed
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_security_headers(&response);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["table"]["status"], "unavailable");
    assert_eq!(body["checks"]["bucket"]["status"], "ok");
    assert!(
        !body.to_string().contains("127.0.0.1:9"),
        "no internal detail: {body}"
    );
    // while liveness, which needs nothing, still answers
    assert_eq!(get(format!("{}/healthz", api.url())).await.status(), 200);
    api.stop().await;
}

#[tokio::test]
async fn with_an_origin_verify_secret_only_requests_carrying_it_get_through() {
    // given a local API behind an edge that adds X-Origin-Verify
    const SECRET: &str = "origin-verify-secret-of-32-bytes-or-more";
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().display().to_string();
    let api = runcrew_local::start(move |k| match k {
        "PORT" => Some("0".into()),
        "RUNCREW_DATA_DIR" => Some(data.clone()),
        "ORIGIN_VERIFY_SECRET" => Some(SECRET.into()),
        _ => None,
    })
    .await
    .expect("the local API starts");
    let healthz = |header: Option<&'static str>| {
        let mut request = runcrew_tests::http().get(format!("{}/healthz", api.url()));
        if let Some(value) = header {
            request = request.header("x-origin-verify", value);
        }
        request.send()
    };

    // when a caller goes around the edge, with no header or another value, then 403
    for header in [None, Some("origin-verify-secret-of-32-bytes-or-less")] {
        let refused = healthz(header).await.expect("request");
        assert_eq!(refused.status(), 403, "{header:?}");
        assert_security_headers(&refused);
        let body: Value = refused.json().await.expect("json");
        assert_eq!(body["error"]["code"], "forbidden", "{body}");
    }
    // when the edge's header is there, the route answers
    assert_eq!(healthz(Some(SECRET)).await.expect("request").status(), 200);
    // and the public keys stay readable to API Gateway's authorizer, which sends no header
    let jwks = get(format!("{}/.well-known/jwks.json", api.url())).await;
    assert_eq!(jwks.status(), 200);
    api.stop().await;
}

#[tokio::test]
async fn the_jwks_lists_the_key_that_signs_and_discovery_points_at_it() {
    let (api, _dir) = local_api().await;
    let token = runcrew_tests::token_for(&api.app, "user-1");
    let kid = jsonwebtoken::decode_header(&token)
        .expect("header")
        .kid
        .expect("kid");
    let jwks: Value = get(format!("{}/.well-known/jwks.json", api.url()))
        .await
        .json()
        .await
        .expect("json");
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        published.contains(&kid.as_str()),
        "{kid} not in {published:?}"
    );
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert!(key.get("d").is_none(), "no private part is published");
    let discovery: Value = get(format!("{}/.well-known/openid-configuration", api.url()))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(discovery["issuer"], api.url());
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/.well-known/jwks.json", api.url())
    );
    api.stop().await;
}

#[tokio::test]
async fn a_cors_preflight_is_answered_for_an_allowed_origin_only() {
    let (api, _dir) = local_api().await;
    let preflight = |origin: &'static str| {
        runcrew_tests::http()
            .request(reqwest::Method::OPTIONS, format!("{}/healthz", api.url()))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("http://localhost:5173").await.expect("preflight");
    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert!(
        allowed.headers()["access-control-allow-headers"]
            .to_str()
            .expect("ascii")
            .contains("authorization")
    );
    assert_security_headers(&allowed);
    let foreign = preflight("https://evil.example").await.expect("preflight");
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        foreign.headers()
    );
    // and a simple request carries the origin back only for an allowed origin
    let ok = runcrew_tests::http()
        .get(format!("{}/healthz", api.url()))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .expect("get");
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let other = runcrew_tests::http()
        .get(format!("{}/healthz", api.url()))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("get");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    api.stop().await;
}

#[tokio::test]
async fn unknown_routes_get_a_404_json_error_with_security_headers() {
    let (api, _dir) = local_api().await;
    for response in [
        get(format!("{}/v1/no-such-thing", api.url())).await,
        runcrew_tests::http()
            .delete(format!("{}/healthz", api.url()))
            .send()
            .await
            .expect("delete"),
    ] {
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_security_headers(&response);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body, json!({"message": "Not Found"}));
    }
    api.stop().await;
}

#[tokio::test]
async fn a_path_that_does_not_decode_is_a_400_envelope_naming_the_parameter() {
    let (api, _dir) = local_api().await;
    // the route matches (`{courseId}` takes any segment); its value is not UTF-8
    let response = get(format!("{}/v1/courses/%ff%fe", api.url())).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_security_headers(&response);
    let body: Value = response.json().await.expect("a JSON body, not plain text");
    assert_eq!(body["error"]["code"], "malformed_path", "{body}");
    assert_eq!(body["error"]["field"], "courseId", "{body}");
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    // while a well-formed but unknown id is the function's own 404
    let response = get(format!("{}/v1/courses/%41bc", api.url())).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("json");
    assert!(body["error"]["code"].is_string(), "{body}");
    api.stop().await;
}

// --- the fixture API -----------------------------------------------------------------------

const FIXTURE: &str = r#"
Parameters:
  Issuer: { Type: String }
  Audience: { Type: String, Default: runcrew-api }
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration: { AllowOrigins: [http://app.test], AllowMethods: [GET] }
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration: { issuer: !Ref Issuer, audience: [!Ref Audience] }
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 1000 }
      RouteSettings:
        "GET /v1/limited": { ThrottlingRateLimit: 0.01, ThrottlingBurstLimit: 2 }
  Whoami:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: whoami } }
    Properties:
      Events:
        Get: { Type: HttpApi, Properties: { Path: /v1/whoami, Method: GET } }
  Limited:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: limited } }
    Properties:
      Events:
        Get: { Type: HttpApi, Properties: { Path: /v1/limited, Method: GET, Auth: { Authorizer: NONE } } }
  Fails:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: fails } }
    Properties:
      Events:
        Post: { Type: HttpApi, Properties: { Path: "/v1/things/{thingId}", Method: POST, Auth: { Authorizer: NONE } } }
"#;

fn whoami_handler(app: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(async move {
        let _ = app;
        let me = caller(&req)?;
        let claims = runcrew_shared::request::claims(&req)
            .cloned()
            .unwrap_or_default();
        response::ok(
            &json!({"user_id": me.user_id, "session_id": me.session_id, "exp": claims.get("exp")}),
        )
    })
}

fn limited_handler(_: &App, _: Request) -> HandlerFuture<'_> {
    Box::pin(async { response::ok(&json!({"ok": true})) })
}

fn fails_handler(_: &App, req: Request) -> HandlerFuture<'_> {
    Box::pin(async move {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Thing {
            name: String,
        }
        let _thing: Thing = runcrew_shared::request::json_body(&req)?;
        let id = runcrew_shared::request::path_param(&req, "thingId")?;
        Err::<Response<Body>, _>(ApiError::not_found(
            "thing_not_found",
            format!("no thing {id}"),
        ))
    })
}

static WHOAMI: HttpFunction = HttpFunction {
    binary: "whoami",
    needs: Needs::NOTHING,
    handler: whoami_handler,
};
static LIMITED: HttpFunction = HttpFunction {
    binary: "limited",
    needs: Needs::NOTHING,
    handler: limited_handler,
};
static FAILS: HttpFunction = HttpFunction {
    binary: "fails",
    needs: Needs::NOTHING,
    handler: fails_handler,
};

async fn fixture_api() -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = runcrew_tests::local_app(dir.path()).await;
    let spec = runcrew_local::template::parse(
        FIXTURE,
        &HashMap::from([("Issuer".to_owned(), app.config.issuer().to_owned())]),
    )
    .expect("fixture template");
    let listener = runcrew_local::bind(0).await.expect("bind");
    let api =
        runcrew_local::serve(listener, app, spec, &[&WHOAMI, &LIMITED, &FAILS]).expect("serve");
    (api, dir)
}

async fn whoami(api: &Running, authorization: Option<String>) -> reqwest::Response {
    let mut request = runcrew_tests::http().get(format!("{}/v1/whoami", api.url()));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn a_protected_route_refuses_a_missing_token_as_api_gateway_does() {
    let (api, _dir) = fixture_api().await;
    let response = whoami(&api, None).await;
    assert_eq!(response.status(), 401);
    assert_security_headers(&response);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({"message": "Unauthorized"})
    );
    api.stop().await;
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_its_claims_as_strings() {
    let (api, _dir) = fixture_api().await;
    let claims = runcrew_tests::claims_for(&api.app, "user-42");
    let token = api.app.keys().expect("keys").sign(&claims).expect("sign");
    for authorization in [format!("Bearer {token}"), token.clone()] {
        let response = whoami(&api, Some(authorization)).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["user_id"], "user-42");
        assert_eq!(body["session_id"], "session-1");
        assert_eq!(
            body["exp"],
            claims["exp"].to_string(),
            "API Gateway hands claims over as strings"
        );
    }
    api.stop().await;
}

#[tokio::test]
async fn expired_foreign_or_misaddressed_tokens_are_refused() {
    let (api, _dir) = fixture_api().await;
    let keys = api.app.keys().expect("keys");
    let base = runcrew_tests::claims_for(&api.app, "user-1");
    let with = |field: &str, value: Value| {
        let mut claims = base.clone();
        claims[field] = value;
        keys.sign(&claims).expect("sign")
    };
    let now = runcrew_tests::now();
    let stranger_dir = tempfile::tempdir().expect("tempdir");
    let stranger = runcrew_shared::tokens::TokenKeys::load_or_generate(
        stranger_dir.path(),
        time::macros::date!(2026 - 11 - 20),
    )
    .expect("keys");
    let cases = [
        ("expired", with("exp", json!(now - 1))),
        ("not yet valid", with("nbf", json!(now + 120))),
        ("other audience", with("aud", json!("someone-else"))),
        ("other issuer", with("iss", json!("https://evil.example"))),
        ("unknown key", stranger.sign(&base).expect("sign")),
        ("garbage", "not.a.token".to_owned()),
        ("unsigned", {
            let token = keys.sign(&base).expect("sign");
            let mut parts: Vec<&str> = token.split('.').collect();
            parts[2] = "";
            parts.join(".")
        }),
    ];
    for (what, token) in cases {
        let response = whoami(&api, Some(format!("Bearer {token}"))).await;
        assert_eq!(response.status(), 401, "{what}");
    }
    api.stop().await;
}

#[tokio::test]
async fn a_route_over_its_throttle_gets_429() {
    let (api, _dir) = fixture_api().await;
    let url = format!("{}/v1/limited", api.url());
    assert_eq!(get(url.clone()).await.status(), 200);
    assert_eq!(get(url.clone()).await.status(), 200);
    let third = get(url).await;
    assert_eq!(third.status(), 429);
    assert_security_headers(&third);
    assert_eq!(
        third.json::<Value>().await.expect("json"),
        json!({"message": "Too Many Requests"})
    );
    // other routes have their own budget
    let token = runcrew_tests::token_for(&api.app, "u");
    assert_eq!(
        whoami(&api, Some(format!("Bearer {token}"))).await.status(),
        200
    );
    api.stop().await;
}

#[tokio::test]
async fn handler_errors_use_the_envelope_with_the_gateway_request_id() {
    let (api, _dir) = fixture_api().await;
    let post = |body: &'static str, content_type: &'static str| {
        runcrew_tests::http()
            .post(format!("{}/v1/things/t-1", api.url()))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    // a body with a field the route does not know is 422 naming it
    let unknown = post(r#"{"name":"x","admin":true}"#, "application/json")
        .await
        .expect("post");
    assert_eq!(unknown.status(), 422);
    let request_id = unknown.headers()["apigw-requestid"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = unknown.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_field");
    assert_eq!(body["error"]["field"], "admin");
    assert_eq!(body["error"]["request_id"], request_id);
    // broken JSON is 400, a wrong media type 415
    assert_eq!(
        post(r#"{"name":"#, "application/json")
            .await
            .expect("post")
            .status(),
        400
    );
    assert_eq!(
        post("name=x", "application/x-www-form-urlencoded")
            .await
            .expect("post")
            .status(),
        415
    );
    // a well-formed request reaches the handler's own error, with the path parameter read
    let missing = post(r#"{"name":"x"}"#, "application/json")
        .await
        .expect("post");
    assert_eq!(missing.status(), 404);
    assert_security_headers(&missing);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["error"]["code"], "thing_not_found");
    assert_eq!(body["error"]["message"], "no thing t-1");
    api.stop().await;
}
