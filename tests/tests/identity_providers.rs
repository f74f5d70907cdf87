//! Each provider's verifier against a loopback fake that answers as the provider does:
//! what is accepted, what is refused (401), and what means the provider is down (503).

use std::time::Duration;

use runcrew_shared::identity::id_token::IdTokenVerifier;
use runcrew_shared::identity::jwks::JwksCache;
use runcrew_shared::identity::kakao::Kakao;
use runcrew_shared::identity::naver::Naver;
use runcrew_shared::identity::{IdentityError, IdentityVerifier, Provider, http_client};
use runcrew_tests::fakes::{KakaoFake, NaverFake, OidcFake, down};
use runcrew_tests::now;
use serde_json::{Value, json};

const GOOGLE_CLIENT: &str = "1234-ios.apps.googleusercontent.com";
const APPLE_CLIENT: &str = "app.runcrew.ios";

fn google(fake: &OidcFake) -> IdTokenVerifier {
    IdTokenVerifier::google(
        JwksCache::new(
            http_client().expect("provider client"),
            &fake.jwks_url(),
            Duration::from_secs(3600),
        ),
        vec![
            GOOGLE_CLIENT.into(),
            "1234-web.apps.googleusercontent.com".into(),
        ],
    )
}

fn apple(fake: &OidcFake) -> IdTokenVerifier {
    IdTokenVerifier::apple(
        JwksCache::new(
            http_client().expect("provider client"),
            &fake.jwks_url(),
            Duration::from_secs(3600),
        ),
        vec![APPLE_CLIENT.into()],
    )
}

