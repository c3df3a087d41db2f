//! What the `vm` import reports about a target: its settings, the host's
//! facts, the app's containers and the release records.

use ferry_step_sdk::host::vm::{CertificateInfo, ContainerState, HostFacts, VmTargetInfo};
use serde::{Deserialize, Serialize};

/// The labels ferry puts on every container it runs.
pub const LABEL_APP: &str = "ferry.app";
pub const LABEL_GROUP: &str = "ferry.group";
pub const LABEL_RELEASE: &str = "ferry.release";

#[derive(Clone, Debug)]
pub struct Observed {
    pub target: VmTargetInfo,
    pub facts: HostFacts,
    pub containers: Vec<ContainerState>,
    pub releases: Vec<ReleaseRecord>,
    /// The certificate the site serves (given, or managed by the target's
    /// ACME server), as the host read it.
    pub certificate: Option<CertificateInfo>,
}

/// One release as the deploy recorded it on the host
/// (`<root>/<app>/releases/<number>.json`, one line of JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub number: u32,
    /// The image tag on the host (`ferry-<app>:release-<n>`).
    pub image: String,
    /// Where the web group listened (on 127.0.0.1); nginx sends traffic there.
    pub port: Option<u16>,
    /// Where the image came from, for the reviewer.
    pub source: String,
}

impl Observed {
    /// Parses the release records, skipping lines that are not ferry's.
    pub fn parse_releases(lines: &[String]) -> Vec<ReleaseRecord> {
        let mut records: Vec<ReleaseRecord> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
        records.sort_by_key(|r| r.number);
        records
    }

    pub fn label<'a>(c: &'a ContainerState, key: &str) -> Option<&'a str> {
        c.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn release_of(c: &ContainerState) -> Option<u32> {
        Self::label(c, LABEL_RELEASE).and_then(|v| v.parse().ok())
    }

    /// The release whose containers run now: the newest with a running one.
    pub fn serving(&self) -> Option<u32> {
        self.containers.iter().filter(|c| c.state == "running").filter_map(Self::release_of).max()
    }

    /// The number the next release gets.
    pub fn next_release(&self) -> u32 {
        let recorded = self.releases.iter().map(|r| r.number);
        let running = self.containers.iter().filter_map(Self::release_of);
        recorded.chain(running).max().map_or(1, |n| n + 1)
    }

    /// The release `--rollback` starts while `n` serves: the newest
    /// recorded before it (the records are sorted by number).
    pub fn release_before(&self, n: u32) -> Option<&ReleaseRecord> {
        self.releases.iter().rev().find(|r| r.number < n)
    }

    pub fn record(&self, number: u32) -> Option<&ReleaseRecord> {
        self.releases.iter().find(|r| r.number == number)
    }
}
