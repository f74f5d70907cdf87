//! Login, refresh, sessions and rate limits through the local gateway, with a Kakao fake
//! on 127.0.0.1 answering as Kakao does.

use runcrew_local::Running;
use runcrew_tests::fakes::KakaoFake;
use serde_json::{Value, json};

const APP_ID: i64 = 1111;

struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        retry_after,
        body,
    }
}

async fn post(api: &Running, path: &str, body: Value) -> Reply {
    send(
        runcrew_tests::http()
            .post(format!("{}{path}", api.url()))
            .json(&body),
    )
    .await
}

async fn get_with(api: &Running, path: &str, access_token: &str) -> Reply {
    send(
        runcrew_tests::http()
            .get(format!("{}{path}", api.url()))
            .bearer_auth(access_token),
    )
    .await
}

async fn kakao_login(api: &Running, token: &str) -> Reply {
    post(
        api,
        "/v1/auth/login",
        json!({"provider": "kakao", "token": token}),
    )
    .await
}

async fn refresh(api: &Running, refresh_token: &Value) -> Reply {
    post(
        api,
        "/v1/auth/refresh",
        json!({"refresh_token": refresh_token}),
    )
    .await
}

async fn api_with_kakao(kakao: &KakaoFake, extra: &[(&str, &str)]) -> (Running, tempfile::TempDir) {
    let mut env = vec![
        ("KAKAO_APP_ID", APP_ID.to_string()),
        ("KAKAO_API_URL", kakao.url()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    runcrew_tests::start_local(&env).await
}

/// Fixed windows start on the minute: wait for a fresh one when the current one is nearly
/// over, so a burst of requests lands in one window.
async fn at_start_of_a_window() {
    let second = runcrew_tests::now().rem_euclid(60);
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
}

#[tokio::test]
async fn a_kakao_user_logs_in_refreshes_and_a_replayed_refresh_token_ends_the_session() {
    // given a Kakao account of our app, and limits that stay out of this story's way
    let kakao = KakaoFake::start().await;
    kakao.user("kakao-access-1", 4242, APP_ID, "달리는곰").await;
    let (api, _dir) = api_with_kakao(
        &kakao,
        &[
            ("AUTH_RATE_LIMIT_PER_IP", "100"),
            ("AUTH_RATE_LIMIT_PER_ACCOUNT", "100"),
        ],
    )
    .await;

    // when the user logs in for the first time
    let first = kakao_login(&api, "kakao-access-1").await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["new_user"], true);
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["expires_in"], 900);
    let access = first.body["access_token"].as_str().expect("access token");

    // then the access token opens their profile, made from the Kakao account
    let me = get_with(&api, "/v1/users/me", access).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["display_name"], "달리는곰");
    assert_eq!(me.body["email"], "kakao4242@example.com");
    assert_eq!(me.body["providers"], json!(["kakao"]));
    assert_eq!(me.body["user_id"], first.body["user_id"]);

    // when they refresh, they get a new pair
    let rotated = refresh(&api, &first.body["refresh_token"]).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_ne!(rotated.body["refresh_token"], first.body["refresh_token"]);
    assert_eq!(rotated.body["session_id"], first.body["session_id"]);
    let fresh_access = rotated.body["access_token"].as_str().expect("access");
    assert_eq!(
        get_with(&api, "/v1/users/me", fresh_access).await.status,
        200
    );

    // when someone presents the replaced refresh token again
    let replay = refresh(&api, &first.body["refresh_token"]).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert_eq!(replay.body["error"]["code"], "unauthorized");

    // then the whole session is over: the newest refresh token no longer works either
    let after = refresh(&api, &rotated.body["refresh_token"]).await;
    assert_eq!(after.status, 401, "{}", after.body);

    // and logging in again finds the same user, not a new one
    let again = kakao_login(&api, "kakao-access-1").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["new_user"], false);
    assert_eq!(again.body["user_id"], first.body["user_id"]);
    api.stop().await;
}

