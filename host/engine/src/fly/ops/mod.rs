//! Fly operations: what the deploy step's actions do to the world, through
//! the Machines API client. Each operation has the four stages the apply
//! engine needs: capture what its undo will need, carry it out, tell after
//! a crash whether it already took effect, and put things back.
//!
//! Machines of one action change concurrently (a rollout batch), each
//! under its own lease; the action fails if any of them fails, after all
//! have settled, so the undo sees a world that is not still moving.

mod apps;
mod machines;
mod refs;
mod release;
pub(crate) use release::Job;
mod run;
mod smoke;

use std::sync::Mutex;
use std::time::Duration;

use ferry_fly::FlyClient;
use ferry_model::Risk::{Destructive, Disruptive, Irreversible, Safe};
use ferry_model::{FlyOp, IpKind};
use serde::{Deserialize, Serialize};

use crate::apply::executor::{ExecError, Ops, Outputs, mismatch};
use crate::journal::PreviousMachine;
use crate::policy::words::*;
use crate::policy::{BOOKKEEPING, Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at, restore};
pub use apps::{SECRET_VAR_PREFIX, secret_var};

/// How often machine state is polled while waiting, unless overridden by
/// `FERRY_FLY_POLL` (flyctl polls every 1-2 s; tests against the emulator
/// poll faster).
const DEFAULT_POLL: Duration = Duration::from_millis(1000);

/// Leases ferry takes for its own changes: flyctl's 13 s, refreshed while held.
const LEASE_TTL: Duration = Duration::from_secs(13);

/// The Fly side of the executor.
#[derive(Debug)]
pub struct FlyOps {
    client: FlyClient,
    poll: Duration,
    /// What this run learned from the API (secrets version, release).
    state: Mutex<run::RunState>,
}

impl FlyOps {
    pub fn new(client: FlyClient) -> Self {
        let poll = std::env::var("FERRY_FLY_POLL").ok().and_then(|v| humantime::parse_duration(&v).ok()).unwrap_or(DEFAULT_POLL);
        FlyOps { client, poll, state: Mutex::default() }
    }

    pub fn client(&self) -> &FlyClient {
        &self.client
    }

    fn carry_out(&self, op: &FlyOp, keepalive: &mut dyn FnMut()) -> Result<Vec<(String, String)>, ExecError> {
        match op {
            FlyOp::ReleaseCommand(rc) => self.release_command(rc, keepalive),
            FlyOp::CreateMachines(batch) => self.create_machines(batch),
            FlyOp::UpdateMachines(batch) => self.update_machines(batch),
            FlyOp::DestroyMachines(r) => self.destroy_machines(r),
            FlyOp::StopMachines(r) => self.stop_machines(r),
            FlyOp::StartMachines(r) => self.start_machines(r),
            FlyOp::Cordon(r) => self.each(r, "cordon", |c, app, id, nonce| c.cordon_machine(app, id, nonce)),
            FlyOp::Uncordon(r) => self.each(r, "uncordon", |c, app, id, nonce| c.uncordon_machine(app, id, nonce)),
            FlyOp::SetMetadata(m) => {
                let machines = self.resolve(&m.machines)?;
                for x in &machines {
                    self.set_metadata(&m.machines.app, &x.id, &m.key, m.value.as_deref())?;
                }
                Ok(vec![("machines".into(), machines.iter().map(|x| x.id.as_str()).collect::<Vec<_>>().join(","))])
            }
            FlyOp::CreateVolume(v) => {
                let volume =
                    self.client.create_volume(&v.app, &volume_request(v)?).map_err(ExecError::fly(format!("creating volume {} in {}", v.name, v.region)))?;
                Ok(vec![("volume".into(), volume.id)])
            }
            FlyOp::AllocateIp(ip) => {
                let mut request = ferry_fly::AllocateIp::new(ip_type(ip.kind));
                request.region = ip.region.clone();
                let assigned = self.client.allocate_ip(&ip.app, &request)?;
                Ok(vec![("ip".into(), assigned.ip)])
            }
            FlyOp::CreateApp(app) => self.create_app(app),
            FlyOp::DestroyApp(app) => self.destroy_app(app),
            FlyOp::SetSecrets(s) => self.set_secrets(s),
            FlyOp::AddCertificate(c) => self.add_certificate(c),
            FlyOp::CopyVolume(v) => self.copy_volume(v),
            FlyOp::CreateRelease(r) => self.create_release(r),
            FlyOp::CompleteRelease(app) => self.complete_release(app),
            FlyOp::WaitCertificate(w) => self.wait_certificate(w, keepalive),
        }
    }

