//! Waiting for a machine state with `GET …/wait`.
//!
//! The server caps one wait at 60 s (`proxyTimeoutThreshold`, fly-go
//! `flaps_machines_wait.go`) and answers 408 when the state was not reached
//! in time, so a longer wait is a client-side loop of ≤ 60 s requests up to
//! an overall deadline, like flyctl's `WaitForState`.

use std::thread;
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::{Request, Retry};

/// The longest `timeout` the wait endpoint accepts, in seconds.
pub const MAX_WAIT_SECS: u64 = 60;

/// A state the wait endpoint can wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitState {
    /// Running.
    Started,
    /// Stopped (a release-command machine before it is started).
    Stopped,
    /// Suspended.
    Suspended,
    /// Gone; a 404 also counts as reached.
    Destroyed,
}

impl WaitState {
    /// The API's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitState::Started => "started",
            WaitState::Stopped => "stopped",
            WaitState::Suspended => "suspended",
            WaitState::Destroyed => "destroyed",
        }
    }
}

impl FlyClient {
    /// Waits until the machine is in `state` (and at `instance_id`, when
    /// given), or until `overall` has passed.
    ///
    /// `instance_id` is sent as the `instance_id` parameter, the name Fly's
    /// docs give it ("Filter for a specific Machine `instance_id` (version).
    /// Required when waiting for Machine to be in `stopped` state"; fly-go
    /// calls it `version`). Pass the `instance_id` an update returned, or
    /// the one the machine had when it was stopped, so that the state of
    /// an older instance does not count.
    ///
    /// * each request asks for at most 60 s and gets that plus
    ///   [`crate::Config::wait_margin`] as its own timeout;
    /// * 408 means "not yet": the loop goes on;
    /// * 5xx, 429 and transport errors are retried with backoff within the
    ///   deadline (a long wait should not fail on one proxy hiccup);
    /// * 404 is retried for a machine created moments ago (flyctl#4618),
    ///   counts as success when waiting for `destroyed`, and is returned
    ///   otherwise (for an `auto_destroy` machine it can mean it already
    ///   exited and was destroyed);
    /// * at the deadline the result is [`FlyError::Timeout`] naming the
    ///   state the machine was last seen in.
    pub fn wait_for_state(&self, app: &str, machine_id: &str, state: WaitState, instance_id: Option<&str>, overall: Duration) -> Result<(), FlyError> {
        let deadline = Instant::now() + overall;
        let policy = self.config().retry;
        let mut retry = 0;
        let mut last_error: Option<String> = None;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.wait_timeout(app, machine_id, state, overall, last_error));
            }
            // Whole seconds, at least 1, at most the server's cap.
            let secs = remaining.as_secs().clamp(1, MAX_WAIT_SECS);
            let mut request =
                Request::flaps(Method::GET, &["apps", app, "machines", machine_id, "wait"]).query("state", state.as_str()).query("timeout", secs.to_string());
            if let Some(instance_id) = instance_id.filter(|i| !i.is_empty()) {
                request = request.query("instance_id", instance_id);
            }
            // Retries are this loop's job, bounded by the deadline.
            let request = request.timeout(Duration::from_secs(secs) + self.config().wait_margin).retry(Retry::Never);
            let sent = Instant::now();
            let error = match self.http().send(&request) {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let pause = match &error {
                FlyError::Timeout { ctx: Some(_), .. } => {
                    // A 408 that came back long before the requested timeout
                    // is not the server waiting; do not spin on it.
                    (sent.elapsed() < Duration::from_secs(secs) / 2).then(|| policy.delay(retry))
                }
                FlyError::NotFound { .. } if state == WaitState::Destroyed => return Ok(()),
                FlyError::NotFound { .. } if self.not_found_deadline(machine_id).is_some() => Some(policy.delay(retry)),
                FlyError::Api { status, .. } if *status >= 500 || *status == 429 => Some(policy.delay(retry)),
                FlyError::Transport { .. } => Some(policy.delay(retry)),
                _ => return Err(error),
            };
            tracing::debug!(machine_id, state = state.as_str(), error = %error, "still waiting");
            last_error = Some(error.to_string());
            if let Some(pause) = pause {
                thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                retry += 1;
            }
        }
    }

    /// The timeout error, with the state the machine is in now.
    fn wait_timeout(&self, app: &str, machine_id: &str, state: WaitState, overall: Duration, last_error: Option<String>) -> FlyError {
        let request = Request::flaps(Method::GET, &["apps", app, "machines", machine_id])
            .timeout(self.config().request_timeout.min(Duration::from_secs(10)))
            .retry(Retry::Never);
        let seen = match self.http().send(&request).and_then(|r| r.json::<crate::Machine>()) {
            Ok(machine) => format!("last seen state: {}", machine.state),
            Err(e) => format!("state unknown: {e}"),
        };
        let mut message = format!("machine {machine_id} did not reach state {} within {:.1}s ({seen})", state.as_str(), overall.as_secs_f64());
        if let Some(last) = last_error {
            message.push_str(&format!("; last answer: {last}"));
        }
        FlyError::Timeout { ctx: None, message }
    }
}
