//! One side of a copy, and running shell snippets on that side.

use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use ferry_ssh::{Output, Session, shell_quote, stderr_tail};

use crate::VolumeError;

/// One side of a copy. At most one side of a copy may be `Remote`: rsync
/// copies between this machine and one host.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Local(PathBuf),
    Remote { session: Arc<Session>, path: String },
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Local(path) => write!(f, "{}", path.display()),
            Endpoint::Remote { session, path } => write!(f, "{}:{path}", session.host()),
        }
    }
}

/// Exit status the snippets use for "the directory/file is not there", so
/// it can be told apart from other failures.
pub(crate) const MISSING: i32 = 66;

impl Endpoint {
    pub(crate) fn path(&self) -> Result<&str, VolumeError> {
        match self {
            Endpoint::Local(path) => path.to_str().ok_or_else(|| VolumeError::NotUtf8 { endpoint: self.to_string() }),
            Endpoint::Remote { path, .. } => Ok(path),
        }
    }

    pub(crate) fn quoted_path(&self) -> Result<String, VolumeError> {
        self.path().map(shell_quote)
    }

    /// `path/rel`, for a file inside the volume.
    pub(crate) fn file(&self, rel: &str) -> Result<String, VolumeError> {
        Ok(format!("{}/{rel}", self.path()?.trim_end_matches('/')))
    }

    pub(crate) fn session(&self) -> Option<&Session> {
        match self {
            Endpoint::Local(_) => None,
            Endpoint::Remote { session, .. } => Some(session),
        }
    }

    /// rsync's spelling of `path` on this side (`user@host:path` when remote).
    pub(crate) fn rsync_spec(&self, path: &str) -> String {
        match self.session() {
            None => path.to_string(),
            Some(session) => format!("{}:{path}", session.destination()),
        }
    }

    /// Runs a `sh` snippet on this side.
    pub(crate) fn sh(&self, script: &str) -> Result<Output, VolumeError> {
        match self.session() {
            Some(session) => session.exec(script).map_err(|source| VolumeError::Ssh { endpoint: self.to_string(), source }),
            None => {
                let out = Command::new("sh").arg("-c").arg(script).output().map_err(|source| self.io("running sh", source))?;
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                Ok(Output { status: out.status.code().unwrap_or(-1), stdout: text(&out.stdout), stderr: text(&out.stderr) })
            }
        }
    }

    /// Runs `script` after checking the endpoint's directory exists; returns stdout.
    pub(crate) fn run_in_dir(&self, script: &str, what: &str) -> Result<String, VolumeError> {
        let guarded = format!("test -d {} || exit {MISSING}; {script}", self.quoted_path()?);
        let out = self.sh(&guarded)?;
        if out.status == MISSING {
            return Err(VolumeError::MissingDirectory { endpoint: self.to_string() });
        }
        self.check(what, out)
    }

    /// Runs `script`; a non-zero exit is [`VolumeError::Command`].
    pub(crate) fn run(&self, script: &str, what: &str) -> Result<String, VolumeError> {
        let out = self.sh(script)?;
        self.check(what, out)
    }

    fn check(&self, what: &str, out: Output) -> Result<String, VolumeError> {
        if out.status != 0 {
            return Err(VolumeError::Command { endpoint: self.to_string(), what: what.to_string(), status: out.status, stderr_tail: stderr_tail(&out.stderr) });
        }
        Ok(out.stdout)
    }

    pub(crate) fn io(&self, what: &str, source: std::io::Error) -> VolumeError {
        VolumeError::Io { endpoint: self.to_string(), what: what.to_string(), source }
    }

    pub(crate) fn unexpected(&self, what: &str, output: &str) -> VolumeError {
        VolumeError::Unexpected { endpoint: self.to_string(), what: what.to_string(), output: output.to_string() }
    }
}

/// The one session rsync needs, refusing remote-to-remote copies.
pub(crate) fn remote_side<'a>(src: &'a Endpoint, dst: &'a Endpoint) -> Result<Option<&'a Session>, VolumeError> {
    match (src.session(), dst.session()) {
        (Some(_), Some(_)) => Err(VolumeError::BothRemote { src: src.to_string(), dst: dst.to_string() }),
        (a, b) => Ok(a.or(b)),
    }
}