    /// The machine's last log lines, or none when the token may not read logs
    /// (deploy tokens often cannot).
    fn log_tail(&self, app: &str, id: &str, n: usize) -> Vec<String> {
        match self.client.last_log_lines(app, id, n) {
            Ok(lines) => lines.into_iter().map(|l| l.message).collect(),
            Err(e) => {
                tracing::debug!("no logs for machine {id}: {e}");
                Vec::new()
            }
        }
    }

    fn set_metadata(&self, app: &str, id: &str, key: &str, value: Option<&str>) -> Result<(), ExecError> {
        match value {
            Some(v) => self.client.set_machine_metadata(app, id, key, v),
            None => self.client.delete_machine_metadata(app, id, key),
        }
        .map_err(ExecError::fly(format!("machine {id}: setting metadata {key}")))
    }
}

impl Ops for FlyOps {
    type Op = FlyOp;
    type Undo = FlyUndo;

    fn prepare(&self, op: &FlyOp) -> Result<Option<FlyUndo>, ExecError> {
        match op {
            // Which of the batch's machines exist already: after a create that
            // failed part-way, the engine sees the difference and undoes it.
            FlyOp::CreateMachines(batch) => {
                let launch_ids = batch.machines.iter().filter_map(|m| m.launch_id.clone()).collect();
                let refs = ferry_model::FlyMachineRefs { app: batch.app.clone(), ids: vec![], launch_ids };
                let ids = self.resolve(&refs)?.into_iter().map(|m| m.id).collect();
                Ok(Some(FlyUndo::Existing { ids }))
            }
            FlyOp::UpdateMachines(batch) => {
                let ids: Vec<String> = batch.machines.iter().filter_map(|m| m.id.clone()).collect();
                self.previous(&batch.app, &ids).map(Some)
            }
            FlyOp::DestroyMachines(r) | FlyOp::StopMachines(r) => {
                let ids = self.resolve(r)?.into_iter().map(|m| m.id).collect::<Vec<_>>();
                self.previous(&r.app, &ids).map(Some)
            }
            FlyOp::SetMetadata(m) => {
                let machines = self.resolve(&m.machines)?;
                let previous = machines.iter().map(|x| (x.id.clone(), x.config().and_then(|c| c.metadata_value(&m.key)).map(str::to_string))).collect();
                Ok(Some(FlyUndo::Metadata { previous }))
            }
            FlyOp::CreateVolume(v) => self.existing_volumes(&v.app, &v.name).map(Some),
            FlyOp::CopyVolume(v) => self.existing_volumes(&v.app, &v.name).map(Some),
            FlyOp::CreateApp(app) => self.existing_app(app).map(Some),
            FlyOp::SetSecrets(s) => self.existing_secrets(s).map(Some),
            FlyOp::AddCertificate(c) => self.existing_certificate(c).map(Some),
            FlyOp::AllocateIp(ip) => {
                let ids = self.client.list_ips(&ip.app)?.into_iter().map(|x| x.ip).collect();
                Ok(Some(FlyUndo::Existing { ids }))
            }
            // Their undo is another action or none, or (a release) it is
            // marked failed by what the run knows.
            FlyOp::ReleaseCommand(_)
            | FlyOp::StartMachines(_)
            | FlyOp::Cordon(_)
            | FlyOp::Uncordon(_)
            | FlyOp::DestroyApp(_)
            | FlyOp::CreateRelease(_)
            | FlyOp::CompleteRelease(_)
            | FlyOp::WaitCertificate(_) => Ok(None),
        }
    }

    fn execute(&self, op: &FlyOp, keepalive: &mut dyn FnMut()) -> Result<Outputs, ExecError> {
        let result = self.carry_out(op, keepalive);
        if let Err(e) = &result {
            self.note_failure(e);
        }
        result
    }