#[tokio::test]
async fn a_sixth_login_ends_the_oldest_of_five_sessions() {
    let kakao = KakaoFake::start().await;
    kakao.user("kakao-access-2", 77, APP_ID, "runner").await;
    let (api, _dir) = api_with_kakao(
        &kakao,
        &[
            ("AUTH_RATE_LIMIT_PER_IP", "100"),
            ("AUTH_RATE_LIMIT_PER_ACCOUNT", "100"),
        ],
    )
    .await;

    // given five sessions, on five devices
    let mut logins = Vec::new();
    for _ in 0..5 {
        let login = kakao_login(&api, "kakao-access-2").await;
        assert!(login.status == 200 || login.status == 201, "{}", login.body);
        logins.push(login.body);
    }

    // when a sixth device logs in
    let sixth = kakao_login(&api, "kakao-access-2").await;
    assert_eq!(sixth.status, 200, "{}", sixth.body);

    // then the first session is over and the second still works
    assert_eq!(refresh(&api, &logins[0]["refresh_token"]).await.status, 401);
    assert_eq!(refresh(&api, &logins[1]["refresh_token"]).await.status, 200);
    assert_eq!(
        refresh(&api, &sixth.body["refresh_token"]).await.status,
        200
    );
    api.stop().await;
}

#[tokio::test]
async fn logout_ends_this_session_and_logout_all_ends_every_session() {
    let kakao = KakaoFake::start().await;
    kakao.user("kakao-access-3", 78, APP_ID, "runner").await;
    let (api, _dir) = api_with_kakao(&kakao, &[("AUTH_RATE_LIMIT_PER_ACCOUNT", "100")]).await;
    let phone = kakao_login(&api, "kakao-access-3").await.body;
    let tablet = kakao_login(&api, "kakao-access-3").await.body;
    let laptop = kakao_login(&api, "kakao-access-3").await.body;

    // when the phone logs out
    let out = send(
        runcrew_tests::http()
            .post(format!("{}/v1/auth/logout", api.url()))
            .bearer_auth(phone["access_token"].as_str().expect("access")),
    )
    .await;
    assert_eq!(out.status, 204);
    // then only the phone's session is over
    assert_eq!(refresh(&api, &phone["refresh_token"]).await.status, 401);
    let tablet = refresh(&api, &tablet["refresh_token"]).await;
    assert_eq!(tablet.status, 200);

    // when the tablet logs out everywhere
    let all = send(
        runcrew_tests::http()
            .post(format!("{}/v1/auth/logout", api.url()))
            .bearer_auth(tablet.body["access_token"].as_str().expect("access"))
            .json(&json!({"all": true})),
    )
    .await;
    assert_eq!(all.status, 204);
    assert_eq!(refresh(&api, &laptop["refresh_token"]).await.status, 401);
    assert_eq!(
        refresh(&api, &tablet.body["refresh_token"]).await.status,
        401
    );

    // and logout needs a token at all
    let anonymous = post(&api, "/v1/auth/logout", json!({})).await;
    assert_eq!(anonymous.status, 401);
    // and a body it cannot read is refused by name, ending nothing
    let laptop_again = kakao_login(&api, "kakao-access-3").await.body;
    let bad = send(
        runcrew_tests::http()
            .post(format!("{}/v1/auth/logout", api.url()))
            .bearer_auth(laptop_again["access_token"].as_str().expect("access"))
            .json(&json!({"all": "yes"})),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.body["error"]["field"], "all");
    assert_eq!(
        refresh(&api, &laptop_again["refresh_token"]).await.status,
        200
    );
    api.stop().await;
}

#[tokio::test]
async fn the_eleventh_login_in_a_minute_from_one_address_is_429_with_retry_after() {
    // given eleven different Kakao accounts behind one address, with default limits
    let kakao = KakaoFake::start().await;
    for n in 0..11 {
        kakao
            .user(&format!("kakao-ip-{n}"), 1000 + n, APP_ID, "runner")
            .await;
    }
    let (api, _dir) = api_with_kakao(&kakao, &[]).await;
    at_start_of_a_window().await;

    // when ten log in, all succeed
    for n in 0..10 {
        let login = kakao_login(&api, &format!("kakao-ip-{n}")).await;
        assert_eq!(login.status, 201, "login {n}: {}", login.body);
    }
    // then the eleventh is refused until the window ends
    let eleventh = kakao_login(&api, "kakao-ip-10").await;
    assert_eq!(eleventh.status, 429, "{}", eleventh.body);
    assert_eq!(eleventh.body["error"]["code"], "too_many_requests");
    let wait: u64 = eleventh
        .retry_after
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    api.stop().await;
}

