//! Whether a container ferry started is up: a probe asked until it passes,
//! the container stops, or the time runs out.

use std::time::{Duration, Instant};

use crate::{DockerHost, VmError, commands};

/// How often a health gate asks again.
const POLL: Duration = Duration::from_millis(250);

/// How a health gate asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A command in the container exits 0.
    Exec(Vec<String>),
    /// A GET of this URL on the host answers 2xx or 3xx. docker-proxy
    /// answers a request it cannot forward with a reset: an honest failure.
    Http(String),
    /// The container's own address accepts connections on this port.
    /// (docker-proxy accepts a connection on the published port whether or
    /// not the app listens, so the container is asked, not the host.)
    Connect(u16),
}

impl Probe {
    fn describe(&self) -> String {
        match self {
            Probe::Exec(command) => format!("`{}` in it did not succeed", command.join(" ")),
            Probe::Http(url) => format!("{url} did not answer 2xx/3xx"),
            Probe::Connect(port) => format!("nothing accepted connections on its port {port}"),
        }
    }
}

impl DockerHost<'_> {
    /// Whether `probe` passes for the container `name` now.
    pub fn probe(&self, name: &str, probe: &Probe) -> Result<bool, VmError> {
        let status = match probe {
            Probe::Exec(command) => self.exec_in(name, command)?,
            Probe::Http(url) => self.exec(&commands::http_probe(url))?.status,
            Probe::Connect(port) => match self.address(name)? {
                Some(ip) => self.exec(&commands::tcp_probe(&ip, *port))?.status,
                None => 1,
            },
        };
        Ok(status == 0)
    }

    /// Asks `probe` until it passes, within `timeout`. A container that
    /// stops meanwhile fails at once with its last log lines: `restarting`
    /// means it exited already, a crash loop rather than a slow start.
    /// `keepalive` runs with every try.
    pub fn wait_healthy(&self, name: &str, probe: &Probe, timeout: Duration, keepalive: &mut dyn FnMut()) -> Result<(), VmError> {
        let unhealthy = |message: String| VmError::Unhealthy { container: name.to_string(), message };
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            keepalive();
            if self.probe(name, probe)? {
                return Ok(());
            }
            match self.state(name)?.as_deref() {
                Some("running") | Some("created") => {}
                state => {
                    let logs = self.logs(name, 20).unwrap_or_default();
                    return Err(unhealthy(format!(
                        "stopped ({}) before its health check passed; its last lines:\n{}",
                        state.unwrap_or("gone"),
                        logs.trim_end()
                    )));
                }
            }
            std::thread::sleep(POLL);
        }
        Err(unhealthy(format!("was not healthy within {} ms: {}", timeout.as_millis(), probe.describe())))
    }
}
