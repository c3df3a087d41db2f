//! The data phase through `ferry plan` and `ferry apply`, as a migration
//! runs it: two real PostgreSQL clusters, a volume copied to a real sshd
//! host in a network namespace, and the source app's machines in the Fly
//! emulator stopped for the freeze and started again by `ferry abort`.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::support::fly::FlyWorld;
use crate::support::pg_cluster::{Cluster, seed_app};
use crate::support::run;
use crate::support::vm::Vm;

const APP: &str = "shop-old";
const IMAGE: &str = "registry.fly.io/shop-old:v1";
/// A password in both connection strings: it must never be printed.
const PASSWORD: &str = "pw-that-must-not-leak";
const KEY_ENV: &str = "FERRY_SECRET_SSH_KEY";
const HOSTS_ENV: &str = "FERRY_SECRET_KNOWN_HOSTS";

/// A source app with one running machine, a seeded source database, an
/// empty target database, a local volume and a VM to copy it to.
struct Migration {
    fly: FlyWorld,
    source: Cluster,
    target: Cluster,
    vm: Vm,
    volume: tempfile::TempDir,
    remote: std::path::PathBuf,
}

impl Migration {
    fn start(mode: &str) -> Migration {
        let fly = FlyWorld::start(APP, &format!("app = \"{APP}\"\n"));
        fly.healthy(IMAGE, "v1");
        fly.api("POST", &format!("/v1/apps/{APP}/machines"), Some(json!({"region": "ams", "config": {"image": IMAGE}})));
        let (source, target) = (Cluster::start(), Cluster::start());
        source.create_db("shop");
        seed_app(&source, "shop");
        target.create_db("shop");
        let vm = Vm::start();
        let volume = tempfile::tempdir().unwrap();
        write_files(volume.path());
        // The VM shares this filesystem: its "remote" path is a temp dir here.
        let remote = vm.dir().join("srv-uploads");
        let workflow = format!(
            "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"copy-data\"\nparams = {{ freeze-app = \"{APP}\", mode = \"{mode}\" }}\n\n\
             [data.postgres.main]\nsource_env = \"FERRY_SECRET_SOURCE_DATABASE_URL\"\ntarget_env = \"FERRY_SECRET_TARGET_DATABASE_URL\"\n\n\
             [data.volumes.uploads]\nsource = \"{}\"\ntarget = \"ssh://root@{}:22{}\"\nssh_key_env = \"{KEY_ENV}\"\nknown_hosts_env = \"{HOSTS_ENV}\"\n",
            volume.path().display(),
            vm.addr(),
            remote.display()
        );
        std::fs::write(fly.checkout.path().join("ferry.toml"), workflow).unwrap();
        Migration { fly, source, target, vm, volume, remote }
    }

    fn ferry(&self, args: &[&str]) -> Command {
        let url = |c: &Cluster| format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/shop", c.port());
        let mut cmd = self.fly.ferry();
        cmd.env("FERRY_SECRET_SOURCE_DATABASE_URL", url(&self.source))
            .env("FERRY_SECRET_TARGET_DATABASE_URL", url(&self.target))
            .env(KEY_ENV, self.vm.client_key())
            .env(HOSTS_ENV, self.vm.known_hosts())
            .args(args)
            .arg("--dir")
            .arg(self.fly.checkout.path());
        cmd
    }

    /// Runs ferry, expecting `code`; returns stdout + stderr, checked for the password.
    fn expect(&self, code: i32, args: &[&str]) -> String {
        let (got, out, err) = run(&mut self.ferry(args));
        let all = format!("{out}{err}");
        assert_eq!(got, code, "ferry {args:?}:\n{all}");
        assert!(!all.contains(PASSWORD), "a password was printed by ferry {args:?}:\n{all}");
        all
    }

    fn machine_states(&self) -> Vec<String> {
        self.fly.machines(APP).iter().map(|m| m["state"].as_str().unwrap().to_string()).collect()
    }

    /// Per table, `count:md5 of the sorted rows`: equal on both sides means an equal copy.
    fn fingerprint(c: &Cluster) -> Vec<String> {
        ["accounts", "orders", "order_items", "events_log", "documents"]
            .iter()
            .map(|t| c.psql("shop", &format!("SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM {t} x")))
            .collect()
    }
}

