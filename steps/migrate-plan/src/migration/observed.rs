//! What the `fly` import reports about the two apps of a migration.

use ferry_step_sdk::host::fly::{CertificateInfo, IpInfo, MachineInfo, VolumeInfo};

use crate::adopt::{NOT_DEPLOYED, PLATFORM_VERSION};

/// An app as far as the token may see it.
#[derive(Clone, Debug)]
pub enum Read<T> {
    Found(T),
    /// The app does not exist (or lives in an org the token cannot see).
    Missing,
    /// The token may not read it; the message says why.
    Denied(String),
}

impl<T> Read<T> {
    pub fn found(&self) -> Option<&T> {
        match self {
            Read::Found(t) => Some(t),
            _ => None,
        }
    }
}

/// One app's machines, volumes, secret names, addresses and certificates.
#[derive(Clone, Debug, Default)]
pub struct App {
    pub machines: Vec<MachineInfo>,
    pub volumes: Vec<VolumeInfo>,
    pub secrets: Vec<String>,
    pub ips: Vec<IpInfo>,
    pub certificates: Vec<CertificateInfo>,
}

#[derive(Clone, Debug)]
pub struct Observed {
    pub source: Read<App>,
    pub target: Read<App>,
}

impl App {
    /// The machines `fly deploy` manages (Apps V2), without temporary ones.
    pub fn managed(&self) -> impl Iterator<Item = &MachineInfo> {
        self.machines.iter().filter(|m| is_managed(m))
    }

    /// Machines outside Apps V2 (not carried over).
    pub fn unmanaged(&self) -> impl Iterator<Item = &MachineInfo> {
        self.machines.iter().filter(|m| !is_managed(m) && !m.process_group.as_deref().is_some_and(|g| NOT_DEPLOYED.contains(&g)))
    }

    /// Volumes a managed machine mounts: the data a migration carries over.
    pub fn attached_volumes(&self) -> impl Iterator<Item = &VolumeInfo> {
        self.volumes.iter().filter(|v| v.attached_machine.as_ref().is_some_and(|id| self.managed().any(|m| &m.id == id)))
    }

    /// The image most managed machines run.
    pub fn image(&self) -> Option<String> {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for m in self.managed() {
            match counts.iter_mut().find(|(i, _)| *i == m.image) {
                Some((_, n)) => *n += 1,
                None => counts.push((&m.image, 1)),
            }
        }
        counts.into_iter().max_by_key(|(_, n)| *n).map(|(i, _)| i.to_string())
    }

    /// The region most managed machines run in.
    pub fn region(&self) -> Option<String> {
        let mut regions: Vec<&str> = self.managed().map(|m| m.region.as_str()).collect();
        regions.sort_unstable();
        let mut best: Option<(&str, usize)> = None;
        for r in &regions {
            let n = regions.iter().filter(|x| *x == r).count();
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((r, n));
            }
        }
        best.map(|(r, _)| r.to_string())
    }

    /// Managed machines of a process group (`app` when untagged).
    pub fn in_group<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a MachineInfo> {
        self.managed().filter(move |m| m.process_group.as_deref().unwrap_or("app") == group)
    }

    pub fn address(&self, kinds: &[&str]) -> Vec<String> {
        self.ips.iter().filter(|ip| kinds.contains(&ip.kind.as_str())).map(|ip| ip.address.clone()).collect()
    }
}

fn is_managed(m: &MachineInfo) -> bool {
    m.metadata.iter().any(|(k, v)| k == PLATFORM_VERSION && v == "v2") && !m.process_group.as_deref().is_some_and(|g| NOT_DEPLOYED.contains(&g))
}
