//! Waiting for health checks, failing fast when the machine dies.
//!
//! Health is not a machine state, so this polls `GET machine` (as flyctl's
//! `WaitForHealthchecksToPass` does). Unlike flyctl, a machine that stops,
//! fails, is destroyed or restarts while we wait is reported at once
//! instead of after the whole timeout (flyctl#2653).

use std::thread;
use std::time::{Duration, Instant};

use crate::FlyClient;
use crate::error::HealthError;
use crate::types::{CheckStatus, Event, Machine, last_exit_after_start};

/// Prefix of the fake checks flaps adds for old flyctl bluegreen versions;
/// fly-go's `RemoveCompatChecks` drops them, and so does this.
const COMPAT_CHECK_PREFIX: &str = "bg_deployments_compat";

/// How to wait in [`FlyClient::wait_healthy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthWait {
    /// Give up after this long (flyctl's `wait_timeout` default is 5 min).
    pub timeout: Duration,
    /// Time between polls (flyctl polls every 1-2 s).
    pub poll_interval: Duration,
    /// How long a machine may still be `stopped`/`suspended` without having
    /// crashed, e.g. when called right after a start whose effect the API
    /// does not show yet. A machine that exited on its own is reported at
    /// once regardless.
    pub grace: Duration,
}

impl Default for HealthWait {
    fn default() -> Self {
        HealthWait { timeout: Duration::from_secs(300), poll_interval: Duration::from_secs(1), grace: Duration::from_secs(5) }
    }
}

impl FlyClient {
    /// Polls the machine until it is healthy and returns it.
    ///
    /// Healthy means `started` and, when the config has checks (top-level
    /// `checks` plus `services[].checks`), at least one check reported and
    /// every reported check `passing`. With no configured checks, `started`
    /// is enough.
    ///
    /// Fails fast with [`HealthError::Crashed`] when the machine is
    /// `failed`/`destroyed`, when a new exit that nobody requested appears
    /// in its events (it crashed, and may be restarting), or when it is
    /// `stopped`/`suspended` after exiting on its own (or beyond `grace`).
    /// At the deadline, [`HealthError::Timeout`] lists the failing checks
    /// with their output.
    pub fn wait_healthy(&self, app: &str, machine_id: &str, opts: &HealthWait) -> Result<Machine, HealthError> {
        self.wait_healthy_at(app, machine_id, None, opts)
    }

    /// [`FlyClient::wait_healthy`], pinned to `instance_id`: until the API
    /// shows the machine at that instance (the one an update returned), its
    /// state and checks are those of the instance before and do not count.
    /// Right after an update the API may still report the old instance as
    /// `started` with passing checks; unpinned, the wait would pass on it.
    pub fn wait_healthy_at(&self, app: &str, machine_id: &str, instance_id: Option<&str>, opts: &HealthWait) -> Result<Machine, HealthError> {
        let started = Instant::now();
        let deadline = started + opts.timeout;
        let mut baseline = None;
        let want = instance_id.filter(|i| !i.is_empty());
        loop {
            let machine = self.get_machine(app, machine_id)?;
            if let Some(want) = want.filter(|w| machine.instance_id != *w) {
                let now = Instant::now();
                if now >= deadline {
                    return Err(HealthError::Timeout {
                        machine_id: machine_id.to_owned(),
                        waited: started.elapsed(),
                        state: format!("{} at instance {} (the update made instance {want})", machine.state, machine.instance_id),
                        failing: Vec::new(),
                        configured: machine.config().map_or(0, |c| c.configured_check_count()),
                        reported: 0,
                    });
                }
                thread::sleep(opts.poll_interval.min(deadline - now));
                continue;
            }
            // Exits already in the events when we started are history.
            let since = *baseline.get_or_insert_with(|| machine.events.iter().map(|e| e.timestamp).max().unwrap_or(0));
            if let Some(crash) = crash(&machine, since, started.elapsed() >= opts.grace) {
                return Err(crash);
            }
            let configured = machine.config().map_or(0, |c| c.configured_check_count());
            let reported: Vec<&CheckStatus> = machine.checks.iter().filter(|c| !c.name.starts_with(COMPAT_CHECK_PREFIX)).collect();
            let checks_pass = configured == 0 || (!reported.is_empty() && reported.iter().all(|c| c.is_passing()));
            if machine.state == "started" && checks_pass {
                return Ok(machine);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(HealthError::Timeout {
                    machine_id: machine_id.to_owned(),
                    waited: started.elapsed(),
                    state: machine.state.clone(),
                    failing: reported.iter().filter(|c| !c.is_passing()).map(|c| (*c).clone()).collect(),
                    configured,
                    reported: reported.len(),
                });
            }
            thread::sleep(opts.poll_interval.min(deadline - now));
        }
    }
}

/// The crash this poll shows, if any. `since` is the newest event timestamp
/// at the first poll.
fn crash(machine: &Machine, since: i64, past_grace: bool) -> Option<HealthError> {
    let crashed = |exit_code| Some(HealthError::Crashed { machine_id: machine.id.clone(), state: machine.state.clone(), exit_code });
    if matches!(machine.state.as_str(), "failed" | "destroyed" | "destroying") {
        return crashed(machine.exit_code());
    }
    let new_exit = machine.events.iter().filter(|e| e.kind == "exit" && e.timestamp > since && !e.requested_stop()).max_by_key(|e| e.timestamp);
    if let Some(exit) = new_exit {
        return crashed(exit.exit_code());
    }
    if matches!(machine.state.as_str(), "stopped" | "suspended") {
        let last = last_exit_after_start(&machine.events);
        if past_grace || last.is_some_and(|e| !e.requested_stop()) {
            return crashed(last.and_then(Event::exit_code));
        }
    }
    None
}
