//! Real Knot, BIND and PowerDNS servers for the tests, one per test.
//!
//! Each server runs from a fresh temp dir, listens on free ports on
//! 127.0.0.1 only (never IPv6, never a public address), holds
//! `example.test.` and accepts updates and transfers signed with
//! [`KEY_NAME`]. It is ready when it answers a signed SOA query
//! authoritatively (polled, not slept for), and [`Server`]'s `Drop` kills
//! it by PID and waits for it. The servers come from Debian packages that
//! `scripts/dns-servers` installs; a missing binary fails the test with
//! that instruction instead of skipping it.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_dns::{DnsProvider, Name, RecordType, Rfc2136, Secret, TsigAlgorithm, TsigKey};
use tempfile::TempDir;

/// The zone every server holds.
pub const ZONE: &str = "example.test.";
/// The TSIG key the servers trust.
pub const KEY_NAME: &str = "ferry-test";
/// Its secret (test-only; generated with `keymgr -t`).
pub const SECRET: &str = "dV/lsXu7aDSg8+SmksLjdvA9go/0AUD7wVDgMmJG1WI=";
/// A valid secret the servers do not know.
pub const WRONG_SECRET: &str = "svlJD2qIEIYJ95cKHimxB6s9GyWuczevyUqnYdukP/I=";
/// The PowerDNS HTTP API key.
pub const API_KEY: &str = "pdns-test-api-key-5f2c";

/// The records of the test zone besides SOA and NS: `app` has two
/// addresses at TTL 300, `www` is a CNAME to it, `txt` has two strings.
pub const DEFAULT_RECORDS: &str = "\
app 300 IN A 192.0.2.10
app 300 IN A 192.0.2.11
www 300 IN CNAME app
txt 300 IN TXT \"hello world\" \"two\"
";

/// How long a server may take to answer; they start in well under a second.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Starts are retried with new ports when a port was taken in between.
const START_ATTEMPTS: usize = 3;

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Knot DNS (`knotd`).
    Knot,
    /// BIND 9 (`named`).
    Bind,
    /// PowerDNS Authoritative with the gsqlite3 backend, RFC 2136 on and
    /// the HTTP API.
    PowerDns,
}

/// A running server; killed and reaped on drop.
#[derive(Debug)]
pub struct Server {
    pub kind: Kind,
    /// DNS on TCP and UDP.
    pub addr: SocketAddr,
    /// PowerDNS only: the HTTP API's base URL.
    pub api: Option<String>,
    child: Child,
    dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL: nothing of the server's state outlives the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts a `kind` server whose zone holds `records` (zone-file lines
    /// relative to `example.test.`) plus SOA, NS and `ns1`.
    pub fn start(kind: Kind, records: &str) -> Server {
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match try_start(kind, records) {
                Ok(server) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("{kind:?} did not start: {last_error}");
    }

    /// Starts a server with [`DEFAULT_RECORDS`].
    pub fn with_defaults(kind: Kind) -> Server {
        Server::start(kind, DEFAULT_RECORDS)
    }

    /// A provider talking RFC 2136 to this server with the trusted key.
    pub fn rfc2136(&self) -> Rfc2136 {
        Rfc2136::new(self.addr, key()).with_timeout(Duration::from_secs(5))
    }

    /// What `dig` (a client that is not ours) sees: the values of the
    /// RRset, as dig prints them, sorted.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let output = Command::new(binary("dig"))
            .args(["+short", "+tcp", "+norecurse", "+time=2", "+tries=1"])
            .arg(format!("@{}", self.addr.ip()))
            .args(["-p", &self.addr.port().to_string(), name, rtype])
            .output()
            .expect("run dig");
        assert!(output.status.success(), "dig failed: {output:?}");
        let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
        lines.sort();
        lines
    }

    /// The server's log so far, for assertion messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

/// The key the servers trust.
pub fn key() -> TsigKey {
    TsigKey::new(KEY_NAME, TsigAlgorithm::HmacSha256, &Secret::new(SECRET)).expect("test key")
}

/// The trusted key's name with a secret the servers do not know.
pub fn wrong_key() -> TsigKey {
    TsigKey::new(KEY_NAME, TsigAlgorithm::HmacSha256, &Secret::new(WRONG_SECRET)).expect("test key")
}

/// `example.test.` as a name.
pub fn zone() -> Name {
    Name::new(ZONE).unwrap()
}

fn try_start(kind: Kind, records: &str) -> Result<Server, String> {
    let dir = tempfile::Builder::new().prefix("ferry-dns-").tempdir().map_err(|e| e.to_string())?;
    let port = free_port();
    let zone_file = zone_file(records);
    let mut api = None;
    let command = match kind {
        Kind::Knot => knot(dir.path(), port, &zone_file),
        Kind::Bind => bind(dir.path(), port, &zone_file),
        Kind::PowerDns => {
            let api_port = std::iter::repeat_with(free_port).find(|p| *p != port).unwrap();
            api = Some(format!("http://127.0.0.1:{api_port}"));
            powerdns(dir.path(), port, api_port, &zone_file)?
        }
    };
    let log = fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
    let mut command = command;
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let mut server = Server { kind, addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)), api, child, dir };
    wait_ready(&mut server)?;
    Ok(server)
}

