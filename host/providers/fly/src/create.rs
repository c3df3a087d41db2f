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
use crate::http::{Request, Retry};
use crate::types::{LaunchInput, Machine};

/// The metadata key holding a create's idempotency key. Every machine ferry
/// creates carries it; [`FlyClient::find_by_launch_id`] looks it up.
pub const LAUNCH_ID_METADATA_KEY: &str = ferry_fly_wire::metadata::LAUNCH_ID;

impl FlyClient {
    /// Creates a machine exactly once per `idempotency_key`.
    ///
    /// The key is written to `config.metadata["ferry_launch_id"]` (so use a
    /// fresh one per intended machine, e.g. a ULID or `<deploy id>-<n>`).
    /// When the create fails ambiguously (408, 5xx, or a transport error
    /// after the request was sent), the client looks for the key over
    /// [`crate::Config::create_lookup_window`] (several lists, since a
    /// machine the API made may be listed only later) and returns the
    /// machine if the create did happen; only if no list shows it does it
    /// create again, up to [`crate::Config::create_retry`] attempts. A 429
    /// or a refused connection did not apply and is retried at once by the
    /// transport. A 2xx whose body cannot be read is looked up the same way,
    /// but never retried (the create did happen). Other errors (4xx) are
    /// returned at once.
    ///
    /// The request may take [`crate::Config::launch_timeout`]: the API
    /// answers once the machine launched, which can mean pulling an image.
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
    pub fn create_machine(&self, app: &str, input: &LaunchInput, idempotency_key: &str) -> Result<Machine, FlyError> {
        let mut input = input.clone();
        input.config.set_metadata(LAUNCH_ID_METADATA_KEY, idempotency_key);
        let request = Request::flaps(Method::POST, &["apps", app, "machines"]).json(&input).timeout(self.config().launch_timeout).retry(Retry::Unapplied);
        let policy = self.config().create_retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (error, may_retry) = match self.http().send(&request).and_then(|r| r.json::<Machine>()) {
                Ok(machine) => {
                    self.note_created(&machine.id);
                    return Ok(machine);
                }
                Err(e) if e.is_ambiguous() => (e, true),
                Err(e @ FlyError::Decode { .. }) => (e, false),
                Err(e) => return Err(e),
            };
            tracing::warn!(app, idempotency_key, error = %error, "machine create failed ambiguously; checking whether it happened");
            match self.look_for_launch(app, idempotency_key) {
                Ok(Some(machine)) => {
                    tracing::info!(app, machine_id = %machine.id, "the create had succeeded; not creating again");
                    self.note_created(&machine.id);
                    return Ok(machine);
                }
                Ok(None) if may_retry && attempt < policy.attempts => {
                    thread::sleep(policy.delay(attempt - 1));
                }
                Ok(None) => return Err(error),
                Err(lookup) => {
                    // Without the lookup we cannot know; a retry could duplicate.
                    tracing::warn!(app, error = %lookup, "cannot check whether the create happened; not retrying");
                    return Err(error);
                }
            }
        }
    }

    /// Looks for the launch id [`crate::Config::create_lookups`] times over
    /// [`crate::Config::create_lookup_window`], at growing intervals (1, 2,
    /// 3… parts of the window), so a machine listed soon is found soon and
    /// one listed late is still found before anything is created again.
    /// `Ok(None)` only when the last list, at the window's end, did not show
    /// it; a failed last list is an error (the caller must not create).
    fn look_for_launch(&self, app: &str, idempotency_key: &str) -> Result<Option<Machine>, FlyError> {
        let lookups = self.config().create_lookups.max(1);
        let parts = lookups * (lookups + 1) / 2;
        let window = self.config().create_lookup_window;
        for n in 1..=lookups {
            thread::sleep(window * n / parts);
            match self.find_by_launch_id(app, idempotency_key) {
                Ok(Some(machine)) => return Ok(Some(machine)),
                Ok(None) if n < lookups => tracing::debug!(app, idempotency_key, lookup = n, "the machine is not listed (yet)"),
                Err(e) if n < lookups => tracing::debug!(app, error = %e, "listing machines failed; looking again"),
                last => return last,
            }
        }
        Ok(None)
    }

    /// The active machine whose `ferry_launch_id` metadata is `idempotency_key`.
    pub fn find_by_launch_id(&self, app: &str, idempotency_key: &str) -> Result<Option<Machine>, FlyError> {
        Ok(self.list_machines(app)?.into_iter().find(|m| m.is_active() && m.metadata_value(LAUNCH_ID_METADATA_KEY) == Some(idempotency_key)))
    }
}
