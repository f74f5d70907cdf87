//! The settings of login, tokens, sessions, rate limits and audit (`/v1/auth/*`, `/v1/users/*`).
//!
//! Read with the rest of [`super::Config`] at start-up so that a bad value stops the function
//! before its first request instead of failing a login.

use super::{ConfigProblem, Environment};

/// Where the client's address comes from when the application limits requests per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIpSource {
    /// `requestContext.http.sourceIp`: the caller API Gateway saw (no proxy in front).
    SourceIp,
    /// The `CloudFront-Viewer-Address` header (`ip:port`) set by a CloudFront distribution
    /// in front of the API; trusted only when that distribution is the only way in.
    CloudFront,
    /// The last `X-Forwarded-For` entry, the one the trusted proxy in front appended.
    ForwardedFor,
}

/// An external OpenID Connect issuer whose tokens the API accepts instead of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalOidc {
    /// `OIDC_ISSUER_URL`: the exact `iss`; discovery is `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// `OIDC_AUDIENCE`: the `aud` the tokens must carry.
    pub audience: String,
}

/// The social-login providers: each is enabled by its client or app id, and its base URL can
/// point at a loopback fake in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// `KAKAO_APP_ID`: tokens of any other Kakao app are refused.
    pub kakao_app_id: Option<String>,
    /// `KAKAO_API_URL`, default `https://kapi.kakao.com`.
    pub kakao_api_url: String,
    /// `NAVER_CLIENT_ID`: enables Naver login (Naver user ids are unique per application).
    pub naver_client_id: Option<String>,
    /// `NAVER_API_URL`, default `https://openapi.naver.com`.
    pub naver_api_url: String,
    /// `GOOGLE_CLIENT_IDS`: the `aud` values accepted in Google id_tokens (comma-separated).
    pub google_client_ids: Vec<String>,
    /// `GOOGLE_JWKS_URL`, default `https://www.googleapis.com/oauth2/v3/certs`.
    pub google_jwks_url: String,
    /// `APPLE_CLIENT_IDS`: the bundle and services ids accepted as `aud` (comma-separated).
    pub apple_client_ids: Vec<String>,
    /// `APPLE_JWKS_URL`, default `https://appleid.apple.com/auth/keys`.
    pub apple_jwks_url: String,
    /// `OIDC_JWKS_CACHE_TTL_SECONDS`: how long provider keys are kept when the provider
    /// sends no Cache-Control max-age (default 3600).
    pub jwks_cache_ttl_seconds: u64,
}

/// Login, token and session settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// `ACCESS_TOKEN_TTL`: lifetime of our access tokens in seconds (default 900).
    pub access_token_ttl_seconds: i64,
    /// `REFRESH_TOKEN_TTL`: lifetime of a refresh token in seconds (default 30 days).
    pub refresh_token_ttl_seconds: i64,
    /// `MAX_SESSIONS`: concurrent sessions per user; the oldest is ended beyond it (default 5).
    pub max_sessions: usize,
    /// `AUTH_RATE_LIMIT_PER_IP`: logins plus refreshes per client address per window (10).
    pub rate_limit_per_ip: i64,
    /// `AUTH_RATE_LIMIT_PER_ACCOUNT`: logins plus refreshes per account per window (5).
    pub rate_limit_per_account: i64,
    /// `AUTH_RATE_LIMIT_WINDOW_SECONDS`: the fixed window (60).
    pub rate_limit_window_seconds: i64,
    /// `CLIENT_IP_SOURCE`: source-ip | cloudfront | x-forwarded-for.
    pub client_ip: ClientIpSource,
    /// `AUDIT_RETENTION_DAYS`: audit items expire after this many days (default 400).
    pub audit_retention_days: i64,
    /// `OIDC_ISSUER_URL` + `OIDC_AUDIENCE`: accept an external issuer's tokens instead.
    pub external_oidc: Option<ExternalOidc>,
    /// Which social logins are enabled, and where their APIs are (fakes in tests).
    pub providers: ProviderConfig,
}

