//! Creating, updating and destroying machines in batches, and undoing it.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::journal::PreviousMachine;
use ferry_fly::{HealthWait, LAUNCH_ID_METADATA_KEY, LaunchInput, Machine, MachineConfig, Volume, WaitState};
use ferry_model::{FlyMachine, FlyMachineRefs, FlyMachines};

use super::FlyOps;
use super::refs::REPLACES;
use crate::apply::executor::ExecError;

/// Metadata flyctl puts on canary machines.
const CANARY: &str = "fly_canary";

/// How long a machine put back by a rollback may take to pass its checks
/// (flyctl's default wait timeout: the deploy's own may have been shorter).
const RESTORE_WAIT_MS: u64 = 5 * 60 * 1000;

/// How long a stopped machine may take to stop before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(60);

/// How long a machine a plan stops may take to be `stopped` (its
/// `kill_timeout` is at most a few minutes).
const STOP_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// How long a started machine may take to be `started` (flyctl's default
/// wait timeout).
const START_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Machines changed at once per action (flyctl's `--max-concurrent`).
const MAX_CONCURRENT: usize = 8;

impl FlyOps {
    pub(super) fn create_machines(&self, batch: &FlyMachines) -> Result<Vec<(String, String)>, ExecError> {
        // One list for the batch (Fly rate-limits per action), not one per
        // machine: machines an interrupted run of this action created.
        let listed = self.client.list_machines(&batch.app)?;
        let existing = |key: &str| listed.iter().find(|m| m.is_active() && m.metadata_value(LAUNCH_ID_METADATA_KEY) == Some(key)).cloned();
        let needs_volume = batch
            .machines
            .iter()
            .any(|m| parse_config(&m.config).ok().and_then(|c| c.mounts().ok()).is_some_and(|mounts| mounts.iter().any(|x| x.volume.is_none())));
        let volumes = if needs_volume { self.client.list_volumes(&batch.app)? } else { Vec::new() };
        let claimed = Mutex::new(HashSet::new());
        let results = self.concurrently(&batch.machines, |m| {
            let key = m.launch_id.as_deref().ok_or_else(|| ExecError::Failed(format!("a {} machine to create has no launch id", m.group)))?;
            let created = match existing(key) {
                // Created by an earlier, interrupted run of this action.
                Some(found) => found,
                None => {
                    let mut config = parse_config(&m.config)?;
                    pick_volume(&volumes, &m.region, &mut config, &claimed)?;
                    let mut input = launch(config, m, Some(m.region.clone()));
                    self.stamp(&batch.app, &mut input);
                    self.client.create_machine(&batch.app, &input, key).map_err(ExecError::fly(format!("creating a {} machine", m.group)))?
                }
            };
            self.settle_watched(&batch.app, &created.id, m.skip_launch, &batch.wait, Some(&created.instance_id))?;
            Ok((format!("machine:{key}"), created.id))
        });
        collect(results)
    }

    pub(super) fn update_machines(&self, batch: &FlyMachines) -> Result<Vec<(String, String)>, ExecError> {
        let results = self.concurrently(&batch.machines, |m| {
            let id = m.id.as_deref().ok_or_else(|| ExecError::Failed(format!("a {} machine to update has no id", m.group)))?;
            let lease = self.lease(&batch.app, id, "deploy")?;
            let mut input = launch(parse_config(&m.config)?, m, None);
            self.stamp(&batch.app, &mut input);
            // The lease is held (and refreshed) until the machine settled,
            // so no other deploy moves it under our health wait; the wait is
            // pinned to the instance the update made, and each retry
            // (`--deploy-retries`) sends the update again under the lease.
            self.with_retries(id, batch.wait.retries, |_| {
                let updated =
                    self.client.update_machine(&batch.app, id, &input, Some(lease.nonce())).map_err(ExecError::fly(format!("updating machine {id}")))?;
                self.settle_watched(&batch.app, id, m.skip_launch, &batch.wait, Some(&updated.instance_id))
            })?;
            drop(lease);
            Ok((format!("machine:{id}"), "updated".to_string()))
        });
        collect(results)
    }

    /// Stops each machine under its lease, then waits until each is
    /// `stopped` at the instance it had (Fly's stop only asks: a migration
    /// snapshots the volume next, and must not copy a disk still written).
    pub(super) fn stop_machines(&self, refs: &FlyMachineRefs) -> Result<Vec<(String, String)>, ExecError> {
        self.move_each(refs, "stop", WaitState::Stopped, STOP_TIMEOUT, true, |id, nonce| {
            self.client.stop_machine(&refs.app, id, &Default::default(), Some(nonce))
        })
    }

    /// Starts each machine under its lease, then waits until each is
    /// `started` (Fly's start returns while the machine is `starting`: an
    /// abort that puts the source back must not report it serving before
    /// it is).
    pub(super) fn start_machines(&self, refs: &FlyMachineRefs) -> Result<Vec<(String, String)>, ExecError> {
        self.move_each(refs, "start", WaitState::Started, START_TIMEOUT, false, |id, nonce| self.client.start_machine(&refs.app, id, Some(nonce)))
    }

    /// Asks each machine, under its lease, to `verb` (`ask`, skipped when it
    /// is in `state` already), then waits until it is in `state` — at the
    /// instance it had when `pin_instance` (Fly's docs require it for
    /// `stopped`). Outputs the machines' ids.
    fn move_each(
        &self,
        refs: &FlyMachineRefs,
        verb: &str,
        state: WaitState,
        timeout: Duration,
        pin_instance: bool,
        ask: impl Fn(&str, &str) -> Result<(), ferry_fly::FlyError> + Sync,
    ) -> Result<Vec<(String, String)>, ExecError> {
        let machines = self.resolve(refs)?;
        let results = self.concurrently(&machines, |m| {
            let lease = self.lease(&refs.app, &m.id, verb)?;
            if m.state != state.as_str() {
                ask(&m.id, lease.nonce()).map_err(ExecError::fly(format!("machine {}: {verb}", m.id)))?;
            }
            let instance = pin_instance.then_some(m.instance_id.as_str());
            self.client.wait_for_state(&refs.app, &m.id, state, instance, timeout).map_err(|e| {
                ExecError::Failed(format!("machine {} was asked to {verb} but is not `{}`: {e}; nothing after this action ran", m.id, state.as_str()))
            })?;
            drop(lease);
            Ok((state.as_str().to_string(), m.id.clone()))
        });
        let moved = collect(results)?;
        Ok(vec![("machines".into(), moved.into_iter().map(|(_, id)| id).collect::<Vec<_>>().join(","))])
    }

    pub(super) fn destroy_machines(&self, refs: &FlyMachineRefs) -> Result<Vec<(String, String)>, ExecError> {
        let machines = self.resolve(refs)?;
        let results = self.concurrently(&machines, |m| {
            self.stop_and_destroy(&refs.app, m)?;
            Ok(("destroyed".to_string(), m.id.clone()))
        });
        collect(results)
    }

    /// Every machine of the batch exists (found by launch id) and, when the
    /// batch waits, is healthy now.
    pub(super) fn creates_in_place(&self, batch: &FlyMachines) -> Result<bool, ExecError> {
        for m in &batch.machines {
            let Some(key) = &m.launch_id else { return Ok(false) };
            match self.client.find_by_launch_id(&batch.app, key)? {
                Some(found) if !batch.wait.health || m.skip_launch || is_healthy(&found) => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Every machine runs the batch's config and, when the batch waits, is
    /// healthy now.
    pub(super) fn updates_in_place(&self, batch: &FlyMachines) -> Result<bool, ExecError> {
        for m in &batch.machines {
            let Some(id) = &m.id else { return Ok(false) };
            let current = self.client.get_machine(&batch.app, id)?;
            // As the update would have sent it (with this run's release).
            let want = self.stamped(&batch.app, parse_config(&m.config)?);
            let same = current.config().is_some_and(|c| c.same_as(&want));
            if !same || (batch.wait.health && !m.skip_launch && !is_healthy(&current)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Undoes a create: destroys every machine the batch made.
    pub(super) fn destroy_created(&self, batch: &FlyMachines) -> Result<(), ExecError> {
        let launch_ids = batch.machines.iter().filter_map(|m| m.launch_id.clone()).collect();
        self.destroy_machines(&FlyMachineRefs { app: batch.app.clone(), ids: vec![], launch_ids }).map(drop)
    }

    /// Undoes an update: each machine gets its previous config (and so its
    /// previous image) back, and is waited on as it was.
    pub(super) fn restore_configs(&self, app: &str, previous: &[PreviousMachine]) -> Result<(), ExecError> {
        let results = self.concurrently(previous, |p| {
            let id = self.current_id(app, &p.id)?;
            let config: MachineConfig = journaled_config(p)?;
            let current = self.client.get_machine(app, &id)?;
            let was_started = p.state == "started";
            if current.config().is_some_and(|c| c.same_as(&config)) && (!was_started || current.state == "started") {
                return Ok((id, "unchanged".into()));
            }
            let lease = self.lease(app, &id, "rollback")?;
            let input = LaunchInput { config, skip_launch: !was_started, ..Default::default() };
            let restored = self.client.update_machine(app, &id, &input, Some(lease.nonce())).map_err(ExecError::fly(format!("restoring machine {id}")))?;
            self.settle(app, &id, !was_started, was_started, RESTORE_WAIT_MS, Some(&restored.instance_id))?;
            drop(lease);
            Ok((id, "restored".into()))
        });
        collect(results).map(drop)
    }

    /// Undoes a destroy: each machine is created again from its saved
    /// config, in its region, marked with the id it replaces.
    pub(super) fn recreate(&self, app: &str, previous: &[PreviousMachine]) -> Result<(), ExecError> {
        // A canary only ever existed to be destroyed: undoing its destroy
        // would leave an extra machine behind.
        let previous: Vec<&PreviousMachine> = previous.iter().filter(|p| p.config["metadata"][CANARY] != "true").collect();
        let results = self.concurrently(&previous, |p| {
            let mut config: MachineConfig = journaled_config(p)?;
            config.set_metadata(REPLACES, p.id.clone());
            let was_started = p.state == "started";
            let input =
                LaunchInput { config, region: Some(p.region.clone()), skip_launch: !was_started, skip_service_registration: p.cordoned, ..Default::default() };
            let key = format!("restore-{}", p.id);
            let created = match self.client.find_by_launch_id(app, &key)? {
                Some(found) => found,
                None => self.client.create_machine(app, &input, &key).map_err(ExecError::fly(format!("recreating machine {}", p.id)))?,
            };
            self.settle(app, &created.id, !was_started, was_started, RESTORE_WAIT_MS, Some(&created.instance_id))?;
            Ok((p.id.clone(), created.id))
        });
        collect(results).map(drop)
    }

    fn stop_and_destroy(&self, app: &str, m: &Machine) -> Result<(), ExecError> {
        let lease = self.lease(app, &m.id, "destroy")?;
        let nonce = Some(lease.nonce());
        if matches!(m.state.as_str(), "started" | "starting") {
            self.client.stop_machine(app, &m.id, &Default::default(), nonce).map_err(ExecError::fly(format!("stopping machine {}", m.id)))?;
            if self.client.wait_for_state(app, &m.id, WaitState::Stopped, Some(&m.instance_id), STOP_WAIT).is_err() {
                tracing::warn!("machine {} did not stop within {} s; destroying it with force", m.id, STOP_WAIT.as_secs());
            }
        }
        self.client.destroy_machine(app, &m.id, true, nonce).map_err(ExecError::fly(format!("destroying machine {}", m.id)))
    }

    /// Waits until a changed machine is where it should be: stopped ones
    /// stay stopped; started ones reach `started` and, with `health`,
    /// pass every configured check, at `instance_id` (the instance the
    /// create or update returned: the API may show the one before for a
    /// moment, started and passing). A crash fails at once.
    pub(super) fn settle(&self, app: &str, id: &str, skip_launch: bool, health: bool, timeout_ms: u64, instance_id: Option<&str>) -> Result<(), ExecError> {
        if skip_launch {
            return Ok(());
        }
        let timeout = Duration::from_millis(timeout_ms);
        let instance_id = instance_id.filter(|i| !i.is_empty());
        if !health {
            return self.client.wait_for_state(app, id, WaitState::Started, instance_id, timeout).map_err(ExecError::fly(format!("machine {id}")));
        }
        let wait = HealthWait { timeout, poll_interval: self.poll, ..Default::default() };
        match self.client.wait_healthy_at(app, id, instance_id, &wait) {
            Ok(_) => Ok(()),
            Err(e) => {
                let logs = self.log_tail(app, id, 10);
                let tail = if logs.is_empty() { String::new() } else { format!("\nlast log lines of {id}:\n  {}", logs.join("\n  ")) };
                // A crash or a timeout names the machine itself.
                let error = match e {
                    ferry_fly::HealthError::Crashed { .. } | ferry_fly::HealthError::Timeout { .. } => e.to_string(),
                    ferry_fly::HealthError::Api(_) => format!("machine {id}: {e}"),
                };
                Err(ExecError::Failed(format!("{error}{tail}")))
            }
        }
    }

    /// Runs `work` for every item, at most [`MAX_CONCURRENT`] at a time
    /// (flyctl's `--max-concurrent`; Fly rate-limits each action per app),
    /// and returns the results in order, once all have finished.
    fn concurrently<T: Sync, R: Send>(&self, items: &[T], work: impl Fn(&T) -> Result<R, ExecError> + Sync) -> Vec<Result<R, ExecError>> {
        let next = AtomicUsize::new(0);
        let results: Vec<Mutex<Option<Result<R, ExecError>>>> = items.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..items.len().min(MAX_CONCURRENT) {
                scope.spawn(|| {
                    loop {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        let Some(item) = items.get(n) else { break };
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(item)))
                            .unwrap_or_else(|_| Err(ExecError::Failed("a worker thread panicked".into())));
                        *results[n].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                    }
                });
            }
        });
        results
            .into_iter()
            .map(|slot| slot.into_inner().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(|| Err(ExecError::Failed("a worker thread stopped early".into()))))
            .collect()
    }
}

/// Mounts that name a volume but no id get an unattached volume of that
/// name in the region (each machine its own), chosen as flyctl's
/// `setVolumes` chooses (`machines.go`): not attached to a machine or an
/// allocation, on a host that answers (`host_status` `ok`).
fn pick_volume(volumes: &[Volume], region: &str, config: &mut MachineConfig, claimed: &Mutex<HashSet<String>>) -> Result<(), ExecError> {
    let mut mounts = config.mounts().map_err(ExecError::json("the machine config's mounts"))?;
    if mounts.iter().all(|m| m.volume.is_some()) {
        return Ok(());
    }
    for mount in mounts.iter_mut().filter(|m| m.volume.is_none()) {
        let name = mount.name.clone().unwrap_or_default();
        let mut taken = claimed.lock().unwrap_or_else(|e| e.into_inner());
        let free = volumes
            .iter()
            .find(|v| {
                v.name == name
                    && (region.is_empty() || v.region == region)
                    && v.attached_machine_id.is_none()
                    && v.attached_alloc_id.is_none()
                    && v.host_status == "ok"
                    && !taken.contains(&v.id)
            })
            .ok_or_else(|| {
                ExecError::Failed(format!(
                    "needs an unattached volume named `{name}` in region {region} on a reachable host; create one with `fly volumes create {name} -r {region}`"
                ))
            })?;
        taken.insert(free.id.clone());
        mount.volume = Some(free.id.clone());
    }
    config.set_mounts(&mounts);
    Ok(())
}

fn parse_config(json: &str) -> Result<MachineConfig, ExecError> {
    serde_json::from_str(json).map_err(ExecError::json("the plan's machine config is not valid JSON"))
}

fn launch(config: MachineConfig, m: &FlyMachine, region: Option<String>) -> LaunchInput {
    LaunchInput {
        config,
        region,
        name: m.name.clone(),
        skip_launch: m.skip_launch,
        skip_service_registration: m.skip_service_registration,
        ..Default::default()
    }
}

fn is_healthy(m: &Machine) -> bool {
    m.state == "started" && m.checks.iter().all(|c| c.is_passing())
}

/// All outputs, or every failure in one error.
fn collect(results: Vec<Result<(String, String), ExecError>>) -> Result<Vec<(String, String)>, ExecError> {
    let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    if failed.is_empty() {
        return Ok(ok.into_iter().flatten().collect());
    }
    let mut errors: Vec<ExecError> = failed.into_iter().filter_map(Result::err).collect();
    Err(if errors.len() == 1 { errors.remove(0) } else { ExecError::Several(errors) })
}

/// The config a machine had before the run, as the journal keeps it.
fn journaled_config(p: &PreviousMachine) -> Result<MachineConfig, ExecError> {
    serde_json::from_value(p.config.clone())
        .map_err(|e| ExecError::Failed(format!("machine {}: the journal's config of it is not a machine config: {e}", p.id)))
}
