//! Real servers for ferry's tests, shared by the provider crates' tests,
//! the integration tests (`tests/all`) and the benchmarks: each starts what
//! it needs on loopback or inside a network namespace it creates, and stops
//! it by PID when dropped. A missing server binary fails with the command
//! that installs it (`scripts/install-deps --test`), never a skip.

#![allow(missing_debug_implementations, reason = "fixtures that hold keys, child processes and threads; tests never print them")]

/// A "VM": sshd (with Docker and nginx when asked) in a network namespace.
pub mod vm;

/// Throwaway PostgreSQL clusters on loopback.
pub mod pg_cluster;

/// Knot, BIND and PowerDNS on loopback.
pub mod dns_servers;

/// A test CA and TLS servers on loopback.
pub mod tls_servers;

/// An OCI registry (Debian's docker-registry) with TLS and basic auth on loopback.
pub mod registry;

/// Polls `probe` every 10 ms for up to `limit`: its first answer, or `None`.
pub(crate) fn poll_for<T>(limit: std::time::Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(value) = probe() {
            return Some(value);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

/// A TCP port free on 127.0.0.1 right now.
pub(crate) fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
