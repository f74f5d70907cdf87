//! A fake Strava for the Strava client and import tests: OAuth (`/oauth/token` for both
//! grants, `/oauth/deauthorize`) and API v3 (`/api/v3/athlete/activities`,
//! `/api/v3/activities/{id}`) on one wiremock server on 127.0.0.1, with Strava's answer
//! shapes, error bodies and rate-limit headers.
//!
//! It keeps what Strava keeps: which code belongs to which athlete (each works once),
//! which tokens are alive (a refresh returns a new refresh token and the old one answers
//! 400 at once; access tokens live 6 hours), each athlete's activities, and the
//! application's rate-limit usage (every API call counts, refused ones too; over a limit
//! the answer is 429 until the test resets the window). A test adds athletes and
//! activities, turns the knobs (revoke, expire, 429s, the athlete cap) and reads what
//! happened (grants per athlete, usage, the requests received).
//!
//! Differences from Strava, on purpose: a refresh always issues a new access token (Strava
//! keeps one with more than an hour left), scopes are not modelled (every token may read
//! every activity of its athlete, private ones included), and an athlete sees only their
//! own activities.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use runcrew_strava::client::{Activity, StravaClient, StravaSettings, http_client};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Our application's client id at the fake.
pub const CLIENT_ID: &str = "163042";
/// Our application's client secret at the fake.
pub const CLIENT_SECRET: &str = "fake-client-secret-3f1c9a7e5b";
/// The overall limits, per 15 minutes and per day, as Strava's defaults.
pub const LIMITS: (u32, u32) = (200, 2_000);
/// The read limits, per 15 minutes and per day, as Strava's defaults.
pub const READ_LIMITS: (u32, u32) = (100, 1_000);
/// How long an access token lives: 6 hours.
pub const ACCESS_LIFETIME_S: i64 = 6 * 60 * 60;
/// A route in Seoul (an encoded polyline) for activities that have one.
pub const SEOUL_POLYLINE: &str = "ed|cFmqnbWs@kAeAyAuA_BwAeB}@gA";
/// The time zone of [`activity`]'s activities.
pub const SEOUL: &str = "(GMT+09:00) Asia/Seoul";
/// Seoul's offset from UTC, seconds.
pub const SEOUL_OFFSET_S: i32 = 9 * 60 * 60;

/// An athlete of the fake (Strava's athlete id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Athlete {
    /// Strava's id of the athlete.
    pub id: i64,
}

/// The grants the token endpoint made to one athlete, so a test can say "refreshed once".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    /// Codes traded for tokens.
    pub codes: u32,
    /// Refresh tokens traded for new tokens.
    pub refreshes: u32,
}

/// The application's rate-limit usage in the current windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Requests in the current 15 minutes.
    pub usage_15min: u32,
    /// Requests today.
    pub usage_daily: u32,
    /// Reads in the current 15 minutes.
    pub read_usage_15min: u32,
    /// Reads today.
    pub read_usage_daily: u32,
}

/// Tokens the fake issued to an athlete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The bearer token of API calls.
    pub access_token: String,
    /// The token of the next refresh.
    pub refresh_token: String,
    /// When the access token expires, epoch seconds.
    pub expires_at: i64,
}

/// An activity of `sport_type` starting at `start_date` (UTC, RFC 3339) in Seoul: 5 km in
/// 27 minutes, with a route, public; adjust the fields a test is about.
pub fn activity(id: i64, sport_type: &str, start_date: &str) -> Activity {
    let local = OffsetDateTime::parse(start_date, &Rfc3339)
        .ok()
        .map(|at| at + time::Duration::seconds(i64::from(SEOUL_OFFSET_S)))
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| start_date.to_owned());
    Activity {
        id,
        name: format!("Morning {sport_type}"),
        sport_type: sport_type.to_owned(),
        start_date: start_date.to_owned(),
        start_date_local: local,
        timezone: Some(SEOUL.to_owned()),
        utc_offset_s: SEOUL_OFFSET_S,
        moving_time_s: 1_620,
        elapsed_time_s: 1_700,
        distance_m: 5_012.4,
        summary_polyline: Some(SEOUL_POLYLINE.to_owned()),
        private: false,
        external_id: Some(format!("garmin_ping_{id}")),
        upload_id: Some(id + 1_000_000),
    }
}

