//! A throwaway PostgreSQL 15 cluster per test, on 127.0.0.1 and a free port.
//!
//! initdb is slow (~4 s), so it runs once into a template directory cached in
//! the system temp dir, and every cluster is a `cp -a` of it. Servers are
//! stopped by PID in `Drop`, so a panicking test does not leak a postmaster.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BINDIR: &str = "/usr/lib/postgresql/15/bin";
const MISSING: &str = "install postgresql-15 (scripts/install-deps --test)";

pub struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
    pid: u32,
    /// Where it listens: 127.0.0.1, or an address of `netns`.
    host: String,
    /// The network namespace it runs in (`None`: this one).
    netns: Option<String>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("port", &self.port).field("pid", &self.pid).finish()
    }
}

fn bin(name: &str) -> PathBuf {
    let path = Path::new(BINDIR).join(name);
    assert!(path.is_file(), "{} missing: {MISSING}", path.display());
    path
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// initdb refuses to run as root: run server binaries as `postgres` then.
fn server_cmd(name: &str) -> Command {
    let program = bin(name);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    clear_pg_env(&mut cmd);
    cmd
}

/// `cmd` run inside `netns` (`ip netns exec`), or as it is.
fn in_netns(netns: Option<&str>, cmd: Command) -> Command {
    let mut wrapped = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(cmd.get_program()).args(cmd.get_args());
            c
        }
        None => cmd,
    };
    clear_pg_env(&mut wrapped);
    wrapped
}

fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
}

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}: {MISSING}"));
    assert!(out.status.success(), "{what} failed: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    out
}

fn chown_postgres(path: &Path) {
    if is_root() {
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(path), "chown");
    }
}

fn chmod_traversable(path: &Path) {
    run(Command::new("chmod").arg("0755").arg(path), "chmod");
}

const CONF: &str = "
listen_addresses = '127.0.0.1'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
fsync = off
synchronous_commit = off
full_page_writes = off
";

const HBA: &str = "local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
";

