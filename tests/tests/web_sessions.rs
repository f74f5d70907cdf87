//! Web sessions through the local gateway: a browser keeps the refresh token in an
//! HttpOnly cookie, refreshes with it and a custom header, and logs out clearing it; a
//! cross-site form post cannot refresh; apps keep using the body.

use runcrew_local::Running;
use serde_json::{Value, json};

const WEB: &str = "http://localhost:5173";

struct Answer {
    status: u16,
    set_cookie: Vec<String>,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let set_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        set_cookie,
        body,
    }
}

/// The `runcrew_refresh=<token>` pair a `Set-Cookie` hands the browser.
fn refresh_cookie(answer: &Answer) -> String {
    let header = answer
        .set_cookie
        .iter()
        .find(|c| c.starts_with("runcrew_refresh="))
        .unwrap_or_else(|| panic!("no refresh cookie in {:?}", answer.set_cookie));
    header.split(';').next().expect("name=value").to_owned()
}

async fn api() -> (Running, tempfile::TempDir) {
    runcrew_tests::start_local(&[("ALLOWED_ORIGINS", WEB.to_owned())]).await
}

async fn web_login(api: &Running, name: &str) -> Answer {
    send(
        runcrew_tests::http()
            .post(format!("{}/v1/auth/login", api.url()))
            .header("origin", WEB)
            .json(&json!({"provider": "dev", "token": name, "refresh_token_delivery": "cookie"})),
    )
    .await
}

async fn cookie_refresh(api: &Running, cookie: &str, csrf: bool) -> Answer {
    let mut request = runcrew_tests::http()
        .post(format!("{}/v1/auth/refresh", api.url()))
        .header("origin", WEB)
        .header("cookie", cookie);
    if csrf {
        request = request.header("x-runcrew-csrf", "1");
    }
    send(request).await
}

#[tokio::test]
async fn a_web_login_keeps_the_refresh_token_in_an_http_only_cookie_the_page_cannot_read() {
    let (api, _dir) = api().await;

    // when a web page logs in asking for a cookie
    let login = web_login(&api, "alice").await;

    // then the refresh token is only in an HttpOnly, SameSite=Strict cookie for /v1/auth
    assert_eq!(login.status, 201, "{:?}", login.body);
    assert!(login.body["access_token"].is_string());
    assert!(login.body.get("refresh_token").is_none(), "{}", login.body);
    let header = &login.set_cookie[0];
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/v1/auth",
        "Max-Age=2592000",
    ] {
        assert!(header.contains(part), "{part} in {header}");
    }
    // (a laptop serves plain HTTP: Secure is on everywhere else, see web_session's tests)
    assert!(!header.contains("Secure"), "{header}");

    // and a refresh by that cookie with the custom header rotates it
    let cookie = refresh_cookie(&login);
    let refreshed = cookie_refresh(&api, &cookie, true).await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    assert!(refreshed.body.get("refresh_token").is_none());
    assert_eq!(refreshed.body["user_id"], login.body["user_id"]);
    let rotated = refresh_cookie(&refreshed);
    assert_ne!(rotated, cookie);
    api.stop().await;
}

#[tokio::test]
async fn a_cross_site_form_post_cannot_refresh_a_web_session() {
    let (api, _dir) = api().await;
    let cookie = refresh_cookie(&web_login(&api, "alice").await);

    // when another site's form posts to the refresh route with the browser's cookie
    let forged = send(
        runcrew_tests::http()
            .post(format!("{}/v1/auth/refresh", api.url()))
            .header("origin", "https://evil.example")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &cookie),
    )
    .await;

    // then it is refused, hands out nothing, and the session is untouched
    assert_eq!(forged.status, 403, "{:?}", forged.body);
    assert_eq!(forged.body["error"]["code"], "forbidden");
    assert!(forged.set_cookie.is_empty(), "{:?}", forged.set_cookie);
    assert!(forged.body.get("access_token").is_none());
    assert_eq!(cookie_refresh(&api, &cookie, true).await.status, 200);

    // and a script of that site cannot add the header: its preflight is not allowed
    let preflight = runcrew_tests::http()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/auth/refresh", api.url()),
        )
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-runcrew-csrf")
        .send()
        .await
        .expect("preflight");
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    api.stop().await;
}

#[tokio::test]
async fn the_web_origin_may_send_credentials_and_the_custom_header() {
    let (api, _dir) = api().await;
    let preflight = runcrew_tests::http()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/auth/refresh", api.url()),
        )
        .header("origin", WEB)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-runcrew-csrf")
        .send()
        .await
        .expect("preflight");
    assert_eq!(preflight.headers()["access-control-allow-origin"], WEB);
    assert_eq!(
        preflight.headers()["access-control-allow-credentials"],
        "true"
    );
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii");
    assert!(allowed.contains("x-runcrew-csrf"), "{allowed}");
    api.stop().await;
}

#[tokio::test]
async fn logging_out_a_web_session_clears_the_cookie_and_ends_the_session() {
    let (api, _dir) = api().await;
    let login = web_login(&api, "alice").await;
    let cookie = refresh_cookie(&login);
    let access = login.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();

    let logout = send(
        runcrew_tests::http()
            .post(format!("{}/v1/auth/logout", api.url()))
            .header("origin", WEB)
            .header("cookie", &cookie)
            .bearer_auth(&access),
    )
    .await;

    assert_eq!(logout.status, 204);
    assert!(
        logout.set_cookie[0].starts_with("runcrew_refresh=;")
            && logout.set_cookie[0].contains("Max-Age=0"),
        "{:?}",
        logout.set_cookie
    );
    assert_eq!(cookie_refresh(&api, &cookie, true).await.status, 401);
    api.stop().await;
}

#[tokio::test]
async fn apps_keep_the_refresh_token_in_the_body_and_get_no_cookie() {
    let (api, _dir) = api().await;
    let login = send(
        runcrew_tests::http()
            .post(format!("{}/v1/auth/login", api.url()))
            .json(&json!({"provider": "dev", "token": "bob"})),
    )
    .await;
    assert!(login.set_cookie.is_empty());
    let token = login.body["refresh_token"].as_str().expect("in the body");

    let refreshed = send(
        runcrew_tests::http()
            .post(format!("{}/v1/auth/refresh", api.url()))
            .json(&json!({"refresh_token": token})),
    )
    .await;
    assert_eq!(refreshed.status, 200);
    assert!(refreshed.body["refresh_token"].is_string());
    assert!(refreshed.set_cookie.is_empty());

    // and a refresh with neither token nor cookie is refused as any token that cannot rotate
    let neither = send(
        runcrew_tests::http()
            .post(format!("{}/v1/auth/refresh", api.url()))
            .json(&json!({})),
    )
    .await;
    assert_eq!(neither.status, 401);
    assert_eq!(neither.body["error"]["code"], "unauthorized");
    api.stop().await;
}