/// The fake Strava.
pub struct StravaFake {
    /// The wiremock server on 127.0.0.1 playing both hosts; a test may mount its own
    /// answers on it (with a higher priority than the fake's, which use the default).
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

impl StravaFake {
    /// A fake with no athletes, no activities and an unused rate limit.
    pub async fn start() -> StravaFake {
        let fake = StravaFake {
            server: MockServer::start().await,
            state: Arc::new(Mutex::new(State::default())),
        };
        for (verb, route, kind) in [
            ("GET", "/oauth/authorize", Kind::Authorize),
            ("POST", "/oauth/token", Kind::Token),
            ("POST", "/oauth/deauthorize", Kind::Deauthorize),
            ("GET", "/api/v3/athlete/activities", Kind::Activities),
        ] {
            Mock::given(method(verb))
                .and(path(route))
                .respond_with(fake.endpoint(kind))
                .mount(&fake.server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path_regex(r"^/api/v3/activities/-?[0-9]+$"))
            .respond_with(fake.endpoint(Kind::Activity))
            .mount(&fake.server)
            .await;
        fake
    }

    /// The API base, as `StravaSettings::api_url`.
    pub fn url_api(&self) -> String {
        format!("{}/api/v3", self.server.uri())
    }

    /// The OAuth base, as `StravaSettings::oauth_url`.
    pub fn url_oauth(&self) -> String {
        format!("{}/oauth", self.server.uri())
    }

    /// Settings pointing at the fake with its client id and secret.
    pub fn settings(&self) -> StravaSettings {
        StravaSettings {
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            api_url: self.url_api(),
            oauth_url: self.url_oauth(),
        }
    }

    /// A client of the fake with the production HTTP client settings.
    pub fn client(&self) -> StravaClient {
        StravaClient::new(http_client().expect("an HTTP client"), self.settings())
    }

    /// A new athlete whose approval redirect carried `code`.
    pub fn add_athlete(&self, id: i64, code: &str) -> Athlete {
        let mut state = self.state();
        state.athletes.entry(id).or_default();
        state.codes.insert(code.to_owned(), id);
        Athlete { id }
    }

    /// Another `code` for `athlete` (they approved us again).
    pub fn add_code(&self, athlete: &Athlete, code: &str) {
        self.state().codes.insert(code.to_owned(), athlete.id);
    }

    /// Tokens for `athlete` as if a code had been exchanged earlier (a connection the
    /// import already holds); counts no grant.
    pub fn connect(&self, athlete: &Athlete) -> Tokens {
        self.state().issue(athlete.id, now())
    }

    /// The tokens issued to `athlete` last, if any.
    pub fn tokens(&self, athlete: &Athlete) -> Option<Tokens> {
        self.state()
            .athletes
            .get(&athlete.id)
            .and_then(|a| a.latest.clone())
    }

    /// The grants made to `athlete`.
    pub fn grants(&self, athlete: &Athlete) -> Grants {
        self.state()
            .athletes
            .get(&athlete.id)
            .map(|a| a.grants)
            .unwrap_or_default()
    }

    /// Whether `athlete` has approved us and not revoked since.
    pub fn is_connected(&self, athlete: &Athlete) -> bool {
        self.state()
            .athletes
            .get(&athlete.id)
            .is_some_and(|a| a.connected)
    }

    /// `activity` recorded by `athlete` (replacing one with its id).
    pub fn add_activity(&self, athlete: &Athlete, activity: Activity) {
        self.state()
            .activities
            .insert(activity.id, (athlete.id, activity));
    }

    /// The activity `id` deleted on Strava.
    pub fn remove_activity(&self, id: i64) {
        self.state().activities.remove(&id);
    }

    /// `athlete` revoked our access on Strava: every token of theirs answers 401, refresh
    /// tokens included, until they approve us again (a new code).
    pub fn revoke(&self, athlete: &Athlete) {
        self.state().revoke(athlete.id);
    }

    /// `athlete`'s access tokens expired: API calls with them answer 401, a refresh works.
    pub fn expire_access(&self, athlete: &Athlete) {
        let past = now() - 1;
        for token in self.state().access.values_mut() {
            if token.athlete == athlete.id {
                token.expires_at = past;
            }
        }
    }

    /// Code exchanges for athletes not yet connected answer 403 "limit of connected
    /// athletes exceeded" once `cap` athletes are connected.
    pub fn limit_connected_athletes(&self, cap: usize) {
        self.state().athlete_cap = Some(cap);
    }

    /// The rate-limit usage now.
    pub fn usage(&self) -> Usage {
        self.state().usage
    }

    /// Sets the rate-limit usage (say, a day nearly used up).
    pub fn set_usage(&self, usage: Usage) {
        self.state().usage = usage;
    }

    /// The next `n` API calls (at most 100) answer normally, every later one 429 until
    /// [`StravaFake::reset_15min`]: the 15-minute read window fills up.
    pub fn answer_429_after(&self, n: u32) {
        let mut state = self.state();
        state.usage.read_usage_15min = READ_LIMITS.0.saturating_sub(n);
        state.usage.usage_15min = state.usage.usage_15min.min(LIMITS.0.saturating_sub(n));
    }

    /// The next `n` API calls answer 429 whatever the usage (it still counts them), then
    /// the fake answers normally again.
    pub fn answer_429_next(&self, n: u32) {
        self.state().forced_429 = n;
    }

    /// A quarter hour passed: the 15-minute windows start over.
    pub fn reset_15min(&self) {
        let mut state = self.state();
        state.usage.usage_15min = 0;
        state.usage.read_usage_15min = 0;
    }

    /// Midnight UTC passed: every window starts over.
    pub fn reset_daily(&self) {
        self.state().usage = Usage::default();
    }

    /// The requests that reached `path` (e.g. "/api/v3/athlete/activities").
    pub async fn requests_to(&self, path: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .expect("recording is on")
            .into_iter()
            .filter(|r| r.url.path() == path)
            .collect()
    }

    /// The fake's state, locked.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("the fake's state")
    }

