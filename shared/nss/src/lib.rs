//! Name lookups in a statically linked function stay inside the binary.
//!
//! The Lambda binaries are linked statically against glibc (`runcrew_build` says why: no
//! dynamic loader at start). glibc 2.34 and later carries its `files` and `dns` lookups
//! inside the C library, static builds included, but any other source that
//! `/etc/nsswitch.conf` names (`myhostname`, `resolve`, `mdns4_minimal`...) is a shared
//! module that a static binary would `dlopen`, pulling in the runtime image's own
//! `libc.so.6`, which need not be the glibc the binary was linked with. That mix is what
//! glibc warns about at link time ("Using 'getaddrinfo' in statically linked applications
//! requires at runtime the shared libraries from the glibc version used for linking").
//!
//! [`keep_lookups_inside_the_binary`] tells glibc, before the first lookup, to use only its
//! built-in sources for the databases a function can reach: host names (the AWS endpoints,
//! the social-login, Strava, FCM and Mapbox hosts) from `/etc/hosts` then DNS, as
//! `provided.al2023` resolves them, and users, groups and services from `/etc` files. No
//! module is ever loaded. It refuses, and so stops the start, when the glibc linked in is
//! older than 2.34 (whose `files` and `dns` are modules themselves) or when another thread
//! is already running (glibc changes its lookup table without a lock). In a dynamically
//! linked build (tests, the local gateway, a laptop) it does nothing: there the system's own
//! libc loads its own modules.

use std::ffi::CStr;

/// Why a static binary's lookups could not be kept inside it; the function's start stops.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum NssError {
    /// glibc refused the built-in sources for one database.
    #[error("glibc refused the built-in sources for its `{0}` database")]
    Refused(&'static str),
    /// Called while another thread ran, or with no way to tell: glibc changes its lookup
    /// table without a lock, so the call is made only while `main` is the one thread.
    #[error("name lookups are configured only while main is the process's one thread ({0})")]
    NotAlone(String),
    /// The glibc linked in predates 2.34: its `files` and `dns` lookups are modules too, so
    /// no configuration keeps them inside the binary. Link against 2.34 or later.
    #[error(
        "glibc {0} is linked in; a static build needs 2.34 or later, whose files and dns lookups are built in"
    )]
    GlibcTooOld(String),
}

/// Each database a function can reach and the built-in sources it keeps.
pub const BUILT_IN_SOURCES: [(&CStr, &CStr); 4] = [
    (c"hosts", c"files dns"),
    (c"passwd", c"files"),
    (c"group", c"files"),
    (c"services", c"files"),
];

/// Points every database in [`BUILT_IN_SOURCES`] at glibc's built-in sources, once per
/// process; a no-op unless the binary is statically linked against glibc. Call it first
/// thing in `main`, before a thread starts (a current-thread runtime starts none): later,
/// it refuses rather than race glibc's lookups.
pub fn keep_lookups_inside_the_binary() -> Result<(), NssError> {
    static CONFIGURED: std::sync::OnceLock<Result<(), NssError>> = std::sync::OnceLock::new();
    CONFIGURED.get_or_init(configure).clone()
}

/// Whether a glibc version string (`gnu_get_libc_version`, "2.36") is 2.34 or later, the
/// first whose `files` and `dns` lookups are built into the library, static builds too.
#[cfg_attr(
    not(all(target_os = "linux", target_env = "gnu", target_feature = "crt-static")),
    allow(dead_code)
)]
fn has_built_in_lookups(version: &str) -> bool {
    let mut parts = version.split('.').map(|part| part.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (2, 34),
        _ => false,
    }
}

/// How many threads the process runs, from `/proc/self/task`.
#[cfg_attr(
    not(all(target_os = "linux", target_env = "gnu", target_feature = "crt-static")),
    allow(dead_code)
)]
fn running_threads() -> Result<usize, String> {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| tasks.count())
        .map_err(|err| format!("/proc/self/task unreadable: {err}"))
}

