//! Live SQLite databases: copied through the online backup API and compared
//! logically, never by bytes of the live file.

use ferry_ssh::shell_quote;

use crate::VolumeError;
use crate::endpoint::{Endpoint, MISSING, remote_side};
use crate::rsync::copy_file;

/// How long sqlite3 waits for a writer's lock before giving up (ms).
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// Copies a consistent snapshot of the database `rel` from `src` to `dst`:
/// `.backup` into a staging file on the source side, rsync it next to the
/// destination, then rename it into place (after removing stale `-wal`/`-shm`,
/// which would otherwise be replayed onto the new file). Returns its size.
pub fn sqlite_backup(src: &Endpoint, dst: &Endpoint, rel: &str) -> Result<u64, VolumeError> {
    check_rel(rel)?;
    remote_side(src, dst)?;
    let staging_dir = src.run("mktemp -d /tmp/ferry-sqlite.XXXXXX", "creating a staging dir")?.trim().to_string();
    let result = backup_via(src, dst, rel, &format!("{staging_dir}/db"));
    let _ = src.sh(&format!("rm -rf {}", shell_quote(&staging_dir)));
    result
}

fn backup_via(src: &Endpoint, dst: &Endpoint, rel: &str, staging: &str) -> Result<u64, VolumeError> {
    let file = src.file(rel)?;
    let backup = format!(".backup '{}'", staging.replace('\'', "''"));
    let script = format!("{}; {} {} {}", require_file(&file), sqlite3(), shell_quote(&file), shell_quote(&backup));
    run_on_file(src, rel, &script, "sqlite3 .backup")?;
    let size = src.run(&format!("wc -c < {}", shell_quote(staging)), "measuring the backup")?;
    let size: u64 = size.trim().parse().map_err(|_| src.unexpected("wc -c", &size))?;
    let target = dst.file(rel)?;
    let tmp = format!("{target}.ferry-tmp");
    dst.run(&format!("mkdir -p \"$(dirname {})\"", shell_quote(&target)), "creating the database's directory")?;
    copy_file(src, staging, dst, &tmp)?;
    let (t, q) = (shell_quote(&target), shell_quote(&tmp));
    dst.run(&format!("rm -f {t}-wal {t}-shm {t}-journal && mv -f {q} {t}"), "moving the database into place")?;
    Ok(size)
}

/// Whether the database `rel` holds the same data on both sides (sha256 of
/// `.dump`) and the destination copy passes `PRAGMA integrity_check`.
pub fn sqlite_equal(src: &Endpoint, dst: &Endpoint, rel: &str) -> Result<bool, VolumeError> {
    check_rel(rel)?;
    if dump_hash(src, rel)? != dump_hash(dst, rel)? {
        return Ok(false);
    }
    let file = dst.file(rel)?;
    let script = format!("{}; {} {} 'PRAGMA integrity_check'", require_file(&file), sqlite3(), shell_quote(&file));
    Ok(run_on_file(dst, rel, &script, "PRAGMA integrity_check")?.trim() == "ok")
}

/// sha256 of the logical dump. sqlite3's exit status is lost in the pipe
/// (POSIX sh has no pipefail), so any stderr from it counts as failure.
fn dump_hash(ep: &Endpoint, rel: &str) -> Result<String, VolumeError> {
    let file = ep.file(rel)?;
    let script = format!("{}; {} {} .dump | sha256sum", require_file(&file), sqlite3(), shell_quote(&file));
    let out = ep.sh(&script)?;
    if out.status == MISSING {
        return Err(VolumeError::MissingFile { endpoint: ep.to_string(), rel: rel.to_string() });
    }
    if out.status != 0 || !out.stderr.trim().is_empty() {
        let stderr_tail = ferry_ssh::stderr_tail(&out.stderr);
        return Err(VolumeError::Command { endpoint: ep.to_string(), what: "sqlite3 .dump".into(), status: out.status, stderr_tail });
    }
    out.stdout.split_whitespace().next().map(str::to_string).ok_or_else(|| ep.unexpected("sha256sum", &out.stdout))
}

fn run_on_file(ep: &Endpoint, rel: &str, script: &str, what: &str) -> Result<String, VolumeError> {
    let out = ep.sh(script)?;
    if out.status == MISSING {
        return Err(VolumeError::MissingFile { endpoint: ep.to_string(), rel: rel.to_string() });
    }
    if out.status != 0 {
        let stderr_tail = ferry_ssh::stderr_tail(&out.stderr);
        return Err(VolumeError::Command { endpoint: ep.to_string(), what: what.to_string(), status: out.status, stderr_tail });
    }
    Ok(out.stdout)
}

fn require_file(file: &str) -> String {
    format!("test -f {} || exit {MISSING}", shell_quote(file))
}

fn sqlite3() -> String {
    format!("sqlite3 -bail -cmd {}", shell_quote(&format!(".timeout {BUSY_TIMEOUT_MS}")))
}

/// Keeps `rel` inside the volume: it is joined onto both roots.
fn check_rel(rel: &str) -> Result<(), VolumeError> {
    let bad = rel.is_empty() || rel.starts_with('/') || rel.split('/').any(|part| part == ".." || part.is_empty());
    if bad { Err(VolumeError::BadRelativePath { rel: rel.to_string() }) } else { Ok(()) }
}
