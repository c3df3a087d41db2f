//! Reviewed plans, kept by hash (`plans/<app>/<hash>.json`) so an apply can
//! say exactly what changed since the review.

use ferry_model::{PLAN_FORMAT, Plan};
use ferry_state::{Format, StateStore, StoreError, read_format_json, write_json};

/// A kept plan of another format (a newer ferry's) is refused, not misread.
const FORMAT: Format = Format { kind: "kept plan", reads: PLAN_FORMAT };

fn key(app: &str, hash: &str) -> String {
    format!("plans/{app}/{hash}.json")
}

/// Keeps a plan (once per hash).
pub fn save_plan(store: &dyn StateStore, app: &str, plan: &Plan) -> Result<(), StoreError> {
    let key = key(app, &plan.hash());
    if store.read(&key)?.is_some() {
        return Ok(());
    }
    match write_json(store, &key, plan, None) {
        Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A kept plan by its hash or a unique prefix of it (as people quote 12 digits).
pub fn load_plan(store: &dyn StateStore, app: &str, hash: &str) -> Result<Option<Plan>, StoreError> {
    if hash.len() == 64 {
        return Ok(read_format_json::<Plan>(store, &key(app, hash), FORMAT)?.map(|(p, _)| p));
    }
    let prefix = format!("plans/{app}/{hash}");
    let matches: Vec<String> = store.list(&format!("plans/{app}/"))?.into_iter().filter(|k| k.starts_with(&prefix)).collect();
    match matches.as_slice() {
        [one] => Ok(read_format_json::<Plan>(store, one, FORMAT)?.map(|(p, _)| p)),
        _ => Ok(None),
    }
}

/// What differs between two plans, one line each, for a person.
pub fn plan_changes(old: &Plan, new: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if old.phase != new.phase {
        out.push(format!("phase: {} → {}", old.phase, new.phase));
    }
    let old_actions: Vec<_> = old.actions().collect();
    let new_actions: Vec<_> = new.actions().collect();
    for a in &new_actions {
        match old_actions.iter().find(|o| o.id == a.id) {
            None => out.push(format!("added: {} [{}]", a.summary, a.risk.as_str())),
            Some(o) if o != a => out.push(format!("changed: {} (was: {})", a.summary, o.summary)),
            Some(_) => {}
        }
    }
    for o in old_actions.iter().filter(|o| !new_actions.iter().any(|a| a.id == o.id)) {
        out.push(format!("removed: {}", o.summary));
    }
    if old.app != new.app {
        let fields = changed_fields(&old.app, &new.app);
        out.push(format!("inventory changed: {}", fields.join(", ")));
    }
    if old.workflow != new.workflow {
        out.push("ferry.toml's settings changed (a step, its component or limits, or [dns], [data], [targets])".into());
    }
    if old.host_findings != new.host_findings {
        out.push("what ferry says about the plan changed (credentials withheld or not)".into());
    }
    if out.is_empty() {
        out.push("step versions or findings changed".into());
    }
    out
}

/// Top-level app-spec fields whose values differ.
fn changed_fields(old: &Option<ferry_model::AppSpec>, new: &Option<ferry_model::AppSpec>) -> Vec<String> {
    let (a, b) = (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(new).unwrap_or_default());
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => a.keys().filter(|k| a.get(*k) != b.get(*k)).cloned().collect(),
        _ => vec!["app".into()],
    }
}
