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
//! module is ever loaded. In a dynamically linked build (tests, the local gateway, a laptop)
//! it does nothing: there the system's own libc loads its own modules.

/// Why glibc refused a lookup configuration: it names the database, for the start-up log.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("glibc refused the built-in sources for its `{0}` database")]
pub struct NssError(pub &'static str);

/// Each database a function can reach and the built-in sources it keeps.
pub const BUILT_IN_SOURCES: [(&str, &str); 4] = [
    ("hosts", "files dns"),
    ("passwd", "files"),
    ("group", "files"),
    ("services", "files"),
];

/// Whether this binary carries its C library inside it (a `+crt-static` build).
pub const STATICALLY_LINKED: bool = cfg!(target_feature = "crt-static");

/// Points every database in [`BUILT_IN_SOURCES`] at glibc's built-in sources, once per
/// process and before any lookup; a no-op unless the binary is statically linked against
/// glibc. Call it first thing in `main`: glibc's own configuration is not thread-safe.
pub fn keep_lookups_inside_the_binary() -> Result<(), NssError> {
    static CONFIGURED: std::sync::OnceLock<Result<(), NssError>> = std::sync::OnceLock::new();
    CONFIGURED.get_or_init(configure).clone()
}

#[cfg(all(target_os = "linux", target_env = "gnu", target_feature = "crt-static"))]
fn configure() -> Result<(), NssError> {
    use std::ffi::{CString, c_char, c_int};

    // glibc has no Rust binding for this one function, so it is declared here.
    #[allow(unsafe_code)]
    unsafe extern "C" {
        /// glibc's `<nss.h>`: replaces what `/etc/nsswitch.conf` says for one database.
        fn __nss_configure_lookup(dbname: *const c_char, service_line: *const c_char) -> c_int;
    }

    for (database, sources) in BUILT_IN_SOURCES {
        let (Ok(name), Ok(line)) = (CString::new(database), CString::new(sources)) else {
            return Err(NssError(database));
        };
        // SAFETY: both arguments are NUL-terminated strings that outlive the call (glibc
        // copies what it keeps); the function is part of glibc's public `<nss.h>`, linked
        // into this binary from the same static C library that implements the lookups; it
        // runs once (`CONFIGURED`) at the start of `main`, before any thread could look up a
        // name.
        #[allow(unsafe_code)]
        let status = unsafe { __nss_configure_lookup(name.as_ptr(), line.as_ptr()) };
        if status != 0 {
            return Err(NssError(database));
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
            for source in sources.split_whitespace() {
                assert!(
                    matches!(source, "files" | "dns"),
                    "{database}: `{source}` would be a module that a static binary loads"
                );
            }
        }
        let hosts = BUILT_IN_SOURCES.iter().find(|(db, _)| *db == "hosts");
        assert_eq!(
            hosts,
            Some(&("hosts", "files dns")),
            "host names resolve as on Lambda"
        );
    }

    #[test]
    fn a_name_in_etc_hosts_still_resolves_once_the_lookups_are_kept_inside() {
        use std::net::ToSocketAddrs as _;
        // given the configuration a function's start makes (glibc's own, in a static build)
        keep_lookups_inside_the_binary().expect("glibc takes the built-in sources");
        // when a name every machine's /etc/hosts holds is looked up (no query leaves it)
        let addresses: Vec<_> = ("localhost", 443)
            .to_socket_addrs()
            .expect("localhost resolves")
            .collect();
        // then it resolves, to the loopback address
        assert!(
            addresses.iter().any(|address| address.ip().is_loopback()),
            "{addresses:?}"
        );
    }

    #[test]
    fn configuring_twice_is_one_configuration() {
        assert_eq!(keep_lookups_inside_the_binary(), Ok(()));
        assert_eq!(keep_lookups_inside_the_binary(), Ok(()));
    }
}
