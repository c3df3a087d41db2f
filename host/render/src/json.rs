//! `--format json`: the plan with its hash and counts on top, for scripts
//! (`ferry plan --format json | jq .plan.app.services`), and each action as
//! the host describes it (`jq '.actions[] | .does'`).

use ferry_engine::policy::OperationClass;
use ferry_model::{Action, Plan, RiskCounts};
use serde::Serialize;

#[derive(Serialize)]
struct Envelope<'a> {
    plan_hash: String,
    has_changes: bool,
    counts: RiskCounts,
    /// Every action in plan order, in the host's words.
    actions: Vec<Described<'a>>,
    plan: &'a Plan,
}

/// One action as the host sees it: what it does and how it is undone (the
/// host's words), beside what its step said.
#[derive(Serialize)]
struct Described<'a> {
    step: &'a str,
    id: &'a str,
    /// The effective risk: the step's, raised to the host's floor.
    risk: &'static str,
    /// The operation class a step needs in its grant (`fly`, `vm`, …).
    class: &'static str,
    operation: &'static str,
    does: String,
    undo: String,
    /// The risk an abort takes running that undo.
    undo_risk: &'static str,
    /// The step's own summary, as it wrote it.
    step_says: &'a str,
}

impl<'a> Described<'a> {
    fn new(step: &'a str, action: &'a Action) -> Self {
        Described {
            step,
            id: &action.id,
            risk: action.risk.as_str(),
            class: OperationClass::of(&action.operation).name(),
            operation: ferry_engine::policy::name(&action.operation),
            does: crate::action_text(action),
            undo: crate::undo_text(action),
            undo_risk: crate::undo_risk(action).as_str(),
            step_says: &action.summary,
        }
    }
}

pub(crate) fn plan(plan: &Plan) -> String {
    let actions = plan.steps.iter().flat_map(|s| s.actions.iter().map(|a| Described::new(&s.step, a))).collect();
    pretty(&Envelope { plan_hash: plan.hash(), has_changes: plan.has_changes(), counts: plan.counts(), actions, plan })
}

pub(crate) fn inventory(app: &ferry_model::AppSpec) -> String {
    pretty(app)
}

fn pretty<T: Serialize>(value: &T) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("ferry's data always serialises");
    out.push('\n');
    out
}

/// `ferry abort`'s preview as one JSON document.
pub(crate) fn undo_plan(undo: &ferry_engine::undo_plan::UndoPlan, hash: &str) -> String {
    let value = serde_json::json!({ "abort": undo, "hash": hash, "risk": undo.risk() });
    format!("{}\n", serde_json::to_string_pretty(&value).expect("an undo plan always serialises"))
}
