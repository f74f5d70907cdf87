//! Links the lean floor (`--features floor-lean`) at a fixed address, as the functions are
//! linked, so it starts the way they do; the untrimmed floors keep rustc's default link
//! (`runcrew_build` says what the difference is).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_FLOOR_LEAN").is_some() {
        runcrew_build::link_lambda_binary("floor-aws");
    }
}
