//! Links the lean floor (`--features floor-lean`) at a fixed address, as the functions are
//! linked, so it starts the way they do; the untrimmed floors keep rustc's default link, and
//! so does the lean floor built with `floor-pie` too, which shows what the link saves
//! (`runcrew_build` says what the difference is).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let feature = |name: &str| std::env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    if feature("FLOOR_LEAN") && !feature("FLOOR_PIE") {
        runcrew_build::link_lambda_binary("floor-aws");
    }
}
