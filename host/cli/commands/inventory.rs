//! `ferry inventory`: what the app is made of, from its files (and Fly).

use std::process::ExitCode;

use crate::args::{Global, InventoryArgs};
use crate::context::{Session, fail_on_config_errors};
use crate::exit;

pub fn run(global: &Global, args: &InventoryArgs) -> anyhow::Result<ExitCode> {
    let session = Session::inventory(global, &args.checkout)?;
    let plan = session.plan("inventory")?;
    let app = plan.app.ok_or_else(|| anyhow::anyhow!("parse-config returned no inventory"))?;
    super::print(&ferry_render::inventory(&app, super::plan::format(args.format)))?;
    fail_on_config_errors(Some(&app))?;
    Ok(exit::OK)
}