    /// A responder of `kind` on the shared state.
    fn endpoint(&self, kind: Kind) -> Endpoint {
        Endpoint {
            kind,
            state: Arc::clone(&self.state),
        }
    }
}

/// Now, epoch seconds.
fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// What the fake keeps.
#[derive(Default)]
struct State {
    athletes: BTreeMap<i64, AthleteState>,
    /// Unused codes and their athletes.
    codes: BTreeMap<String, i64>,
    access: BTreeMap<String, AccessToken>,
    refresh: BTreeMap<String, RefreshToken>,
    /// Activity id to its athlete and itself.
    activities: BTreeMap<i64, (i64, Activity)>,
    usage: Usage,
    forced_429: u32,
    athlete_cap: Option<usize>,
    /// Tokens issued so far, numbering the next.
    issued: u64,
}

#[derive(Default)]
struct AthleteState {
    grants: Grants,
    connected: bool,
    latest: Option<Tokens>,
}

struct AccessToken {
    athlete: i64,
    expires_at: i64,
    live: bool,
}

struct RefreshToken {
    athlete: i64,
    live: bool,
}

impl State {
    /// New tokens for `athlete`; their older refresh tokens die.
    fn issue(&mut self, athlete: i64, now: i64) -> Tokens {
        self.issued += 1;
        let n = self.issued;
        let tokens = Tokens {
            access_token: format!("fake-access-{athlete}-{n}"),
            refresh_token: format!("fake-refresh-{athlete}-{n}"),
            expires_at: now + ACCESS_LIFETIME_S,
        };
        for token in self.refresh.values_mut() {
            if token.athlete == athlete {
                token.live = false;
            }
        }
        self.access.insert(
            tokens.access_token.clone(),
            AccessToken {
                athlete,
                expires_at: tokens.expires_at,
                live: true,
            },
        );
        self.refresh.insert(
            tokens.refresh_token.clone(),
            RefreshToken {
                athlete,
                live: true,
            },
        );
        let record = self.athletes.entry(athlete).or_default();
        record.connected = true;
        record.latest = Some(tokens.clone());
        tokens
    }

