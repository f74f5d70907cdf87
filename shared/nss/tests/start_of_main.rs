//! The start of a function's `main`, as a process of its own: one thread, the configuration,
//! then a name lookup. A plain `main` (no test harness, which runs tests on threads of its
//! own), so in a static build glibc itself takes the configuration, as on Lambda.

use std::net::ToSocketAddrs as _;

fn main() {
    // given a process whose only thread is main, as a function's is at start
    // when the lookups are kept inside the binary
    runcrew_nss::keep_lookups_inside_the_binary().expect("the configuration is taken");
    // then a name every machine's /etc/hosts holds still resolves (no query leaves it)
    let addresses: Vec<_> = ("localhost", 443)
        .to_socket_addrs()
        .expect("localhost resolves")
        .collect();
    assert!(
        addresses.iter().any(|address| address.ip().is_loopback()),
        "{addresses:?}"
    );
    // and asking again, with another thread running now, is the first answer, not a refusal
    let other = std::thread::spawn(|| ());
    assert_eq!(runcrew_nss::keep_lookups_inside_the_binary(), Ok(()));
    other.join().expect("the other thread ends");
    println!("start_of_main: configured, localhost resolves, the answer is kept");
}
