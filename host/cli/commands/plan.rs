//! `ferry plan`: run the workflow's steps and print the plan.

use std::process::ExitCode;

use ferry_render::Format;

use crate::args::{Global, PlanArgs, PlanFormat};
use crate::context::{Session, fail_on_config_errors, run_id, state_store};
use crate::exit;

pub fn run(global: &Global, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open(global, &args.checkout)?;
    let plan = ferry_engine::plan(&session.runtime, &session.host, &session.steps, &args.phase, &run_id())?;
    super::print(&ferry_render::plan(&plan, format(args.format)))?;
    fail_on_config_errors(plan.app.as_ref())?;
    // Kept by hash, so `apply --plan-hash` can say what changed since.
    let store = state_store(&args.state, &args.checkout.dir)?;
    ferry_engine::apply::save_plan(&*store, &ferry_engine::apply::app_key(&plan), &plan)?;
    Ok(exit::OK)
}

pub fn format(format: PlanFormat) -> Format {
    match format {
        PlanFormat::Md => Format::Markdown,
        PlanFormat::Json => Format::Json,
        PlanFormat::Text => Format::Text,
    }
}