    /// Every token of `athlete` dies.
    fn revoke(&mut self, athlete: i64) {
        for token in self.access.values_mut() {
            if token.athlete == athlete {
                token.live = false;
            }
        }
        for token in self.refresh.values_mut() {
            if token.athlete == athlete {
                token.live = false;
            }
        }
        if let Some(record) = self.athletes.get_mut(&athlete) {
            record.connected = false;
        }
    }

    /// The athlete of a live, unexpired access token.
    fn athlete_of(&self, access_token: &str, now: i64) -> Option<i64> {
        self.access
            .get(access_token)
            .filter(|t| t.live && t.expires_at > now)
            .map(|t| t.athlete)
    }

    /// Counts one API read; whether it is over a limit (or a forced 429).
    fn count_read(&mut self) -> bool {
        let usage = &mut self.usage;
        usage.usage_15min += 1;
        usage.usage_daily += 1;
        usage.read_usage_15min += 1;
        usage.read_usage_daily += 1;
        if self.forced_429 > 0 {
            self.forced_429 -= 1;
            return true;
        }
        usage.usage_15min > LIMITS.0
            || usage.usage_daily > LIMITS.1
            || usage.read_usage_15min > READ_LIMITS.0
            || usage.read_usage_daily > READ_LIMITS.1
    }
}

/// Which endpoint a responder plays.
#[derive(Clone, Copy)]
enum Kind {
    Authorize,
    Token,
    Deauthorize,
    Activities,
    Activity,
}

/// A responder of the fake.
struct Endpoint {
    kind: Kind,
    state: Arc<Mutex<State>>,
}

impl Respond for Endpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().expect("the fake's state");
        match self.kind {
            Kind::Authorize => authorize(&mut state, request),
            Kind::Token => token(&mut state, request),
            Kind::Deauthorize => deauthorize(&mut state, request),
            Kind::Activities | Kind::Activity => api(&mut state, request, self.kind),
        }
    }
}

/// `GET /oauth/authorize`: the first athlete approves at once, everything asked for, so a
/// browser on a laptop goes straight back to `redirect_uri` with a fresh code and the state.
fn authorize(state: &mut State, request: &Request) -> ResponseTemplate {
    let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
    let (Some(redirect), Some(athlete)) = (
        query.get("redirect_uri"),
        state.athletes.keys().next().copied(),
    ) else {
        return answer(
            400,
            fault("Bad Request", "Application", "redirect_uri", "invalid"),
        );
    };
    state.issued += 1;
    let code = format!("approved-{}", state.issued);
    state.codes.insert(code.clone(), athlete);
    let mut back = url::Url::parse(redirect).ok();
    if let Some(url) = back.as_mut() {
        url.query_pairs_mut()
            .append_pair("state", query.get("state").map_or("", String::as_str))
            .append_pair("code", &code)
            .append_pair(
                "scope",
                &format!("read,{}", query.get("scope").map_or("", String::as_str)),
            );
    }
    match back {
        Some(url) => ResponseTemplate::new(302).insert_header("location", url.as_str()),
        None => answer(
            400,
            fault("Bad Request", "Application", "redirect_uri", "invalid"),
        ),
    }
}

