//! The release command: a temporary machine of the new image whose exit
//! code decides whether the deploy goes on (flyctl's
//! `machines_releasecommand.go`), reported with its last log lines because
//! "release command failed" alone is what users of `fly deploy` complain of.

use std::time::{Duration, Instant};

use ferry_fly::{LaunchInput, MachineConfig, last_exit_after_start};
use ferry_model::FlyReleaseCommand;

use super::FlyOps;
use crate::apply::executor::ExecError;

/// Log lines of a failed release command shown in the report.
const TAIL: usize = 20;

/// A temporary machine's run.
#[derive(Debug)]
pub(crate) struct Job {
    pub machine: String,
    /// Its exit code, or why none was read (it timed out and was killed).
    pub exit: Result<i64, ExecError>,
    pub logs: Vec<String>,
}

impl Job {
    /// Its last log lines for an error message, or nothing.
    pub fn tail(&self) -> String {
        if self.logs.is_empty() { String::new() } else { format!("\nlast {} log line(s):\n  {}", self.logs.len(), self.logs.join("\n  ")) }
    }
}

impl FlyOps {
    pub(super) fn release_command(&self, rc: &FlyReleaseCommand, keepalive: &mut dyn FnMut()) -> Result<Vec<(String, String)>, ExecError> {
        let mut config: MachineConfig = serde_json::from_str(&rc.config).map_err(ExecError::json("the plan's release command config"))?;
        let command = config.init().ok().flatten().and_then(|i| i.cmd).map(|c| c.join(" ")).unwrap_or_default();
        // ferry reads the exit code and logs before it destroys the machine
        // itself: with auto_destroy the platform may remove it first.
        config.set_auto_destroy(false);
        let mut input = LaunchInput { config, region: Some(rc.region.clone()), ..Default::default() };
        // The release's id and version, and the secrets version a set of
        // this run returned (flyctl's `launchInputForReleaseCommand`).
        self.stamp(&rc.app, &mut input);
        let job = self.run_job(&rc.app, &input, &format!("release-{}", crate::apply::now_ms()), Duration::from_millis(rc.timeout_ms), keepalive)?;
        let (id, tail) = (&job.machine, job.tail());
        match job.exit {
            Ok(0) => Ok(vec![("machine".into(), job.machine.clone()), ("exit-code".into(), "0".into())]),
            Ok(code) => Err(ExecError::Failed(format!(
                "release command `{command}` failed with exit code {code} (machine {id}); the deploy stopped before any machine changed{tail}"
            ))),
            Err(e) => Err(ExecError::Failed(format!("release command `{command}`: {e}{tail}"))),
        }
    }

    /// Runs a temporary machine to completion: creates it, waits for its
    /// exit (killing it at `timeout`), reads its last log lines, and
    /// destroys it. The error is the create's; the machine's own outcome is
    /// in [`Job::exit`]. Used by the release command and by the copies a
    /// host pulls out of Fly.
    pub(crate) fn run_job(&self, app: &str, input: &LaunchInput, key: &str, timeout: Duration, keepalive: &mut dyn FnMut()) -> Result<Job, ExecError> {
        let machine = self.client.create_machine(app, input, key).map_err(ExecError::fly(format!("starting a temporary machine in {app}")))?;
        let id = machine.id;
        let exit = self.wait_exit(app, &id, timeout, keepalive);
        let logs = self.log_tail(app, &id, TAIL);
        if let Err(e) = self.client.destroy_machine(app, &id, true, None) {
            tracing::warn!("could not destroy temporary machine {id} of {app}: {e}");
        }
        Ok(Job { machine: id, exit, logs })
    }

    /// Polls the machine until it exits and returns its exit code.
    fn wait_exit(&self, app: &str, id: &str, timeout: Duration, keepalive: &mut dyn FnMut()) -> Result<i64, ExecError> {
        let started = Instant::now();
        loop {
            let m = self.client.get_machine(app, id)?;
            if matches!(m.state.as_str(), "stopped" | "failed" | "destroyed") {
                let events = if m.events.is_empty() { self.client.machine_events(app, id)? } else { m.events.clone() };
                return last_exit_after_start(&events)
                    .and_then(|e| e.exit_code())
                    .ok_or_else(|| ExecError::Failed(format!("machine {id} stopped ({}) without an exit code", m.state)));
            }
            if started.elapsed() >= timeout {
                return Err(ExecError::Failed(format!("did not finish within {} s; machine {id} was killed", timeout.as_secs())));
            }
            keepalive();
            std::thread::sleep(self.poll.min(timeout.saturating_sub(started.elapsed())).max(Duration::from_millis(10)));
        }
    }
}
