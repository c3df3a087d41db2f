//! ferry-volume against a real sshd in a network namespace (the ferry-ssh
//! Vm fixture). The VM shares this machine's filesystem, so results are
//! inspected directly on disk.

use ferry_test_support::vm;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ferry_ssh::Session;
use ferry_volume::{Endpoint, Pass, Progress, VolumeError, differences, scan, sqlite_backup, sqlite_equal, sync};
use vm::Vm;

const DB: &str = "app/data.bin";

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().expect("sqlite3");
    assert!(out.status.success(), "sqlite3 {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    fs::File::open("/dev/urandom").unwrap().read_exact(&mut buf).unwrap();
    buf
}

/// ~200 files: nested dirs, a few MB of random data, a symlink, an empty
/// dir, a name with spaces, and a WAL-mode SQLite db not named like one.
/// Returns the number of regular files.
fn make_source(root: &Path) -> u64 {
    let mut files = 0;
    for d in 0..10 {
        let dir = root.join(format!("a/{d}/deep"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..19 {
            fs::write(root.join(format!("a/{d}/f{f}.txt")), format!("file {d}/{f}\n").repeat(f + 1)).unwrap();
        }
        fs::write(dir.join("leaf"), [d as u8; 100]).unwrap();
        files += 20;
    }
    for i in 0..3 {
        fs::write(root.join(format!("blob{i}.bin")), random_bytes(2 * 1024 * 1024)).unwrap();
    }
    fs::write(root.join("with space.txt"), "spaced\n").unwrap();
    std::os::unix::fs::symlink("a/0/f0.txt", root.join("link")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::create_dir_all(root.join("app")).unwrap();
    let db = root.join(DB);
    sqlite(
        &db,
        "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<200) INSERT INTO t(v) SELECT randomblob(100) FROM c;",
    );
    files + 3 + 1 + 1
}

/// Another process inserting into the db until stopped.
struct Writer {
    child: Child,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Writer {
    fn start(db: &Path) -> Writer {
        let mut child = Command::new("sqlite3").arg(db).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            writeln!(stdin, ".timeout 5000").unwrap();
            let mut n = 0;
            while !flag.load(Ordering::SeqCst) {
                writeln!(stdin, "INSERT INTO t(v) VALUES (randomblob(100));").unwrap();
                stdin.flush().unwrap();
                n += 1;
                thread::sleep(Duration::from_millis(2));
            }
            n
        });
        Writer { child, stop, thread: Some(thread) }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        let n = self.thread.take().unwrap().join().unwrap();
        assert!(self.child.wait().unwrap().success());
        n
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn remote(session: &Arc<Session>, path: &Path) -> Endpoint {
    Endpoint::Remote { session: session.clone(), path: path.to_str().unwrap().to_string() }
}

fn no_progress(_: &Progress) {}

#[test]
fn two_pass_copy_with_a_live_sqlite_db() {
    let vm = Vm::start();
    let session = Arc::new(Session::open(vm.host(), vm.options()).unwrap());
    let (src_dir, dst_dir) = (vm.dir().join("src"), vm.dir().join("dst"));
    let regular = make_source(&src_dir);
    let (src, dst) = (Endpoint::Local(src_dir.clone()), remote(&session, &dst_dir));

    // scan: counts, and the db found by header despite its name.
    let facts = scan(&src).unwrap();
    assert_eq!(facts.files, regular);
    assert!(facts.bytes > 6 * 1024 * 1024, "{facts:?}");
    assert_eq!(facts.sqlite, [DB]);
    assert_eq!(scan(&remote(&session, &src_dir)).unwrap(), facts, "same answer remotely");
    let missing = scan(&dst).unwrap_err();
    assert!(matches!(missing, VolumeError::MissingDirectory { .. }), "{missing:?}");
    assert!(missing.to_string().contains(&format!("{}:{}", vm.host(), dst_dir.display())), "{missing}");

    // Bulk pass while the db is being written.
    let writer = Writer::start(&src_dir.join(DB));
    let mut reports = Vec::new();
    let bulk = sync(&src, &dst, Pass::Bulk, &facts.sqlite, &mut |p| reports.push(p.clone())).unwrap();
    assert_eq!(bulk.files_transferred, regular - 1, "everything but the db: {bulk:?}");
    assert!(bulk.bytes_transferred > 6 * 1024 * 1024);
    assert_eq!(reports.last().and_then(|p| p.percent), Some(100), "{reports:?}");
    assert!(!dst_dir.join(DB).exists() && !dst_dir.join("app/data.bin-wal").exists(), "the live db is never copied");
    assert_eq!(fs::read_link(dst_dir.join("link")).unwrap(), PathBuf::from("a/0/f0.txt"));
    assert!(dst_dir.join("empty").is_dir());
    assert_eq!(fs::read_to_string(dst_dir.join("with space.txt")).unwrap(), "spaced\n");
    assert_eq!(fs::read(dst_dir.join("blob1.bin")).unwrap(), fs::read(src_dir.join("blob1.bin")).unwrap());

    // A consistent copy while the writer keeps inserting.
    thread::sleep(Duration::from_millis(100));
    let size = sqlite_backup(&src, &dst, DB).unwrap();
    assert_eq!(size, fs::metadata(dst_dir.join(DB)).unwrap().len());
    assert_eq!(sqlite(&dst_dir.join(DB), "PRAGMA integrity_check"), "ok");
    let copied_rows: u64 = sqlite(&dst_dir.join(DB), "SELECT count(*) FROM t").parse().unwrap();
    assert!(copied_rows > 200, "{copied_rows}");
    thread::sleep(Duration::from_millis(100));
    let inserted = writer.stop();
    assert!(inserted > 0);
    assert!(!sqlite_equal(&src, &dst, DB).unwrap(), "rows were added after the backup");

    // The freeze: change 2, add 1, delete 1.
    fs::OpenOptions::new().append(true).open(src_dir.join("a/1/f3.txt")).unwrap().write_all(b"more\n").unwrap();
    fs::write(src_dir.join("a/2/deep/leaf"), b"rewritten").unwrap();
    fs::write(src_dir.join("a/9/new.txt"), b"new\n").unwrap();
    fs::remove_file(src_dir.join("a/5/f7.txt")).unwrap();
    let before_final = fs::read(dst_dir.join(DB)).unwrap();
    let last = sync(&src, &dst, Pass::Final, &facts.sqlite, &mut no_progress).unwrap();
    assert_eq!(last.files_transferred, 3, "only changed files move: {last:?}");
    assert!(last.bytes_transferred < 1024 * 1024, "{last:?}");
    assert!(!dst_dir.join("a/5/f7.txt").exists(), "deleted on dst");
    assert_eq!(fs::read(dst_dir.join("a/9/new.txt")).unwrap(), b"new\n");
    assert_eq!(fs::read(dst_dir.join(DB)).unwrap(), before_final, "the db is excluded: neither deleted nor overwritten");

    // Final db copy after writes stopped.
    sqlite_backup(&src, &dst, DB).unwrap();
    assert!(sqlite_equal(&src, &dst, DB).unwrap());

    // Verification: equal, then one flipped byte with size and mtime kept.
    assert_eq!(differences(&src, &dst, &facts.sqlite).unwrap(), Vec::<String>::new());
    corrupt_keeping_size_and_mtime(&dst_dir.join("a/3/f5.txt"));
    let diffs = differences(&src, &dst, &facts.sqlite).unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert!(diffs[0].ends_with(" a/3/f5.txt"), "{diffs:?}");

    // The other direction: from the host back to this machine.
    let back = Endpoint::Local(vm.dir().join("back"));
    sync(&dst, &back, Pass::Final, &[], &mut no_progress).unwrap();
    assert_eq!(differences(&dst, &back, &[]).unwrap(), Vec::<String>::new());
    assert_eq!(fs::read_link(vm.dir().join("back/link")).unwrap(), PathBuf::from("a/0/f0.txt"));
}

fn corrupt_keeping_size_and_mtime(path: &Path) {
    let mtime = fs::metadata(path).unwrap().modified().unwrap();
    let mut data = fs::read(path).unwrap();
    data[0] ^= 0x01;
    fs::write(path, &data).unwrap();
    fs::File::options().write(true).open(path).unwrap().set_modified(mtime).unwrap();
    assert_eq!(fs::metadata(path).unwrap().modified().unwrap(), mtime);
}

#[test]
fn final_pass_keeps_excluded_files_on_the_destination() {
    let vm = Vm::start();
    let session = Arc::new(Session::open(vm.host(), vm.options()).unwrap());
    let (src_dir, dst_dir) = (vm.dir().join("src"), vm.dir().join("dst"));
    fs::create_dir_all(src_dir.join("db")).unwrap();
    fs::write(src_dir.join("kept.txt"), b"x").unwrap();
    fs::create_dir_all(dst_dir.join("db")).unwrap();
    for name in ["db/app.sqlite", "db/app.sqlite-wal", "stale.txt"] {
        fs::write(dst_dir.join(name), b"on dst only").unwrap();
    }
    let (src, dst) = (Endpoint::Local(src_dir), remote(&session, &dst_dir));
    sync(&src, &dst, Pass::Final, &["db/app.sqlite".to_string()], &mut no_progress).unwrap();
    assert!(dst_dir.join("db/app.sqlite").exists() && dst_dir.join("db/app.sqlite-wal").exists(), "excluded: not deleted");
    assert!(!dst_dir.join("stale.txt").exists(), "not excluded: deleted");
    sync(&src, &dst, Pass::Final, &[], &mut no_progress).unwrap();
    assert!(!dst_dir.join("db/app.sqlite").exists(), "without the exclude it goes");
}

#[test]
fn both_sides_remote_is_refused() {
    let vm = Vm::start();
    let session = Arc::new(Session::open(vm.host(), vm.options()).unwrap());
    fs::create_dir_all(vm.dir().join("a")).unwrap();
    let (a, b) = (remote(&session, &vm.dir().join("a")), remote(&session, &vm.dir().join("b")));
    let err = sync(&a, &b, Pass::Bulk, &[], &mut no_progress).unwrap_err();
    assert!(matches!(err, VolumeError::BothRemote { .. }), "{err:?}");
    assert!(err.to_string().contains("this machine and one host"), "{err}");
    assert!(matches!(differences(&a, &b, &[]), Err(VolumeError::BothRemote { .. })));
    assert!(matches!(sqlite_backup(&a, &b, "x.db"), Err(VolumeError::BothRemote { .. })));
    assert!(!vm.dir().join("b").exists(), "nothing was created");
}

#[test]
fn sqlite_errors_name_the_endpoint_and_file() {
    let vm = Vm::start();
    let session = Arc::new(Session::open(vm.host(), vm.options()).unwrap());
    fs::create_dir_all(vm.dir().join("src")).unwrap();
    let (src, dst) = (Endpoint::Local(vm.dir().join("src")), remote(&session, &vm.dir().join("dst")));
    let err = sqlite_backup(&src, &dst, "missing.db").unwrap_err();
    assert!(matches!(&err, VolumeError::MissingFile { rel, .. } if rel == "missing.db"), "{err:?}");
    assert!(matches!(sqlite_backup(&src, &dst, "../etc/passwd"), Err(VolumeError::BadRelativePath { .. })));
    let err = sync(&Endpoint::Local(vm.dir().join("nope")), &dst, Pass::Bulk, &[], &mut no_progress).unwrap_err();
    assert!(matches!(&err, VolumeError::Rsync { stderr_tail, .. } if stderr_tail.contains("nope")), "{err:?}");
}