    /// After a run stopped inside `op` (started at `started_at_ms`): is its
    /// effect in place?
    fn observe(&self, op: &FlyOp, started_at_ms: u64) -> Result<bool, ExecError> {
        match op {
            // A release command is run again after a crash: it must be
            // idempotent anyway (flyctl runs it on every deploy).
            FlyOp::ReleaseCommand(_) => Ok(false),
            FlyOp::CreateMachines(batch) => self.creates_in_place(batch),
            FlyOp::UpdateMachines(batch) => self.updates_in_place(batch),
            FlyOp::DestroyMachines(r) => Ok(self.resolve(r)?.is_empty()),
            FlyOp::StopMachines(r) => Ok(self.resolve(r)?.iter().all(|m| m.state == "stopped")),
            FlyOp::StartMachines(r) => Ok(self.resolve(r)?.iter().all(|m| m.state == "started")),
            FlyOp::Cordon(r) => Ok(self.resolve(r)?.iter().all(|m| m.cordoned)),
            FlyOp::Uncordon(r) => Ok(self.resolve(r)?.iter().all(|m| !m.cordoned)),
            FlyOp::SetMetadata(m) => Ok(self.resolve(&m.machines)?.iter().all(|x| x.config().and_then(|c| c.metadata_value(&m.key)) == m.value.as_deref())),
            // Without the ids captured before, a volume or address made by
            // the interrupted run cannot be told apart: make it again
            // (the undo removes every one the action added).
            FlyOp::CreateVolume(_) | FlyOp::AllocateIp(_) | FlyOp::CopyVolume(_) => Ok(false),
            FlyOp::CreateApp(app) => self.app_exists(&app.name),
            FlyOp::DestroyApp(app) => Ok(!self.app_exists(app)?),
            FlyOp::SetSecrets(s) => self.secrets_in_place(s),
            FlyOp::AddCertificate(c) => self.certificate_in_place(c),
            FlyOp::CreateRelease(r) => Ok(self.release_in_place(r, started_at_ms)),
            // Marking complete again is harmless.
            FlyOp::CompleteRelease(_) => Ok(false),
            FlyOp::WaitCertificate(w) => self.certificate_issued(&w.app, &w.hostname),
        }
    }

    fn restore(&self, op: &FlyOp, undo: Option<&FlyUndo>) -> Result<(), ExecError> {
        match (op, undo) {
            (FlyOp::CreateMachines(batch), _) => self.destroy_created(batch),
            (FlyOp::UpdateMachines(batch), Some(FlyUndo::Machines { previous })) => self.restore_configs(&batch.app, previous),
            (FlyOp::DestroyMachines(r), Some(FlyUndo::Machines { previous })) => self.recreate(&r.app, previous),
            (FlyOp::StopMachines(r), Some(FlyUndo::Machines { previous })) => {
                let started: Vec<String> = previous.iter().filter(|m| m.state == "started").map(|m| m.id.clone()).collect();
                let refs = ferry_model::FlyMachineRefs { app: r.app.clone(), ids: started, launch_ids: vec![] };
                self.start_machines(&refs).map(drop)
            }
            (FlyOp::SetMetadata(m), Some(FlyUndo::Metadata { previous })) => {
                for (id, value) in previous {
                    let id = self.current_id(&m.machines.app, id)?;
                    self.set_metadata(&m.machines.app, &id, &m.key, value.as_deref())?;
                }
                Ok(())
            }
            (FlyOp::CreateVolume(v), Some(FlyUndo::Existing { ids })) => self.undo_volumes(&v.app, &v.name, ids),
            (FlyOp::CopyVolume(v), Some(FlyUndo::Existing { ids })) => self.undo_volumes(&v.app, &v.name, ids),
            (FlyOp::CreateApp(app), Some(FlyUndo::Existing { ids })) => self.undo_create_app(app, ids),
            (FlyOp::SetSecrets(s), Some(FlyUndo::Existing { ids })) => self.undo_secrets(s, ids),
            (FlyOp::AddCertificate(c), Some(FlyUndo::Existing { ids })) => self.undo_certificate(c, ids),
            (FlyOp::CreateRelease(r), _) => self.fail_release(r),
            // The create-release undone after it marks the record.
            (FlyOp::CompleteRelease(_), _) => Ok(()),
            (FlyOp::AllocateIp(ip), Some(FlyUndo::Existing { ids })) => {
                for assigned in self.client.list_ips(&ip.app)? {
                    if !ids.contains(&assigned.ip) {
                        self.client.release_ip(&ip.app, &assigned.ip)?;
                    }
                }
                Ok(())
            }
            // Not undone by restoring: their undo is another action or none.
            (
                FlyOp::ReleaseCommand(_) | FlyOp::StartMachines(_) | FlyOp::Cordon(_) | FlyOp::Uncordon(_) | FlyOp::DestroyApp(_) | FlyOp::WaitCertificate(_),
                _,
            ) => Ok(()),
            (
                FlyOp::UpdateMachines(_)
                | FlyOp::DestroyMachines(_)
                | FlyOp::StopMachines(_)
                | FlyOp::SetMetadata(_)
                | FlyOp::CreateVolume(_)
                | FlyOp::CopyVolume(_)
                | FlyOp::CreateApp(_)
                | FlyOp::SetSecrets(_)
                | FlyOp::AddCertificate(_)
                | FlyOp::AllocateIp(_),
                undo,
            ) => Err(mismatch(op, &undo)),
        }
    }

