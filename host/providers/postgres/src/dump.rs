//! Whole-database copies with pg_dump / pg_restore.

use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::inventory::ensure_empty;
use crate::sql::quote_qualified;
use crate::tools::{self, check, collect_stderr, spawn};
use crate::url::conninfo_quote;
use crate::{DbUrl, PgError};

/// Memory stays flat however big the database is: one buffer, no temp file.
const BUFFER: usize = 256 * 1024;
/// Progress at most ~10 times a second, so a callback that prints stays cheap.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// Subscriptions would start pulling from their publishers on the new
/// server as well as the old. Publications are definitions the app's own
/// consumers may need on the new server, and are carried (their slots are
/// not: a consumer re-points and resyncs).
const DUMP_ARGS: &[&str] = &["--no-subscriptions"];
/// Roles and grants differ between providers; objects end up owned by the
/// target user. `--exit-on-error`: a copy with ignored errors is not a copy.
const RESTORE_ARGS: &[&str] = &["--no-owner", "--no-acl", "--exit-on-error"];

/// What a copy moved: bytes of dump data and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyStats {
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Copies the whole database (schema + data + large objects) from `src` into an
/// EMPTY `dst` ([`PgError::TargetNotEmpty`] otherwise).
///
/// `jobs <= 1`: `pg_dump -Fc` streamed into `pg_restore --single-transaction`
/// through ferry (no temp file, all-or-nothing on the target); `progress` gets
/// the bytes streamed so far. `jobs > 1`: `pg_dump -Fd -j N` into a temporary
/// directory (needs disk for the whole dump), then `pg_restore -j N`; a failure
/// there can leave a partial target, which [`crate::clear`] undoes.
pub fn dump_restore(src: &DbUrl, dst: &DbUrl, jobs: u32, progress: &mut dyn FnMut(u64)) -> Result<CopyStats, PgError> {
    ensure_empty(dst)?;
    let started = Instant::now();
    let bytes = if jobs <= 1 { stream(src, dst, &["-Fc"], progress)? } else { parallel(src, dst, jobs, progress)? };
    Ok(CopyStats { bytes, elapsed: started.elapsed() })
}

/// Schema only, into an empty `dst`: the starting point for logical
/// replication, which copies the rows itself.
pub fn copy_schema(src: &DbUrl, dst: &DbUrl) -> Result<(), PgError> {
    ensure_empty(dst)?;
    stream(src, dst, &["-Fc", "--schema-only"], &mut |_| {})?;
    Ok(())
}

