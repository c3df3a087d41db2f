//! What must change, per process group, before any strategy orders it:
//! machines to update (their config differs from what fly.toml now says),
//! machines to replace (their volume or dedicated host must change),
//! groups to create (in fly.toml, no machines yet), machines to destroy
//! (their group left fly.toml). flyctl's `resolveProcessGroupChanges`,
//! plus a no-op rule flyctl only has with `--deploy-retries`: a machine
//! whose config, as the API reports it, already is the one ferry would
//! send is left alone ([`crate::compare`]).

use ferry_step_sdk::types::{AppSpec, Finding, ProcessGroup, Severity, StepError};
use serde_json::Value;

use crate::compare;
use crate::config::Release;
use crate::observed::{Machine, Observed};
use crate::options::Options;
use crate::{finding, invalid};

/// An existing machine and the config it gets.
#[derive(Clone, Debug)]
pub struct Update<'a> {
    pub machine: &'a Machine,
    pub group: String,
    pub config: Value,
}

/// An existing machine that is destroyed and created again with `config`,
/// and why.
#[derive(Clone, Debug)]
pub struct Replacement<'a> {
    pub machine: &'a Machine,
    pub group: String,
    pub config: Value,
    pub why: String,
}

/// A process group that has no machines yet.
#[derive(Clone, Debug)]
pub struct NewGroup {
    pub group: String,
    pub count: usize,
    pub region: String,
    pub config: Value,
    /// The volume each of its machines mounts: (name, size in GB).
    pub volume: Option<(String, u32)>,
}

#[derive(Clone, Debug, Default)]
pub struct Changes<'a> {
    pub updates: Vec<Update<'a>>,
    pub replacements: Vec<Replacement<'a>>,
    /// Every machine the deploy manages (the release command's size is
    /// inferred from them).
    pub managed: Vec<&'a Machine>,
    pub new_groups: Vec<NewGroup>,
    /// Machines of groups fly.toml no longer has.
    pub removed: Vec<&'a Machine>,
    /// No managed machine exists: `fly deploy`'s first deploy.
    pub first_deploy: bool,
    /// A first deploy of an app with services and no addresses yet.
    pub needs_ips: bool,
    pub findings: Vec<Finding>,
}

impl<'a> Changes<'a> {
    pub fn compute(app: &AppSpec, observed: &'a Observed, options: &Options, release: &Release) -> Result<Self, StepError> {
        let default_group = app.groups.first().map(|g| g.name.as_str()).unwrap_or("app");
        let managed = observed.managed();
        let first_deploy = managed.is_empty();
        let needs_ips = first_deploy && observed.ips.is_empty() && !app.services.is_empty();
        let mut changes = Changes { first_deploy, needs_ips, managed: managed.clone(), ..Default::default() };
        let unmanaged = observed.unmanaged();
        if !unmanaged.is_empty() {
            let ids: Vec<&str> = unmanaged.iter().map(|m| m.id.as_str()).collect();
            changes.findings.push(finding(
                "unmanaged-machines",
                Severity::Warning,
                format!(
                    "{} machine(s) lack `fly_platform_version=v2` metadata and are left alone: {} (flyctl ignores them too; \
                     adopt them with `fly machine update --metadata fly_platform_version=v2 <id>` if they belong to the app)",
                    ids.len(),
                    ids.join(", ")
                ),
            ));
        }
        for group in app.groups.iter().filter(|g| options.includes(&g.name)) {
            let machines: Vec<&Machine> = managed.iter().copied().filter(|m| m.group(default_group) == group.name).collect();
            if machines.is_empty() {
                changes.new_groups.push(new_group(app, group, options, release)?);
                continue;
            }
            for machine in machines {
                let updated = crate::overrides::update_config(app, group, options, release, machine)?;
                match updated.replace {
                    Some(why) => changes.replacements.push(Replacement { machine, group: group.name.clone(), config: updated.config, why }),
                    None if compare::up_to_date(&updated.config, &machine.config) => {}
                    None => changes.updates.push(Update { machine, group: group.name.clone(), config: updated.config }),
                }
            }
        }
        let known = |name: &str| app.groups.iter().any(|g| g.name == name);
        changes.removed = managed.iter().copied().filter(|m| !known(m.group(default_group)) && options.includes(m.group(default_group))).collect();
        Ok(changes)
    }

    pub fn is_empty(&self) -> bool {
        self.updates.is_empty() && self.replacements.is_empty() && self.new_groups.is_empty() && self.removed.is_empty()
    }
}

/// flyctl's HA rule: a group with services gets two machines (so one can
/// restart while the other serves), a group with a volume gets one (each
/// machine needs its own volume, and they are not replicated).
fn new_group(app: &AppSpec, group: &ProcessGroup, options: &Options, release: &Release) -> Result<NewGroup, StepError> {
    let region = app
        .primary_region
        .clone()
        .ok_or_else(|| invalid(app, &format!("group `{}` needs machines, but fly.toml sets no primary_region to create them in", group.name)))?;
    let count = if group.mount.is_none() && !group.services.is_empty() && options.ha { 2 } else { 1 };
    let volume = group.mount.as_ref().map(|m| (m.source.clone(), size_gb(m.initial_size.as_deref())));
    Ok(NewGroup { group: group.name.clone(), count, region, config: crate::overrides::launch_config(app, group, options, release)?, volume })
}

/// `initial_size` ("10gb", "500mb", "3") in whole GB, rounded up; a bare
/// number is GB, as flyctl reads it; 1 GB by default.
pub fn size_gb(text: Option<&str>) -> u32 {
    let Some(text) = text.map(str::trim) else { return 1 };
    let with_unit = if text.chars().all(|c| c.is_ascii_digit()) { format!("{text}gb") } else { text.to_string() };
    let mb = ferry_step_sdk::units::size_mb(&with_unit).unwrap_or(1024);
    u32::try_from(mb.div_ceil(1024)).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn volume_sizes_in_gb() {
        assert_eq!(super::size_gb(None), 1);
        assert_eq!(super::size_gb(Some("10gb")), 10);
        assert_eq!(super::size_gb(Some("500mb")), 1);
        assert_eq!(super::size_gb(Some("3")), 3);
    }
}
