//! `cargo bench -p runcrew-bench`: the hot paths of `runcrew_bench::hot_paths`.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{criterion_group, criterion_main};

criterion_group! {
    name = hot_paths;
    config = runcrew_bench::hot_paths::config();
    targets = runcrew_bench::hot_paths::all
}
criterion_main!(hot_paths);
