//! `ferry plan`: run the workflow's steps and print the plan.

use std::process::ExitCode;

use ferry_render::Format;

use crate::args::{Global, PlanArgs, PlanFormat};
use crate::context::{Session, run_id};
use crate::exit;

pub fn run(global: &Global, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open(global, &args.checkout)?;
    let plan = ferry_engine::plan(&session.runtime, &session.host, &session.steps, &args.phase, &run_id())?;
    let format = match args.format {
        PlanFormat::Md => Format::Markdown,
        PlanFormat::Json => Format::Json,
        PlanFormat::Text => Format::Text,
    };
    super::print(&ferry_render::plan(&plan, format))?;
    Ok(exit::OK)
}
