//! Volume bytes as directories and exec machines: the job machine ferry
//! uses to copy data out of Fly (a fork mounted, an SSH key in
//! `config.files`, `init.exec` a shell script, `restart: no`,
//! `auto_destroy`) runs as real processes that see the volume's bytes.
//!
//! These tests need root (mount and PID namespaces), as the emulator's exec
//! machines do. Processes are found by a marker in their environment, which
//! every process a job starts inherits.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Emulator, TempDir, eventually};
use ferry_fly_emulator::Options;
use serde_json::{Value, json};

const IMAGE: &str = "registry.fly.io/job:v1";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this test run and call.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// A network namespace (`ip netns add`), deleted when dropped.
struct Netns(String);

impl Netns {
    fn add() -> Netns {
        let name = unique("femu");
        assert!(Command::new("ip").args(["netns", "add", &name]).status().expect("run ip").success(), "ip netns add {name}");
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// PIDs of every process whose environment holds `marker`.
fn marked_processes(marker: &str) -> Vec<u32> {
    let needle = format!("JOB_MARKER={marker}");
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| environ.split(|b| *b == 0).any(|var| var == needle.as_bytes())))
        .collect()
}

fn setup() -> Emulator {
    let emulator = Emulator::start();
    prepare(&emulator);
    emulator
}

fn prepare(emulator: &Emulator) {
    emulator.register_image(IMAGE, json!({"kind": "exec"}));
    emulator.create_app("src");
}

fn create_volume(emulator: &Emulator, body: Value) -> String {
    let response = emulator.post("/v1/apps/src/volumes", body);
    assert_eq!(response.status, 200, "{:?}", response.body);
    response.body["id"].as_str().unwrap().to_string()
}

fn volume_dir(emulator: &Emulator, id: &str) -> PathBuf {
    let response = emulator.control("GET", &format!("/volumes/{id}"), None);
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert_eq!(response.body["id"], id);
    PathBuf::from(response.body["path"].as_str().unwrap())
}

/// A job machine as ferry creates it, running `script` with `env`.
fn job_config(script: &str, env: Value) -> Value {
    json!({
        "image": IMAGE,
        "env": env,
        "init": {"exec": ["/bin/sh", "-c", script]},
        "restart": {"policy": "no"},
        "auto_destroy": true,
        "dns": {"skip_registration": true},
        "metadata": {"fly_process_group": "fly_app_console"},
    })
}

fn create_job(emulator: &Emulator, config: Value) -> String {
    emulator.create_machine("src", json!({"config": config, "region": "iad"}))["id"].as_str().unwrap().to_string()
}

/// `wait` does not take `failed` (Fly's doesn't either): poll.
fn wait_failed(emulator: &Emulator, id: &str) {
    eventually("the machine to fail", Duration::from_secs(10), || emulator.machine("src", id)["state"] == "failed");
}

fn events(emulator: &Emulator, id: &str) -> Vec<Value> {
    emulator.get(&format!("/v1/apps/src/machines/{id}/events")).body.as_array().cloned().unwrap_or_default()
}

/// The exit code where fly-go reads it (`MonitorEvent.exit_event.exit_code`).
fn exit_codes(emulator: &Emulator, id: &str) -> Vec<i64> {
    events(emulator, id).iter().filter(|e| e["type"] == "exit").filter_map(|e| e["request"]["MonitorEvent"]["exit_event"]["exit_code"].as_i64()).collect()
}

