//! A workflow's plan: every step's actions, in order, with one hash that
//! identifies exactly what a reviewer approved.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Action, AppSpec, Finding, Risk};

/// The version of the plan's JSON shape; bumped on incompatible changes.
/// 2: the workflow's settings digest and the host's own findings.
/// 3: operations grouped by provider. 4: the operations' records are the
/// WIT's generated types, with serde's spelling (`ops::contract`).
/// 5: a VM build's record (`vm-build`). 6: its `ignorefile`.
pub const PLAN_FORMAT: u32 = 6;

/// The concatenated plans of a workflow's steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: u32,
    pub phase: String,
    /// The app as the last step left it.
    pub app: Option<AppSpec>,
    pub steps: Vec<StepSection>,
    /// The sha256 of the workflow's effective settings (endpoints, the
    /// variables credentials come from, commands run on hosts, each step's
    /// component, grants and limits): a plan made under other settings is
    /// another plan, even when its actions read the same.
    #[serde(default)]
    pub workflow: String,
    /// What the host itself has to say about this plan (credentials it
    /// withheld, and why).
    #[serde(default)]
    pub host_findings: Vec<Finding>,
}

/// What one step contributed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepSection {
    pub step: String,
    pub version: String,
    pub actions: Vec<Action>,
    pub findings: Vec<Finding>,
}

/// How many actions carry each risk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskCounts {
    pub safe: usize,
    pub disruptive: usize,
    pub destructive: usize,
    pub irreversible: usize,
}

impl RiskCounts {
    pub fn get(&self, risk: Risk) -> usize {
        match risk {
            Risk::Safe => self.safe,
            Risk::Disruptive => self.disruptive,
            Risk::Destructive => self.destructive,
            Risk::Irreversible => self.irreversible,
        }
    }

    pub fn total(&self) -> usize {
        self.safe + self.disruptive + self.destructive + self.irreversible
    }
}

impl Plan {
    pub fn new(phase: impl Into<String>) -> Self {
        Plan { format: PLAN_FORMAT, phase: phase.into(), app: None, steps: Vec::new(), workflow: String::new(), host_findings: Vec::new() }
    }

    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.steps.iter().flat_map(|s| &s.actions)
    }

    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.host_findings.iter().chain(self.app.iter().flat_map(|a| &a.warnings)).chain(self.steps.iter().flat_map(|s| &s.findings))
    }

    pub fn has_changes(&self) -> bool {
        self.actions().next().is_some()
    }

    pub fn counts(&self) -> RiskCounts {
        let mut c = RiskCounts::default();
        for a in self.actions() {
            *match a.risk {
                Risk::Safe => &mut c.safe,
                Risk::Disruptive => &mut c.disruptive,
                Risk::Destructive => &mut c.destructive,
                Risk::Irreversible => &mut c.irreversible,
            } += 1;
        }
        c
    }

    /// Canonical JSON: object keys sorted, no insignificant whitespace, so
    /// the same plan always has the same bytes (and the same hash).
    pub fn canonical_json(&self) -> String {
        let value = serde_json::to_value(self).expect("a plan always serialises");
        canonical(&value)
    }

    /// The sha256, in hex, of what the plan will do: what `apply
    /// --plan-hash` checks. It covers the phase, the workflow's settings
    /// and each step's actions (id, risk, operation, undo), in order. It
    /// leaves out what is only observed or said about them (the app's live
    /// state, findings, summaries and details that quote a size or a
    /// machine's state), so an auto-stopped machine or a database that grew
    /// between review and apply does not turn a reviewed apply away, while
    /// any change to what runs does.
    pub fn hash(&self) -> String {
        let reviewed = serde_json::json!({
            "format": self.format,
            "phase": self.phase,
            "workflow": self.workflow,
            "steps": self.steps.iter().map(|s| serde_json::json!({
                "step": s.step,
                "version": s.version,
                "actions": s.actions.iter().map(|a| serde_json::json!({
                    "id": a.id, "risk": a.risk, "operation": a.operation, "undo": a.undo,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        hex::encode(Sha256::digest(canonical(&reviewed).as_bytes()))
    }
}

fn canonical(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let body: Vec<String> = keys.into_iter().map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k]))).collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ControlOp, Operation, Undo};

    fn action(id: &str, risk: Risk) -> Action {
        Action {
            id: id.into(),
            summary: format!("do {id}"),
            risk,
            operation: Operation::Control(ControlOp::WaitMs(1)),
            undo: Undo::None("nothing to undo".into()),
            detail: None,
        }
    }

    fn plan(actions: Vec<Action>) -> Plan {
        let mut p = Plan::new("deploy");
        p.steps.push(StepSection { step: "s".into(), version: "0.1.0".into(), actions, findings: vec![] });
        p
    }

    #[test]
    fn counts_by_risk() {
        let p = plan(vec![action("a", Risk::Safe), action("b", Risk::Safe), action("c", Risk::Destructive)]);
        let c = p.counts();
        assert_eq!((c.safe, c.disruptive, c.destructive, c.irreversible), (2, 0, 1, 0));
        assert_eq!(c.total(), 3);
    }

    #[test]
    fn canonical_json_sorts_keys_and_has_no_spaces() {
        let json = plan(vec![action("a", Risk::Safe)]).canonical_json();
        let head = format!(r#"{{"app":null,"format":{PLAN_FORMAT},"host_findings":[],"phase":"deploy","steps":[{{"actions":[{{"detail":null,"id":"a""#);
        assert!(json.starts_with(&head), "{json}");
        assert!(!json.contains(": "));
    }

    #[test]
    fn hash_changes_with_any_action_field() {
        let base = plan(vec![action("a", Risk::Safe)]);
        let mut riskier = base.clone();
        riskier.steps[0].actions[0].risk = Risk::Disruptive;
        assert_eq!(base.hash(), plan(vec![action("a", Risk::Safe)]).hash());
        assert_ne!(base.hash(), riskier.hash());
        assert_eq!(base.hash().len(), 64);
        for change in [|p: &mut Plan| p.phase = "data".into(), |p: &mut Plan| p.workflow = "f00d".into(), |p: &mut Plan| p.steps[0].actions[0].id = "b".into()]
        {
            let mut changed = base.clone();
            change(&mut changed);
            assert_ne!(base.hash(), changed.hash());
        }
    }

    #[test]
    fn hash_covers_what_runs_not_what_was_observed() {
        let base = plan(vec![action("a", Risk::Safe)]);
        let mut observed = base.clone();
        observed.steps[0].actions[0].summary = "copy public.big (1.2 GiB, was 1.1 GiB)".into();
        observed.steps[0].actions[0].detail = Some("machine 1 is stopped".into());
        observed.steps[0].findings.push(Finding { code: "size".into(), severity: crate::Severity::Info, message: "grew".into(), location: None });
        observed.host_findings.push(Finding { code: "note".into(), severity: crate::Severity::Info, message: "seen".into(), location: None });
        assert_eq!(base.hash(), observed.hash());
        let mut undone_otherwise = base.clone();
        undone_otherwise.steps[0].actions[0].undo = Undo::None("something else".into());
        assert_ne!(base.hash(), undone_otherwise.hash());
    }
}
