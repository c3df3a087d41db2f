//! The connection: an OpenSSH ControlMaster whose key file, pinned
//! known_hosts and control socket live in a private temp dir that exists
//! exactly as long as the [`Session`].

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{HostSpec, SshError, shell_quote, stderr_tail};

/// An OpenSSH private key. Its `Debug` is redacted and it is only ever
/// written to a 0600 file, so it cannot end up in logs or error messages.
#[derive(Clone)]
pub struct SshKey(String);

impl SshKey {
    pub fn new(openssh_private_key: String) -> Self {
        SshKey(openssh_private_key)
    }
}

impl fmt::Debug for SshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SshKey(<redacted>)")
    }
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub key: SshKey,
    /// known_hosts lines pinning the host key (from a CI input). Required:
    /// CI cannot answer "are you sure you want to continue connecting?".
    pub known_hosts: String,
    pub connect_timeout: Duration,
    /// Applies to every command; `None` waits forever.
    pub command_timeout: Option<Duration>,
}

impl SshOptions {
    /// Options with a 10 s connect timeout and no command timeout.
    pub fn new(key: SshKey, known_hosts: String) -> Self {
        SshOptions { key, known_hosts, connect_timeout: Duration::from_secs(10), command_timeout: None }
    }
}

/// How long the master may take beyond `connect_timeout` (key exchange and
/// authentication happen after the TCP connect that the timeout covers).
const HANDSHAKE_GRACE: Duration = Duration::from_secs(10);

/// One connection to a host, reused by every command.
#[derive(Debug)]
pub struct Session {
    host: HostSpec,
    pub(crate) label: String,
    dir: TempDir,
    connect_timeout: Duration,
    pub(crate) command_timeout: Option<Duration>,
    master: Option<std::process::Child>,
}

impl Session {
    /// Starts the master (a child `ssh -M -N` kept until drop) and checks it
    /// with a trivial command.
    pub fn open(host: HostSpec, options: SshOptions) -> Result<Session, SshError> {
        let label = host.to_string();
        let dir = private_dir(&label)?;
        let mut key = options.key.0;
        if !key.ends_with('\n') {
            key.push('\n'); // ssh rejects a key file without the final newline
        }
        write_private(&label, &dir.path().join("key"), key.as_bytes())?;
        write_private(&label, &dir.path().join("known_hosts"), options.known_hosts.as_bytes())?;
        let mut session = Session { host, label, dir, connect_timeout: options.connect_timeout, command_timeout: options.command_timeout, master: None };
        session.start_master()?;
        // The check is bounded too: a host that accepts the key and then
        // hangs must not hang the caller.
        session.run_within("true", session.connect_timeout + HANDSHAKE_GRACE)?;
        Ok(session)
    }

    pub fn host(&self) -> &HostSpec {
        &self.host
    }

    /// `user@host`, for rsync's remote spec.
    pub fn destination(&self) -> String {
        format!("{}@{}", self.host.user, self.host.host)
    }

