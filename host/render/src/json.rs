//! `--format json`: the plan with its hash and counts on top, for scripts
//! (`ferry plan --format json | jq .plan.app.services`).

use ferry_model::{Plan, RiskCounts};
use serde::Serialize;

#[derive(Serialize)]
struct Envelope<'a> {
    plan_hash: String,
    has_changes: bool,
    counts: RiskCounts,
    plan: &'a Plan,
}

pub(crate) fn plan(plan: &Plan) -> String {
    let envelope = Envelope { plan_hash: plan.hash(), has_changes: plan.has_changes(), counts: plan.counts(), plan };
    let mut out = serde_json::to_string_pretty(&envelope).expect("a plan always serialises");
    out.push('\n');
    out
}
