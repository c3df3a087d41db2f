//! `ferry plan`: run the workflow's steps and print the plan.

use std::process::ExitCode;

use ferry_render::Format;

use crate::args::{Global, PlanArgs, PlanFormat};
use crate::context::{Session, fail_on_config_errors, state_store};
use crate::exit;
use crate::next::Invocation;

pub fn run(global: &Global, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let plan = compute(global, &args.checkout, &args.phase)?;
    let apply = Invocation::current().other(&["apply"], &["--phase"], &["--plan-hash", &plan.hash()[..12]]);
    super::print(&ferry_render::plan_applied_by(&plan, format(args.format), &apply))?;
    fail_on_config_errors(plan.app.as_ref())?;
    keep(&plan, &*state_store(&args.state, &args.checkout.dir)?)?;
    Ok(exit::OK)
}

pub fn compute(global: &Global, checkout: &crate::args::Checkout, phase: &str) -> anyhow::Result<ferry_model::Plan> {
    let session = Session::open(global, checkout)?;
    session.plan(phase)
}

/// Keeps the plan by hash, so `apply --plan-hash` can say what changed since.
pub fn keep(plan: &ferry_model::Plan, store: &dyn ferry_state::StateStore) -> anyhow::Result<()> {
    ferry_engine::apply::save_plan(store, &ferry_engine::apply::app_key(plan), plan)?;
    Ok(())
}

pub fn format(format: PlanFormat) -> Format {
    match format {
        PlanFormat::Md => Format::Markdown,
        PlanFormat::Json => Format::Json,
        PlanFormat::Text => Format::Text,
    }
}
