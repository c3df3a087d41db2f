//! Runs one machine's process: the emulator re-executes itself in `machine`
//! mode (see `machine_mode.rs`) with the machine's environment, learns the
//! loopback ports it bound, captures its output, and signals it by PID.
//!
//! Exec machines' processes (`job.rs`) are started elsewhere and adopted
//! here: they are signalled as a whole process group.
//!
//! The process binds its own ports (port 0) and reports them on its first
//! stdout line. Picking free ports here and handing the numbers over would
//! race with every other socket on the host between the check and the bind.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::image::ImageBehaviour;

/// Prefix of the first stdout line of a machine process: `<prefix>{"8080":45123}`.
pub const PORTS_REPORT: &str = "fly-emulator-ports ";

/// How long a new process may take to report its ports.
const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything needed to start a machine's process.
#[derive(Debug, Clone)]
pub struct Launch {
    pub machine_id: String,
    /// The complete environment: the process inherits nothing else.
    pub env: BTreeMap<String, String>,
    /// `config.files`: guest path → contents, served by the process.
    pub files: BTreeMap<String, Vec<u8>>,
    pub behaviour: ImageBehaviour,
    pub release_command: bool,
    /// Ports inside the machine that get a loopback port.
    pub internal_ports: BTreeSet<u16>,
}

/// Receives each output line with its level (`info` = stdout, `error` = stderr).
pub type LineSink = Arc<dyn Fn(&'static str, String) + Send + Sync>;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code, or 128 + signal for a process killed by a signal.
    pub code: i32,
    pub signal: Option<i32>,
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Exit {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit { code, signal: None },
            (None, Some(signal)) => Exit { code: 128 + signal, signal: Some(signal) },
            (None, None) => Exit { code: -1, signal: None },
        }
    }
}

/// Who a signal to a machine's process reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalScope {
    /// The process alone: the built-in machine has no children.
    Process,
    /// Its whole process group, which it leads: an exec machine's command
    /// and every process it started (a shell script's children).
    Group,
}

#[derive(Debug)]
pub struct Process {
    child: Child,
    pid: Pid,
    scope: SignalScope,
    /// Internal port → loopback port, as reported by the process.
    ports: BTreeMap<u16, u16>,
    /// Set once reaped: from then on the PID may belong to someone else and
    /// must never be signalled.
    exited: Option<Exit>,
}

impl Process {
    /// Starts the process and waits until it reported its ports.
    pub async fn spawn(exe: &Path, launch: &Launch, sink: LineSink) -> io::Result<Process> {
        let behaviour = serde_json::to_string(&launch.behaviour).map_err(io::Error::other)?;
        let mut command = Command::new(exe);
        command.arg("machine").args(["--id", &launch.machine_id]).args(["--parent-pid", &std::process::id().to_string()]).args(["--behaviour", &behaviour]);
        for port in &launch.internal_ports {
            command.arg("--port").arg(port.to_string());
        }
        if launch.release_command {
            command.arg("--release-command");
        }
        if !launch.files.is_empty() {
            let files: BTreeMap<&String, String> = launch.files.iter().map(|(path, contents)| (path, STANDARD.encode(contents))).collect();
            command.arg("--files").arg(serde_json::to_string(&files).map_err(io::Error::other)?);
        }
        command.env_clear().envs(&launch.env).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn()?;
        let pid = child.id().and_then(|id| Pid::from_raw(id as i32)).ok_or_else(|| io::Error::other("spawned process has no pid"))?;
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(pump_lines(BufReader::new(stderr), "error", sink.clone()));
        }
        let mut stdout = BufReader::new(child.stdout.take().ok_or_else(|| io::Error::other("no stdout"))?);
        let mut process = Process { child, pid, scope: SignalScope::Process, ports: BTreeMap::new(), exited: None };
        match tokio::time::timeout(REPORT_TIMEOUT, read_report(&mut stdout)).await {
            Ok(Ok(ports)) => process.ports = ports,
            Ok(Err(e)) => {
                process.kill().await;
                return Err(e);
            }
            Err(_) => {
                process.kill().await;
                return Err(io::Error::other("the machine process did not report its ports"));
            }
        }
        tokio::spawn(pump_lines(stdout, "info", sink));
        Ok(process)
    }

    /// A process started elsewhere, with no ports. With
    /// [`SignalScope::Group`] it must lead its own process group.
    pub fn adopt(child: Child, scope: SignalScope) -> io::Result<Process> {
        let pid = child.id().and_then(|id| Pid::from_raw(id as i32)).ok_or_else(|| io::Error::other("spawned process has no pid"))?;
        Ok(Process { child, pid, scope, ports: BTreeMap::new(), exited: None })
    }

    pub fn pid(&self) -> u32 {
        self.pid.as_raw_pid() as u32
    }

    pub fn ports(&self) -> &BTreeMap<u16, u16> {
        &self.ports
    }

    /// Waits for the process to exit and reaps it. Cancel-safe.
    pub async fn wait(&mut self) -> Exit {
        if let Some(exit) = self.exited {
            return exit;
        }
        let exit = match self.child.wait().await {
            Ok(status) => Exit::from(status),
            Err(_) => Exit { code: -1, signal: None },
        };
        self.exited = Some(exit);
        exit
    }

    /// Sends `signal`, waits up to `grace`, then kills. Returns how it ended.
    pub async fn stop(&mut self, signal: Signal, grace: Duration) -> Exit {
        self.signal(signal);
        match tokio::time::timeout(grace, self.wait()).await {
            Ok(exit) => exit,
            Err(_) => self.kill().await,
        }
    }

    /// SIGKILL, then reap.
    pub async fn kill(&mut self) -> Exit {
        self.signal(Signal::KILL);
        self.wait().await
    }

    fn signal(&self, signal: Signal) {
        if self.exited.is_none() {
            // ESRCH only means it is already a zombie; wait() reaps it. The
            // group cannot be reused before the leader is reaped.
            let _ = match self.scope {
                SignalScope::Process => kill_process(self.pid, signal),
                SignalScope::Group => kill_process_group(self.pid, signal),
            };
        }
    }
}

