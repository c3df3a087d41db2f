//! Adopting non-platform Machines: `fly deploy` manages only machines whose
//! metadata says `fly_platform_version=v2`, and on its next run gives every
//! one of them the app's single image and config. So adopting is safe only
//! for machines that already share one image and config; when they do not,
//! the plan says how they differ and lets the user choose which to adopt.

use std::collections::BTreeMap;

use ferry_step_sdk::host::fly::MachineInfo;
use ferry_step_sdk::params::finding;
use ferry_step_sdk::types::{Action, Finding, FlyMachineRefs, FlyMetadata, FlyOp, Operation, Problem, Risk, Severity, StepError, Undo};
use serde_json::Value;

/// The metadata key flyctl uses to tell platform machines from others, and
/// the process groups it never deploys to (release command and console).
pub use ferry_step_sdk::fly_wire::metadata::{NOT_DEPLOYED, PLATFORM_VERSION};

/// The adopt plan: one metadata action, and what the user should know.
#[derive(Debug)]
pub struct Adoption {
    pub actions: Vec<Action>,
    pub findings: Vec<Finding>,
    /// The machine whose config `fly.toml` should be generated from.
    pub model: Option<String>,
}

/// Plans adopting `app`'s non-platform machines, or only `selected` ones.
pub fn plan(app: &str, machines: &[MachineInfo], selected: Option<&[String]>) -> Result<Adoption, StepError> {
    let mut findings = Vec::new();
    let deployable: Vec<&MachineInfo> = machines.iter().filter(|m| !m.process_group.as_deref().is_some_and(|g| NOT_DEPLOYED.contains(&g))).collect();
    let managed: Vec<&str> = deployable.iter().filter(|m| is_platform(m)).map(|m| m.id.as_str()).collect();
    if !managed.is_empty() {
        findings.push(finding("already-v2", Severity::Info, format!("{} already managed by fly deploy: {}", plural(managed.len()), managed.join(", "))));
    }
    let candidates = match selected {
        None => deployable.iter().copied().filter(|m| !is_platform(m)).collect::<Vec<_>>(),
        Some(ids) => pick(&deployable, ids)?,
    };
    if candidates.is_empty() {
        findings.push(finding("nothing-to-adopt", Severity::Info, format!("{app} has no machine outside Apps V2: nothing to adopt")));
        return Ok(Adoption { actions: Vec::new(), findings, model: None });
    }
    let groups = by_config(&candidates);
    if groups.len() > 1 {
        return Err(differing(app, &groups));
    }
    let ids: Vec<String> = candidates.iter().map(|m| m.id.clone()).collect();
    if !managed.is_empty() {
        findings.push(finding(
            "joins-platform",
            Severity::Warning,
            "the adopted machines join machines fly deploy manages already: the next deploy gives them all the same image and config",
        ));
    }
    let action = Action {
        id: format!("adopt:{app}"),
        summary: format!("Mark {} of {app} as Apps V2 ({PLATFORM_VERSION}=v2): {}", plural(ids.len()), ids.join(", ")),
        risk: Risk::Safe,
        operation: Operation::Fly(FlyOp::SetMetadata(FlyMetadata {
            machines: FlyMachineRefs { app: app.into(), ids: ids.clone(), launch_ids: Vec::new() },
            key: PLATFORM_VERSION.into(),
            value: Some("v2".into()),
        })),
        undo: Undo::RestorePrevious,
        detail: Some("Only metadata changes: the machines keep running. From the next deploy on, fly.toml's image and config apply to them.".into()),
    };
    Ok(Adoption { actions: vec![action], findings, model: ids.first().cloned() })
}

fn is_platform(m: &MachineInfo) -> bool {
    m.metadata.iter().any(|(k, v)| k == PLATFORM_VERSION && v == "v2")
}

fn pick<'a>(deployable: &[&'a MachineInfo], ids: &[String]) -> Result<Vec<&'a MachineInfo>, StepError> {
    ids.iter()
        .map(|id| {
            deployable.iter().copied().find(|m| &m.id == id).ok_or_else(|| {
                let known: Vec<&str> = deployable.iter().map(|m| m.id.as_str()).collect();
                invalid(format!("machine {id} is not a deployable machine of this app (machines: {})", known.join(", ")))
            })
        })
        .collect()
}

/// Machines sharing one config, and that config.
struct Group<'a> {
    config: Value,
    machines: Vec<&'a MachineInfo>,
}

/// Machines by what `fly deploy` would make the same (keyed by the
/// canonical JSON of [`normalized`]).
fn by_config<'a>(machines: &[&'a MachineInfo]) -> BTreeMap<String, Group<'a>> {
    let mut groups: BTreeMap<String, Group<'a>> = BTreeMap::new();
    for m in machines {
        let config = normalized(m);
        groups.entry(canonical(&config)).or_insert_with(|| Group { config, machines: Vec::new() }).machines.push(m);
    }
    groups
}

/// The image and the config without what is each machine's own
/// (metadata, volume ids and names).
fn normalized(m: &MachineInfo) -> Value {
    let mut config: Value = serde_json::from_str(&m.config).unwrap_or(Value::Null);
    if let Some(obj) = config.as_object_mut() {
        obj.remove("metadata");
        obj.insert("image".into(), Value::String(m.image.clone()));
        if let Some(Value::Array(mounts)) = obj.get_mut("mounts") {
            for mount in mounts.iter_mut().filter_map(Value::as_object_mut) {
                mount.remove("volume");
                mount.remove("name");
            }
        }
    }
    config
}

/// JSON with every object's keys sorted, so equal configs compare equal.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&map[*k]))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// The refusal when candidates differ: each group, and the top-level config
/// keys in which the groups differ, so the user can choose.
fn differing(app: &str, groups: &BTreeMap<String, Group<'_>>) -> StepError {
    let described: Vec<String> = groups
        .values()
        .map(|g| format!("[{}] image {}", g.machines.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", "), g.machines[0].image))
        .collect();
    let keys = differing_keys(groups.values().map(|g| &g.config));
    StepError::PreconditionFailed(Problem {
        message: format!(
            "{app}'s machines run {} different configurations: {} (they differ in: {}). fly deploy would give them all one image and config; \
             choose the machines to adopt with the `machines` parameter (comma-separated ids), or start a new Apps V2 app",
            groups.len(),
            described.join("; "),
            keys.join(", ")
        ),
        location: None,
    })
}

fn differing_keys<'a>(configs: impl Iterator<Item = &'a Value>) -> Vec<String> {
    let configs: Vec<&serde_json::Map<String, Value>> = configs.filter_map(Value::as_object).collect();
    let mut keys: Vec<String> = configs.iter().flat_map(|c| c.keys().cloned()).collect();
    keys.sort();
    keys.dedup();
    keys.retain(|k| configs.iter().any(|c| c.get(k) != configs[0].get(k)));
    keys
}

fn plural(n: usize) -> String {
    if n == 1 { "1 machine".into() } else { format!("{n} machines") }
}

fn invalid(message: String) -> StepError {
    ferry_step_sdk::params::invalid(message)
}
