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
    pretty(&Envelope { plan_hash: plan.hash(), has_changes: plan.has_changes(), counts: plan.counts(), plan })
}

pub(crate) fn inventory(app: &ferry_model::AppSpec) -> String {
    pretty(app)
}

fn pretty<T: Serialize>(value: &T) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("ferry's data always serialises");
    out.push('\n');
    out
}
