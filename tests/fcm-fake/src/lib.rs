//! A fake Google for the push tests and the push benchmark: a token endpoint that verifies the JWT-bearer assertion with the test
//! service account's public key, and FCM's `messages:send`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use runcrew_notifications::fcm::{FcmClient, PushMessage, ServiceAccount};
use serde::Deserialize;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The Firebase project of the test account.
pub const PROJECT: &str = "runcrew-test";
/// The test account's email, the `iss` of its assertions.
pub const EMAIL: &str = "fcm-sender@runcrew-test.iam.gserviceaccount.com";
/// The test account's key id, the `kid` of its assertions.
pub const KEY_ID: &str = "0123456789abcdef0123456789abcdef01234567";
/// The device every test message goes to.
pub const DEVICE: &str = "dA1b2C3d4E5f:APA91bF-device-token-of-the-test";
/// The scope FCM needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// The test service account's key pair, generated once per test run.
pub struct TestKey {
    /// The private key as the Firebase console writes it: PKCS#8 PEM.
    pub pem: String,
    /// The public key (PKCS#1 DER), which the fake token endpoint verifies with.
    pub public_der: Vec<u8>,
}

/// The key pair of the test account.
pub fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(generate_key)
}

/// A fresh 2048-bit key pair, made with aws-lc-rs.
pub fn generate_key() -> TestKey {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;
    let pair =
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("an RSA key");
    let pkcs8 = pair.as_der().expect("PKCS#8 DER");
    TestKey {
        pem: pem_of(pkcs8.as_ref()),
        public_der: pair.public_key().as_ref().to_vec(),
    }
}

/// `der` as a `PRIVATE KEY` PEM block, as the Firebase console writes it.
fn pem_of(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()))
}

/// The service account JSON as the Firebase console downloads it.
pub fn account_json(token_uri: &str) -> String {
    account_json_with_key(token_uri, &key().pem)
}

/// The service account JSON with another private key.
pub fn account_json_with_key(token_uri: &str, private_key_pem: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": KEY_ID,
        "private_key": private_key_pem,
        "client_email": EMAIL,
        "client_id": "112233445566778899000",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/fcm-sender%40runcrew-test.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com"
    })
    .to_string()
}

/// A message for [`DEVICE`].
pub fn message() -> PushMessage {
    PushMessage {
        device_token: DEVICE.to_owned(),
        title: "New follower".to_owned(),
        body: "Mina started following you".to_owned(),
        data: BTreeMap::from([
            ("kind".to_owned(), "new_follower".to_owned()),
            ("user_id".to_owned(), "019aa5c0e1f27d4b".to_owned()),
        ]),
        collapse_key: "new_follower".to_owned(),
    }
}

/// The claims of an assertion that verified.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// Who signed it: the account's e-mail.
    pub iss: String,
    /// What it asks for: FCM's scope.
    pub scope: String,
    /// Whom it is for: the token endpoint.
    pub aud: String,
    /// When it was signed, epoch seconds.
    pub iat: u64,
    /// When it expires, epoch seconds.
    pub exp: u64,
}

/// The fake Google.
pub struct Fake {
    /// The wiremock server on 127.0.0.1 playing both endpoints.
    pub server: MockServer,
    issued: Arc<AtomicUsize>,
    claims: Arc<Mutex<Vec<Claims>>>,
}

impl Fake {
    /// A fake answering nothing yet (wiremock's 404 to everything).
    pub async fn start() -> Fake {
        Fake {
            server: MockServer::start().await,
            issued: Arc::new(AtomicUsize::new(0)),
            claims: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The fake's token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.server.uri())
    }

    /// The path FCM takes the project's messages at.
    pub fn send_path() -> String {
        format!("/v1/projects/{PROJECT}/messages:send")
    }

    /// A client of the fake, its account naming the fake's token endpoint.
    pub fn client(&self) -> FcmClient {
        self.client_with(runcrew_notifications::fcm::http_client().expect("an HTTP client"))
    }

    /// A client of the fake using `http`.
    pub fn client_with(&self, http: reqwest::Client) -> FcmClient {
        let account =
            ServiceAccount::from_json(&account_json(&self.token_url())).expect("the account");
        FcmClient::new(http, account, &self.server.uri(), None).expect("a client")
    }

    /// The token endpoint grants `ya29.token-1`, `ya29.token-2`, ... valid for `expires_in`
    /// seconds, to assertions that verify, after `delay`; others get `invalid_grant`.
    pub async fn grants_tokens(&self, expires_in: u64, delay: Duration) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(TokenEndpoint {
                key: DecodingKey::from_rsa_der(&key().public_der),
                audience: self.token_url(),
                expires_in,
                delay,
                issued: Arc::clone(&self.issued),
                claims: Arc::clone(&self.claims),
            })
            .mount(&self.server)
            .await;
    }