/// Polls until the server answers a signed SOA query for the zone
/// authoritatively (and, for PowerDNS, its API port accepts connections).
fn wait_ready(server: &mut Server) -> Result<(), String> {
    let provider = Rfc2136::new(server.addr, key()).with_timeout(Duration::from_millis(500));
    let zone = zone();
    let soa = RecordType::Other("SOA".to_owned());
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("exited with {status}; log:\n{}", server.log()));
        }
        let api_up = match &server.api {
            Some(url) => {
                let addr: SocketAddr = url.trim_start_matches("http://").parse().expect("api addr");
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            }
            None => true,
        };
        let last = match provider.read(&zone, &zone, &soa) {
            Ok(Some(_)) if api_up => return Ok(()),
            other => format!("{other:?}"),
        };
        if Instant::now() > deadline {
            return Err(format!("not ready after {START_TIMEOUT:?} ({last}); log:\n{}", server.log()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn zone_file(records: &str) -> String {
    format!(
        "$ORIGIN {ZONE}\n$TTL 300\n\
         @ 300 IN SOA ns1 hostmaster 1 3600 600 86400 60\n\
         @ 300 IN NS ns1\n\
         ns1 300 IN A 127.0.0.1\n{records}"
    )
}

fn knot(dir: &Path, port: u16, zone_file: &str) -> Command {
    let zones = dir.join("zones");
    for sub in [&zones, &dir.join("run"), &dir.join("db")] {
        fs::create_dir_all(sub).unwrap();
    }
    fs::write(zones.join("example.test.zone"), zone_file).unwrap();
    let d = dir.display();
    let conf = format!(
        r#"server:
    rundir: "{d}/run"
    listen: 127.0.0.1@{port}
database:
    storage: "{d}/db"
key:
  - id: {KEY_NAME}
    algorithm: hmac-sha256
    secret: {SECRET}
acl:
  - id: ferry
    key: {KEY_NAME}
    action: [update, transfer]
template:
  - id: default
    storage: "{d}/zones"
    file: "%s.zone"
zone:
  - domain: {ZONE}
    acl: ferry
log:
  - target: stderr
    any: info
"#
    );
    fs::write(dir.join("knot.conf"), conf).unwrap();
    let mut command = Command::new(binary("knotd"));
    command.arg("-c").arg(dir.join("knot.conf"));
    command
}

fn bind(dir: &Path, port: u16, zone_file: &str) -> Command {
    fs::write(dir.join("example.test.zone"), zone_file).unwrap();
    let d = dir.display();
    let conf = format!(
        r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
zone "{ZONE}" {{
    type primary;
    file "{d}/example.test.zone";
    update-policy {{ grant {KEY_NAME} zonesub ANY; }};
    allow-transfer {{ key {KEY_NAME}; }};
}};
"#
    );
    fs::write(dir.join("named.conf"), conf).unwrap();
    let mut command = Command::new(binary("named"));
    // -g: foreground, log to stderr; -n 1: one worker, tests run many servers.
    command.arg("-g").args(["-n", "1"]).arg("-c").arg(dir.join("named.conf"));
    command
}

fn powerdns(dir: &Path, port: u16, api_port: u16, zone_file: &str) -> Result<Command, String> {
    let d = dir.display();
    let db = dir.join("pdns.sqlite3");
    let schema = Path::new("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql");
    if !schema.exists() {
        panic!("{} is missing: run scripts/dns-servers", schema.display());
    }
    run(Command::new(binary("sqlite3")).arg(&db).arg(format!(".read {}", schema.display())))?;
    fs::create_dir_all(dir.join("run")).unwrap();
    let conf = format!(
        "launch=gsqlite3\n\
         gsqlite3-database={db}\n\
         local-address=127.0.0.1\n\
         local-port={port}\n\
         socket-dir={d}/run\n\
         daemon=no\n\
         guardian=no\n\
         disable-syslog=yes\n\
         loglevel=4\n\
         webserver=yes\n\
         webserver-address=127.0.0.1\n\
         webserver-port={api_port}\n\
         webserver-allow-from=127.0.0.1\n\
         api=yes\n\
         api-key={API_KEY}\n\
         dnsupdate=yes\n\
         allow-dnsupdate-from=127.0.0.0/8\n\
         allow-axfr-ips=127.0.0.0/8\n",
        db = db.display()
    );
    fs::write(dir.join("pdns.conf"), conf).unwrap();
    let zone_path = dir.join("example.test.zone");
    fs::write(&zone_path, zone_file).unwrap();
    let pdnsutil = |args: &[&str]| {
        let mut command = Command::new(binary("pdnsutil"));
        command.arg(format!("--config-dir={d}")).args(args);
        run(&mut command)
    };
    let zone = ZONE.trim_end_matches('.');
    pdnsutil(&["load-zone", zone, &zone_path.display().to_string()])?;
    pdnsutil(&["import-tsig-key", KEY_NAME, "hmac-sha256", SECRET])?;
    // Updates need the key per zone: without TSIG-ALLOW-DNSUPDATE PowerDNS
    // accepts *unsigned* updates from allow-dnsupdate-from.
    pdnsutil(&["set-meta", zone, "TSIG-ALLOW-DNSUPDATE", KEY_NAME])?;
    pdnsutil(&["set-meta", zone, "TSIG-ALLOW-AXFR", KEY_NAME])?;
    // Let API changes bump the serial, as zones made through the API do.
    pdnsutil(&["set-meta", zone, "SOA-EDIT-API", "DEFAULT"])?;
    let mut command = Command::new(binary("pdns_server"));
    command.arg(format!("--config-dir={d}"));
    Ok(command)
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() { Ok(()) } else { Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr))) }
}

/// A port free on 127.0.0.1 for both TCP and UDP right now.
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// The path of a server binary, or a failure that says how to get it.
fn binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: run scripts/dns-servers (it installs Knot, BIND, \
                 PowerDNS and their tools from Debian)"
            )
        })
}