    /// Takes in the outputs of an action done earlier in this run.
    fn learn(&self, op: &FlyOp, outputs: &[(String, String)]) {
        let value = |key: &str| outputs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        match op {
            FlyOp::SetSecrets(s) => {
                if let Some(version) = value("version").and_then(|v| v.parse::<u64>().ok()) {
                    self.note_secrets_version(&s.app, version);
                }
            }
            FlyOp::CreateRelease(r) => self.note_release(&r.app, outputs),
            // Nothing else answers what a later operation needs.
            FlyOp::ReleaseCommand(_)
            | FlyOp::CreateMachines(_)
            | FlyOp::UpdateMachines(_)
            | FlyOp::DestroyMachines(_)
            | FlyOp::StopMachines(_)
            | FlyOp::StartMachines(_)
            | FlyOp::Cordon(_)
            | FlyOp::Uncordon(_)
            | FlyOp::SetMetadata(_)
            | FlyOp::CreateVolume(_)
            | FlyOp::AllocateIp(_)
            | FlyOp::CreateApp(_)
            | FlyOp::DestroyApp(_)
            | FlyOp::AddCertificate(_)
            | FlyOp::CopyVolume(_)
            | FlyOp::CompleteRelease(_)
            | FlyOp::WaitCertificate(_) => {}
        }
    }
}

/// flyctl's first-deploy volume (`deploy_first.go`): encrypted, placed
/// where the machine that mounts it fits (`compute`, `compute_image`), with
/// the mount's snapshot settings.
fn volume_request(v: &ferry_model::FlyVolume) -> Result<ferry_fly::CreateVolumeRequest, ExecError> {
    let compute = v
        .compute
        .as_deref()
        .map(serde_json::from_str::<serde_json::Value>)
        .transpose()
        .map_err(ExecError::json(format!("the plan's guest for volume {} is not JSON", v.name)))?;
    Ok(ferry_fly::CreateVolumeRequest {
        name: v.name.clone(),
        region: v.region.clone(),
        size_gb: Some(u64::from(v.size_gb)),
        encrypted: Some(true),
        snapshot_retention: v.snapshot_retention,
        auto_backup_enabled: v.auto_backup,
        compute,
        compute_image: v.compute_image.clone(),
        ..Default::default()
    })
}

fn ip_type(kind: IpKind) -> ferry_fly::IpType {
    use ferry_fly::IpType;
    match kind {
        IpKind::V4 => IpType::V4,
        IpKind::V6 => IpType::V6,
        IpKind::SharedV4 => IpType::SharedV4,
        IpKind::PrivateV6 => IpType::PrivateV6,
    }
}

/// What a Fly action replaced, read from the API before it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum FlyUndo {
    /// Fly Machines as they were before an update, stop or destroy:
    /// enough to put each back (its config, image and state).
    Machines { previous: Vec<PreviousMachine> },
    /// The value a metadata key held on each machine (`None`: absent).
    Metadata { previous: Vec<(String, Option<String>)> },
    /// Ids of what existed before a create (volumes, IPs), so the undo
    /// removes only what the action added.
    Existing { ids: Vec<String> },
}