fn logs(emulator: &Emulator, id: &str) -> Vec<String> {
    let body = emulator.get(&format!("/api/v1/apps/src/logs?instance={id}")).body;
    body["data"].as_array().unwrap().iter().map(|line| line["attributes"]["message"].as_str().unwrap().to_string()).collect()
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn volumes_are_directories_that_forks_and_restores_copy() {
    let emulator = setup();
    let source = create_volume(&emulator, json!({"name": "data", "region": "iad"}));
    let source_dir = volume_dir(&emulator, &source);
    assert!(source_dir.is_dir() && fs::read_dir(&source_dir).unwrap().next().is_none(), "a new volume is an empty directory");

    fs::create_dir(source_dir.join("db")).unwrap();
    fs::write(source_dir.join("db/orders.db"), b"order 1\n").unwrap();
    fs::set_permissions(source_dir.join("db/orders.db"), fs::Permissions::from_mode(0o640)).unwrap();
    let yesterday = SystemTime::now() - Duration::from_secs(86_400);
    fs::File::options().write(true).open(source_dir.join("db/orders.db")).unwrap().set_modified(yesterday).unwrap();
    fs::hard_link(source_dir.join("db/orders.db"), source_dir.join("db/orders.link")).unwrap();
    symlink("db/orders.db", source_dir.join("current")).unwrap();
    fs::set_permissions(source_dir.join("db"), fs::Permissions::from_mode(0o750)).unwrap();

    let fork = create_volume(&emulator, json!({"name": "data", "source_volume_id": source}));
    let fork_dir = volume_dir(&emulator, &fork);
    assert_ne!(fork_dir, source_dir);
    assert_eq!(fs::read(fork_dir.join("db/orders.db")).unwrap(), b"order 1\n");
    assert_eq!(mode(&fork_dir.join("db/orders.db")), 0o640);
    assert_eq!(mode(&fork_dir.join("db")), 0o750);
    assert_eq!(
        fs::metadata(fork_dir.join("db/orders.db")).unwrap().modified().unwrap(),
        fs::metadata(source_dir.join("db/orders.db")).unwrap().modified().unwrap()
    );
    assert_eq!(fs::read_link(fork_dir.join("current")).unwrap(), Path::new("db/orders.db"));
    assert_eq!(
        fs::metadata(fork_dir.join("db/orders.db")).unwrap().ino(),
        fs::metadata(fork_dir.join("db/orders.link")).unwrap().ino(),
        "hard links stay links"
    );

    // "Never synced afterwards": later writes to the source stay there.
    fs::write(source_dir.join("db/orders.db"), b"order 1\norder 2\n").unwrap();
    fs::write(source_dir.join("new.txt"), b"new").unwrap();
    assert_eq!(fs::read(fork_dir.join("db/orders.db")).unwrap(), b"order 1\n");
    assert!(!fork_dir.join("new.txt").exists());

    // A snapshot copies the volume when it is asked for; a restore copies the snapshot.
    let snapshot = emulator.control("POST", &format!("/volumes/{source}/snapshots"), Some(json!({})));
    assert_eq!(snapshot.status, 200, "{:?}", snapshot.body);
    fs::write(source_dir.join("after-snapshot.txt"), b"later").unwrap();
    let restored = create_volume(&emulator, json!({"name": "restored", "snapshot_id": snapshot.body["id"]}));
    let restored_dir = volume_dir(&emulator, &restored);
    assert_eq!(fs::read(restored_dir.join("db/orders.db")).unwrap(), b"order 1\norder 2\n");
    assert!(restored_dir.join("new.txt").exists() && !restored_dir.join("after-snapshot.txt").exists());

    // Deleting a volume removes its directory; unknown volumes are 404.
    assert_eq!(emulator.delete(&format!("/v1/apps/src/volumes/{fork}")).status, 200);
    assert!(!fork_dir.exists());
    assert_eq!(emulator.control("GET", &format!("/volumes/{fork}"), None).status, 404);
    assert!(source_dir.exists(), "the source is untouched");

    // Deleting the app removes the directories of its volumes.
    assert_eq!(emulator.delete("/v1/apps/src").status, 202);
    eventually("the app's volume directories to go", Duration::from_secs(5), || !source_dir.exists() && !restored_dir.exists());
    let data_dir = source_dir.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(emulator.stop().success());
    assert!(!data_dir.exists(), "the emulator removes its temporary data dir at exit");
}

#[test]
fn a_job_machine_copies_its_forked_volume_and_reports_its_exit_code() {
    let emulator = setup();
    let scratch = TempDir::new();
    let (dest, out) = (scratch.path().join("dest"), scratch.path().join("out"));
    fs::create_dir_all(&dest).unwrap();
    fs::create_dir_all(&out).unwrap();
    let secrets =
        emulator.post("/v1/apps/src/secrets", json!({"values": {"DB_PASSWORD": "hunter2", "KNOWN_HOSTS": STANDARD.encode("target ssh-ed25519 AAAA")}}));
    assert_eq!(secrets.status, 200, "{:?}", secrets.body);

    let source = create_volume(&emulator, json!({"name": "data", "region": "iad"}));
    let source_dir = volume_dir(&emulator, &source);
    fs::create_dir(source_dir.join("uploads")).unwrap();
    fs::write(source_dir.join("uploads/a.png"), [0u8, 1, 2, 255]).unwrap();
    fs::set_permissions(source_dir.join("uploads/a.png"), fs::Permissions::from_mode(0o604)).unwrap();
    symlink("uploads/a.png", source_dir.join("latest")).unwrap();
    let fork = create_volume(&emulator, json!({"name": "data", "source_volume_id": source, "region": "iad"}));
    // Only the fork is mounted: a change to the source now must not arrive.
    fs::write(source_dir.join("written-after-the-fork"), b"x").unwrap();

    let marker = unique("copy");
    let script = r#"
        set -e
        cp -a /mnt/data/. "$DEST/"
        [ "$(stat -c %a /mnt/key)" = 600 ] || { echo "key mode $(stat -c %a /mnt/key)" >&2; exit 9; }
        cp /mnt/key "$OUT/key"
        cp /mnt/ssh/known_hosts "$OUT/known_hosts"
        env > "$OUT/env"
        sleep 600 &
        echo "copied $(ls /mnt/data | wc -l) entries"
        exit 3
    "#;
    let mut config = job_config(script, json!({"DEST": dest, "OUT": out, "JOB_MARKER": marker}));
    config["mounts"] = json!([{"volume": fork, "path": "/mnt/data"}]);
    config["files"] = json!([
        {"guest_path": "/mnt/key", "raw_value": STANDARD.encode("-----BEGIN OPENSSH PRIVATE KEY-----\n"), "mode": 384},
        {"guest_path": "/mnt/ssh/known_hosts", "secret_name": "KNOWN_HOSTS"},
    ]);
    let id = create_job(&emulator, config);
    emulator.wait_state("src", &id, "destroyed");

    assert_eq!(exit_codes(&emulator, &id), [3], "{:?}", events(&emulator, &id));
    let machine = emulator.get(&format!("/v1/apps/src/machines/{id}")).body;
    assert_eq!(machine["state"], "destroyed", "auto_destroy after the exit");
    assert!(logs(&emulator, &id).contains(&"copied 2 entries".to_string()), "{:?}", logs(&emulator, &id));

    assert_eq!(fs::read(dest.join("uploads/a.png")).unwrap(), [0u8, 1, 2, 255]);
    assert_eq!(mode(&dest.join("uploads/a.png")), 0o604);
    assert_eq!(fs::read_link(dest.join("latest")).unwrap(), Path::new("uploads/a.png"));
    assert!(!dest.join("written-after-the-fork").exists(), "the job saw the fork, not the source");
    assert_eq!(fs::read(out.join("key")).unwrap(), b"-----BEGIN OPENSSH PRIVATE KEY-----\n");
    assert_eq!(fs::read(out.join("known_hosts")).unwrap(), b"target ssh-ed25519 AAAA", "a secret_name file holds the decoded secret");
    let env = fs::read_to_string(out.join("env")).unwrap();
    for expected in ["DB_PASSWORD=hunter2", "FLY_APP_NAME=src", &format!("FLY_MACHINE_ID={id}"), "FLY_REGION=iad", "FLY_PROCESS_GROUP=fly_app_console"] {
        assert!(env.lines().any(|line| line == expected), "{expected} missing from\n{env}");
    }
    assert!(env.lines().any(|line| line.starts_with("PATH=/")), "{env}");
    assert!(!Path::new("/mnt/key").exists(), "the files were written in the job's own /mnt");

    assert!(marked_processes(&marker).is_empty(), "the background sleep died with the job");
    // Destroyed: the fork is no longer attached, and can go.
    assert_eq!(emulator.delete(&format!("/v1/apps/src/volumes/{fork}")).status, 200);
}

#[test]
fn a_stop_ends_a_job_and_every_process_it_started() {
    let emulator = setup();
    let volume = create_volume(&emulator, json!({"name": "data"}));
    let marker = unique("stop");
    let mut config = job_config("sleep 600 & sleep 600 & wait", json!({"JOB_MARKER": marker}));
    config["auto_destroy"] = json!(false);
    config["mounts"] = json!([{"volume": volume, "path": "/mnt/data"}]);
    let id = create_job(&emulator, config);
    emulator.wait_state("src", &id, "started");
    eventually("the shell and both sleeps", Duration::from_secs(10), || marked_processes(&marker).len() == 3);
    let leader = emulator.control("GET", &format!("/apps/src/machines/{id}/process"), None).body["pid"].as_u64().unwrap() as u32;
    assert!(common::process_alive(leader));

    // A mounted volume is attached: Fly refuses to delete it.
    let refused = emulator.delete(&format!("/v1/apps/src/volumes/{volume}"));
    assert_eq!(refused.status, 400);
    assert!(refused.error().contains(&format!("attached to machine {id}")), "{:?}", refused.body);

    let stopping = Instant::now();
    assert_eq!(emulator.post(&format!("/v1/apps/src/machines/{id}/stop"), json!({})).status, 200);
    emulator.wait_state("src", &id, "stopped");
    assert!(stopping.elapsed() < Duration::from_secs(4), "SIGINT ended it, not the 5 s kill timeout: {:?}", stopping.elapsed());
    assert!(marked_processes(&marker).is_empty(), "the background sleeps (which ignore SIGINT) died too");
    assert!(!common::process_alive(leader));
    let exit = events(&emulator, &id).into_iter().find(|e| e["type"] == "exit").unwrap();
    assert_eq!(exit["request"]["exit_event"]["requested_stop"], true, "{exit}");

    // Stopped is not destroyed: still attached.
    assert_eq!(emulator.delete(&format!("/v1/apps/src/volumes/{volume}")).status, 400);
    assert_eq!(emulator.delete(&format!("/v1/apps/src/machines/{id}")).status, 200);
    emulator.wait_state("src", &id, "destroyed");
    assert_eq!(emulator.delete(&format!("/v1/apps/src/volumes/{volume}")).status, 200);
}

#[test]
fn mounts_and_files_outside_mnt_fail_the_start_with_a_clear_error() {
    let emulator = setup();
    let volume = create_volume(&emulator, json!({"name": "data"}));
    let mut mounted = job_config("true", json!({}));
    mounted["mounts"] = json!([{"volume": volume, "path": "/data"}]);
    let mut filed = job_config("true", json!({}));
    filed["files"] = json!([{"guest_path": "/etc/ferry/key", "raw_value": STANDARD.encode("k"), "mode": 384}]);
    for (config, what) in [(mounted, "config.mounts[0].path is \"/data\""), (filed, "config.files[0].guest_path is \"/etc/ferry/key\"")] {
        let id = create_job(&emulator, config);
        wait_failed(&emulator, &id);
        let launch = events(&emulator, &id).into_iter().find(|e| e["type"] == "launch" && e["status"] == "failed").expect("a failed launch event");
        let error = launch["request"]["error"].as_str().unwrap();
        assert!(error.contains(what) && error.contains("only mount volumes and write files under /mnt/"), "{error}");
        assert!(logs(&emulator, &id).iter().any(|line| line.contains(what)), "the error is in the machine's logs");
    }
    assert!(!Path::new("/data").exists() && !Path::new("/etc/ferry/key").exists());

    let mut no_command = job_config("true", json!({}));
    no_command["init"] = json!({});
    let id = create_job(&emulator, no_command);
    wait_failed(&emulator, &id);
    let launch = events(&emulator, &id).into_iter().find(|e| e["type"] == "launch" && e["status"] == "failed").unwrap();
    assert!(launch["request"]["error"].as_str().unwrap().contains("set config.init.exec"), "{launch}");
}

#[test]
fn jobs_run_in_the_network_namespace_given_at_start() {
    let netns = Netns::add();
    let emulator = Emulator::start_with(&Options { machine_netns: Some(netns.0.clone()), ..Options::default() });
    prepare(&emulator);
    let scratch = TempDir::new();
    let marker = unique("netns");
    let mut config = job_config("readlink /proc/self/ns/net > \"$OUT/ns\"; exec sleep 600", json!({"OUT": scratch.path(), "JOB_MARKER": marker}));
    config["auto_destroy"] = json!(false);
    let id = create_job(&emulator, config);
    emulator.wait_state("src", &id, "started");
    eventually("the command to report its namespace", Duration::from_secs(10), || {
        fs::read_to_string(scratch.path().join("ns")).is_ok_and(|ns| ns.contains(']'))
    });
    let named = fs::metadata(format!("/run/netns/{}", netns.0)).unwrap();
    assert_eq!(fs::read_to_string(scratch.path().join("ns")).unwrap().trim(), format!("net:[{}]", named.ino()), "the command runs in the named namespace");
    let pid = emulator.control("GET", &format!("/apps/src/machines/{id}/process"), None).body["pid"].as_u64().unwrap();
    let of_process = fs::metadata(format!("/proc/{pid}/ns/net")).unwrap();
    assert_eq!((of_process.dev(), of_process.ino()), (named.dev(), named.ino()), "so does the machine's process (the group the emulator signals)");
    let ours = fs::metadata("/proc/self/ns/net").unwrap();
    assert_ne!(ours.ino(), named.ino(), "the emulator's is another");

    assert_eq!(emulator.post(&format!("/v1/apps/src/machines/{id}/stop"), json!({})).status, 200);
    emulator.wait_state("src", &id, "stopped");
    assert!(marked_processes(&marker).is_empty());
    assert!(emulator.stop().success());
}

#[test]
fn serve_refuses_a_network_namespace_that_does_not_exist() {
    let name = unique("femu-missing");
    let output = Command::new(env!("CARGO_BIN_EXE_fly-emulator")).args(["serve", "--machine-netns", &name]).output().expect("run fly-emulator");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("/run/netns/{name} does not exist")) && stderr.contains("ip netns add"), "{stderr}");
}

#[test]
fn jobs_and_their_children_die_with_a_killed_emulator() {
    // A killed emulator cannot remove its data dir: give it one the test removes.
    let data = TempDir::new();
    let emulator = Emulator::start_with(&Options { data_dir: Some(data.path().to_path_buf()), ..Options::default() });
    prepare(&emulator);
    let marker = unique("orphan");
    let id = create_job(&emulator, job_config("sleep 600 & sleep 600", json!({"JOB_MARKER": marker})));
    emulator.wait_state("src", &id, "started");
    eventually("the shell and both sleeps", Duration::from_secs(10), || marked_processes(&marker).len() == 3);
    assert!(Command::new("kill").args(["-KILL", &emulator.pid().to_string()]).status().unwrap().success());
    emulator.wait_exit(Duration::from_secs(10)).expect("the emulator is dead");
    eventually("the job's processes to die", Duration::from_secs(5), || marked_processes(&marker).is_empty());
}
