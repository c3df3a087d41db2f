//! The app as the Machines API reports it, and which of its machines a
//! deploy manages (flyctl's `ListFlyAppsMachines` rules).

use ferry_step_sdk::host::fly::{IpInfo, MachineInfo, VolumeInfo};
use serde_json::Value;

use crate::config::meta;

/// A machine, with its config parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    pub id: String,
    pub name: String,
    pub state: String,
    pub region: String,
    pub image: String,
    pub metadata: Vec<(String, String)>,
    pub config: Value,
}

impl Machine {
    pub fn from_info(info: MachineInfo) -> Self {
        let config = serde_json::from_str(&info.config).unwrap_or(Value::Null);
        Machine { id: info.id, name: info.name, state: info.state, region: info.region, image: info.image, metadata: info.metadata, config }
    }

    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Deployed by Fly Launch (flyctl or ferry), not created by hand.
    pub fn is_platform(&self) -> bool {
        self.meta(meta::PLATFORM_VERSION) == Some("v2")
    }

    pub fn is_gone(&self) -> bool {
        matches!(self.state.as_str(), "destroyed" | "destroying")
    }

    /// Its process group: `fly_process_group`, else the legacy
    /// `process_group`, else the app's default group.
    pub fn group<'a>(&'a self, default: &'a str) -> &'a str {
        self.meta(meta::PROCESS_GROUP).or(self.meta(meta::LEGACY_PROCESS_GROUP)).unwrap_or(default)
    }

    /// Running (or about to be): updated with a health wait, in pools.
    /// Anything else is cold: updated without starting it.
    pub fn is_warm(&self) -> bool {
        matches!(self.state.as_str(), "started" | "starting" | "failed")
    }

    fn is_helper(&self) -> bool {
        matches!(self.meta(meta::PROCESS_GROUP), Some(meta::RELEASE_COMMAND_GROUP | meta::CONSOLE_GROUP))
            || self.meta(meta::LEGACY_PROCESS_GROUP) == Some("release_command")
    }
}

/// What the planner sees of the app.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub machines: Vec<Machine>,
    pub volumes: Vec<VolumeInfo>,
    pub ips: Vec<IpInfo>,
}

impl Observed {
    /// Machines a deploy updates: platform machines that are not gone and
    /// not release-command or console helpers, sorted by id (as flyctl).
    pub fn managed(&self) -> Vec<&Machine> {
        let mut managed: Vec<&Machine> = self.machines.iter().filter(|m| m.is_platform() && !m.is_gone() && !m.is_helper()).collect();
        managed.sort_by(|a, b| a.id.cmp(&b.id));
        managed
    }

    /// Live machines nobody deploys: created by hand or by another tool.
    pub fn unmanaged(&self) -> Vec<&Machine> {
        self.machines.iter().filter(|m| !m.is_platform() && !m.is_gone()).collect()
    }

    /// Volumes named `name` in `region` that no machine mounts.
    pub fn free_volumes(&self, name: &str, region: &str) -> usize {
        self.volumes.iter().filter(|v| v.name == name && v.region == region && v.attached_machine.is_none()).count()
    }
}
