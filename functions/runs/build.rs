//! Links this crate's Lambda binaries at a fixed address, for a shorter start
//! (`runcrew_build` says why and what it gives up).

fn main() {
    runcrew_build::link_lambda_binaries();
}