/// The rows of `tables` (schema-qualified, their definitions already on
/// the target) by one `pg_dump --data-only | pg_restore`: how logical mode
/// carries UNLOGGED tables, whose rows replication never sees. Each name is
/// passed as a fully quoted pattern, so a dot, quote or `*` in it is literal,
/// and `--strict-names` fails rather than copy nothing for a missing table.
pub(crate) fn copy_rows(src: &DbUrl, dst: &DbUrl, tables: &[String]) -> Result<u64, PgError> {
    if tables.is_empty() {
        return Ok(0);
    }
    let mut args = vec!["-Fc".to_string(), "--data-only".to_string(), "--strict-names".to_string()];
    for table in tables {
        args.push(format!("--table={}", quote_qualified(table)?));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    stream(src, dst, &args, &mut |_| {})
}

/// `-d` takes a conninfo so an odd database name is never parsed as options;
/// host, user and password still come from the environment.
fn dbname_arg(db: &DbUrl) -> String {
    format!("--dbname=dbname={}", conninfo_quote(&db.database_name()))
}

fn stream(src: &DbUrl, dst: &DbUrl, dump_args: &[&str], progress: &mut dyn FnMut(u64)) -> Result<u64, PgError> {
    let mut dump_cmd = tools::command("pg_dump", src)?;
    dump_cmd.args(dump_args).args(DUMP_ARGS).stdout(Stdio::piped());
    let mut restore_cmd = tools::command("pg_restore", dst)?;
    restore_cmd.args(RESTORE_ARGS).arg("--single-transaction").arg(dbname_arg(dst));
    restore_cmd.stdin(Stdio::piped());

    let mut dump = spawn("pg_dump", &mut dump_cmd)?;
    let dump_err = collect_stderr(dump.stderr.take());
    let mut restore = match spawn("pg_restore", &mut restore_cmd) {
        Ok(child) => child,
        Err(e) => return Err(abandon(dump, e)),
    };
    let restore_err = collect_stderr(restore.stderr.take());
    let (Some(mut from), Some(mut to)) = (dump.stdout.take(), restore.stdin.take()) else {
        unreachable!("stdout and stdin are piped");
    };
    let pumped = pump(&mut from, &mut to, progress);
    drop((from, to));
    if pumped.is_err() {
        let _ = dump.kill();
    }
    let dump_status = wait(&mut dump, "pg_dump")?;
    let restore_status = wait(&mut restore, "pg_restore")?;
    let dumped = check("pg_dump", dump_status, dump_err, &[src, dst]);
    let restored = check("pg_restore", restore_status, restore_err, &[src, dst]);
    // Report the tool that failed first: a dead reader shows up as a write error.
    match pumped {
        Ok(bytes) => dumped.and(restored).map(|()| bytes),
        Err(Pump::Write(e)) => restored.and(dumped).and(Err(PgError::io("writing to pg_restore", e))),
        Err(Pump::Read(e)) => dumped.and(restored).and(Err(PgError::io("reading pg_dump", e))),
    }
}

fn abandon(mut child: Child, e: PgError) -> PgError {
    let _ = child.kill();
    let _ = child.wait();
    e
}

fn wait(child: &mut Child, tool: &str) -> Result<std::process::ExitStatus, PgError> {
    child.wait().map_err(|e| PgError::io(format!("waiting for {tool}"), e))
}

enum Pump {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies through one fixed buffer, reporting progress at most every 100 ms.
fn pump(from: &mut impl Read, to: &mut impl Write, progress: &mut dyn FnMut(u64)) -> Result<u64, Pump> {
    let mut buf = vec![0u8; BUFFER];
    let mut total = 0u64;
    let mut last: Option<Instant> = None;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Pump::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(Pump::Write)?;
        total += n as u64;
        if last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
            progress(total);
            last = Some(Instant::now());
        }
    }
    to.flush().map_err(Pump::Write)?;
    progress(total);
    Ok(total)
}

fn parallel(src: &DbUrl, dst: &DbUrl, jobs: u32, progress: &mut dyn FnMut(u64)) -> Result<u64, PgError> {
    let dir = tempfile::tempdir().map_err(|e| PgError::io("creating dump directory", e))?;
    let out = dir.path().join("dump");
    let jobs = jobs.to_string();
    let mut dump_cmd = tools::command("pg_dump", src)?;
    dump_cmd.args(["-Fd", "-j", &jobs]).args(DUMP_ARGS).arg("-f").arg(&out);
    let mut dump = spawn("pg_dump", &mut dump_cmd)?;
    let dump_err = collect_stderr(dump.stderr.take());
    let status = loop {
        match dump.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => progress(dir_size(&out)),
            Err(e) => return Err(abandon(dump, PgError::io("waiting for pg_dump", e))),
        }
        std::thread::sleep(PROGRESS_EVERY);
    };
    check("pg_dump", status, dump_err, &[src, dst])?;
    let bytes = dir_size(&out);
    progress(bytes);

    let mut restore_cmd = tools::command("pg_restore", dst)?;
    restore_cmd.args(RESTORE_ARGS).args(["-j", &jobs]).arg(dbname_arg(dst)).arg(&out);
    let mut restore = spawn("pg_restore", &mut restore_cmd)?;
    let restore_err = collect_stderr(restore.stderr.take());
    let status = wait(&mut restore, "pg_restore")?;
    check("pg_restore", status, restore_err, &[src, dst])?;
    Ok(bytes)
}

/// Bytes written so far into a directory-format dump (flat directory).
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()
}
