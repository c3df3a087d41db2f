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
        let key = format!("release-{}", crate::apply::now_ms());
        let machine = self.client.create_machine(&rc.app, &input, &key).map_err(ExecError::fly("starting the release command"))?;
        let id = machine.id.clone();
        let outcome = self.wait_exit(&rc.app, &id, Duration::from_millis(rc.timeout_ms), keepalive);
        let logs = self.log_tail(&rc.app, &id, TAIL);
        if let Err(e) = self.client.destroy_machine(&rc.app, &id, true, None) {
            tracing::warn!("could not destroy release command machine {id}: {e}");
        }
        let tail = if logs.is_empty() { String::new() } else { format!("\nlast {} log line(s):\n  {}", logs.len(), logs.join("\n  ")) };
        match outcome {
            Ok(0) => Ok(vec![("machine".into(), id), ("exit-code".into(), "0".into())]),
            Ok(code) => Err(ExecError::Failed(format!(
                "release command `{command}` failed with exit code {code} (machine {id}); the deploy stopped before any machine changed{tail}"
            ))),
            Err(e) => Err(ExecError::Failed(format!("release command `{command}`: {e}{tail}"))),
        }
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
                return Err(ExecError::Failed(format!("did not finish within {} s (release_command_timeout); machine {id} was killed", timeout.as_secs())));
            }
            keepalive();
            std::thread::sleep(self.poll.min(timeout.saturating_sub(started.elapsed())).max(Duration::from_millis(10)));
        }
    }
}
