//! `ferry apply`: re-plan, check against the reviewed hash, execute, journal.

use std::process::ExitCode;

use ferry_engine::apply::{self, ApplyOptions, Outcome};

use crate::args::{ApplyArgs, Global};
use crate::context::{LOCK_TTL_MS, Session, fail_on_config_errors, owner, run_id, state_store};
use crate::exit;

pub fn run(global: &Global, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let store = state_store(&args.state, &args.checkout.dir)?;
    let report = apply(global, args, &*store)?;
    let text = ferry_render::apply_result(&report.app, &report.run, &report.outcome, &report.phase, super::plan::format(args.format));
    super::print(&text)?;
    Ok(exit_code(&report.outcome))
}

/// Plans afresh and applies, resuming from the journal when a run of this
/// phase is unfinished.
pub fn apply(global: &Global, args: &ApplyArgs, store: &dyn ferry_state::StateStore) -> anyhow::Result<apply::ApplyReport> {
    let session = Session::open(global, &args.checkout)?;
    let plan = ferry_engine::plan(&session.runtime, &session.host, &session.steps, &args.phase, &run_id())?;
    fail_on_config_errors(plan.app.as_ref())?;
    let exec = crate::context::providers(&args.checkout)?;
    let opts = ApplyOptions {
        reviewed_hash: args.plan_hash.clone(),
        rollback: !args.no_rollback,
        approve: args.approve,
        run: args.run.clone(),
        key: None,
        owner: owner(),
        lock_ttl_ms: LOCK_TTL_MS,
    };
    let report = apply::apply(store, &exec, &plan, &opts)?;
    if let Some(old) = &report.took_over {
        tracing::warn!("took over the lock of {} ({}), whose run is gone", old.owner, old.purpose);
    }
    Ok(report)
}

pub fn exit_code(outcome: &Outcome) -> ExitCode {
    match outcome {
        Outcome::Applied | Outcome::AlreadyApplied | Outcome::WaitingApproval { .. } => exit::OK,
        Outcome::RolledBack { .. } | Outcome::Failed { .. } => exit::FAILURE,
    }
}
