//! Finding events: a date range read from month partitions, a point read from geohash
//! cells, and the cursors that page them. Each is a type built from the query string, so a
//! handler never reads an unbounded window or an unknown month.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use runcrew_shared::ApiError;
use runcrew_shared::geocell;
use runcrew_shared::route::{LatLng, distance_between};
use runcrew_shared::store::{Index, Item, Query, SortRange};

use super::{geo_partition, month_of, month_partition};

/// The window of a list that names no `to`, in days.
pub const DEFAULT_WINDOW_DAYS: i64 = 30;
/// The widest window, in days: a list reads at most the 13 months it may touch.
pub const MAX_WINDOW_DAYS: i64 = 366;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Starts from `from_ms` to `to_ms` inclusive (`from`/`to`, RFC 3339 with an offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Epoch milliseconds.
    pub from_ms: i64,
    /// Epoch milliseconds, after `from_ms`, at most [`MAX_WINDOW_DAYS`] later.
    pub to_ms: i64,
}

impl Window {
    /// The window the query string's `from` and `to` name; `from` defaults to now and
    /// `to` to [`DEFAULT_WINDOW_DAYS`] after `from`. 422 naming the parameter otherwise.
    pub fn parse(from: Option<&str>, to: Option<&str>, now_ms: i64) -> Result<Window, ApiError> {
        let from_ms = match from {
            None => now_ms,
            Some(raw) => instant("from", raw)?,
        };
        let to_ms = match to {
            None => from_ms + DEFAULT_WINDOW_DAYS * DAY_MS,
            Some(raw) => instant("to", raw)?,
        };
        if to_ms <= from_ms {
            return Err(ApiError::invalid("to", "must be after from"));
        }
        if to_ms - from_ms > MAX_WINDOW_DAYS * DAY_MS {
            return Err(ApiError::invalid(
                "to",
                format!("must be at most {MAX_WINDOW_DAYS} days after from"),
            ));
        }
        Ok(Window { from_ms, to_ms })
    }

    /// Whether an event starting at `starts_ms` is in it.
    pub fn contains(&self, starts_ms: i64) -> bool {
        (self.from_ms..=self.to_ms).contains(&starts_ms)
    }

    /// The UTC months (`yyyy-mm`) it touches, in order.
    pub fn months(&self) -> Vec<String> {
        let last = month_of(self.to_ms);
        let mut months = vec![month_of(self.from_ms)];
        while months.last().is_some_and(|m| *m < last) {
            let next = months.last().map(|m| next_month(m)).unwrap_or_default();
            months.push(next);
        }
        months
    }

    /// The gsi1 query of `month` for this window, ascending by start.
    pub fn month_query(&self, month: &str) -> Query {
        Query::index(Index::Gsi1, month_partition(month)).range(SortRange::Between(
            format!("{:013}", self.from_ms.max(0)),
            // Every sort key of the last millisecond: `<ms>#<id>` sorts below `<ms>$`.
            format!("{:013}$", self.to_ms.max(0)),
        ))
    }
}

/// `yyyy-mm` of the month after `month`.
fn next_month(month: &str) -> String {
    let (year, number) = month.split_once('-').unwrap_or(("1970", "01"));
    let (year, number): (i32, u32) = (year.parse().unwrap_or(1970), number.parse().unwrap_or(1));
    if number >= 12 {
        format!("{:04}-01", year + 1)
    } else {
        format!("{year:04}-{:02}", number + 1)
    }
}

fn instant(field: &str, raw: &str) -> Result<i64, ApiError> {
    let at = OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
        ApiError::invalid(
            field,
            "must be RFC 3339 with an offset, e.g. 2026-12-01T00:00:00+09:00",
        )
    })?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ApiError::invalid(field, "is out of range"))
}

/// Where a date-range list goes on: a month of the window and the store's cursor in it
/// (`None`: from its start). Written `<yyyy-mm>.<store cursor>`; the store cursor is
/// signed for its month's partition, so a forged one is refused there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeCursor {
    /// The month to read from.
    pub month: String,
    /// The store's cursor in it.
    pub inner: Option<String>,
}

impl RangeCursor {
    /// A cursor a client sent back; 400 `invalid_cursor` unless it names a month of
    /// `window`.
    pub fn parse(raw: &str, window: &Window) -> Result<RangeCursor, ApiError> {
        let bad = || ApiError::bad_request("invalid_cursor", Some("cursor"), "invalid cursor");
        let (month, inner) = raw.split_once('.').ok_or_else(bad)?;
        if !window.months().iter().any(|m| m == month) {
            return Err(bad());
        }
        Ok(RangeCursor {
            month: month.to_owned(),
            inner: (!inner.is_empty()).then(|| inner.to_owned()),
        })
    }