async fn read_report(stdout: &mut (impl AsyncBufRead + Unpin)) -> io::Result<BTreeMap<u16, u16>> {
    let mut line = String::new();
    stdout.read_line(&mut line).await?;
    parse_report(&line).ok_or_else(|| io::Error::other(format!("the machine process did not start (first line {:?})", line.trim_end())))
}

fn parse_report(line: &str) -> Option<BTreeMap<u16, u16>> {
    serde_json::from_str(line.trim_end().strip_prefix(PORTS_REPORT)?).ok()
}

/// Sends each line `reader` yields to `sink` until end of file.
pub async fn pump_lines(mut reader: impl AsyncBufRead + Unpin, level: &'static str, sink: LineSink) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                sink(level, text.trim_end_matches(['\n', '\r']).to_string());
            }
        }
    }
}

/// Parses a stop signal as Fly accepts it: `SIGINT`, `INT` or a number.
pub fn parse_signal(name: &str) -> Option<Signal> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    match bare {
        "INT" => Some(Signal::INT),
        "TERM" => Some(Signal::TERM),
        "KILL" => Some(Signal::KILL),
        "QUIT" => Some(Signal::QUIT),
        "HUP" => Some(Signal::HUP),
        "USR1" => Some(Signal::USR1),
        "USR2" => Some(Signal::USR2),
        number => number.parse().ok().and_then(Signal::from_named_raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signal_spellings() {
        assert_eq!(parse_signal("SIGINT"), Some(Signal::INT));
        assert_eq!(parse_signal("term"), Some(Signal::TERM));
        assert_eq!(parse_signal("9"), Some(Signal::KILL));
        assert_eq!(parse_signal("SIGBOGUS"), None);
    }

    #[test]
    fn parses_the_ports_report() {
        let ports = parse_report("fly-emulator-ports {\"8080\":45123,\"9090\":45124}\n").unwrap();
        assert_eq!(ports, BTreeMap::from([(8080, 45123), (9090, 45124)]));
        assert_eq!(parse_report("fly-emulator-ports {}"), Some(BTreeMap::new()));
        assert_eq!(parse_report("hello"), None);
        assert_eq!(parse_report(""), None);
    }

    #[test]
    fn exit_codes_of_signalled_processes_follow_the_shell_convention() {
        assert_eq!(Exit::from(ExitStatus::from_raw(3 << 8)), Exit { code: 3, signal: None });
        assert_eq!(Exit::from(ExitStatus::from_raw(9)), Exit { code: 137, signal: Some(9) });
    }
}
