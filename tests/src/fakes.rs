//! Loopback fakes of the social-login providers, answering with the shapes and status codes
//! in REFERENCE.md (wiremock on 127.0.0.1).

use runcrew_shared::tokens::{SigningKey, TokenKeys};
use serde_json::{Value, json};
use wiremock::matchers::{any, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Kakao's user API: `/v1/user/access_token_info` and `/v2/user/me`.
pub struct KakaoFake {
    /// The server.
    pub server: MockServer,
}

impl KakaoFake {
    /// A Kakao that refuses every token it was not told about, as Kakao does (401, -401).
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(401).set_body_json(
                    json!({"msg": "this access token does not exist", "code": -401}),
                ),
            )
            .with_priority(10)
            .mount(&server)
            .await;
        KakaoFake { server }
    }

    /// The base URL (`KAKAO_API_URL`).
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// `token` belongs to Kakao user `id` of app `app_id`.
    pub async fn user(&self, token: &str, id: i64, app_id: i64, nickname: &str) {
        let bearer = format!("Bearer {token}");
        Mock::given(method("GET"))
            .and(path("/v1/user/access_token_info"))
            .and(header("authorization", bearer.as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": id, "expires_in": 7199, "app_id": app_id})),
            )
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v2/user/me"))
            .and(header("authorization", bearer.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": id,
                "connected_at": "2026-11-20T10:00:00Z",
                "properties": {"nickname": nickname},
                "kakao_account": {
                    "profile_nickname_needs_agreement": false,
                    "profile": {"nickname": nickname, "is_default_nickname": false},
                    "has_email": true,
                    "email": format!("kakao{id}@example.com"),
                    "is_email_valid": true,
                    "is_email_verified": true
                }
            })))
            .mount(&self.server)
            .await;
    }
}

/// Naver's profile API `/v1/nid/me`.
pub struct NaverFake {
    /// The server.
    pub server: MockServer,
}

impl NaverFake {
    /// A Naver that answers unknown tokens with 401 and resultcode "024", as Naver does.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "resultcode": "024",
                "message": "Authentication failed / 인증에 실패했습니다."
            })))
            .with_priority(10)
            .mount(&server)
            .await;
        NaverFake { server }
    }

    /// The base URL (`NAVER_API_URL`).
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// `token` answers with `resultcode` and, for "00", Naver user `id`.
    pub async fn reply(&self, token: &str, resultcode: &str, id: &str) {
        let body = if resultcode == "00" {
            json!({"resultcode": "00", "message": "success",
                   "response": {"id": id, "nickname": "runner", "email": "naver@example.com"}})
        } else {
            json!({"resultcode": resultcode, "message": "Authentication header not exists."})
        };
        Mock::given(method("GET"))
            .and(path("/v1/nid/me"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&self.server)
            .await;
    }
}

/// An OpenID Connect provider (Google, Apple, an external issuer): a key set, a discovery
/// document, and id_tokens signed with its key.
pub struct OidcFake {
    /// The server.
    pub server: MockServer,
    /// Where the key set is served.
    pub jwks_path: String,
    keys: TokenKeys,
}

impl OidcFake {
    /// A provider serving its keys at `jwks_path` with `Cache-Control: max-age=<max_age>`.
    pub async fn start(jwks_path: &str, kid: &str, max_age: u32) -> Self {
        let server = MockServer::start().await;
        let fake = OidcFake {
            server,
            jwks_path: jwks_path.to_owned(),
            keys: new_keys(kid),
        };
        fake.publish(&fake.keys, max_age).await;
        let issuer = fake.url();
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}{jwks_path}"),
                "id_token_signing_alg_values_supported": ["RS256"]
            })))
            .mount(&fake.server)
            .await;
        fake
    }

    /// The base URL (the issuer, in external OIDC mode).
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// The key set URL.
    pub fn jwks_url(&self) -> String {
        format!("{}{}", self.server.uri(), self.jwks_path)
    }

    async fn publish(&self, keys: &TokenKeys, max_age: u32) {
        Mock::given(method("GET"))
            .and(path(self.jwks_path.as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header(
                        "cache-control",
                        format!("public, max-age={max_age}").as_str(),
                    )
                    .set_body_json(serde_json::to_value(keys.jwks()).expect("jwks")),
            )
            .mount(&self.server)
            .await;
    }

    /// The provider rotates to a new key: from now on only `kid` is published and signs.
    pub async fn rotate(&mut self, kid: &str) {
        self.keys = new_keys(kid);
        self.server.reset().await;
        self.publish(&self.keys, 3600).await;
    }

    /// How many times the key set was fetched.
    pub async fn jwks_fetches(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == self.jwks_path)
            .count()
    }

    /// An id_token with these claims, signed by the provider's current key.
    pub fn sign(&self, claims: &Value) -> String {
        self.keys.sign(claims).expect("sign")
    }

    /// An id_token signed by a key this provider never published, under its current kid.
    pub fn forge(&self, claims: &Value) -> String {
        new_keys(self.keys.current_kid())
            .sign(claims)
            .expect("sign")
    }
}

fn new_keys(kid: &str) -> TokenKeys {
    let pem = SigningKey::generate_pem().expect("rsa key");
    TokenKeys::new(
        SigningKey::from_pem(kid, pem.as_bytes()).expect("key"),
        None,
    )
}

/// A provider that is down: every request answers 503.
pub async fn down() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    server
}

/// Mapbox Static Images: answers `GET /styles/v1/{user}/{style}/static/...` with a PNG for
/// the one token it knows and Mapbox's 401 JSON otherwise.
pub struct MapboxFake {
    /// The server; its received requests are what a test inspects.
    pub server: MockServer,
    /// The PNG it serves.
    pub png: Vec<u8>,
}

impl MapboxFake {
    /// A Mapbox that knows `token`.
    pub async fn start(token: &str) -> Self {
        let server = MockServer::start().await;
        let png = tiny_png();
        Mock::given(method("GET"))
            .and(wiremock::matchers::path_regex(
                r"^/styles/v1/[^/]+/[^/]+/static/",
            ))
            .and(wiremock::matchers::query_param("access_token", token))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/png")
                    .set_body_bytes(png.clone()),
            )
            .mount(&server)
            .await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(401)
                    .set_body_json(json!({"message": "Not Authorized - Invalid Token"})),
            )
            .with_priority(10)
            .mount(&server)
            .await;
        MapboxFake { server, png }
    }

    /// The base URL (`MAPBOX_API_URL`).
    pub fn url(&self) -> String {
        self.server.uri()
    }
}

/// A 1x1 PNG, as the fake's map image.
fn tiny_png() -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbaImage::from_pixel(1, 1, image::Rgba([255, 106, 0, 255]))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("png");
    bytes
}