    /// The text a page hands out.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.month, self.inner.as_deref().unwrap_or(""))
    }
}

/// Reads the events of `window`, starting at `cursor`, through `query_page` (one store
/// Query each), until `limit` are found or the window ends: the items and the cursor of
/// the next page. At most one Query per month the page touches.
pub async fn range_page<F, Fut>(
    window: &Window,
    cursor: Option<RangeCursor>,
    limit: usize,
    mut query_page: F,
) -> Result<(Vec<Item>, Option<RangeCursor>), ApiError>
where
    F: FnMut(Query) -> Fut,
    Fut: std::future::Future<Output = Result<runcrew_shared::store::Page, ApiError>>,
{
    let months = window.months();
    let (mut at, mut inner) = match cursor {
        Some(c) => (
            months.iter().position(|m| *m == c.month).unwrap_or(0),
            c.inner,
        ),
        None => (0, None),
    };
    let mut items = Vec::new();
    while at < months.len() {
        let wanted = limit - items.len();
        let page = query_page(
            window
                .month_query(&months[at])
                .limit(wanted)
                .after(inner.take()),
        )
        .await?;
        items.extend(page.items);
        if let Some(next) = page.cursor {
            return Ok((
                items,
                Some(RangeCursor {
                    month: months[at].clone(),
                    inner: Some(next),
                }),
            ));
        }
        at += 1;
        if items.len() >= limit {
            let next = months.get(at).map(|month| RangeCursor {
                month: month.clone(),
                inner: None,
            });
            return Ok((items, next));
        }
    }
    Ok((items, None))
}

/// The gsi3 queries (one per geohash cell the circle reaches, at most 9) that find every
/// listed event meeting within `radius_m` of `centre`, and some beyond it.
pub fn near_queries(centre: LatLng, radius_m: f64) -> Result<Vec<Query>, ApiError> {
    geocell::index_queries(centre, radius_m, Index::Gsi3, geo_partition)
        .map_err(|e| ApiError::invalid("radius_km", e.to_string()))
}

/// An event a near search found: its id and how far its meeting point is.
#[derive(Debug, Clone, PartialEq)]
pub struct NearEvent {
    /// The event.
    pub event_id: String,
    /// Haversine metres from the centre, unrounded so sorting is exact.
    pub away_m: f64,
}