/// The initdb'd template, built once and cached across test processes (a
/// marker file says it is complete; it is built aside and renamed into place).
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let base = std::env::temp_dir();
        let done = base.join("ferry-pg15-template-v1");
        if done.join("ferry-template-ok").is_file() {
            return done;
        }
        let staging = base.join(format!("ferry-pg15-template-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).unwrap();
        chmod_traversable(&staging);
        chown_postgres(&staging);
        let data = staging.join("data");
        run(server_cmd("initdb").args(["-D"]).arg(&data).args(["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]), "initdb");
        append(&data.join("postgresql.conf"), CONF);
        std::fs::write(data.join("pg_hba.conf"), HBA).unwrap();
        std::fs::write(staging.join("ferry-template-ok"), "").unwrap();
        if std::fs::rename(&staging, &done).is_err() {
            let _ = std::fs::remove_dir_all(&staging); // another process won the race
        }
        done
    })
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

impl Cluster {
    /// A fresh cluster: wal_level=logical, fsync=off, trust auth on 127.0.0.1.
    pub fn start() -> Cluster {
        Self::start_at("127.0.0.1", None)
    }

    /// A cluster inside network namespace `netns`, listening on `addr` (an
    /// address of that namespace) and trusting every client there: a
    /// database only processes in that namespace reach, as Fly Postgres is
    /// reachable only from Fly's private network.
    pub fn start_in(netns: &str, addr: std::net::Ipv4Addr) -> Cluster {
        Self::start_at(&addr.to_string(), Some(netns))
    }

    fn start_at(host: &str, netns: Option<&str>) -> Cluster {
        let template = template();
        let dir = tempfile::tempdir().unwrap();
        chmod_traversable(dir.path());
        run(Command::new("cp").arg("-a").arg(template.join("data")).arg(dir.path()), "cp -a template");
        if netns.is_some() {
            append(&dir.path().join("data/pg_hba.conf"), &format!("host all all {host}/24 trust\n"));
        }
        chown_postgres(dir.path());
        for _ in 0..5 {
            let port = crate::free_tcp_port();
            if let Some(pid) = try_start(dir.path(), port, host, netns) {
                return Cluster { dir, port, pid, host: host.to_string(), netns: netns.map(str::to_string) };
            }
        }
        panic!("postgres did not start: {}", std::fs::read_to_string(dir.path().join("log")).unwrap_or_default());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@{}:{}/{db}", self.host, self.port)
    }

    /// Runs SQL through psql; `Err(stderr)` on failure.
    pub fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        use std::io::Write;
        let mut cmd = in_netns(self.netns.as_deref(), Command::new(bin("psql")));
        cmd.args(["-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-h", &self.host, "-U", "postgres"])
            .args(["-p", &self.port.to_string(), "-d", db, "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("psql: {e}: {MISSING}"));
        child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Runs SQL through psql (`-At`), panicking with stderr on failure.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.try_psql(db, sql).unwrap_or_else(|e| panic!("psql failed on {db}: {e}\nSQL: {sql}"))
    }

    pub fn create_db(&self, name: &str) {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    }

    /// Puts `line` first in pg_hba.conf and reloads (e.g. to require a password).
    pub fn hba_prepend(&self, line: &str) {
        let path = self.data().join("pg_hba.conf");
        let old = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{line}\n{old}")).unwrap();
        self.psql("postgres", "SELECT pg_reload_conf()");
    }
}

/// `pg_ctl start`; `None` when the port was taken meanwhile (caller retries).
fn try_start(dir: &Path, port: u16, host: &str, netns: Option<&str>) -> Option<u32> {
    let data = dir.join("data");
    let opts = format!("-p {port} -k {} -c listen_addresses={host}", dir.display());
    let status = in_netns(netns, server_cmd("pg_ctl"))
        .arg("-D")
        .arg(&data)
        .args(["-w", "-t", "30", "-o", &opts, "-l"])
        .arg(dir.join("log"))
        .arg("start")
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("pg_ctl: {e}: {MISSING}"));
    if !status.success() {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        assert!(log.contains("could not bind") || log.contains("already in use"), "postgres failed:\n{log}");
        return None;
    }
    let pidfile = std::fs::read_to_string(data.join("postmaster.pid")).unwrap();
    Some(pidfile.lines().next().unwrap().trim().parse().unwrap())
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists() && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = server_cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["stop", "-m", "immediate", "-w", "-t", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(self.pid) && Instant::now() < deadline {
            let _ = Command::new("kill").args(["-9", &self.pid.to_string()]).stderr(Stdio::null()).status();
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A realistic app database: keyed tables with text, jsonb and timestamps, a
/// composite key, a table without a primary key, advanced sequences (serial,
/// identity, standalone) and one large object referenced from a table.
pub fn seed_app(c: &Cluster, db: &str) {
    c.psql(db, SEED);
}

const SEED: &str = "
CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text,
  created_at timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00');
INSERT INTO accounts (email, name) SELECT 'user' || g || '@example.com', 'User ''' || g || '''' FROM generate_series(1, 3000) g;
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id int NOT NULL REFERENCES accounts(id), total numeric(10,2), meta jsonb, placed_at timestamptz);
INSERT INTO orders (account_id, total, meta, placed_at)
  SELECT 1 + g % 3000, (g % 977) / 10.0, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'b')),
         timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
  FROM generate_series(1, 5000) g;
CREATE TABLE order_items (order_id bigint NOT NULL REFERENCES orders(id), line int NOT NULL, sku text, qty int,
  PRIMARY KEY (order_id, line));
INSERT INTO order_items SELECT 1 + g % 5000, g / 5000, 'SKU-' || (g % 50), 1 + g % 4 FROM generate_series(0, 7999) g;
CREATE TABLE events_log (at timestamptz, kind text, payload text);
INSERT INTO events_log SELECT timestamptz '2024-01-01 00:00:00+00' + (g % 10) * interval '1 s', 'kind' || (g % 3), 'dup'
  FROM generate_series(1, 2000) g;
CREATE TABLE documents (id serial PRIMARY KEY, title text NOT NULL, body oid);
INSERT INTO documents (title, body) VALUES ('readme', lo_from_bytea(0, 'hello large object'::bytea));
CREATE SEQUENCE invoice_numbers START 1000;
SELECT nextval('invoice_numbers') FROM generate_series(1, 7);
ANALYZE;
";
