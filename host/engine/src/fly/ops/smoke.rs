//! Two things `fly deploy` does around each changed machine that the
//! health wait alone does not: the smoke check (`--smoke-checks`) and the
//! retries (`--deploy-retries`).
//!
//! **Smoke check.** flyctl watches a machine for up to 10 s after it
//! changed and fails the deploy when it is crashing
//! (`flyctl:internal/machine/leasable_machine.go:314-365`,
//! `WaitForSmokeChecksToPass`). The health wait returns as soon as the
//! machine is up and its checks pass, which for a machine without checks is
//! the moment it starts; a process that dies two seconds later would go
//! unnoticed, and the rollout would move on to the next batch. So after the
//! health wait, ferry keeps polling until `smoke-check-ms` have passed since
//! the change, and fails on any exit nobody asked for (or a `failed` or
//! destroyed machine) since the change: stricter than flyctl, which only
//! fails on a restart loop (`restart_count > 1`), in line with ferry's health
//! wait, which fails on the first crash. When the health wait took longer
//! than the window, one poll suffices.
//!
//! **Retries.** flyctl's `--deploy-retries N` runs the update again toward
//! the target state up to N times when it fails (`deploy/plan.go:283-345`).
//! ferry retries one machine at a time under the lease it already holds:
//! the update is sent again (restarting the machine) and waited on again,
//! after flyctl's 1 s pause. A lease held by someone else fails before any
//! try, so it is never retried (flyctl treats it as unrecoverable too).

use std::time::{Duration, Instant};

use ferry_fly::Machine;
use ferry_model::FlyWait;

use super::FlyOps;
use crate::apply::executor::ExecError;

/// flyctl's pause between two tries (`plan.go:342`).
const RETRY_PAUSE: Duration = Duration::from_secs(1);

impl FlyOps {
    /// [`FlyOps::settle`], then the smoke check the batch asks for.
    pub(super) fn settle_watched(&self, app: &str, id: &str, skip_launch: bool, wait: &FlyWait, instance_id: Option<&str>) -> Result<(), ExecError> {
        let watch = (wait.health && !skip_launch && wait.smoke_check_ms > 0).then(|| Duration::from_millis(wait.smoke_check_ms));
        let Some(window) = watch else {
            return self.settle(app, id, skip_launch, wait.health, wait.timeout_ms, instance_id);
        };
        let changed = Instant::now();
        let baseline = newest_event(&self.client.get_machine(app, id)?);
        self.settle(app, id, skip_launch, wait.health, wait.timeout_ms, instance_id)?;
        self.smoke_check(app, id, baseline, changed + window)
    }

    /// Polls until `until`; an unrequested exit newer than `baseline`, or a
    /// failed or destroyed machine, fails with the machine's last log lines.
    fn smoke_check(&self, app: &str, id: &str, baseline: i64, until: Instant) -> Result<(), ExecError> {
        loop {
            let machine = self.client.get_machine(app, id)?;
            if let Some(why) = crashed(&machine, baseline) {
                let logs = self.log_tail(app, id, 10);
                let tail = if logs.is_empty() { String::new() } else { format!("\nlast log lines of {id}:\n  {}", logs.join("\n  ")) };
                return Err(ExecError::Failed(format!("machine {id} failed its smoke check: {why} (the app appears to be crashing){tail}")));
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep(self.poll.min(until - now));
        }
    }

    /// Runs `attempt` (one try of a machine's change and wait) up to
    /// `1 + retries` times; `attempt` gets the try's number, from 0.
    pub(super) fn with_retries<R>(&self, id: &str, retries: u32, mut attempt: impl FnMut(u32) -> Result<R, ExecError>) -> Result<R, ExecError> {
        let mut tried = 0;
        loop {
            match attempt(tried) {
                Ok(done) => return Ok(done),
                Err(e) if tried < retries => {
                    tried += 1;
                    tracing::warn!("machine {id}: {e}; trying again ({tried} of {retries} retries)");
                    std::thread::sleep(RETRY_PAUSE);
                }
                Err(e) if retries > 0 => return Err(ExecError::Retried { retries, last: Box::new(e) }),
                Err(e) => return Err(e),
            }
        }
    }
}

/// The newest event's timestamp: what happened before the change.
fn newest_event(machine: &Machine) -> i64 {
    machine.events.iter().map(|e| e.timestamp).max().unwrap_or(0)
}

/// Why the machine counts as crashed since `baseline`, if it does.
fn crashed(machine: &Machine, baseline: i64) -> Option<String> {
    if matches!(machine.state.as_str(), "failed" | "destroyed" | "destroying") {
        return Some(format!("it is {}", machine.state));
    }
    let exit = machine.events.iter().filter(|e| e.kind == "exit" && e.timestamp > baseline && !e.requested_stop()).max_by_key(|e| e.timestamp)?;
    Some(match exit.exit_code() {
        Some(code) => format!("it exited with code {code} on its own"),
        None => "it exited on its own".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn machine(state: &str, events: serde_json::Value) -> Machine {
        serde_json::from_value(json!({"id": "m1", "state": state, "events": events})).expect("a machine")
    }

    #[test]
    fn only_an_unrequested_exit_after_the_change_is_a_crash() {
        let exit = |ts: i64, requested: bool, code: i64| json!({"type": "exit", "status": "stopped", "timestamp": ts, "request": {"exit_event": {"exit_code": code, "requested_stop": requested}}});
        let start = |ts: i64| json!({"type": "start", "status": "started", "timestamp": ts});
        assert_eq!(crashed(&machine("started", json!([exit(5, false, 1), start(6)])), 10), None, "history before the change");
        assert_eq!(crashed(&machine("started", json!([exit(11, true, 0), start(12)])), 10), None, "the update's own stop");
        assert_eq!(
            crashed(&machine("started", json!([exit(11, true, 0), start(12), exit(14, false, 3), start(15)])), 10).as_deref(),
            Some("it exited with code 3 on its own"),
            "a crash after the change, even once restarted"
        );
        assert_eq!(crashed(&machine("failed", json!([])), 10).as_deref(), Some("it is failed"));
    }
}