    /// The token endpoint answers `status` with `body`.
    pub async fn token_endpoint_answers(&self, status: u16, body: Value) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&self.server)
            .await;
    }

    /// FCM accepts every message carrying `token`.
    pub async fn accepts_messages_with(&self, token: &str) {
        Mock::given(method("POST"))
            .and(path(Self::send_path()))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "name": format!("projects/{PROJECT}/messages/0:1700000000000000%abcdef")
            })))
            .mount(&self.server)
            .await;
    }

    /// FCM answers messages carrying `token` with `response`.
    pub async fn answers_messages_with(&self, token: &str, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(Self::send_path()))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(response)
            .mount(&self.server)
            .await;
    }

    /// FCM answers messages to the device `device_token` with `response`, whatever else
    /// is mounted (a per-device answer wins).
    pub async fn answers_device_with(&self, device_token: &str, response: ResponseTemplate) {
        self.answers_device_times(device_token, response, u64::MAX)
            .await;
    }

    /// [`Fake::answers_device_with`] for the next `times` messages to the device only
    /// (then the other answers apply again: a service that recovers).
    pub async fn answers_device_times(
        &self,
        device_token: &str,
        response: ResponseTemplate,
        times: u64,
    ) {
        Mock::given(method("POST"))
            .and(path(Self::send_path()))
            .and(wiremock::matchers::body_partial_json(
                json!({"message": {"token": device_token}}),
            ))
            .respond_with(response)
            .with_priority(1)
            .up_to_n_times(times)
            .mount(&self.server)
            .await;
    }

    /// The device tokens of the messages FCM received, in order.
    pub async fn devices_sent_to(&self) -> Vec<String> {
        self.requests_to(&Self::send_path())
            .await
            .iter()
            .filter_map(|r| {
                let body: Value = serde_json::from_slice(&r.body).ok()?;
                Some(body["message"]["token"].as_str()?.to_owned())
            })
            .collect()
    }

    /// How many tokens the token endpoint granted.
    pub fn tokens_granted(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }

    /// The claims of the assertions that verified, in order.
    pub fn assertions(&self) -> Vec<Claims> {
        self.claims.lock().expect("the claims").clone()
    }

    /// The requests that reached `path`.
    pub async fn requests_to(&self, path: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .expect("recording is on")
            .into_iter()
            .filter(|r| r.url.path() == path)
            .collect()
    }
}

/// An FCM error body as FCM writes it: a `google.rpc.Status` with an FcmError detail when
/// `fcm_code` is given, then `more_details`.
pub fn fcm_error(
    code: u16,
    status: &str,
    message: &str,
    fcm_code: Option<&str>,
    more_details: Vec<Value>,
) -> Value {
    let mut details: Vec<Value> = fcm_code
        .map(|c| {
            json!({
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": c
            })
        })
        .into_iter()
        .collect();
    details.extend(more_details);
    json!({ "error": { "code": code, "message": message, "status": status, "details": details } })
}

/// A `google.rpc.BadRequest` detail naming `field`.
pub fn bad_request(field: &str, description: &str) -> Value {
    json!({
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{ "field": field, "description": description }]
    })
}

/// The fake token endpoint.
struct TokenEndpoint {
    key: DecodingKey,
    audience: String,
    expires_in: u64,
    delay: Duration,
    issued: Arc<AtomicUsize>,
    claims: Arc<Mutex<Vec<Claims>>>,
}

impl TokenEndpoint {
    /// The claims of the request's assertion, if the request is a JWT-bearer grant whose
    /// assertion verifies with the account's public key.
    fn verify(&self, request: &Request) -> Result<Claims, String> {
        let fields: BTreeMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        if fields.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return Err(format!("grant_type {:?}", fields.get("grant_type")));
        }
        let assertion = fields.get("assertion").ok_or("no assertion")?;
        let header = jsonwebtoken::decode_header(assertion).map_err(|e| e.to_string())?;
        if header.kid.as_deref() != Some(KEY_ID) {
            return Err(format!("kid {:?}", header.kid));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[EMAIL]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
        let data = jsonwebtoken::decode::<Claims>(assertion, &self.key, &validation)
            .map_err(|e| format!("Invalid JWT: {e}"))?;
        Ok(data.claims)
    }
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        match self.verify(request) {
            Ok(claims) => {
                self.claims.lock().expect("the claims").push(claims);
                let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
                ResponseTemplate::new(200)
                    .set_body_json(json!({
                        "access_token": format!("ya29.token-{n}"),
                        "expires_in": self.expires_in,
                        "token_type": "Bearer"
                    }))
                    .set_delay(self.delay)
            }
            Err(why) => ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid_grant",
                "error_description": why
            })),
        }
    }
}