#[cfg(all(target_os = "linux", target_env = "gnu", target_feature = "crt-static"))]
fn configure() -> Result<(), NssError> {
    use std::ffi::{c_char, c_int};

    // glibc has no Rust binding for these two functions, so they are declared here.
    #[allow(unsafe_code)]
    unsafe extern "C" {
        /// `<gnu/libc-version.h>`: the version of the C library linked in.
        fn gnu_get_libc_version() -> *const c_char;
        /// `<nss.h>`: replaces what `/etc/nsswitch.conf` says for one database.
        fn __nss_configure_lookup(dbname: *const c_char, service_line: *const c_char) -> c_int;
    }

    // SAFETY: glibc returns a pointer to a constant NUL-terminated string of its own, valid
    // for the life of the process, and takes no argument.
    #[allow(unsafe_code)]
    let version = unsafe { CStr::from_ptr(gnu_get_libc_version()) }
        .to_string_lossy()
        .into_owned();
    if !has_built_in_lookups(&version) {
        return Err(NssError::GlibcTooOld(version));
    }
    match running_threads() {
        Ok(1) => {}
        Ok(threads) => return Err(NssError::NotAlone(format!("{threads} threads running"))),
        Err(unknown) => return Err(NssError::NotAlone(unknown)),
    }
    for (database, sources) in BUILT_IN_SOURCES {
        // SAFETY: both arguments are NUL-terminated strings with static lifetime; the
        // function is part of glibc's public `<nss.h>`, linked into this binary from the
        // same static C library that implements the lookups; the process has one thread
        // (checked just above), so no lookup runs while glibc changes its table.
        #[allow(unsafe_code)]
        let status = unsafe { __nss_configure_lookup(database.as_ptr(), sources.as_ptr()) };
        if status != 0 {
            return Err(NssError::Refused(database.to_str().unwrap_or("unknown")));
        }
    }
    Ok(())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu", target_feature = "crt-static")))]
fn configure() -> Result<(), NssError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_database_keeps_only_sources_built_into_glibc() {
        for (database, sources) in BUILT_IN_SOURCES {
            let sources = sources.to_str().expect("ASCII");
            for source in sources.split_whitespace() {
                assert!(
                    matches!(source, "files" | "dns"),
                    "{database:?}: `{source}` would be a module that a static binary loads"
                );
            }
        }
        let hosts = BUILT_IN_SOURCES.iter().find(|(db, _)| *db == c"hosts");
        assert_eq!(
            hosts,
            Some(&(c"hosts", c"files dns")),
            "host names resolve as on Lambda"
        );
    }

    #[test]
    fn glibc_2_34_and_later_carry_their_lookups_inside() {
        for built_in in ["2.34", "2.36", "2.39", "3.0"] {
            assert!(has_built_in_lookups(built_in), "{built_in}");
        }
        for modules in ["2.17", "2.26", "2.31", "2.33", "", "2", "two.34"] {
            assert!(!has_built_in_lookups(modules), "{modules:?}");
        }
    }

    #[test]
    fn the_threads_of_this_process_are_counted() {
        // given a second thread that waits
        let (stop, wait) = std::sync::mpsc::channel::<()>();
        let waiting = std::thread::spawn(move || wait.recv());
        // when the threads are counted, then there are at least the test's and that one
        let threads = running_threads().expect("/proc/self/task is readable on Linux");
        assert!(threads >= 2, "{threads}");
        stop.send(()).expect("the thread waits");
        waiting
            .join()
            .expect("the thread ends")
            .expect("it got the message");
    }

    #[cfg(all(target_os = "linux", target_env = "gnu", target_feature = "crt-static"))]
    #[test]
    fn a_static_binary_refuses_to_configure_while_another_thread_runs() {
        // given a second thread that waits (the test harness may run this on its main thread)
        let (stop, wait) = std::sync::mpsc::channel::<()>();
        let waiting = std::thread::spawn(move || wait.recv());
        // when the configuration is attempted, then it is refused, naming the threads
        let refused = configure();
        stop.send(()).expect("the thread waits");
        waiting
            .join()
            .expect("the thread ends")
            .expect("it got the message");
        assert!(
            matches!(&refused, Err(NssError::NotAlone(why)) if why.contains("threads running")),
            "{refused:?}"
        );
    }
}
