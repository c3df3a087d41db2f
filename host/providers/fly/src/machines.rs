//! Machines: list, get, update, destroy, actions, events, versions, ps and
//! per-key metadata (fly-go `flaps_machines.go`). Mutations take the lease
//! nonce, sent as `fly-machine-lease-nonce`, and are retried only as
//! fly-go's transport retries them (502, 503, 429, a refused connection).

use std::collections::BTreeMap;
use std::thread;
use std::time::Instant;

use reqwest::Method;
use serde::Serialize;

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::Request;
use crate::types::{Event, LaunchInput, Machine, MachineVersion, ProcessStat, StopInput};

impl FlyClient {
    /// All machines of the app, destroyed ones excluded by the API.
    pub fn list_machines(&self, app: &str) -> Result<Vec<Machine>, FlyError> {
        self.http().send(&Request::flaps(Method::GET, &["apps", app, "machines"]))?.json()
    }

    /// The machines `fly deploy` manages (fly-go `ListFlyAppsMachines`):
    /// metadata `fly_platform_version=v2`, not destroyed or destroying, and
    /// neither a release-command nor a console machine.
    pub fn list_managed_machines(&self, app: &str) -> Result<Vec<Machine>, FlyError> {
        let mut machines = self.list_machines(app)?;
        machines.retain(|m| m.is_fly_launch_managed() && !m.is_release_command() && !m.is_console());
        Ok(machines)
    }

    /// One machine. A 404 for a machine this client created moments ago (or
    /// marked with [`FlyClient::note_created`]) is retried until
    /// [`crate::Config::not_found_window`] has passed: the API is eventually
    /// consistent right after a create (flyctl#4618).
    pub fn get_machine(&self, app: &str, machine_id: &str) -> Result<Machine, FlyError> {
        let request = Request::flaps(Method::GET, &["apps", app, "machines", machine_id]);
        self.retry_not_found(machine_id, || self.http().send(&request)?.json())
    }

    /// Runs `op`, repeating it on 404 while `machine_id` is within its
    /// just-created window.
    pub(crate) fn retry_not_found<T>(&self, machine_id: &str, mut op: impl FnMut() -> Result<T, FlyError>) -> Result<T, FlyError> {
        let policy = self.config().retry;
        let mut retry = 0;
        loop {
            match op() {
                Err(e) if e.is_not_found() => {
                    let Some(deadline) = self.not_found_deadline(machine_id) else {
                        return Err(e);
                    };
                    let delay = policy.delay(retry);
                    if Instant::now() + delay >= deadline {
                        return Err(e);
                    }
                    tracing::debug!(machine_id, "404 for a machine created moments ago; retrying");
                    thread::sleep(delay);
                    retry += 1;
                }
                other => return other,
            }
        }
    }

    /// Updates a machine in place (`POST …/machines/{id}`). Pass the lease
    /// nonce when holding the lease. Save the old `config` first: the API
    /// has no rollback. The answer is the machine at its new version: wait
    /// on its `instance_id`, not on whatever the machine showed before.
    /// The request may take [`crate::Config::launch_timeout`] (an image
    /// pull).
    pub fn update_machine(&self, app: &str, machine_id: &str, input: &LaunchInput, nonce: Option<&str>) -> Result<Machine, FlyError> {
        let request = Request::flaps(Method::POST, &["apps", app, "machines", machine_id]).json(input).nonce(nonce).timeout(self.config().launch_timeout);
        self.http().send(&request)?.json()
    }

    /// Destroys a machine; `kill` forces it (needed for a started machine or
    /// one on an unreachable host).
    pub fn destroy_machine(&self, app: &str, machine_id: &str, kill: bool, nonce: Option<&str>) -> Result<(), FlyError> {
        let request = Request::flaps(Method::DELETE, &["apps", app, "machines", machine_id]).query("kill", kill.to_string()).nonce(nonce);
        self.http().send(&request).map(drop)
    }

