//! `cargo bench --bench data`: the data phase against what a careful person
//! would run by hand, on the same data in the same run.
//!
//! - **Databases** (real PostgreSQL 15 clusters on loopback, one table of
//!   ~280-byte rows with a primary key, at each size in `FERRY_BENCH_DB_MB`,
//!   default `256,1024`): a plain `pg_dump -Fc | pg_restore`, then
//!   `ferry apply --phase data` in `dump-restore` mode and in `logical` mode
//!   (with a writer inserting into the source until the freeze stops it).
//!   For each ferry run: wall time, the frozen window from the journal (the
//!   freeze started → the last action done, verification included), and the
//!   peak RSS of the ferry process itself (VmHWM, polled; pg_dump and
//!   pg_restore are separate processes).
//! - **A volume** (`FERRY_BENCH_VOLUME_MB`, default 1024, in 256 KiB files)
//!   copied over SSH to sshd in a network namespace: the full first copy,
//!   then the final pass after 1% of the files changed, then the checksum
//!   dry-run that proves equality.
//!
//! Prints Markdown tables for BENCHMARKS.md.

use ferry_test_support::{pg_cluster as cluster, vm};

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::Cluster;
use ferry_engine::journal::{Event, Journal};

const FILE_BYTES: usize = 256 << 10;
/// Bytes per generated row, measured: 8 (id) + 4 + 233 (pad) + tuple header.
const ROW_BYTES: u64 = 280;

fn main() {
    let sizes = env_list("FERRY_BENCH_DB_MB", "256,1024");
    println!(
        "| database | plain `pg_dump -Fc \\| pg_restore` | ferry's dump-restore action | ratio | `ferry apply` dump-restore (all, with verify) | frozen window: dump-restore | frozen window: logical | ratio | verify (in both windows) | ferry peak RSS (dump-restore / logical) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for mb in sizes {
        database_row(mb);
    }
    println!();
    volume_rows(env_list("FERRY_BENCH_VOLUME_MB", "1024")[0]);
}

fn env_list(var: &str, default: &str) -> Vec<u64> {
    std::env::var(var).unwrap_or_else(|_| default.into()).split(',').map(|s| s.trim().parse().expect(var)).collect()
}

fn database_row(mb: u64) {
    let source = Cluster::start();
    source.create_db("app");
    let rows = (mb << 20) / ROW_BYTES;
    source.psql(
        "app",
        &format!(
            "CREATE TABLE big (id bigserial PRIMARY KEY, account int NOT NULL, pad text NOT NULL);
             INSERT INTO big (account, pad) SELECT g % 1000, md5(g::text) || repeat('x', 201) FROM generate_series(1, {rows}) g;
             ANALYZE big;"
        ),
    );
    let bytes: u64 = source.psql("app", "SELECT pg_database_size('app')").parse().unwrap();

    let plain = {
        let target = fresh_target();
        let started = Instant::now();
        let pipe = format!(
            "set -o pipefail; /usr/lib/postgresql/15/bin/pg_dump -Fc -d '{}' | /usr/lib/postgresql/15/bin/pg_restore --no-owner -d '{}'",
            source.url("app"),
            target.url("app")
        );
        let status = Command::new("bash").args(["-c", &pipe]).status().unwrap();
        assert!(status.success(), "pg_dump | pg_restore failed");
        started.elapsed()
    };
    let dump = ferry_copy(&source, "dump-restore", false);
    let logical = ferry_copy(&source, "logical", true);
    println!(
        "| {} | {} | {} | {:.2}x | {} | {} | {} | {:.2}x | {} / {} | {} / {} MiB |",
        size(bytes),
        secs(plain),
        secs(dump.copy),
        dump.copy.as_secs_f64() / plain.as_secs_f64(),
        secs(dump.wall),
        secs(dump.frozen),
        secs(logical.frozen),
        logical.frozen.as_secs_f64() / dump.frozen.as_secs_f64(),
        secs(dump.verify),
        secs(logical.verify),
        dump.peak_rss_kib / 1024,
        logical.peak_rss_kib / 1024,
    );
    eprintln!("  {mb} MiB: logical's final catch-up took {}", secs(logical.copy));
}

fn fresh_target() -> Cluster {
    let c = Cluster::start();
    c.create_db("app");
    c
}

struct FerryRun {
    wall: Duration,
    /// The copy action alone (the dump-restore, or the final catch-up).
    copy: Duration,
    frozen: Duration,
    verify: Duration,
    peak_rss_kib: u64,
}

