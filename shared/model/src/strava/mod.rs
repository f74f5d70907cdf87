//! Strava: a person's connection, the OAuth state of a connect, the import of their runs
//! and the app-wide request budget.
//!
//! | item | pk / sk | index / kept |
//! |---|---|---|
//! | connection | `USER#<userId>` / `STRAVA` | gsi1 `STRAVA_CONNECTED` / `<userId>` (sparse: the sweep's list) |
//! | athlete link | `STRAVA_ATHLETE#<athleteId>` / `LINK` | one RunCrew user per Strava athlete |
//! | connect state | `STRAVA_STATE#<nonce>` / `STATE` | 10 minutes (TTL), consumed once |
//! | import key | `USER#<userId>` / `IMPORT#strava#<activityId>` | written with the run: never imported twice |
//! | budget | `STRAVA_BUDGET` / `APP` | the app's last seen usage and when to resume |
//!
//! Strava's terms: what comes from Strava is shown to its athlete only. Runs imported carry
//! `source: strava`, which keeps them off boards, feeds and every view of another person
//! (`Run::on_board`, `Run::in_feed`, `Run::public_view`).

pub mod budget;
pub mod connection;
pub mod import;
pub mod state;
