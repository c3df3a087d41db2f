//! `ferry apply`: re-plan, check against the reviewed hash, execute, journal.

use std::process::ExitCode;

use ferry_engine::apply::{self, ApplyOptions, Outcome};

use crate::args::{ApplyArgs, Global};
use crate::context::{LOCK_TTL_MS, Session, fail_on_config_errors, owner, state_store};
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
    let plan = session.plan(&args.phase)?;
    super::confirm_destructive(&plan, args.plan_hash.is_some(), args.yes)?;
    apply_planned(&args.checkout, &plan, &options(args), store)
}

/// What `ferry apply`'s flags ask of the engine.
pub fn options(args: &ApplyArgs) -> ApplyOptions {
    ApplyOptions {
        reviewed_hash: args.plan_hash.clone(),
        rollback: !args.no_rollback,
        approve: args.approve,
        run: args.run.clone(),
        key: None,
        owner: owner(),
        lock_ttl_ms: LOCK_TTL_MS,
        resume_unreviewed: !crate::context::in_github_actions(),
    }
}

/// Applies `plan` (just made from `checkout`) under `opts`.
pub fn apply_planned(
    checkout: &crate::args::Checkout,
    plan: &ferry_model::Plan,
    opts: &ApplyOptions,
    store: &dyn ferry_state::StateStore,
) -> anyhow::Result<apply::ApplyReport> {
    fail_on_config_errors(plan.app.as_ref())?;
    let exec = crate::context::providers(checkout)?;
    let report = apply::apply(store, &exec, plan, opts)?;
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