/// `ferry apply --phase data` into a fresh target, then `ferry abort`
/// (which also unfreezes the source for the next run).
fn ferry_copy(source: &Cluster, mode: &str, with_writer: bool) -> FerryRun {
    let target = fresh_target();
    let dir = tempfile::tempdir().unwrap();
    let workflow = format!(
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"copy-data\"\nparams = {{ mode = \"{mode}\" }}\n\n[data.postgres.app]\nsource_env = \"FERRY_SECRET_SRC\"\ntarget_env = \"FERRY_SECRET_DST\"\n"
    );
    std::fs::write(dir.path().join("fly.toml"), "app = \"bench\"\n").unwrap();
    std::fs::write(dir.path().join("ferry.toml"), workflow).unwrap();
    let ferry = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.env("FERRY_SECRET_SRC", source.url("app"))
            .env("FERRY_SECRET_DST", target.url("app"))
            .env("FERRY_STATE", dir.path().join("state"))
            .env("FERRY_CACHE_DIR", cache_dir())
            .env("FERRY_LOG", "warn")
            .args(args)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null());
        cmd
    };
    // Compile the steps first, as a CI cache would have them: the peak RSS
    // measured below is the copy's, not cranelift's.
    assert!(ferry(&["plan", "--phase", "data"]).status().unwrap().success(), "ferry plan failed");
    let mut writer = with_writer.then(|| writer(source));
    let started = Instant::now();
    let mut child = ferry(&["apply", "--phase", "data", "--run", "bench"]).spawn().unwrap();
    let peak_rss_kib = peak_rss(&mut child);
    let wall = started.elapsed();
    if let Some(w) = writer.as_mut() {
        let _ = w.kill();
        let _ = w.wait();
    }
    let (frozen, verify, copy) = frozen_window(&dir.path().join("state"));
    assert!(ferry(&["abort", "--run", "bench", "--yes"]).status().unwrap().success(), "ferry abort failed");
    FerryRun { wall, copy, frozen, verify, peak_rss_kib }
}

/// One compile cache for every run of the benchmark.
fn cache_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// An app that keeps writing: one insert every 20 ms until the freeze
/// makes the database read-only (later inserts fail and are ignored).
fn writer(source: &Cluster) -> Child {
    let script = format!(
        "while true; do psql -X -q -d '{}' -c \"INSERT INTO big (account, pad) VALUES (1, 'live write')\" >/dev/null 2>&1; sleep 0.02; done",
        source.url("app")
    );
    Command::new("bash").args(["-c", &script]).spawn().unwrap()
}

/// Waits for `child`, polling its VmHWM (peak resident set) every 20 ms.
fn peak_rss(child: &mut Child) -> u64 {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "ferry apply failed");
            return peak;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// From the journal: the first freeze action started → the last action
/// done, the verification's share of it, and the copy action's.
fn frozen_window(state: &Path) -> (Duration, Duration, Duration) {
    // The state store's key for app `bench`, run `bench`.
    let journal: Journal = serde_json::from_slice(&std::fs::read(state.join("journal/bench/bench.json")).unwrap()).unwrap();
    let phase = journal.phases.last().expect("a phase");
    let start = phase.entries.iter().find(|e| e.action.contains("freeze:") && matches!(e.event, Event::Started { .. })).expect("a freeze").at_ms;
    let end = phase.entries.iter().filter(|e| matches!(e.event, Event::Done { .. })).map(|e| e.at_ms).max().unwrap();
    let took = |kind: &str| {
        let ms = phase
            .entries
            .iter()
            .filter_map(|e| match &e.event {
                Event::Done { duration_ms, .. } if e.action.contains(kind) => Some(*duration_ms),
                _ => None,
            })
            .sum();
        Duration::from_millis(ms)
    };
    (Duration::from_millis(end - start), took(":verify:"), took(":dump-restore:") + took(":finish:"))
}

fn volume_rows(mb: u64) {
    let vm = vm::Vm::start();
    let session = Arc::new(ferry_ssh::Session::open(vm.host(), vm.options()).expect("ssh to the VM"));
    let source = tempfile::tempdir().unwrap();
    let files = (mb << 20) as usize / FILE_BYTES;
    let mut seed = 0x9e3779b97f4a7c15u64;
    for i in 0..files {
        let sub = source.path().join(format!("d{:02}", i % 64));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}.bin")), noise(&mut seed, FILE_BYTES)).unwrap();
    }
    let src = ferry_volume::Endpoint::Local(source.path().to_path_buf());
    let dst = ferry_volume::Endpoint::Remote { session, path: vm.dir().join("volume").display().to_string() };
    let timed = |pass| {
        let started = Instant::now();
        let stats = ferry_volume::sync(&src, &dst, pass, &[], &mut |_| {}).expect("sync");
        (started.elapsed(), stats.files_transferred)
    };
    let (full, _) = timed(ferry_volume::Pass::Bulk);
    let changed = files / 100;
    for i in 0..changed {
        let path = source.path().join(format!("d{:02}/f{}.bin", (i * 97) % files % 64, (i * 97) % files));
        std::fs::write(path, noise(&mut seed, FILE_BYTES)).unwrap();
    }
    let (last, moved) = timed(ferry_volume::Pass::Final);
    assert_eq!(moved as usize, changed, "the final pass moves only the changed files");
    let started = Instant::now();
    assert!(ferry_volume::differences(&src, &dst, &[]).expect("checksum pass").is_empty());
    let check = started.elapsed();
    println!("| volume ({} in {files} files, over SSH) | time | ratio |", size(mb << 20));
    println!("|---|---|---|");
    println!("| full copy (first pass into an empty target) | {} | 1 |", secs(full));
    println!("| final `--delete` pass, {changed} files (1%) changed | {} | {:.3}x |", secs(last), last.as_secs_f64() / full.as_secs_f64());
    println!("| checksum dry-run (must find nothing) | {} | {:.2}x |", secs(check), check.as_secs_f64() / full.as_secs_f64());
}

/// Incompressible bytes (xorshift), so rsync cannot shortcut them.
fn noise(state: &mut u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 30 { format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64) } else { format!("{} MiB", bytes >> 20) }
}
