//! Turns `openapi.yaml` into JSON at build time, so the function serves it without a YAML
//! parser: a smaller binary and no parse on the first request. Also links the binary at a
//! fixed address, as every function's (`runcrew_build` says why).

use std::path::Path;

fn main() {
    runcrew_build::link_lambda_binaries();
    // Read when the script runs, not baked in when it compiles: a build script compiled for
    // one checkout must not read another's description.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let source = Path::new(&manifest_dir).join("../../openapi.yaml");
    println!("cargo:rerun-if-changed={}", source.display());
    let yaml = std::fs::read_to_string(&source).expect("openapi.yaml is readable");
    let description: serde_json::Value =
        serde_norway::from_str(&yaml).expect("openapi.yaml is valid YAML");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("openapi.json");
    std::fs::write(out, serde_json::to_string(&description).expect("JSON"))
        .expect("write openapi.json");
}
