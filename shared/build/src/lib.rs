//! How the Lambda binaries are linked, in one place: each function crate's `build.rs` calls
//! [`link_lambda_binaries`], so the rule and its reasons live here and not in fifteen copies.
//!
//! A position-independent executable (rustc's default on Linux) is loaded at a random
//! address, so before `main` the dynamic loader rewrites every pointer stored in the
//! binary's data: a function binary holds 25,000–37,000 of them (vtables, string tables,
//! the SDK's endpoint rules), spread over about 1.1 MB of `.data.rel.ro`. Each page it
//! writes is a copy-on-write fault. Linked at a fixed address, the binary needs none of it:
//! its data pages are read from the page cache when first touched, and the start pays about
//! 160 fewer page faults (`courses-get`: 364 → 204 faults, init 0.5–0.6 ms shorter on the
//! bench machine; BENCHMARKS.md).
//!
//! What it gives up is the randomised address of the executable's own code and data; the
//! shared libraries, heap, stacks and mappings stay randomised, and the binary keeps full
//! RELRO and a non-executable stack. That is the default of every Go binary on Linux, the
//! Lambda runtime most like ours, and our crates forbid `unsafe`. A team that wants the
//! address randomised back builds with `RUNCREW_LINK_PIE=1`.
//!
//! A build with `-C target-feature=+crt-static` (the deploy's and the bench's, see README
//! "Deploy") goes one step further: the binary carries glibc inside it and has no dynamic
//! loader at all. Before `main`, a dynamically linked function has the kernel map
//! `ld-linux`, which then opens, maps and binds `libc`, `libm` and `libgcc_s`: about 45
//! system calls and 50 page faults, 0.75 ms of a `users-get` start on the bench machine
//! (2.71 → 1.97 ms init, 40 rotated rounds). rustc links such a build position-independent
//! (`-static-pie`), which brings the relocations back, so here it is linked `-static` at a
//! fixed address. The one part of glibc that still loads code at run time, the name service
//! switch, is kept to its built-in sources by `runcrew_nss`.

use std::env;

/// The build-time switch back to position-independent binaries.
pub const PIE_SWITCH: &str = "RUNCREW_LINK_PIE";

/// Whether the switch's value (`None` when unset) asks for position-independent binaries:
/// one rule for the build scripts and for the test that checks what they linked.
pub fn pie_requested(switch: Option<&str>) -> bool {
    matches!(switch, Some("1" | "true" | "yes"))
}

/// Links every binary of the calling package at a fixed address, where that is safe to ask
/// of the linker: Linux with glibc (what `provided.al2023` runs), on x86_64 and arm64. On any
/// other target (a Mac laptop, musl's static-pie builds) the binaries link as rustc chooses.
///
/// Call it from the package's `build.rs`. It applies to the package's binaries only, never
/// to its library, tests or dependencies, so nothing else is rebuilt for it.
pub fn link_lambda_binaries() {
    for flag in link_flags(&target()) {
        println!("cargo:rustc-link-arg-bins={flag}");
    }
}

/// The same for one binary of the calling package: the bench links its lean floors the way
/// the functions are linked and leaves the untrimmed floors as rustc links them.
pub fn link_lambda_binary(name: &str) {
    for flag in link_flags(&target()) {
        println!("cargo:rustc-link-arg-bin={name}={flag}");
    }
}

/// What a build script knows of the target it builds for, and the switch.
#[derive(Debug, Default)]
struct Target {
    os: String,
    env: String,
    arch: String,
    crt_static: bool,
    pie_wanted: bool,
}

fn target() -> Target {
    println!("cargo:rerun-if-env-changed={PIE_SWITCH}");
    let var = |name: &str| env::var(name).unwrap_or_default();
    Target {
        os: var("CARGO_CFG_TARGET_OS"),
        env: var("CARGO_CFG_TARGET_ENV"),
        arch: var("CARGO_CFG_TARGET_ARCH"),
        crt_static: var("CARGO_CFG_TARGET_FEATURE")
            .split(',')
            .any(|feature| feature == "crt-static"),
        pie_wanted: pie_requested(env::var(PIE_SWITCH).ok().as_deref()),
    }
}

/// The linker driver's flags for a fixed-address executable, when this target takes them.
/// `cc`, `zig cc` (cargo-lambda's cross linker) and clang all read `-no-pie`; the objects
/// stay position-independent, which a fixed-address link accepts. A `+crt-static` build,
/// which rustc links `-static-pie`, also gets `-static`: given last, the two make GCC's
/// driver (`cc`, `aarch64-linux-gnu-gcc`, what `infra/scripts/sam-build` and the bench link
/// with) link a plain static executable (no `PT_INTERP`, no dynamic section). clang's driver
/// refuses `-static-pie` beside `-no-pie`, and zig ships no static glibc, so a static build
/// links with GCC. With the switch
/// set, a static build stays `-static-pie` and a dynamic one PIE, as rustc links them.
fn link_flags(target: &Target) -> &'static [&'static str] {
    let supported = target.os == "linux"
        && target.env == "gnu"
        && matches!(target.arch.as_str(), "x86_64" | "aarch64");
    match (supported && !target.pie_wanted, target.crt_static) {
        (false, _) => &[],
        (true, false) => &["-no-pie"],
        (true, true) => &["-no-pie", "-static"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lambda(arch: &str) -> Target {
        Target {
            os: "linux".into(),
            env: "gnu".into(),
            arch: arch.into(),
            crt_static: false,
            pie_wanted: false,
        }
    }

    #[test]
    fn lambda_targets_on_both_architectures_link_at_a_fixed_address() {
        assert_eq!(link_flags(&lambda("x86_64")), ["-no-pie"]);
        assert_eq!(link_flags(&lambda("aarch64")), ["-no-pie"]);
    }

    #[test]
    fn a_static_build_links_a_plain_static_executable_rather_than_static_pie() {
        let deploy = Target {
            crt_static: true,
            ..lambda("aarch64")
        };
        assert_eq!(link_flags(&deploy), ["-no-pie", "-static"]);
        let switched_back = Target {
            pie_wanted: true,
            ..deploy
        };
        assert!(
            link_flags(&switched_back).is_empty(),
            "rustc's -static-pie stays"
        );
    }

    #[test]
    fn the_switch_reads_yes_words_and_nothing_else() {
        for yes in ["1", "true", "yes"] {
            assert!(pie_requested(Some(yes)), "{yes}");
        }
        for no in [
            None,
            Some(""),
            Some("0"),
            Some("false"),
            Some("no"),
            Some("TRUE "),
        ] {
            assert!(!pie_requested(no), "{no:?}");
        }
    }

    #[test]
    fn the_switch_gives_the_randomised_address_back() {
        let target = Target {
            pie_wanted: true,
            ..lambda("aarch64")
        };
        assert!(link_flags(&target).is_empty());
    }

    #[test]
    fn a_mac_laptop_or_a_musl_build_links_as_rustc_chooses() {
        let mac = Target {
            os: "macos".into(),
            env: String::new(),
            ..lambda("aarch64")
        };
        let musl = Target {
            env: "musl".into(),
            ..lambda("x86_64")
        };
        assert!(link_flags(&mac).is_empty());
        assert!(link_flags(&musl).is_empty());
    }
}