#[tokio::test]
async fn the_sixth_login_of_one_account_in_a_minute_is_429() {
    let kakao = KakaoFake::start().await;
    kakao.user("kakao-acct", 4343, APP_ID, "runner").await;
    let (api, _dir) = api_with_kakao(&kakao, &[]).await;
    at_start_of_a_window().await;
    for n in 0..5 {
        let login = kakao_login(&api, "kakao-acct").await;
        assert!(login.status < 300, "login {n}: {}", login.body);
    }
    let sixth = kakao_login(&api, "kakao-acct").await;
    assert_eq!(sixth.status, 429, "{}", sixth.body);
    assert!(sixth.retry_after.is_some());
    api.stop().await;
}

#[tokio::test]
async fn bad_login_requests_name_the_field() {
    let kakao = KakaoFake::start().await;
    let (api, _dir) = api_with_kakao(&kakao, &[("AUTH_RATE_LIMIT_PER_IP", "100")]).await;
    for (body, field) in [
        (json!({"provider": "myspace", "token": "x"}), "provider"),
        (json!({"provider": "kakao", "token": ""}), "token"),
        (json!({"provider": "kakao"}), "token"),
        (
            json!({"provider": "kakao", "token": "x", "password": "hunter2"}),
            "password",
        ),
        (json!({"provider": "naver", "token": "x"}), "provider"),
    ] {
        let reply = post(&api, "/v1/auth/login", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(
            reply.body["error"]["field"], field,
            "{body}: {}",
            reply.body
        );
    }
    let garbage = post(
        &api,
        "/v1/auth/refresh",
        json!({"refresh_token": "not-a-token"}),
    )
    .await;
    assert_eq!(garbage.status, 401);
    api.stop().await;
}

#[tokio::test]
async fn a_kakao_token_that_kakao_refuses_is_401_and_kakao_down_is_503() {
    let kakao = KakaoFake::start().await;
    let (api, _dir) = api_with_kakao(&kakao, &[]).await;
    let refused = kakao_login(&api, "expired-or-unknown").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    api.stop().await;

    let down = runcrew_tests::fakes::down().await;
    let (api, _dir) = runcrew_tests::start_local(&[
        ("KAKAO_APP_ID", APP_ID.to_string()),
        ("KAKAO_API_URL", down.uri()),
    ])
    .await;
    let unavailable = kakao_login(&api, "any-token").await;
    assert_eq!(unavailable.status, 503, "{}", unavailable.body);
    assert_eq!(unavailable.body["error"]["dependency"], "kakao");
    assert!(unavailable.retry_after.is_some());
    api.stop().await;
}

#[tokio::test]
async fn dev_login_works_on_the_local_api_and_gives_one_user_per_name() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = post(
        &api,
        "/v1/auth/login",
        json!({"provider": "dev", "token": "alice"}),
    )
    .await;
    assert_eq!(alice.status, 201, "{}", alice.body);
    let again = post(
        &api,
        "/v1/auth/login",
        json!({"provider": "dev", "token": "alice"}),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["user_id"], alice.body["user_id"]);
    let me = get_with(
        &api,
        "/v1/users/me",
        alice.body["access_token"].as_str().expect("access"),
    )
    .await;
    assert_eq!(me.body["display_name"], "alice");
    api.stop().await;
}

#[tokio::test]
async fn guessed_refresh_tokens_for_a_public_user_id_do_not_lock_the_owner_out() {
    // given a user whose id is public (profile URLs) and whose session id leaked
    let kakao = KakaoFake::start().await;
    kakao.user("kakao-victim", 999, APP_ID, "victim").await;
    let (api, _dir) = api_with_kakao(&kakao, &[("AUTH_RATE_LIMIT_PER_IP", "100")]).await;
    at_start_of_a_window().await;
    let victim = kakao_login(&api, "kakao-victim").await.body;
    let token = victim["refresh_token"].as_str().expect("refresh");
    let (prefix, _secret) = token.rsplit_once('.').expect("three parts");

    // when someone sends many refreshes with made-up secrets for that session
    for last in ['A', 'E', 'I', 'M', 'Q', 'U', 'Y', 'c'] {
        // 43 base64url characters that decode to 32 bytes: well-formed, wrong secret
        let guess = format!("{prefix}.{}{last}", "B".repeat(42));
        assert_eq!(refresh(&api, &json!(guess)).await.status, 401);
    }

    // then the owner still refreshes: guesses count against the address, not the account
    let owner = refresh(&api, &victim["refresh_token"]).await;
    assert_eq!(owner.status, 200, "{}", owner.body);
    api.stop().await;
}