/// Strava's error body.
fn fault(message: &str, resource: &str, field: &str, code: &str) -> Value {
    json!({
        "message": message,
        "errors": [{ "resource": resource, "field": field, "code": code }]
    })
}

/// `status` with a JSON `body`.
fn answer(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// 401 for an access token that is not (or no longer) valid.
fn bad_access_token() -> ResponseTemplate {
    answer(
        401,
        fault("Authorization Error", "Athlete", "access_token", "invalid"),
    )
}

/// The fields of a form body.
fn form(request: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// The bearer token of the `Authorization` header.
fn bearer(request: &Request) -> Option<String> {
    let value = request.headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

/// `POST /oauth/token`: both grants.
fn token(state: &mut State, request: &Request) -> ResponseTemplate {
    let fields = form(request);
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != CLIENT_ID {
        return answer(
            400,
            fault("Bad Request", "Application", "client_id", "invalid"),
        );
    }
    if field("client_secret") != CLIENT_SECRET {
        return answer(
            401,
            fault("Authorization Error", "Application", "", "invalid"),
        );
    }
    let now = now();
    match field("grant_type") {
        "authorization_code" => {
            let Some(&athlete) = state.codes.get(field("code")) else {
                return answer(
                    400,
                    fault("Bad Request", "AuthorizationCode", "code", "invalid"),
                );
            };
            let connected = state.athletes.values().filter(|a| a.connected).count();
            let already = state.athletes.get(&athlete).is_some_and(|a| a.connected);
            if state.athlete_cap.is_some_and(|cap| connected >= cap) && !already {
                return answer(
                    403,
                    fault(
                        "Forbidden",
                        "Athlete",
                        "access_token",
                        "limit of connected athletes exceeded",
                    ),
                );
            }
            state.codes.remove(field("code"));
            let tokens = state.issue(athlete, now);
            state.athletes.entry(athlete).or_default().grants.codes += 1;
            answer(200, token_body(&tokens, Some(athlete)))
        }
        "refresh_token" => {
            let Some(old) = state.refresh.get(field("refresh_token")) else {
                return answer(
                    400,
                    fault("Bad Request", "RefreshToken", "refresh_token", "invalid"),
                );
            };
            let athlete = old.athlete;
            if !old.live {
                let connected = state.athletes.get(&athlete).is_some_and(|a| a.connected);
                return if connected {
                    // Replaced by a later refresh.
                    answer(
                        400,
                        fault("Bad Request", "RefreshToken", "refresh_token", "invalid"),
                    )
                } else {
                    answer(
                        401,
                        fault(
                            "Authorization Error",
                            "RefreshToken",
                            "refresh_token",
                            "invalid",
                        ),
                    )
                };
            }
            let tokens = state.issue(athlete, now);
            state.athletes.entry(athlete).or_default().grants.refreshes += 1;
            answer(200, token_body(&tokens, None))
        }
        _ => answer(
            400,
            fault("Bad Request", "Application", "grant_type", "invalid"),
        ),
    }
}

/// The token endpoint's answer; the athlete only on a code exchange.
fn token_body(tokens: &Tokens, athlete: Option<i64>) -> Value {
    let mut body = json!({
        "token_type": "Bearer",
        "expires_at": tokens.expires_at,
        "expires_in": ACCESS_LIFETIME_S,
        "refresh_token": tokens.refresh_token,
        "access_token": tokens.access_token,
    });
    if let Some(id) = athlete {
        body["athlete"] = json!({
            "id": id,
            "username": null,
            "resource_state": 2,
            "firstname": "Test",
            "lastname": "Runner",
            "bio": null,
            "city": "Seoul",
            "state": null,
            "country": "South Korea",
            "sex": null,
            "premium": false,
            "summit": false,
            "created_at": "2024-03-01T09:00:00Z",
            "updated_at": "2026-11-01T09:00:00Z",
            "badge_type_id": 0,
            "weight": null,
            "profile_medium": "avatar/athlete/medium.png",
            "profile": "avatar/athlete/large.png",
            "friend": null,
            "follower": null
        });
    }
    body
}

/// `POST /oauth/deauthorize`, the token in the form or as a bearer token.
fn deauthorize(state: &mut State, request: &Request) -> ResponseTemplate {
    let token = form(request)
        .remove("access_token")
        .or_else(|| bearer(request))
        .unwrap_or_default();
    match state.athlete_of(&token, now()) {
        Some(athlete) => {
            state.revoke(athlete);
            answer(200, json!({ "access_token": token }))
        }
        None => bad_access_token(),
    }
}

/// An API read: counted, refused over the limit, authenticated, then answered.
fn api(state: &mut State, request: &Request, kind: Kind) -> ResponseTemplate {
    let over = state.count_read();
    let usage = state.usage;
    let with_headers = |response: ResponseTemplate| {
        response
            .insert_header("X-RateLimit-Limit", format!("{},{}", LIMITS.0, LIMITS.1))
            .insert_header(
                "X-RateLimit-Usage",
                format!("{},{}", usage.usage_15min, usage.usage_daily),
            )
            .insert_header(
                "X-ReadRateLimit-Limit",
                format!("{},{}", READ_LIMITS.0, READ_LIMITS.1),
            )
            .insert_header(
                "X-ReadRateLimit-Usage",
                format!("{},{}", usage.read_usage_15min, usage.read_usage_daily),
            )
    };
    if over {
        return with_headers(answer(
            429,
            fault(
                "Rate Limit Exceeded",
                "Application",
                "rate limit",
                "exceeded",
            ),
        ));
    }
    let Some(athlete) = bearer(request).and_then(|t| state.athlete_of(&t, now())) else {
        return with_headers(bad_access_token());
    };
    with_headers(match kind {
        Kind::Activities => list(state, request, athlete),
        _ => one(state, request, athlete),
    })
}

/// `GET /athlete/activities?after&before&page&per_page`: the athlete's activities that
/// started after `after` and before `before`, the oldest first when only `after` is given
/// and the newest first otherwise, a page at a time.
fn list(state: &State, request: &Request, athlete: i64) -> ResponseTemplate {
    let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
    // A parameter that is there but not a number: the name of the first one.
    let bad = ["after", "before", "page", "per_page"]
        .into_iter()
        .find(|name| query.get(*name).is_some_and(|v| v.parse::<i64>().is_err()));
    if let Some(name) = bad {
        return answer(400, fault("Bad Request", "Application", name, "invalid"));
    }
    let number = |name: &str| query.get(name).and_then(|v| v.parse::<i64>().ok());
    let (after, before, page, per_page) = (
        number("after"),
        number("before"),
        number("page"),
        number("per_page"),
    );
    let page = page.unwrap_or(1).max(1) as usize;
    let per_page = per_page.unwrap_or(30).clamp(1, 200) as usize;
    let mut chosen: Vec<(i64, &Activity)> = state
        .activities
        .values()
        .filter(|(owner, _)| *owner == athlete)
        .map(|(_, a)| (start_of(a), a))
        .filter(|(start, _)| after.is_none_or(|after| *start > after))
        .filter(|(start, _)| before.is_none_or(|before| *start < before))
        .collect();
    chosen.sort_by_key(|(start, a)| (*start, a.id));
    if !(after.is_some() && before.is_none()) {
        chosen.reverse();
    }
    let body: Vec<Value> = chosen
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|(_, a)| summary_json(athlete, a))
        .collect();
    answer(200, Value::Array(body))
}

/// `GET /activities/{id}`: one activity of the athlete, in detail.
fn one(state: &State, request: &Request, athlete: i64) -> ResponseTemplate {
    let id = request
        .url
        .path()
        .rsplit('/')
        .next()
        .and_then(|id| id.parse::<i64>().ok());
    match id.and_then(|id| state.activities.get(&id)) {
        Some((owner, activity)) if *owner == athlete => {
            answer(200, detailed_json(athlete, activity))
        }
        _ => answer(404, fault("Record Not Found", "Activity", "id", "invalid")),
    }
}

/// When `activity` started, epoch seconds (0 when its start is not RFC 3339).
fn start_of(activity: &Activity) -> i64 {
    OffsetDateTime::parse(&activity.start_date, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .unwrap_or(0)
}

/// The deprecated `type` Strava still writes next to `sport_type`.
fn legacy_type(sport_type: &str) -> &str {
    match sport_type {
        "TrailRun" => "Run",
        "MountainBikeRide" | "GravelRide" | "EMountainBikeRide" => "Ride",
        other => other,
    }
}

/// A SummaryActivity as Strava writes it.
fn summary_json(athlete: i64, a: &Activity) -> Value {
    let speed = if a.moving_time_s > 0 {
        a.distance_m / a.moving_time_s as f64
    } else {
        0.0
    };
    // In three parts: one json! of them all is past the macro's recursion limit.
    let core = json!({
        "resource_state": 2,
        "athlete": { "id": athlete, "resource_state": 1 },
        "name": a.name,
        "distance": a.distance_m,
        "moving_time": a.moving_time_s,
        "elapsed_time": a.elapsed_time_s,
        "total_elevation_gain": 12.0,
        "type": legacy_type(&a.sport_type),
        "sport_type": a.sport_type,
        "workout_type": null,
        "id": a.id,
        "start_date": a.start_date,
        "start_date_local": a.start_date_local,
        "timezone": a.timezone,
        "utc_offset": f64::from(a.utc_offset_s),
    });
    let counts = json!({
        "location_city": null,
        "location_state": null,
        "location_country": "South Korea",
        "achievement_count": 0,
        "kudos_count": 0,
        "comment_count": 0,
        "athlete_count": 1,
        "photo_count": 0,
        "map": {
            "id": format!("a{}", a.id),
            "summary_polyline": a.summary_polyline.clone().unwrap_or_default(),
            "resource_state": 2
        },
    });
    let flags = json!({
        "trainer": a.sport_type == "VirtualRun",
        "commute": false,
        "manual": a.summary_polyline.is_none(),
        "private": a.private,
        "visibility": if a.private { "only_me" } else { "everyone" },
        "flagged": false,
        "gear_id": null,
        "start_latlng": [37.5665, 126.978],
        "end_latlng": [37.5702, 126.9833],
        "average_speed": speed,
        "max_speed": speed * 1.4,
        "has_heartrate": false,
        "heartrate_opt_out": false,
        "display_hide_heartrate_option": false,
        "upload_id": a.upload_id,
        "upload_id_str": a.upload_id.map(|id| id.to_string()),
        "external_id": a.external_id,
        "from_accepted_tag": false,
        "pr_count": 0,
        "total_photo_count": 0,
        "has_kudoed": false
    });
    let mut body = core;
    for extra in [counts, flags] {
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
    }
    body
}

/// A DetailedActivity as Strava writes it: the summary and more.
fn detailed_json(athlete: i64, a: &Activity) -> Value {
    let mut body = summary_json(athlete, a);
    body["resource_state"] = json!(3);
    body["map"]["polyline"] = json!(a.summary_polyline.clone().unwrap_or_default());
    body["map"]["resource_state"] = json!(3);
    body["description"] = Value::Null;
    body["calories"] = json!(a.distance_m / 1_000.0 * 62.0);
    body["device_name"] = json!("Garmin Forerunner 265");
    body["embed_token"] = json!("0123456789abcdef");
    body["splits_metric"] = json!([]);
    body["laps"] = json!([]);
    body["segment_efforts"] = json!([]);
    body
}
