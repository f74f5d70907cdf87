//! An athlete's activities: `GET /athlete/activities` a page at a time, and
//! `GET /activities/{id}` for one (a webhook's "create" event names only the id).
//!
//! Both answer the fields the import uses in the same shape (SummaryActivity,
//! DetailedActivity); [`Activity`] keeps those. `sport_type` is what tells a run (the older
//! `type` is deprecated and read only when `sport_type` is missing). `start_date` is UTC;
//! `start_date_local` is the wall time where the activity started, although it ends in
//! `Z`, and `utc_offset` the offset in seconds between the two.

use serde::Deserialize;

use super::errors::{Call, StravaError};
use super::rate_limits::Answer;
use super::strava::{StravaClient, decode};

/// The most activities Strava returns in one page.
pub const MAX_PER_PAGE: u32 = 200;
/// The sport types the import keeps: runs outdoors, on trails and on a treadmill or in an
/// app.
pub const RUN_SPORT_TYPES: [&str; 3] = ["Run", "TrailRun", "VirtualRun"];

/// One Strava activity, as much of it as the import uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Activity {
    /// Strava's id of the activity.
    pub id: i64,
    /// The title the athlete gave it.
    pub name: String,
    /// What kind of activity it is ("Run", "TrailRun", "Ride", ...).
    pub sport_type: String,
    /// When it started, UTC, RFC 3339 ("2026-11-20T22:10:00Z").
    pub start_date: String,
    /// When it started in local wall time, in the same shape (the `Z` is Strava's, not UTC).
    pub start_date_local: String,
    /// The time zone where it started, as Strava writes it ("(GMT+09:00) Asia/Seoul").
    pub timezone: Option<String>,
    /// The local time's offset from UTC, seconds.
    pub utc_offset_s: i32,
    /// Time in motion, seconds.
    pub moving_time_s: i64,
    /// Time from start to finish, pauses included, seconds.
    pub elapsed_time_s: i64,
    /// Distance, metres.
    pub distance_m: f64,
    /// The route, simplified, as an encoded polyline; `None` when Strava has none (a manual
    /// or indoor activity: an empty string or no map at all).
    pub summary_polyline: Option<String>,
    /// Whether only the athlete may see it on Strava.
    pub private: bool,
    /// The file name or id the activity was uploaded with, when it came from a file: how
    /// an activity RunCrew itself uploaded is recognised.
    pub external_id: Option<String>,
    /// The upload that created it, when it came from a file.
    pub upload_id: Option<i64>,
}

impl Activity {
    /// Whether the import keeps it: its sport type is one of [`RUN_SPORT_TYPES`].
    pub fn is_run(&self) -> bool {
        RUN_SPORT_TYPES.contains(&self.sport_type.as_str())
    }

    /// When it started, epoch seconds; `None` when `start_date` is not RFC 3339. The
    /// import's next `after` is the newest of these.
    pub fn start_epoch_s(&self) -> Option<i64> {
        time::OffsetDateTime::parse(
            &self.start_date,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
    }
}

/// A SummaryActivity or DetailedActivity as Strava writes it: the fields used, each
/// tolerant of `null` where Strava may leave one out.
#[derive(Deserialize)]
struct WireActivity {
    id: i64,
    name: Option<String>,
    sport_type: Option<String>,
    #[serde(rename = "type")]
    legacy_type: Option<String>,
    start_date: String,
    start_date_local: Option<String>,
    timezone: Option<String>,
    utc_offset: Option<f64>,
    moving_time: Option<i64>,
    elapsed_time: Option<i64>,
    distance: Option<f64>,
    map: Option<WireMap>,
    private: Option<bool>,
    external_id: Option<String>,
    upload_id: Option<i64>,
}

/// The activity's map; only the summary polyline is used.
#[derive(Deserialize)]
struct WireMap {
    summary_polyline: Option<String>,
}

impl From<WireActivity> for Activity {
    fn from(wire: WireActivity) -> Activity {
        Activity {
            id: wire.id,
            name: wire.name.unwrap_or_default(),
            sport_type: wire.sport_type.or(wire.legacy_type).unwrap_or_default(),
            start_date: wire.start_date,
            start_date_local: wire.start_date_local.unwrap_or_default(),
            timezone: wire.timezone.filter(|t| !t.is_empty()),
            // Whole seconds: every real offset is (Strava writes 32400.0).
            utc_offset_s: wire.utc_offset.unwrap_or(0.0).round() as i32,
            moving_time_s: wire.moving_time.unwrap_or(0),
            elapsed_time_s: wire.elapsed_time.unwrap_or(0),
            distance_m: wire.distance.unwrap_or(0.0),
            summary_polyline: wire
                .map
                .and_then(|m| m.summary_polyline)
                .filter(|p| !p.is_empty()),
            private: wire.private.unwrap_or(false),
            external_id: wire.external_id.filter(|e| !e.is_empty()),
            upload_id: wire.upload_id,
        }
    }
}

impl StravaClient {
    /// One page of the athlete's activities that started after `after_epoch_s`: `page`
    /// counts from 1 (0 reads as 1), `per_page` is at most [`MAX_PER_PAGE`] (and at least
    /// 1). Ask for the next page until one comes back empty; with `after` Strava lists the
    /// oldest first.
    pub async fn activities(
        &self,
        access_token: &str,
        after_epoch_s: i64,
        page: u32,
        per_page: u32,
    ) -> Result<Answer<Vec<Activity>>, StravaError> {
        self.list(access_token, Some(after_epoch_s), page, per_page)
            .await
    }

    /// The athlete's activities, newest first (no `after`): what a first import and a
    /// sync-all of the most recent read. Paged as [`StravaClient::activities`].
    pub async fn recent_activities(
        &self,
        access_token: &str,
        page: u32,
        per_page: u32,
    ) -> Result<Answer<Vec<Activity>>, StravaError> {
        self.list(access_token, None, page, per_page).await
    }

    async fn list(
        &self,
        access_token: &str,
        after_epoch_s: Option<i64>,
        page: u32,
        per_page: u32,
    ) -> Result<Answer<Vec<Activity>>, StravaError> {
        let mut query = vec![
            ("page", page.max(1).to_string()),
            ("per_page", per_page.clamp(1, MAX_PER_PAGE).to_string()),
        ];
        if let Some(after) = after_epoch_s {
            query.push(("after", after.to_string()));
        }
        let request = self
            .http()
            .get(format!("{}/athlete/activities", self.api_url()))
            .bearer_auth(access_token)
            .query(&query);
        let reply = self.send(Call::Api, request, &[access_token]).await?;
        let page: Vec<WireActivity> = decode(&reply.body, "list of activities")?;
        Ok(Answer {
            value: page.into_iter().map(Activity::from).collect(),
            usage: reply.usage,
        })
    }

    /// The activity `id`, if the athlete of `access_token` may see it; one deleted
    /// meanwhile is `NotFound`.
    pub async fn activity(
        &self,
        access_token: &str,
        id: i64,
    ) -> Result<Answer<Activity>, StravaError> {
        let request = self
            .http()
            .get(format!("{}/activities/{id}", self.api_url()))
            .bearer_auth(access_token);
        let reply = self.send(Call::Api, request, &[access_token]).await?;
        let activity: WireActivity = decode(&reply.body, "activity")?;
        Ok(Answer {
            value: activity.into(),
            usage: reply.usage,
        })
    }
}
