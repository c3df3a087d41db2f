//! Running pg_dump / pg_restore with secrets in the environment, not argv.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;

use crate::url::redact_all;
use crate::{DbUrl, PgError};

const FALLBACK_BINDIR: &str = "/usr/lib/postgresql/15/bin";
/// How much of a tool's stderr an error keeps: the end is where the cause is.
const STDERR_LINES: usize = 20;

/// The server binaries' directory: `pg_config --bindir`, the Debian path, or
/// nothing (then PATH is searched).
fn bindir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let from_pg_config = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        from_pg_config.into_iter().chain([PathBuf::from(FALLBACK_BINDIR)]).find(|d| d.join("pg_dump").is_file())
    })
    .as_ref()
}

/// A command for `tool` connected to `db` via `PG*` variables; inherited `PG*`
/// variables are cleared so nothing ambient redirects the copy.
pub(crate) fn command(tool: &str, db: &DbUrl) -> Result<Command, PgError> {
    let program = bindir().map(|d| d.join(tool)).unwrap_or_else(|| PathBuf::from(tool));
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(db.tool_env()?).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    Ok(cmd)
}

/// Spawns, mapping "not found" to [`PgError::ToolMissing`].
pub(crate) fn spawn(tool: &str, cmd: &mut Command) -> Result<std::process::Child, PgError> {
    cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PgError::ToolMissing { tool: tool.to_string() },
        _ => PgError::io(format!("starting {tool}"), e),
    })
}

/// Drains a child's stderr on a thread (so a chatty tool never blocks on a full
/// pipe) keeping only the last lines.
pub(crate) fn collect_stderr(stderr: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let Some(stderr) = stderr else {
            return String::new();
        };
        let mut tail = VecDeque::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tail.len() == STDERR_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        Vec::from(tail).join("\n")
    })
}

/// `Ok` on success, else a [`PgError::Tool`] with the redacted stderr tail.
pub(crate) fn check(tool: &str, status: ExitStatus, stderr: JoinHandle<String>, urls: &[&DbUrl]) -> Result<(), PgError> {
    let text = stderr.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    Err(PgError::Tool { tool: tool.to_string(), status: status.to_string(), stderr: redact_all(urls, text.trim()) })
}