fn write_files(dir: &Path) {
    for i in 0..40 {
        let sub = dir.join(format!("d{}", i % 4));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}.bin")), vec![i as u8; 1000 + i * 97]).unwrap();
    }
    let out = Command::new("sqlite3")
        .arg(dir.join("app.db"))
        .arg("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);")
        .output()
        .expect("sqlite3 (scripts/install-deps --test)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn sequences(c: &Cluster) -> String {
    c.psql("shop", "SELECT last_value FROM accounts_id_seq UNION ALL SELECT last_value FROM invoice_numbers")
}

/// Plan, apply, check the copy and the freeze, then abort and check that
/// the source is back and the target empty again.
fn migrate_and_abort(mode: &str, expect_in_plan: &[&str]) {
    let m = Migration::start(mode);
    let plan = m.expect(0, &["plan", "--phase", "data"]);
    for text in expect_in_plan {
        assert!(plan.contains(text), "the plan says {text:?}:\n{plan}");
    }
    assert!(plan.contains(&format!("Stop 1 machine of {APP}")), "{plan}");

    let applied = m.expect(0, &["apply", "--phase", "data", "--run", "m-1"]);
    // The results say what the apply measured beside each copy and the verification.
    let measured = if mode == "logical" { ": caught up in " } else { " streamed in " };
    assert!(applied.contains(measured), "{applied}");
    assert!(applied.contains("5 tables and their 18001 rows, ") && applied.contains(" definitions equal; the source holds "), "{applied}");
    assert_eq!(Migration::fingerprint(&m.target), Migration::fingerprint(&m.source), "every table copied");
    assert_eq!(sequences(&m.target), sequences(&m.source), "sequences carried");
    assert_eq!(m.target.psql("shop", "SELECT convert_from(lo_get(body), 'UTF8') FROM documents"), "hello large object");
    assert_eq!(m.machine_states(), ["stopped"], "the source app is frozen");
    let write = m.source.try_psql("shop", "INSERT INTO events_log VALUES (now(), 'late', 'write')");
    assert!(write.is_err_and(|e| e.contains("read-only")), "the source database takes no writes after the freeze");
    for i in [0, 17, 39] {
        let name = format!("d{}/f{i}.bin", i % 4);
        assert_eq!(std::fs::read(m.remote.join(&name)).unwrap(), std::fs::read(m.volume.path().join(&name)).unwrap(), "{name}");
    }
    let rows = Command::new("sqlite3").arg(m.remote.join("app.db")).arg("SELECT sum(x) FROM t").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&rows.stdout).trim(), "6", "the SQLite file copied by online backup");
    assert!(m.vm.sshd_log().contains("Accepted publickey"), "the volume went over ssh");
    let identity = || m.source.psql("shop", "SELECT relreplident FROM pg_class WHERE relname = 'events_log'");
    assert_eq!(identity(), "d", "a successful copy leaves no REPLICA IDENTITY FULL on the source");

    m.expect(0, &["abort", "--yes", "--run", "m-1"]);
    assert_eq!(m.machine_states(), ["started"], "abort starts the source app again");
    m.source.psql("shop", "INSERT INTO events_log VALUES (now(), 'after', 'abort')");
    assert_eq!(m.target.psql("shop", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0", "abort empties the target");
    assert_eq!(std::fs::read_dir(&m.remote).map(|d| d.count()).unwrap_or(0), 0, "abort empties the remote volume");
    assert_eq!(identity(), "d", "nor does the abort");
    if mode == "logical" {
        assert_eq!(m.source.psql("shop", "SELECT count(*) FROM pg_publication"), "0", "no publication left behind");
    }
}

#[test]
fn dump_restore_copies_database_and_volume_and_abort_puts_the_source_back() {
    migrate_and_abort("dump-restore", &["dump-restore"]);
}

#[test]
fn logical_copies_while_the_app_runs_and_abort_removes_the_replication() {
    migrate_and_abort("logical", &["logical", "events_log", "REPLICA IDENTITY FULL", "large object"]);
}

#[test]
fn a_changed_host_key_is_refused_before_anything_is_frozen() {
    let m = Migration::start("dump-restore");
    let mut cmd = m.ferry(&["apply", "--phase", "data", "--run", "m-2"]);
    cmd.env(HOSTS_ENV, m.vm.wrong_known_hosts());
    let (code, out, err) = run(&mut cmd);
    assert_ne!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("host key"), "the error names the host key:\n{out}{err}");
    assert_eq!(m.machine_states(), ["started"], "nothing was frozen");
    assert_eq!(m.source.try_psql("shop", "INSERT INTO events_log VALUES (now(), 'still', 'writable')"), Ok(String::new()));
}
