//! Copying a Fly volume's files to a host the user owns.
//!
//! Two rsync passes keep downtime short: [`Pass::Bulk`] while the app still
//! runs (most bytes move, nothing is deleted), then [`Pass::Final`] after the
//! freeze (only what changed since, with `--delete`). SQLite databases are
//! excluded from both because copying a live database file tears it; they
//! move through [`sqlite_backup`] (the online backup API) instead, and
//! [`differences`] / [`sqlite_equal`] verify the result.
//!
//! Every remote command and rsync rides on the caller's [`ferry_ssh::Session`],
//! so the pinned host key and the single connection apply throughout.

mod endpoint;
mod rsync;
mod sqlite;

use std::time::Duration;

pub use endpoint::Endpoint;
pub use rsync::{differences, sync};
pub use sqlite::{sqlite_backup, sqlite_equal};

/// What a volume holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    pub files: u64,
    pub bytes: u64,
    /// Relative paths of SQLite databases, found by their 16-byte header
    /// `"SQLite format 3\0"`, not by name (Fly apps use any extension).
    pub sqlite: Vec<String>,
}

/// Which rsync pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// While the source is live: no deletes (a file missing now may be
    /// mid-rename), vanished files tolerated.
    Bulk,
    /// After the freeze: `--delete`, so the destination matches exactly.
    Final,
}

/// One progress report of a running [`sync`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub bytes: u64,
    /// Estimated from rsync's (truncated) percentage while running, since
    /// rsync prints no byte total; exact in the final report.
    pub total: Option<u64>,
    pub percent: Option<u8>,
    pub eta: Option<Duration>,
}

/// What a [`sync`] moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStats {
    /// Regular files whose data was sent (not deletions or attribute fixes).
    pub files_transferred: u64,
    /// Literal data rsync sent (after the delta algorithm).
    pub bytes_transferred: u64,
    pub elapsed: Duration,
}

/// Why a volume operation failed. Endpoints are named like
/// `root@10.201.3.2:22:/srv/data` so the message says which side.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("cannot copy {src} -> {dst}: rsync copies between this machine and one host, and both sides are remote")]
    BothRemote { src: String, dst: String },
    #[error("{endpoint}: no such directory")]
    MissingDirectory { endpoint: String },
    #[error("{endpoint}: no such file `{rel}`")]
    MissingFile { endpoint: String, rel: String },
    #[error("`{rel}` is not a relative path inside the volume")]
    BadRelativePath { rel: String },
    #[error("{endpoint}: {what} failed (status {status}): {stderr_tail}")]
    Command { endpoint: String, what: String, status: i32, stderr_tail: String },
    #[error("rsync {src} -> {dst} failed (status {status}): {stderr_tail}")]
    Rsync { src: String, dst: String, status: i32, stderr_tail: String },
    #[error("{endpoint}: {source}")]
    Ssh { endpoint: String, source: ferry_ssh::SshError },
    #[error("{endpoint}: {what}: {source}")]
    Io { endpoint: String, what: String, source: std::io::Error },
    #[error("{endpoint}: the path is not valid UTF-8")]
    NotUtf8 { endpoint: String },
    #[error("{endpoint}: unexpected output from {what}: {output}")]
    Unexpected { endpoint: String, what: String, output: String },
}

/// `"SQLite format 3\0"` as `od -An -tx1` prints it.
const SQLITE_MAGIC_HEX: &str = "53514c69746520666f726d6174203300";

/// Counts files and bytes (`find -printf`) and finds SQLite databases by
/// reading the first 16 bytes of every file that long, on the endpoint's
/// side, so nothing is copied to find out.
pub fn scan(ep: &Endpoint) -> Result<Facts, VolumeError> {
    let dir = ep.quoted_path()?;
    let listing = ep.run_in_dir(&format!("find {dir} -type f -printf '%s %P\\n'"), "listing files")?;
    let mut facts = Facts::default();
    for line in listing.lines() {
        let size = line.split_once(' ').and_then(|(size, _)| size.parse::<u64>().ok());
        let size = size.ok_or_else(|| ep.unexpected("find", line))?;
        facts.files += 1;
        facts.bytes += size;
    }
    let check = format!("for f do [ \"$(head -c 16 \"$f\" | od -An -tx1 | tr -d ' \\n')\" = {SQLITE_MAGIC_HEX} ] && printf '%s\\n' \"${{f#./}}\"; done; true");
    let script = format!("cd {dir} && find . -type f -size +15c -exec sh -c {} sh {{}} +", ferry_ssh::shell_quote(&check));
    let found = ep.run_in_dir(&script, "reading file headers")?;
    facts.sqlite = found.lines().map(str::to_string).collect();
    facts.sqlite.sort();
    Ok(facts)
}
