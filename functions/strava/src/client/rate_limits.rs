//! Strava's rate limits, as every API answer reports them, and when a full window reopens.
//!
//! Limits are per application, shared by every athlete we import for: 200 requests per
//! 15 minutes and 2,000 per day overall, of which reads 100 and 1,000. Each answer carries
//! `X-RateLimit-Limit: 200,2000`, `X-RateLimit-Usage: 12,340` and the same pair for reads
//! (`X-ReadRateLimit-…`). The 15-minute windows reset at :00, :15, :30 and :45 UTC, the
//! daily ones at midnight UTC. A 429 carries no `Retry-After`, and requests over the limit
//! still count, so the import stops asking until the window reopens ([`resume_at`]).

use reqwest::header::{HeaderMap, HeaderName};

/// The overall limits, "15-minute,daily".
pub const LIMIT_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// The overall usage, "15-minute,daily".
pub const USAGE_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-usage");
/// The read limits, "15-minute,daily".
pub const READ_LIMIT_HEADER: HeaderName = HeaderName::from_static("x-readratelimit-limit");
/// The read usage, "15-minute,daily".
pub const READ_USAGE_HEADER: HeaderName = HeaderName::from_static("x-readratelimit-usage");

/// The length of the short window: it resets on every quarter hour, UTC.
pub const QUARTER_HOUR_S: i64 = 15 * 60;
/// The length of the daily window: it resets at midnight UTC.
pub const DAY_S: i64 = 24 * 60 * 60;

/// What Strava answered and the rate-limit usage it reported with it, so the import can
/// slow down before it is refused rather than after.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    /// The answer itself.
    pub value: T,
    /// The usage after this request; `None` when the answer carried no usable headers.
    pub usage: Option<RateUsage>,
}

/// The application's rate-limit windows after one request: the overall limits always, the
/// read limits when Strava sent them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateUsage {
    /// Requests allowed per 15 minutes (200 by default).
    pub limit_15min: u32,
    /// Requests allowed per day (2,000 by default).
    pub limit_daily: u32,
    /// Requests made in the current 15 minutes, those refused included.
    pub usage_15min: u32,
    /// Requests made today (UTC), those refused included.
    pub usage_daily: u32,
    /// Reads allowed per 15 minutes (100 by default).
    pub read_limit_15min: Option<u32>,
    /// Reads allowed per day (1,000 by default).
    pub read_limit_daily: Option<u32>,
    /// Reads made in the current 15 minutes.
    pub read_usage_15min: Option<u32>,
    /// Reads made today (UTC).
    pub read_usage_daily: Option<u32>,
}

impl RateUsage {
    /// The usage in Strava's headers; `None` unless both overall headers are there and
    /// read as two numbers each. A read header that is missing or unreadable leaves its
    /// two fields `None`.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateUsage> {
        let (limit_15min, limit_daily) = pair(headers, &LIMIT_HEADER)?;
        let (usage_15min, usage_daily) = pair(headers, &USAGE_HEADER)?;
        let read_limit = pair(headers, &READ_LIMIT_HEADER);
        let read_usage = pair(headers, &READ_USAGE_HEADER);
        Some(RateUsage {
            limit_15min,
            limit_daily,
            usage_15min,
            usage_daily,
            read_limit_15min: read_limit.map(|(short, _)| short),
            read_limit_daily: read_limit.map(|(_, daily)| daily),
            read_usage_15min: read_usage.map(|(short, _)| short),
            read_usage_daily: read_usage.map(|(_, daily)| daily),
        })
    }

    /// The fewest requests left in any window (0 when one is full or over): how many more
    /// reads the import may make before it must wait.
    pub fn headroom(&self) -> u32 {
        self.short_windows()
            .into_iter()
            .chain(self.daily_windows())
            .flatten()
            .map(|(limit, used)| limit.saturating_sub(used))
            .min()
            .unwrap_or(0)
    }

    /// How much of the 15-minute and of the daily budget is spent, in percent: the fuller
    /// of the overall and the read window of each. The `StravaBudgetUsedPercent` metric
    /// (dimension `Window`), whose alarm warns before imports start to wait.
    pub fn used_percent(&self) -> (f64, f64) {
        let fullest = |windows: [Option<(u32, u32)>; 2]| {
            windows
                .into_iter()
                .flatten()
                .map(|(limit, used)| {
                    if limit == 0 {
                        100.0
                    } else {
                        f64::from(used) * 100.0 / f64::from(limit)
                    }
                })
                .fold(0.0, f64::max)
        };
        (fullest(self.short_windows()), fullest(self.daily_windows()))
    }

    /// Whether a 15-minute window (overall or reads) is used up.
    pub fn short_window_full(&self) -> bool {
        self.short_windows()
            .into_iter()
            .flatten()
            .any(|(limit, used)| used >= limit)
    }

    /// Whether a daily window (overall or reads) is used up: no request succeeds before
    /// midnight UTC.
    pub fn daily_window_full(&self) -> bool {
        self.daily_windows()
            .into_iter()
            .flatten()
            .any(|(limit, used)| used >= limit)
    }

    /// The 15-minute windows as (limit, used), the read one when both numbers are known.
    fn short_windows(&self) -> [Option<(u32, u32)>; 2] {
        [
            Some((self.limit_15min, self.usage_15min)),
            self.read_limit_15min.zip(self.read_usage_15min),
        ]
    }

    /// The daily windows as (limit, used), the read one when both numbers are known.
    fn daily_windows(&self) -> [Option<(u32, u32)>; 2] {
        [
            Some((self.limit_daily, self.usage_daily)),
            self.read_limit_daily.zip(self.read_usage_daily),
        ]
    }
}

/// When a window that is full reopens: the next quarter hour (UTC), or the next midnight
/// UTC when the daily window is the full one. Always after `now_epoch_s`; without a usage
/// (a 429 without headers) the next quarter hour, the earliest Strava may accept again.
pub fn resume_at(now_epoch_s: i64, usage: Option<&RateUsage>) -> i64 {
    let window = if usage.is_some_and(RateUsage::daily_window_full) {
        DAY_S
    } else {
        QUARTER_HOUR_S
    };
    // Unix time has no leap seconds, so UTC quarter hours and midnights are multiples.
    (now_epoch_s.div_euclid(window) + 1) * window
}

/// A header of two numbers, "15-minute,daily".
fn pair(headers: &HeaderMap, name: &HeaderName) -> Option<(u32, u32)> {
    let text = headers.get(name)?.to_str().ok()?;
    let (short, daily) = text.split_once(',')?;
    Some((short.trim().parse().ok()?, daily.trim().parse().ok()?))
}
