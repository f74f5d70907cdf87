//! The criterion hot paths from the release build (`bench-hot-paths --bench --noplot`, what
//! `cargo bench` passes); results land in `target/criterion` as `cargo bench` leaves them.
fn main() {
    let mut criterion = runcrew_bench::hot_paths::config().configure_from_args();
    runcrew_bench::hot_paths::all(&mut criterion);
    criterion.final_summary();
}