/// Of the place items the cells held, the events within `radius_m` whose start is in
/// `window`, each once, nearest first (then by id), at most `limit`.
pub fn nearest(
    places: &[Item],
    centre: LatLng,
    radius_m: f64,
    window: &Window,
    limit: usize,
) -> Vec<NearEvent> {
    let mut found: Vec<NearEvent> = places
        .iter()
        .filter_map(|item| {
            let starts_ms = item.i64("starts_ms")?;
            let point = LatLng {
                lat: item.body.get("lat")?.as_f64()?,
                lng: item.body.get("lng")?.as_f64()?,
            };
            let away_m = distance_between(centre, point);
            let event_id = item.str("event_id")?.to_owned();
            (window.contains(starts_ms) && away_m <= radius_m)
                .then_some(NearEvent { event_id, away_m })
        })
        .collect();
    found.sort_by(|a, b| {
        a.away_m
            .total_cmp(&b.away_m)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    found.dedup_by(|a, b| a.event_id == b.event_id);
    found.truncate(limit);
    found
}

/// Where my list of events goes on: the upcoming ones (ascending from the instant the list
/// was first read), then the past ones (descending), each with the store's cursor in it.
/// The instant travels in the cursor, so an event starting while a person pages is listed
/// once. Written `u.<ms>.<cursor>` or `p.<ms>.<cursor>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MineCursor {
    /// Still among the upcoming events (else among the past ones).
    pub upcoming: bool,
    /// The instant that splits upcoming from past, epoch milliseconds.
    pub split_ms: i64,
    /// The store's cursor in the current part.
    pub inner: Option<String>,
}

impl MineCursor {
    /// The first page's cursor: upcoming from `now_ms`.
    pub fn first(now_ms: i64) -> Self {
        MineCursor {
            upcoming: true,
            split_ms: now_ms,
            inner: None,
        }
    }

    /// A cursor a client sent back; 400 `invalid_cursor` otherwise.
    pub fn parse(raw: &str) -> Result<MineCursor, ApiError> {
        let bad = || ApiError::bad_request("invalid_cursor", Some("cursor"), "invalid cursor");
        let (part, rest) = raw.split_once('.').ok_or_else(bad)?;
        let (split, inner) = rest.split_once('.').ok_or_else(bad)?;
        let upcoming = match part {
            "u" => true,
            "p" => false,
            _ => return Err(bad()),
        };
        Ok(MineCursor {
            upcoming,
            split_ms: split.parse().map_err(|_| bad())?,
            inner: (!inner.is_empty()).then(|| inner.to_owned()),
        })
    }

    /// The text a page hands out.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}.{}",
            if self.upcoming { "u" } else { "p" },
            self.split_ms,
            self.inner.as_deref().unwrap_or("")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_796_000_000_000; // 2026-11-30T00:53:20Z

    #[test]
    fn a_window_defaults_to_the_next_thirty_days_and_names_its_bad_bound() {
        let window = Window::parse(None, None, NOW).expect("default");
        assert_eq!(window.from_ms, NOW);
        assert_eq!(window.to_ms, NOW + 30 * DAY_MS);
        assert_eq!(window.months(), ["2026-11", "2026-12"]);
        let err = Window::parse(
            Some("2026-12-01T00:00:00Z"),
            Some("2026-11-01T00:00:00Z"),
            NOW,
        )
        .expect_err("backwards");
        assert_eq!(err.field(), Some("to"));
        let err = Window::parse(Some("tomorrow"), None, NOW).expect_err("unreadable");
        assert_eq!(err.field(), Some("from"));
        let err = Window::parse(None, Some("2028-01-01T00:00:00Z"), NOW).expect_err("too wide");
        assert_eq!(err.field(), Some("to"));
    }

    #[test]
    fn a_year_long_window_reads_thirteen_months_across_the_new_year() {
        let window = Window::parse(
            Some("2026-12-15T00:00:00Z"),
            Some("2027-12-14T00:00:00Z"),
            NOW,
        )
        .expect("window");
        let months = window.months();
        assert_eq!(months.len(), 13);
        assert_eq!(months[1], "2027-01");
        assert_eq!(months[12], "2027-12");
    }

    #[test]
    fn cursors_read_back_and_refuse_a_month_outside_the_window() {
        let window = Window::parse(None, None, NOW).expect("window");
        let cursor = RangeCursor {
            month: "2026-12".into(),
            inner: Some("abc.def".into()),
        };
        assert_eq!(
            RangeCursor::parse(&cursor.encode(), &window).expect("reads"),
            cursor
        );
        assert!(RangeCursor::parse("2030-01.", &window).is_err());
        let mine = MineCursor {
            upcoming: false,
            split_ms: NOW,
            inner: Some("a.b".into()),
        };
        assert_eq!(MineCursor::parse(&mine.encode()).expect("reads"), mine);
        assert_eq!(
            MineCursor::parse(&MineCursor::first(NOW).encode()).expect("reads"),
            MineCursor::first(NOW)
        );
        assert!(MineCursor::parse("x.1.").is_err());
        assert!(MineCursor::parse("u.soon.").is_err());
    }

    #[test]
    fn a_near_search_keeps_what_is_in_the_circle_and_the_window_nearest_first() {
        let centre = LatLng {
            lat: 37.5665,
            lng: 126.978,
        };
        let place = |id: &str, lat: f64, starts_ms: i64| {
            let serde_json::Value::Object(body) =
                json!({"event_id": id, "lat": lat, "lng": 126.978, "starts_ms": starts_ms})
            else {
                unreachable!()
            };
            Item::new(runcrew_shared::store::Key::new(id, "GEO"), body)
        };
        let window = Window::parse(None, None, NOW).expect("window");
        let places = [
            place("far", 37.70, NOW + 1),      // ~15 km north
            place("near", 37.5674, NOW + 1),   // ~100 m
            place("nearer", 37.5666, NOW + 1), // ~11 m
            place("past", 37.5665, NOW - 1),   // started before the window
            place("nearer", 37.5666, NOW + 1), // read from two cells
        ];
        let found = nearest(&places, centre, 5_000.0, &window, 10);
        let ids: Vec<&str> = found.iter().map(|f| f.event_id.as_str()).collect();
        assert_eq!(ids, ["nearer", "near"]);
    }
}
