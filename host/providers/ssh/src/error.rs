use std::time::Duration;

/// Why an SSH operation failed. Every variant names the host so a log line
/// on its own says which machine misbehaved. The private key never appears.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The host presented a key other than the pinned one (or none is pinned
    /// for it). Nothing was run: this is what a man-in-the-middle looks like.
    #[error("{host}: the host key does not match the pinned known_hosts entry; refusing to connect")]
    HostKeyMismatch { host: String },
    #[error("{host}: cannot connect: {message}")]
    Connect { host: String, message: String },
    #[error("{host}: the host refused the key (is its public key in authorized_keys?)")]
    Auth { host: String },
    #[error("{host}: `{command}` exited with status {status}: {stderr_tail}")]
    Command { host: String, command: String, status: i32, stderr_tail: String },
    #[error("{host}: `{command}` did not finish within {after:?}; killed")]
    Timeout { host: String, command: String, after: Duration },
    #[error("{host}: {context}: {source}")]
    Io { host: String, context: String, source: std::io::Error },
}
