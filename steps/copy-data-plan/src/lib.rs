//! Plans phase 4 of the "Migrate from Fly.io" runbook, the data copy, as
//! reviewable actions: what can move while the app still runs moves first
//! (a logical replication's initial sync, a volume's bulk rsync pass), then
//! the source is frozen (an action whose undo unfreezes it), then the rest
//! is copied and every copy verified — row counts and order-independent
//! checksums per table, a checksum pass over the files — before a cutover
//! may run. The frozen window is the final catch-up and the last rsync
//! pass, so with `logical` it no longer grows with the size of the data.
//!
//! The planner is pure: the `copy-data` component reads the databases and
//! volumes through the `data` import and feeds them to it as [`Observed`].

pub mod database;
pub mod options;
mod volume;

use ferry_step_sdk::host::data::{DatabaseInventory, VolumeInfo};
use ferry_step_sdk::params::finding;
use ferry_step_sdk::types::{Action, ControlOp, Finding, FlyMachineRefs, FlyOp, Operation, Risk, Severity, StepError, Undo};

pub use database::Choice;
pub use options::{Mode, Options};

/// A `[data.postgres]` database as both ends report it.
#[derive(Clone, Debug)]
pub struct Database {
    pub name: String,
    pub source: DatabaseInventory,
    pub target: DatabaseInventory,
}

/// A `[data.volumes]` volume as both ends report it.
#[derive(Clone, Debug)]
pub struct Volume {
    pub name: String,
    pub source: VolumeInfo,
    pub target: VolumeInfo,
}

#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub databases: Vec<Database>,
    pub volumes: Vec<Volume>,
    /// Cores of the machine ferry runs on.
    pub cores: u32,
    /// Started machines of `freeze-app`.
    pub freeze_machines: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Planned {
    pub actions: Vec<Action>,
    pub findings: Vec<Finding>,
}

/// The phase copy-data plans in.
pub const DATA: &str = "data";

/// A plan in three parts, applied in this order: while the app runs, the
/// freeze, while it is frozen.
#[derive(Debug, Default)]
struct Parts {
    live: Vec<Action>,
    freeze: Vec<Action>,
    frozen: Vec<Action>,
    findings: Vec<Finding>,
}

pub fn plan(phase: &str, options: &Options, observed: &Observed) -> Result<Planned, StepError> {
    if phase != DATA {
        let note = finding("other-phase", Severity::Info, format!("copy-data plans in the `{DATA}` phase; nothing to do in `{phase}`"));
        return Ok(Planned { actions: Vec::new(), findings: vec![note] });
    }
    let mut parts = Parts::default();
    for db in &observed.databases {
        database::plan(db, options, observed.cores, &mut parts)?;
    }
    for v in &observed.volumes {
        volume::plan(v, options.freeze_app.is_some(), &mut parts);
    }
    if parts.live.is_empty() && parts.frozen.is_empty() {
        parts.findings.push(finding("nothing-to-copy", Severity::Info, "no database or volume to copy: configure them in ferry.toml under [data]"));
        return Ok(Planned { actions: Vec::new(), findings: parts.findings });
    }
    freeze_app(options, observed, &mut parts);
    let mut actions = parts.live;
    if options.approve {
        actions.push(approval());
    }
    actions.extend(parts.freeze);
    actions.extend(parts.frozen);
    Ok(Planned { actions, findings: parts.findings })
}

/// The app's machines stopped for the copy; abort starts them again.
fn freeze_app(options: &Options, observed: &Observed, parts: &mut Parts) {
    let Some(app) = &options.freeze_app else { return };
    if observed.freeze_machines.is_empty() {
        parts.findings.push(finding("already-stopped", Severity::Info, format!("{app} runs no started machine: nothing to stop")));
        return;
    }
    let n = observed.freeze_machines.len();
    parts.freeze.insert(
        0,
        action(
            &format!("freeze:fly:{app}"),
            format!("Stop {n} machine{} of {app}: writes stop until abort or cutover", plural(n)),
            Risk::Disruptive,
            Operation::Fly(FlyOp::StopMachines(FlyMachineRefs { app: app.clone(), ids: observed.freeze_machines.clone(), launch_ids: Vec::new() })),
            Undo::RestorePrevious,
            Some("The source is frozen, not deleted: `ferry abort` (or a failed copy) starts these machines again.".into()),
        ),
    );
}

fn approval() -> Action {
    action(
        "approve:freeze",
        "Approval: freeze the source and copy the rest".into(),
        Risk::Safe,
        Operation::Control(ControlOp::Approval("The source stops taking writes from here until cutover or abort.".into())),
        Undo::None("an approval changes nothing".into()),
        None,
    )
}

pub(crate) fn action(id: &str, summary: String, risk: Risk, operation: Operation, undo: Undo, detail: Option<String>) -> Action {
    Action { id: id.into(), summary, risk, operation, undo, detail }
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `1.5 GiB`, `12 MiB`, `800 KiB`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 10.0 { format!("{value:.0} {}", UNITS[unit]) } else { format!("{value:.1} {}", UNITS[unit]) }
}