fn google_claims() -> Value {
    json!({
        "iss": "https://accounts.google.com",
        "aud": GOOGLE_CLIENT,
        "sub": "110169484474386276334",
        "email": "runner@gmail.example",
        "email_verified": true,
        "name": "Min Runner",
        "iat": now(),
        "exp": now() + 3600,
    })
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn is_rejected(result: &Result<runcrew_shared::identity::Identity, IdentityError>) -> bool {
    matches!(result, Err(IdentityError::Rejected(_)))
}

#[tokio::test]
async fn kakao_accepts_a_token_of_our_app_and_refuses_another_apps() {
    let kakao = KakaoFake::start().await;
    kakao.user("ours", 4242, 1111, "달리는곰").await;
    kakao.user("theirs", 5151, 9999, "someone").await;
    let verifier = Kakao::new(
        http_client().expect("provider client"),
        &kakao.url(),
        "1111",
    );

    let identity = verifier
        .verify("ours", None)
        .await
        .expect("our app's token");
    assert_eq!(identity.provider, Provider::Kakao);
    assert_eq!(identity.subject, "4242");
    assert_eq!(identity.display_name.as_deref(), Some("달리는곰"));
    assert_eq!(identity.email.as_deref(), Some("kakao4242@example.com"));

    assert!(is_rejected(&verifier.verify("theirs", None).await));
    assert!(is_rejected(&verifier.verify("unknown", None).await));
}

#[tokio::test]
async fn kakao_down_is_unavailable_not_rejected() {
    let server = down().await;
    let verifier = Kakao::new(
        http_client().expect("provider client"),
        &server.uri(),
        "1111",
    );
    assert!(matches!(
        verifier.verify("any", None).await,
        Err(IdentityError::Unavailable {
            provider: Provider::Kakao,
            ..
        })
    ));
    // and nothing listening at all is the same
    let closed = Kakao::new(
        http_client().expect("provider client"),
        "http://127.0.0.1:9",
        "1111",
    );
    assert!(matches!(
        closed.verify("any", None).await,
        Err(IdentityError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn naver_accepts_resultcode_00_only() {
    let naver = NaverFake::start().await;
    naver.reply("good", "00", "32742776").await;
    naver.reply("odd", "028", "").await;
    let verifier = Naver::new(http_client().expect("provider client"), &naver.url());

    let identity = verifier.verify("good", None).await.expect("resultcode 00");
    assert_eq!(identity.subject, "32742776");
    assert!(is_rejected(&verifier.verify("odd", None).await));
    assert!(is_rejected(&verifier.verify("unknown", None).await));

    let server = down().await;
    assert!(matches!(
        Naver::new(http_client().expect("provider client"), &server.uri())
            .verify("good", None)
            .await,
        Err(IdentityError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn google_accepts_both_issuer_forms_and_keys_the_account_on_sub() {
    let fake = OidcFake::start("/oauth2/v3/certs", "google-1", 21600).await;
    let verifier = google(&fake);
    for iss in ["https://accounts.google.com", "accounts.google.com"] {
        let token = fake.sign(&with(google_claims(), "iss", json!(iss)));
        let identity = verifier.verify(&token, None).await.expect(iss);
        assert_eq!(identity.subject, "110169484474386276334");
        assert_eq!(identity.email.as_deref(), Some("runner@gmail.example"));
    }
    // the key set was fetched once and then served from the cache
    assert_eq!(fake.jwks_fetches().await, 1);
}

#[tokio::test]
async fn google_refuses_wrong_audience_expiry_issuer_and_signature() {
    let fake = OidcFake::start("/oauth2/v3/certs", "google-1", 3600).await;
    let verifier = google(&fake);
    let cases = [
        (
            "wrong audience",
            fake.sign(&with(google_claims(), "aud", json!("someone-else"))),
        ),
        (
            "expired",
            fake.sign(&with(google_claims(), "exp", json!(now() - 3600))),
        ),
        (
            "wrong issuer",
            fake.sign(&with(google_claims(), "iss", json!("https://evil.example"))),
        ),
        ("bad signature", fake.forge(&google_claims())),
        ("not a jwt", "abc.def".to_owned()),
    ];
    for (case, token) in cases {
        assert!(is_rejected(&verifier.verify(&token, None).await), "{case}");
    }
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_again_but_at_most_once_a_minute() {
    // given keys fetched once, and a refetch interval shortened from a minute to a second
    let mut fake = OidcFake::start("/oauth2/v3/certs", "google-1", 3600).await;
    let interval = Duration::from_secs(1);
    let verifier = IdTokenVerifier::google(
        JwksCache::new(
            http_client().expect("provider client"),
            &fake.jwks_url(),
            Duration::from_secs(3600),
        )
        .with_refetch_interval(interval),
        vec![GOOGLE_CLIENT.into()],
    );
    verifier
        .verify(&fake.sign(&google_claims()), None)
        .await
        .expect("first key");

    // a rotation within the interval is not looked for yet
    fake.rotate("google-2").await;
    let new_kid = fake.sign(&google_claims());
    assert!(is_rejected(&verifier.verify(&new_kid, None).await));
    assert_eq!(fake.jwks_fetches().await, 0);

    // when the interval has passed, a token with the new kid is accepted after one refetch
    tokio::time::sleep(interval).await;
    let identity = verifier
        .verify(&new_kid, None)
        .await
        .expect("the new key is fetched");
    assert_eq!(identity.subject, "110169484474386276334");
    assert_eq!(
        fake.jwks_fetches().await,
        1,
        "one refetch since the rotation"
    );

    // and a stream of unknown kids right after does not fetch again
    fake.rotate("google-3").await;
    let unknown = fake.sign(&google_claims());
    assert!(is_rejected(&verifier.verify(&unknown, None).await));
    assert!(is_rejected(&verifier.verify(&unknown, None).await));
    assert_eq!(fake.jwks_fetches().await, 0, "no fetch within the interval");
}

#[tokio::test]
async fn google_keys_unavailable_is_503_material() {
    let server = down().await;
    let verifier = IdTokenVerifier::google(
        JwksCache::new(
            http_client().expect("provider client"),
            &format!("{}/oauth2/v3/certs", server.uri()),
            Duration::from_secs(3600),
        ),
        vec![GOOGLE_CLIENT.into()],
    );
    let fake = OidcFake::start("/oauth2/v3/certs", "google-1", 3600).await;
    let token = fake.sign(&google_claims());
    assert!(matches!(
        verifier.verify(&token, None).await,
        Err(IdentityError::Unavailable {
            provider: Provider::Google,
            ..
        })
    ));
}

#[tokio::test]
async fn apple_checks_issuer_audience_and_the_nonce() {
    let fake = OidcFake::start("/auth/keys", "apple-1", 3600).await;
    let verifier = apple(&fake);
    let raw_nonce = "3f1c0a7e-1b2d-4c5e-8f90-a1b2c3d4e5f6";
    let hashed = runcrew_shared::digest::sha256_hex(&[raw_nonce.as_bytes()]);
    let claims = json!({
        "iss": "https://appleid.apple.com",
        "aud": APPLE_CLIENT,
        "sub": "001234.abcdef0123456789.0123",
        "email": "x7k2@privaterelay.appleid.com",
        "email_verified": "true",
        "nonce": hashed,
        "nonce_supported": true,
        "iat": now(),
        "exp": now() + 600,
    });
    let token = fake.sign(&claims);

    let identity = verifier
        .verify(&token, Some(raw_nonce))
        .await
        .expect("right nonce");
    assert_eq!(identity.subject, "001234.abcdef0123456789.0123");
    assert_eq!(
        identity.email.as_deref(),
        Some("x7k2@privaterelay.appleid.com")
    );

    assert!(is_rejected(&verifier.verify(&token, Some("other")).await));
    assert!(matches!(
        verifier.verify(&token, None).await,
        Err(IdentityError::Invalid { field: "nonce", .. })
    ));
    let google_issued = fake.sign(&with(
        claims.clone(),
        "iss",
        json!("https://accounts.google.com"),
    ));
    assert!(is_rejected(
        &verifier.verify(&google_issued, Some(raw_nonce)).await
    ));
    let for_another_app = fake.sign(&with(claims, "aud", json!("com.other.app")));
    assert!(is_rejected(
        &verifier.verify(&for_another_app, Some(raw_nonce)).await
    ));
}

#[tokio::test]
async fn both_key_fetchers_bring_back_a_key_set_and_refuse_what_is_not_one() {
    use runcrew_shared::identity::jwks::sdk_http::SdkHttpKeys;
    use runcrew_shared::identity::jwks::{FetchKeys, MAX_JWKS_BYTES};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // given a server with a key set, a missing one and one too large to be a key set
    let server = MockServer::start().await;
    let keys = r#"{"keys":[]}"#;
    for (at, answer) in [
        (
            "/keys",
            ResponseTemplate::new(200)
                .insert_header("cache-control", "public, max-age=300")
                .set_body_string(keys),
        ),
        ("/gone", ResponseTemplate::new(404)),
        (
            "/huge",
            ResponseTemplate::new(200).set_body_string("x".repeat(MAX_JWKS_BYTES + 1)),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    let fetchers: [(&str, Box<dyn FetchKeys>); 2] = [
        ("reqwest", Box::new(http_client().expect("provider client"))),
        ("the SDK's connector", Box::new(SdkHttpKeys::new())),
    ];
    for (name, fetcher) in fetchers {
        // when each fetches them, then the key set comes back with its caching header
        let fetched = fetcher
            .fetch(&format!("{}/keys", server.uri()))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(fetched.body, keys.as_bytes(), "{name}");
        assert_eq!(
            fetched.cache_control.as_deref(),
            Some("public, max-age=300"),
            "{name}"
        );
        // and the missing and oversized answers are refused, saying why
        let gone = fetcher
            .fetch(&format!("{}/gone", server.uri()))
            .await
            .expect_err("404");
        assert!(gone.contains("404"), "{name}: {gone}");
        let huge = fetcher
            .fetch(&format!("{}/huge", server.uri()))
            .await
            .expect_err("too large");
        assert!(huge.contains("larger than"), "{name}: {huge}");
    }
}

#[tokio::test]
async fn an_open_route_without_keys_verifies_a_bearer_token_against_the_issuers_published_keys() {
    use runcrew_shared::{ApiError, App};

    // given a function that holds no token keys (as every open route on AWS) and an issuer
    // that publishes its keys through discovery
    let issuer = OidcFake::start("/.well-known/jwks.json", "rc-2026-12-02", 300).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = runcrew_tests::config(dir.path(), &[("PUBLIC_BASE_URL", &issuer.url())]);
    let app = App::from_parts(config, None, None, None);
    let claims = json!({
        "iss": app.config.issuer(), "aud": app.config.token_audience, "sub": "u-alice",
        "sid": "s-1", "iat": now(), "exp": now() + 600,
    });
    let bearer = |token: &str| {
        lambda_http::http::Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .body(lambda_http::Body::Empty)
            .expect("request")
    };

    // when a caller with the issuer's token asks, twice, then she is known both times and
    // the keys were fetched once
    for _ in 0..2 {
        let caller = app
            .viewer(&bearer(&issuer.sign(&claims)))
            .await
            .expect("verified")
            .expect("a caller");
        assert_eq!(caller.user_id, "u-alice");
        assert_eq!(caller.session_id.as_deref(), Some("s-1"));
    }
    assert_eq!(issuer.jwks_fetches().await, 1);

    // and a token signed by a key the issuer never published is a 401, no token no caller
    let forged = app.viewer(&bearer(&issuer.forge(&claims))).await;
    assert!(
        matches!(forged, Err(ApiError::Unauthorized(_))),
        "{forged:?}"
    );
    let anonymous = lambda_http::http::Request::builder()
        .body(lambda_http::Body::Empty)
        .expect("request");
    assert!(app.viewer(&anonymous).await.expect("open").is_none());
}