    /// The `ssh …` command line for `rsync -e`, each word shell-quoted; it
    /// goes through this session's control socket, so rsync reuses the
    /// connection and its pinned host key.
    pub fn ssh_command_for_rsync(&self) -> String {
        let mut words = vec!["ssh".to_string()];
        words.extend(self.client_args());
        words.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" ")
    }

    /// Forwards a port on this machine's loopback to `remote_host:port` as
    /// the server sees it (a database bound to the server's own 127.0.0.1)
    /// through the master, for as long as the session lives; returns the
    /// local port. Nothing listens beyond loopback here.
    pub fn forward_local(&self, remote_host: &str, remote_port: u16) -> Result<u16, SshError> {
        let free = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| self.io("choosing a local port", e))?;
        let spec = format!("127.0.0.1:{}:{remote_host}:{remote_port}", free.port());
        let out = Command::new("ssh")
            .args(self.base_args())
            .args(["-O", "forward", "-L", &spec, "--", &self.destination()])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.io("asking the master for a forward", e))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(SshError::Command {
                host: self.label.clone(),
                command: format!("forward -L {spec}"),
                status: out.status.code().unwrap_or(-1),
                stderr_tail: stderr_tail(&stderr),
            });
        }
        Ok(free.port())
    }

    /// Arguments for a client that rides on the master.
    pub(crate) fn client_args(&self) -> Vec<String> {
        let mut args = self.base_args();
        args.extend(["-o".into(), "ControlMaster=no".into(), "-T".into()]);
        args
    }

    fn control_path(&self) -> PathBuf {
        self.dir.path().join("ctl")
    }

    /// Options shared by the master and every client. `-F /dev/null` keeps
    /// the user's ~/.ssh/config (ProxyJump, other keys…) out of the picture.
    fn base_args(&self) -> Vec<String> {
        let file = |name: &str| self.dir.path().join(name).display().to_string();
        let mut args = vec!["-F".to_string(), "/dev/null".to_string(), "-i".to_string(), file("key"), "-p".to_string(), self.host.port.to_string()];
        let options = [
            format!("ControlPath={}", self.control_path().display()),
            format!("UserKnownHostsFile={}", file("known_hosts")),
            "GlobalKnownHostsFile=/dev/null".to_string(),
            "StrictHostKeyChecking=yes".to_string(),
            "UpdateHostKeys=no".to_string(),
            "BatchMode=yes".to_string(),
            "IdentitiesOnly=yes".to_string(),
            "IdentityAgent=none".to_string(),
            format!("ConnectTimeout={}", self.connect_timeout.as_secs().max(1)),
            "ServerAliveInterval=15".to_string(),
            "ServerAliveCountMax=4".to_string(),
        ];
        for option in options {
            args.extend(["-o".to_string(), option]);
        }
        args
    }

    /// Spawns the master and waits until its control socket appears (OpenSSH
    /// creates it only after authentication) or it exits with a complaint.
    fn start_master(&mut self) -> Result<(), SshError> {
        let log_path = self.dir.path().join("master.log");
        let log = File::create(&log_path).map_err(|e| self.io("creating the master's log", e))?;
        let child = Command::new("ssh")
            .args(self.base_args())
            .args(["-M", "-N", "-o", "ControlMaster=yes", "-o", "ControlPersist=no", "--", &self.destination()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| self.io("starting ssh (is openssh-client installed?)", e))?;
        let master = self.master.insert(child);
        let deadline = Instant::now() + self.connect_timeout + HANDSHAKE_GRACE;
        loop {
            if master.try_wait().map_err(|e| io_error(&self.label, "waiting for ssh", e))?.is_some() {
                let stderr = fs::read_to_string(&log_path).unwrap_or_default();
                return Err(classify(&self.label, &stderr));
            }
            if self.dir.path().join("ctl").exists() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(SshError::Connect { host: self.label.clone(), message: "no connection established in time".into() });
            }
            sleep(Duration::from_millis(10));
        }
    }

    pub(crate) fn io(&self, context: &str, source: std::io::Error) -> SshError {
        io_error(&self.label, context, source)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.control_path().exists() {
            let _ = Command::new("ssh")
                .args(["-F", "/dev/null", "-o", &format!("ControlPath={}", self.control_path().display()), "-O", "exit", "--", &self.destination()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(mut master) = self.master.take() {
            let _ = master.kill();
            let _ = master.wait();
        }
        // `dir` (key, known_hosts, socket) is removed when the TempDir drops.
    }
}

/// Maps the master's stderr onto what went wrong.
fn classify(host: &str, stderr: &str) -> SshError {
    let host = host.to_string();
    if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || stderr.contains("Host key verification failed") {
        SshError::HostKeyMismatch { host }
    } else if stderr.contains("Permission denied") {
        SshError::Auth { host }
    } else {
        let tail = stderr_tail(stderr);
        SshError::Connect { host, message: if tail.is_empty() { "ssh exited without saying why".into() } else { tail } }
    }
}

fn io_error(host: &str, context: &str, source: std::io::Error) -> SshError {
    SshError::Io { host: host.to_string(), context: context.to_string(), source }
}

/// A 0700 temp dir: ssh refuses keys other users can read, and the control
/// socket grants shell access to whoever can open it.
fn private_dir(host: &str) -> Result<TempDir, SshError> {
    // Under /tmp with a short name: a unix socket path must fit in 108 bytes.
    let dir = tempfile::Builder::new().prefix("ferry-ssh-").tempdir_in("/tmp").map_err(|e| io_error(host, "creating a private temp dir", e))?;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).map_err(|e| io_error(host, "restricting the temp dir", e))?;
    Ok(dir)
}

fn write_private(host: &str, path: &Path, data: &[u8]) -> Result<(), SshError> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| io_error(host, "writing ssh files", e))?;
    file.write_all(data).map_err(|e| io_error(host, "writing ssh files", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_debug_is_redacted() {
        let options = SshOptions::new(SshKey::new("-----BEGIN OPENSSH PRIVATE KEY-----\nsecretbits\n".into()), String::new());
        let text = format!("{options:?}");
        assert!(text.contains("SshKey(<redacted>)") && !text.contains("secretbits"), "{text}");
    }

    #[test]
    fn classifies_master_failures() {
        let changed = "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n";
        assert!(matches!(classify("h", changed), SshError::HostKeyMismatch { .. }));
        assert!(matches!(classify("h", "root@h: Permission denied (publickey).\n"), SshError::Auth { .. }));
        let refused = classify("root@h:2", "ssh: connect to host h port 2: Connection refused\n");
        assert!(refused.to_string().contains("root@h:2") && refused.to_string().contains("Connection refused"), "{refused}");
    }
}