impl OperationPolicy for FlyOp {
    fn name(&self) -> &'static str {
        match self {
            FlyOp::ReleaseCommand(_) => "fly-release-command",
            FlyOp::CreateMachines(_) => "fly-create-machines",
            FlyOp::UpdateMachines(_) => "fly-update-machines",
            FlyOp::DestroyMachines(_) => "fly-destroy-machines",
            FlyOp::StopMachines(_) => "fly-stop-machines",
            FlyOp::StartMachines(_) => "fly-start-machines",
            FlyOp::Cordon(_) => "fly-cordon",
            FlyOp::Uncordon(_) => "fly-uncordon",
            FlyOp::SetMetadata(_) => "fly-set-metadata",
            FlyOp::CreateVolume(_) => "fly-create-volume",
            FlyOp::AllocateIp(_) => "fly-allocate-ip",
            FlyOp::CreateApp(_) => "fly-create-app",
            FlyOp::DestroyApp(_) => "fly-destroy-app",
            FlyOp::SetSecrets(_) => "fly-set-secrets",
            FlyOp::AddCertificate(_) => "fly-add-certificate",
            FlyOp::CopyVolume(_) => "fly-copy-volume",
            FlyOp::CreateRelease(_) => "fly-create-release",
            FlyOp::CompleteRelease(_) => "fly-complete-release",
            FlyOp::WaitCertificate(_) => "fly-wait-certificate",
        }
    }

    fn floor(&self) -> Floor {
        match self {
            FlyOp::ReleaseCommand(_) => {
                at(Disruptive, "runs the app's own release command (usually migrations) with its secrets; ferry cannot undo what it does")
            }
            FlyOp::CreateMachines(_) => at(Safe, "only adds machines; the undo destroys them"),
            FlyOp::UpdateMachines(_) => at(Disruptive, "restarts running machines with a new config"),
            FlyOp::DestroyMachines(_) => at(Destructive, "destroys machines and their root filesystems"),
            FlyOp::StopMachines(_) => at(Disruptive, "stopped machines serve nothing"),
            FlyOp::StartMachines(_) => at(Disruptive, "started machines serve traffic (and write data) again"),
            FlyOp::Cordon(_) => at(Disruptive, "takes machines out of the proxy's rotation"),
            FlyOp::Uncordon(_) => at(Disruptive, "sends traffic to machines"),
            FlyOp::SetMetadata(_) => at(Safe, "a metadata key; the undo puts each machine's previous value back"),
            FlyOp::CreateVolume(_) => at(Safe, "a new, empty volume; the undo deletes it"),
            FlyOp::AllocateIp(_) => at(Safe, "a new address; the undo releases it"),
            FlyOp::CreateApp(_) => at(Safe, "a new, empty app; the undo deletes it"),
            FlyOp::DestroyApp(_) => at(Irreversible, "deletes an app with its machines, volumes and secrets; nothing brings it back"),
            FlyOp::SetSecrets(_) => at(Destructive, "replaces any secret of the same name, whose old value ferry never reads and cannot put back"),
            FlyOp::AddCertificate(_) => at(Safe, "a certificate request; the undo removes it"),
            FlyOp::CopyVolume(_) => at(Safe, "a snapshot of the source restored into a new volume; the source is only read"),
            FlyOp::CreateRelease(_) => at(Safe, "a release record (what `fly releases` lists); no machine changes"),
            FlyOp::CompleteRelease(_) => at(Safe, "marks a release record complete; no machine changes"),
            FlyOp::WaitCertificate(_) => at(Safe, "reads a certificate's status until it is issued"),
        }
    }

    fn restore(&self) -> Restore {
        match self {
            FlyOp::CreateMachines(_) => {
                restore("destroys the machines it created", at(Destructive, "destroys the machines it created, with their root filesystems"))
            }
            FlyOp::UpdateMachines(_) => {
                restore("puts each machine's previous config and image back", at(Disruptive, "restarts machines with their previous config"))
            }
            FlyOp::DestroyMachines(_) => restore("recreates each machine from its saved config", at(Disruptive, "recreates machines from their saved configs")),
            FlyOp::StopMachines(_) => restore("starts the machines again", at(Disruptive, "starts what was stopped: it serves (and writes) again")),
            FlyOp::CreateVolume(_) | FlyOp::CopyVolume(_) => {
                restore("deletes the volumes it created", at(Destructive, "deletes the volumes it created, with everything written to them since"))
            }
            FlyOp::AllocateIp(_) => restore("releases the address it allocated", at(Disruptive, "releases an address clients may be using")),
            FlyOp::CreateApp(_) => {
                restore("deletes the app it created", at(Destructive, "deletes the app it created, with whatever was deployed and written to it since"))
            }
            FlyOp::SetSecrets(_) => {
                restore("removes the secrets it added (replaced values stay replaced)", at(Destructive, "removes secrets machines may need to boot"))
            }
            FlyOp::AddCertificate(_) => {
                restore("removes the certificate it added", at(Disruptive, "removes a certificate: its hostname stops serving TLS from Fly"))
            }
            FlyOp::CreateRelease(_) => restore("marks the release record failed (it stays in the app's history)", BOOKKEEPING),
            FlyOp::SetMetadata(_) => restore("puts each machine's previous value back", BOOKKEEPING),
            FlyOp::ReleaseCommand(_)
            | FlyOp::StartMachines(_)
            | FlyOp::Cordon(_)
            | FlyOp::Uncordon(_)
            | FlyOp::DestroyApp(_)
            | FlyOp::CompleteRelease(_)
            | FlyOp::WaitCertificate(_) => NOTHING_TO_PUT_BACK,
        }
    }

    fn describe(&self) -> String {
        match self {
            FlyOp::ReleaseCommand(r) => format!(
                "run a temporary machine of Fly app {} in {} ({}) with the app's secrets, up to {}",
                r.app,
                r.region,
                MachineConfig::parse(&r.config).summary(),
                duration(r.timeout_ms)
            ),
            FlyOp::CreateMachines(m) => format!("create {} in Fly app {}{}", machines(m), m.app, wait(m)),
            FlyOp::UpdateMachines(m) => format!("replace the config of {} in Fly app {} (each restarts){}", machines(m), m.app, wait(m)),
            FlyOp::DestroyMachines(r) => format!("stop and destroy {} of Fly app {}", refs(r), r.app),
            FlyOp::StopMachines(r) => format!("stop {} of Fly app {}", refs(r), r.app),
            FlyOp::StartMachines(r) => format!("start {} of Fly app {}", refs(r), r.app),
            FlyOp::Cordon(r) => format!("take {} of Fly app {} out of the proxy's rotation", refs(r), r.app),
            FlyOp::Uncordon(r) => format!("put {} of Fly app {} into the proxy's rotation", refs(r), r.app),
            FlyOp::SetMetadata(m) => match &m.value {
                Some(value) => format!("set metadata {} = {value} on {} of Fly app {}", m.key, refs(&m.machines), m.machines.app),
                None => format!("remove metadata {} from {} of Fly app {}", m.key, refs(&m.machines), m.machines.app),
            },
            FlyOp::CreateVolume(v) => format!("create volume {} ({} GB, {}) in Fly app {}", v.name, v.size_gb, v.region, v.app),
            FlyOp::AllocateIp(ip) => match &ip.region {
                Some(region) => format!("allocate a {} address in {region} for Fly app {}", ip.kind, ip.app),
                None => format!("allocate a {} address for Fly app {}", ip.kind, ip.app),
            },
            FlyOp::CreateApp(app) => format!("create Fly app {} in organization {}", app.name, app.org),
            FlyOp::DestroyApp(app) => format!("DELETE Fly app {app} with all its machines, volumes, secrets and addresses"),
            FlyOp::SetSecrets(s) => {
                format!("set secret(s) {} on Fly app {}, each from this run's FERRY_SECRET_<NAME>, replacing any value of that name", list(&s.names), s.app)
            }
            FlyOp::AddCertificate(c) => format!("request a TLS certificate for {} on Fly app {}", c.hostname, c.app),
            FlyOp::CopyVolume(v) => format!(
                "snapshot volume {} of Fly app {} and restore it as volume {} ({} GB, {}) of Fly app {}",
                v.source_volume, v.source_app, v.name, v.size_gb, v.region, v.app
            ),
            FlyOp::CreateRelease(r) => format!(
                "create a release record of Fly app {} for image {} ({}), numbered by Fly, and write its id and version into the machines this plan changes",
                r.app, r.image, r.strategy
            ),
            FlyOp::CompleteRelease(app) => format!("mark this run's release record of Fly app {app} complete"),
            FlyOp::WaitCertificate(w) => {
                format!("wait until Fly app {} has an issued (`active`) certificate for {}, up to {}", w.app, w.hostname, duration(w.timeout_ms))
            }
        }
    }
}
