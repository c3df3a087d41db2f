//! The Fly Machines API: apps, machines, volumes, secrets, addresses, certificates, releases (`wit/ops-fly.wit`).
//!
//! What the host says about each operation: its name, its least risk, what
//! it does and what its undo puts back. The records and the variant are the
//! WIT file's own, generated (`super::contract`): a new operation of this
//! provider is written in its WIT file, then here and in its executor, each
//! named by the compiler as a match it is missing from.

pub use super::contract::ferry::step::fly_ops::*;

use serde::{Deserialize, Serialize};

use crate::Risk::{Destructive, Disruptive, Irreversible, Safe};
use crate::journal::PreviousMachine;
use crate::policy::words::*;
use crate::policy::{BOOKKEEPING, Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at, restore};

impl std::fmt::Display for IpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IpKind::V4 => "v4",
            IpKind::V6 => "v6",
            IpKind::SharedV4 => "shared_v4",
            IpKind::PrivateV6 => "private_v6",
        })
    }
}

impl std::fmt::Display for ReleaseStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReleaseStrategy::Rolling => "ROLLING",
            ReleaseStrategy::Canary => "CANARY",
            ReleaseStrategy::Bluegreen => "BLUEGREEN",
            ReleaseStrategy::Immediate => "IMMEDIATE",
        })
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
