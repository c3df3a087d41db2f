//! `--regions`, `--exclude-regions`, `--only-machines` and
//! `--exclude-machines`: which *existing* machines a deploy touches.
//!
//! flyctl drops filtered machines from the deployment's machine set before
//! anything else (`flyctl:internal/command/deploy/machines.go:380-418,
//! 446-477`), so they keep their config and image, and says
//! "--regions filter applied, deploying to N/M machines". Placement is not
//! affected: new machines still go to `primary_region`.
//!
//! One deliberate difference: flyctl computes which groups "need machines"
//! from the *filtered* set (`resolveProcessGroupChanges`,
//! `machines_deploymachinesapp.go:1193-1219`), so `--regions ord` on an
//! app whose `web` machines all run in `ams` creates new `web` machines in
//! the primary region. ferry decides that from every machine of the app,
//! and leaves a group whose machines the filter skips alone, saying so.

use ferry_step_sdk::params::Params;
use ferry_step_sdk::types::Severity;

use crate::changes::Changes;
use crate::finding;
use crate::observed::Machine;

/// The machine filters. Empty lists filter nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub regions: Vec<String>,
    pub exclude_regions: Vec<String>,
    pub only_machines: Vec<String>,
    pub exclude_machines: Vec<String>,
}

impl Placement {
    pub fn from_params(p: &Params<'_>) -> Self {
        let list = |name: &str| p.list(name).unwrap_or_default();
        Placement {
            regions: list("regions"),
            exclude_regions: list("exclude-regions"),
            only_machines: list("only-machines"),
            exclude_machines: list("exclude-machines"),
        }
    }

    /// Whether this deploy may change `machine` (flyctl's
    /// `machineFilteredFromDeployment`, negated).
    pub fn admits(&self, machine: &Machine) -> bool {
        let allows = |only: &[String], value: &str| only.is_empty() || only.iter().any(|v| v == value);
        allows(&self.regions, &machine.region)
            && !self.exclude_regions.contains(&machine.region)
            && allows(&self.only_machines, &machine.id)
            && !self.exclude_machines.contains(&machine.id)
    }

    /// The flags in use, as flyctl names them in its message.
    fn applied(&self) -> Vec<&'static str> {
        let flags = [
            ("--regions", &self.regions),
            ("--exclude-regions", &self.exclude_regions),
            ("--only-machines", &self.only_machines),
            ("--exclude-machines", &self.exclude_machines),
        ];
        flags.into_iter().filter(|(_, values)| !values.is_empty()).map(|(flag, _)| flag).collect()
    }

    /// Leaves out of `changes` the machines the filters skip, with
    /// flyctl's "filter applied, deploying to N/M machines" and a note for
    /// each group the filters leave without any machine to deploy.
    /// `managed` is every machine the deploy manages; `default_group` the
    /// group of machines without group metadata.
    pub fn apply(&self, changes: &mut Changes<'_>, managed: &[&Machine], default_group: &str) {
        let applied = self.applied();
        if applied.is_empty() {
            return;
        }
        changes.updates.retain(|u| self.admits(u.machine));
        changes.removed.retain(|m| self.admits(m));
        let admitted = managed.iter().filter(|m| self.admits(m)).count();
        changes.findings.push(finding(
            "machine-filter",
            Severity::Info,
            format!("{} filter{} applied, deploying to {admitted}/{} machines", applied.join("/"), if applied.len() > 1 { "s" } else { "" }, managed.len()),
        ));
        let mut groups: Vec<&str> = managed.iter().map(|m| m.group(default_group)).collect();
        groups.dedup();
        groups.sort_unstable();
        groups.dedup();
        for group in groups {
            if !managed.iter().any(|m| m.group(default_group) == group && self.admits(m)) {
                changes.findings.push(finding(
                    "machine-filter-group",
                    Severity::Info,
                    format!(
                        "process group `{group}` has no machine the filters let through: it is left as it is \
                         (flyctl would create new machines for it in primary_region)"
                    ),
                ));
            }
        }
    }
}