    /// Starts a stopped machine.
    pub fn start_machine(&self, app: &str, machine_id: &str, nonce: Option<&str>) -> Result<(), FlyError> {
        self.action(app, machine_id, "start", nonce)
    }

    /// Stops a machine (`{signal, timeout}`).
    pub fn stop_machine(&self, app: &str, machine_id: &str, input: &StopInput, nonce: Option<&str>) -> Result<(), FlyError> {
        let request = Request::flaps(Method::POST, &["apps", app, "machines", machine_id, "stop"]).json(input).nonce(nonce);
        self.http().send(&request).map(drop)
    }

    /// Restarts a machine; `force_stop` kills instead of signalling.
    pub fn restart_machine(&self, app: &str, machine_id: &str, force_stop: bool, nonce: Option<&str>) -> Result<(), FlyError> {
        let request = Request::flaps(Method::POST, &["apps", app, "machines", machine_id, "restart"]).query("force_stop", force_stop.to_string()).nonce(nonce);
        self.http().send(&request).map(drop)
    }

    /// Takes the machine out of the proxy's rotation (bluegreen, before
    /// stopping blues).
    pub fn cordon_machine(&self, app: &str, machine_id: &str, nonce: Option<&str>) -> Result<(), FlyError> {
        self.action(app, machine_id, "cordon", nonce)
    }

    /// Puts the machine back in rotation ("ready for traffic").
    pub fn uncordon_machine(&self, app: &str, machine_id: &str, nonce: Option<&str>) -> Result<(), FlyError> {
        self.action(app, machine_id, "uncordon", nonce)
    }

    fn action(&self, app: &str, machine_id: &str, action: &str, nonce: Option<&str>) -> Result<(), FlyError> {
        let request = Request::flaps(Method::POST, &["apps", app, "machines", machine_id, action]).nonce(nonce);
        self.http().send(&request).map(drop)
    }

    /// The machine's events, newest first.
    pub fn machine_events(&self, app: &str, machine_id: &str) -> Result<Vec<Event>, FlyError> {
        self.http().send(&Request::flaps(Method::GET, &["apps", app, "machines", machine_id, "events"]))?.json()
    }

    /// The machine's previous versions with their configs.
    pub fn machine_versions(&self, app: &str, machine_id: &str) -> Result<Vec<MachineVersion>, FlyError> {
        self.http().send(&Request::flaps(Method::GET, &["apps", app, "machines", machine_id, "versions"]))?.json()
    }

    /// Processes and listening sockets (`GET …/ps`).
    pub fn machine_processes(&self, app: &str, machine_id: &str) -> Result<Vec<ProcessStat>, FlyError> {
        self.http().send(&Request::flaps(Method::GET, &["apps", app, "machines", machine_id, "ps"]))?.json()
    }

    /// The machine's metadata.
    pub fn machine_metadata(&self, app: &str, machine_id: &str) -> Result<BTreeMap<String, String>, FlyError> {
        self.http().send(&Request::flaps(Method::GET, &["apps", app, "machines", machine_id, "metadata"]))?.json()
    }

    /// Sets one metadata key without a full update or a lease (bluegreen's
    /// `safe_to_destroy` checkpoint).
    pub fn set_machine_metadata(&self, app: &str, machine_id: &str, key: &str, value: &str) -> Result<(), FlyError> {
        #[derive(Serialize)]
        struct Body<'a> {
            value: &'a str,
        }
        let request = Request::flaps(Method::POST, &["apps", app, "machines", machine_id, "metadata", key]).json(&Body { value });
        self.http().send(&request).map(drop)
    }

    /// Removes one metadata key.
    pub fn delete_machine_metadata(&self, app: &str, machine_id: &str, key: &str) -> Result<(), FlyError> {
        let request = Request::flaps(Method::DELETE, &["apps", app, "machines", machine_id, "metadata", key]);
        self.http().send(&request).map(drop)
    }
}
