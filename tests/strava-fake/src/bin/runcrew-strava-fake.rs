//! A Strava to try the import with on a laptop: one athlete with a week of activities (runs,
//! a ride, a walk) on 127.0.0.1, whose authorize page approves at once. Prints the
//! settings to start `cargo run -p runcrew-local` with; stops on Ctrl-C.

use runcrew_strava_fake::{CLIENT_ID, CLIENT_SECRET, StravaFake, activity};

#[tokio::main]
async fn main() {
    let fake = StravaFake::start().await;
    let athlete = fake.add_athlete(4_242_424, "unused");
    for (n, sport) in [
        "Run",
        "TrailRun",
        "Ride",
        "Run",
        "Walk",
        "VirtualRun",
        "Run",
    ]
    .iter()
    .enumerate()
    {
        let start = format!("2026-11-{:02}T22:10:00Z", 20 + n);
        fake.add_activity(&athlete, activity(8_000 + n as i64, sport, &start));
    }
    println!("Strava fake on {}; start the API with:", fake.server.uri());
    println!(
        "  STRAVA_CLIENT_ID={CLIENT_ID} STRAVA_CLIENT_SECRET={CLIENT_SECRET} \\\n  STRAVA_API_URL={} STRAVA_OAUTH_URL={} cargo run -p runcrew-local",
        fake.url_api(),
        fake.url_oauth()
    );
    println!(
        "then open the authorize_url of GET /v1/strava/connect: it comes straight back approved."
    );
    let _ = tokio::signal::ctrl_c().await;
}
