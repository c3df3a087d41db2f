//! Idempotent machine creation.
//!
//! The Machines API has no idempotency header, and a create can time out at
//! the proxy (408, 5xx, a dropped connection) *after* the machine was made.
//! Blindly retrying then duplicates the machine; not retrying fails a deploy
//! that worked. flyctl's bluegreen strategy solves this with a per-machine
//! key in metadata (`fly_flyctl_bluegreen_launch_id`) that it searches for
//! before relaunching; ferry does the same for every create.

use std::thread;

use reqwest::Method;

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::Request;
use crate::types::{LaunchInput, Machine};

/// The metadata key holding a create's idempotency key. Every machine ferry
/// creates carries it; [`FlyClient::find_by_launch_id`] looks it up.
pub const LAUNCH_ID_METADATA_KEY: &str = "ferry_launch_id";

impl FlyClient {
    /// Creates a machine exactly once per `idempotency_key`.
    ///
    /// The key is written to `config.metadata["ferry_launch_id"]` (so use a
    /// fresh one per intended machine, e.g. a ULID or `<deploy id>-<n>`).
    /// When the create fails ambiguously (408, 5xx, 429, or a transport
    /// error after the request was sent), the client waits a moment, lists
    /// the app's machines and returns the one carrying the key if the
    /// create did happen; otherwise it retries the create, up to
    /// [`crate::Config::create_retry`] attempts. A 2xx whose body cannot be
    /// read is looked up the same way, but never retried (the create did
    /// happen). Other errors (4xx) are returned at once.
    ///
    /// This covers a lost answer within one call. A caller that re-runs a
    /// step after a crash (same key, new process) should call
    /// [`FlyClient::find_by_launch_id`] first.
    ///
    /// The returned machine is marked as just created, so `get_machine` and
    /// `wait_for_state` ride out the API's 404s for it.
    ///
    /// With `lease_ttl` set, a machine found by the lookup (not returned by
    /// the create itself) has no [`Machine::nonce`]: its lease was granted
    /// in the lost response and expires after the TTL.
    pub fn create_machine(
        &self,
        app: &str,
        input: &LaunchInput,
        idempotency_key: &str,
    ) -> Result<Machine, FlyError> {
        let mut input = input.clone();
        input
            .config
            .set_metadata(LAUNCH_ID_METADATA_KEY, idempotency_key);
        let request = Request::flaps(Method::POST, &["apps", app, "machines"]).json(&input);
        let policy = self.config().create_retry;
        let mut attempt = 0;
        loop {
            let (error, may_retry) =
                match self.http().send(&request).and_then(|r| r.json::<Machine>()) {
                    Ok(machine) => {
                        self.note_created(&machine.id);
                        return Ok(machine);
                    }
                    Err(e) if e.is_ambiguous() => (e, true),
                    Err(e @ FlyError::Decode { .. }) => (e, false),
                    Err(e) => return Err(e),
                };
            attempt += 1;
            tracing::warn!(app, idempotency_key, error = %error, "machine create failed ambiguously; checking whether it happened");
            // Give the API time to list a machine it made but did not report.
            thread::sleep(policy.delay(attempt - 1));
            match self.find_by_launch_id(app, idempotency_key) {
                Ok(Some(machine)) => {
                    tracing::info!(app, machine_id = %machine.id, "the create had succeeded; not creating again");
                    self.note_created(&machine.id);
                    return Ok(machine);
                }
                Ok(None) if may_retry && attempt < policy.attempts => {}
                Ok(None) => return Err(error),
                Err(lookup) => {
                    // Without the lookup we cannot know; a retry could duplicate.
                    tracing::warn!(app, error = %lookup, "cannot check whether the create happened; not retrying");
                    return Err(error);
                }
            }
        }
    }

    /// The active machine whose `ferry_launch_id` metadata is `idempotency_key`.
    pub fn find_by_launch_id(
        &self,
        app: &str,
        idempotency_key: &str,
    ) -> Result<Option<Machine>, FlyError> {
        Ok(self.list_machines(app)?.into_iter().find(|m| {
            m.is_active() && m.metadata_value(LAUNCH_ID_METADATA_KEY) == Some(idempotency_key)
        }))
    }
}
