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

/// A buildah image store of a test's own.
pub mod buildah;

/// Pebble, the ACME test server, on loopback.
pub mod acme_server;

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

/// Writes an executable script (a stand-in CLI) at `path`.
///
/// Why not `fs::write` and `chmod`: a test binary runs tests on many threads,
/// and a thread that forks while this one holds the file open for writing
/// hands the open descriptor to its child until that child execs. Running the
/// script in that window fails with ETXTBSY ("Text file busy"), so the
/// stand-in looks absent at random (seen in CI). `install` writes the file in
/// a process of its own, so no descriptor to it ever exists in this one.
pub fn write_executable(path: &std::path::Path, script: &str) {
    let staged = tempfile::NamedTempFile::new_in(path.parent().expect("a file in a directory")).expect("a staging file");
    std::fs::write(staged.path(), script).expect("writing the staged script");
    let status = std::process::Command::new("install").arg("-m755").arg(staged.path()).arg(path).status().expect("running install");
    assert!(status.success(), "install -m755 {} failed", path.display());
}

/// A TCP port free on 127.0.0.1 right now.
pub(crate) fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