fn comma_list(raw: Option<String>) -> Vec<String> {
    raw.map(|v| {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// A duration in seconds: `900`, `900s`, `15m`, `12h` or `30d`.
pub(crate) fn parse_seconds(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (digits, unit) = match raw.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&raw[..i], c.to_ascii_lowercase()),
        _ => (raw, 's'),
    };
    let value: i64 = digits.trim().parse().ok()?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    value.checked_mul(factor).filter(|s| *s > 0)
}

impl AuthConfig {
    /// Reads the auth settings through `get`, adding a problem for each bad value.
    pub(crate) fn read(
        get: &dyn Fn(&str) -> Option<String>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let mut seconds = |name: &str, default: i64| match get(name) {
            None => default,
            Some(raw) => parse_seconds(&raw).unwrap_or_else(|| {
                problems.push(ConfigProblem(format!(
                    "{name}={raw} is not a positive duration such as 900, 15m, 12h or 30d"
                )));
                default
            }),
        };
        let access_token_ttl_seconds = seconds("ACCESS_TOKEN_TTL", 900);
        let refresh_token_ttl_seconds = seconds("REFRESH_TOKEN_TTL", 30 * 86_400);
        let rate_limit_window_seconds = seconds("AUTH_RATE_LIMIT_WINDOW_SECONDS", 60);
        let jwks_cache_ttl_seconds = seconds("OIDC_JWKS_CACHE_TTL_SECONDS", 3600);

        let mut count = |name: &str, default: i64| match get(name) {
            None => default,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if n > 0 => n,
                _ => {
                    problems.push(ConfigProblem(format!(
                        "{name}={raw} is not a positive whole number"
                    )));
                    default
                }
            },
        };
        let max_sessions = count("MAX_SESSIONS", 5);
        let rate_limit_per_ip = count("AUTH_RATE_LIMIT_PER_IP", 10);
        let rate_limit_per_account = count("AUTH_RATE_LIMIT_PER_ACCOUNT", 5);
        let audit_retention_days = count("AUDIT_RETENTION_DAYS", 400);

        let client_ip = match get("CLIENT_IP_SOURCE").as_deref() {
            None | Some("source-ip") => ClientIpSource::SourceIp,
            Some("cloudfront") => ClientIpSource::CloudFront,
            Some("x-forwarded-for") => ClientIpSource::ForwardedFor,
            Some(other) => {
                problems.push(ConfigProblem(format!(
                    "CLIENT_IP_SOURCE={other} is not source-ip, cloudfront or x-forwarded-for"
                )));
                ClientIpSource::SourceIp
            }
        };

        let external_oidc = match (get("OIDC_ISSUER_URL"), get("OIDC_AUDIENCE")) {
            (None, None) => None,
            (Some(issuer), Some(audience)) => Some(ExternalOidc {
                issuer: issuer.trim_end_matches('/').to_owned(),
                audience,
            }),
            _ => {
                problems.push(ConfigProblem(
                    "OIDC_ISSUER_URL and OIDC_AUDIENCE go together: set both or neither".into(),
                ));
                None
            }
        };

        let url = |name: &str, default: &str| {
            get(name)
                .unwrap_or_else(|| default.to_owned())
                .trim_end_matches('/')
                .to_owned()
        };
        let providers = ProviderConfig {
            kakao_app_id: get("KAKAO_APP_ID"),
            kakao_api_url: url("KAKAO_API_URL", "https://kapi.kakao.com"),
            naver_client_id: get("NAVER_CLIENT_ID"),
            naver_api_url: url("NAVER_API_URL", "https://openapi.naver.com"),
            google_client_ids: comma_list(get("GOOGLE_CLIENT_IDS")),
            google_jwks_url: url(
                "GOOGLE_JWKS_URL",
                "https://www.googleapis.com/oauth2/v3/certs",
            ),
            apple_client_ids: comma_list(get("APPLE_CLIENT_IDS")),
            apple_jwks_url: url("APPLE_JWKS_URL", "https://appleid.apple.com/auth/keys"),
            jwks_cache_ttl_seconds: jwks_cache_ttl_seconds.unsigned_abs(),
        };

        AuthConfig {
            access_token_ttl_seconds,
            refresh_token_ttl_seconds,
            max_sessions: usize::try_from(max_sessions).unwrap_or(5),
            rate_limit_per_ip,
            rate_limit_per_account,
            rate_limit_window_seconds,
            client_ip,
            audit_retention_days,
            external_oidc,
            providers,
        }
    }

    /// What a deployed stage refuses: identity traffic over plain HTTP, an access token
    /// that outlives the refresh token, or a session cap of zero.
    pub(crate) fn problems(&self, environment: Environment) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.access_token_ttl_seconds >= self.refresh_token_ttl_seconds {
            problems.push(ConfigProblem(
                "ACCESS_TOKEN_TTL must be shorter than REFRESH_TOKEN_TTL".into(),
            ));
        }
        if environment == Environment::Production {
            let p = &self.providers;
            let mut urls = vec![
                ("KAKAO_API_URL", p.kakao_api_url.as_str()),
                ("NAVER_API_URL", p.naver_api_url.as_str()),
                ("GOOGLE_JWKS_URL", p.google_jwks_url.as_str()),
                ("APPLE_JWKS_URL", p.apple_jwks_url.as_str()),
            ];
            if let Some(oidc) = &self.external_oidc {
                urls.push(("OIDC_ISSUER_URL", oidc.issuer.as_str()));
            }
            for (name, url) in urls {
                if !url.starts_with("https://") {
                    problems.push(ConfigProblem(format!(
                        "{name}={url} is not https: identity traffic must be encrypted in production"
                    )));
                }
            }
            if self.access_token_ttl_seconds > 3600 {
                problems.push(ConfigProblem(
                    "ACCESS_TOKEN_TTL is over an hour: access tokens cannot be revoked, keep them short".into(),
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    #[test]
    fn durations_read_with_or_without_a_unit() {
        assert_eq!(parse_seconds("900"), Some(900));
        assert_eq!(parse_seconds("15m"), Some(900));
        assert_eq!(parse_seconds("30d"), Some(2_592_000));
        assert_eq!(parse_seconds("0"), None);
        assert_eq!(parse_seconds("ten"), None);
        assert_eq!(parse_seconds("5w"), None);
    }
}
