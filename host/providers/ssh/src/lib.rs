//! SSH to a host the user owns, for migrating a Fly.io app onto it.
//!
//! One OpenSSH ControlMaster connection per [`Session`], so a migration's
//! hundreds of commands (and rsync) pay for one handshake, and one host-key
//! check against a key pinned by the user: there is no trust-on-first-use,
//! because CI has no one to answer "are you sure?". The system `ssh` binary
//! is used rather than a library so behaviour (ciphers, agent-free key
//! handling, known_hosts syntax) is exactly what the user gets by hand.

mod error;
mod exec;
mod host;
mod session;

pub use error::SshError;
pub use host::{HostSpec, HostSpecError};
pub use session::{Session, SshKey, SshOptions};

/// What a remote command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit status; -1 if the process was killed by a signal.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Quotes `s` for POSIX `sh`: left bare when it only holds characters no shell
/// treats specially (keeps command lines readable in logs), else single-quoted.
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// How many lines of a command's stderr an error keeps: enough for the
/// actual complaint, short enough not to bury the log.
pub const STDERR_TAIL_LINES: usize = 20;

/// The last [`STDERR_TAIL_LINES`] lines of `stderr`, trimmed.
pub fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_sh() {
        assert_eq!(shell_quote("/srv/data"), "/srv/data");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn keeps_the_last_lines() {
        let long: String = (0..50).map(|i| format!("line {i}\n")).collect();
        let tail = stderr_tail(&long);
        assert_eq!(tail.lines().count(), STDERR_TAIL_LINES);
        assert!(tail.starts_with("line 30") && tail.ends_with("line 49"));
    }
}
