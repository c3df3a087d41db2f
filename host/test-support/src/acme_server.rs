//! Pebble, the ACME test server from Debian's `pebble` package, on loopback.
//!
//! Pebble resolves every challenge through the DNS server it is given (a
//! real Knot from [`crate::dns_servers`] in ferry's tests, so what it sees is
//! what ferry's RFC 2136 code wrote) and validates HTTP-01 on the port it is
//! given instead of 80 (`off-fly.md` §2.4). Its own listener needs a
//! certificate the package does not ship: one is made here, and its CA is
//! what an ACME client must trust ([`Pebble::listener_root`]). Certificates
//! it issues chain to a root it regenerates at every start
//! ([`Pebble::issuing_root`]). Killed by PID on drop.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::tls_servers::Ca;

/// How long Pebble may take to listen; it starts in well under a second.
const START_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Pebble {
    /// The ACME directory URL.
    pub directory: String,
    /// The CA of Pebble's listener certificate, as a PEM file.
    pub listener_root: PathBuf,
    management: SocketAddr,
    child: Child,
    dir: TempDir,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pebble {
    /// Starts Pebble resolving challenges at `dns` and validating HTTP-01
    /// on `http_port` of the name's address.
    pub fn start(dns: SocketAddr, http_port: u16) -> Pebble {
        let binary = ["/usr/bin/pebble", "/usr/sbin/pebble"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("`pebble` is not installed: run scripts/install-deps --test (Debian's `pebble` package)"));
        let dir = tempfile::Builder::new().prefix("ferry-pebble-").tempdir().unwrap();
        let ca = Ca::new("ferry test Pebble listener CA");
        let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
        let listener_root = dir.path().join("listener-ca.pem");
        fs::write(&listener_root, ca.pem()).unwrap();
        fs::write(dir.path().join("cert.pem"), &leaf.cert_pem).unwrap();
        fs::write(dir.path().join("key.pem"), &leaf.key_pem).unwrap();
        let listen = free_port();
        let management = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{listen}", "managementListenAddress": "{management}",
               "certificate": "cert.pem", "privateKey": "key.pem", "httpPort": {http_port}, "tlsPort": {tls},
               "ocspResponderURL": "", "externalAccountBindingRequired": false}}}}"#,
            tls = free_port()
        );
        fs::write(dir.path().join("pebble.json"), config).unwrap();
        let log = fs::File::create(dir.path().join("pebble.log")).unwrap();
        let child = Command::new(binary)
            .current_dir(dir.path())
            .args(["-config", "pebble.json", "-dnsserver", &dns.to_string()])
            // No random 0–15 s sleep before each validation; badNonce
            // rejections (5 %) stay on, so the client's retry is exercised.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start pebble");
        let pebble = Pebble { directory: format!("https://127.0.0.1:{listen}/dir"), listener_root, management, child, dir };
        let ready = crate::poll_for(START_TIMEOUT, || pebble.log().contains("ACME directory available").then_some(()));
        assert!(ready.is_some(), "pebble did not start within {START_TIMEOUT:?}:\n{}", pebble.log());
        pebble
    }

    /// The root every certificate of this run chains to (PEM), read from
    /// the management interface.
    pub fn issuing_root(&self) -> String {
        let output = Command::new("curl")
            .args(["-sSf", "--cacert"])
            .arg(&self.listener_root)
            .arg(format!("https://{}/roots/0", self.management))
            .output()
            .expect("run curl");
        assert!(output.status.success(), "reading pebble's root: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    /// Pebble's log so far, for assertion messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}
