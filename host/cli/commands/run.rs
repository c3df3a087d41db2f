//! `ferry abort`, `ferry status` and `ferry unlock`: working on a run's journal.

use std::process::ExitCode;

use ferry_engine::apply;
use ferry_model::printable;

use crate::args::{AbortArgs, Global, RunArgs, UnlockArgs};
use crate::context::{LOCK_TTL_MS, Session, owner, state_store};
use crate::exit;
use crate::next::{Invocation, PLAN_HASH};

/// The app a command is about: `--app`, else the one app holding
/// `--run`'s journal, else the checkout's fly.toml.
fn app(global: &Global, args: &RunArgs) -> anyhow::Result<String> {
    if let Some(app) = &args.app {
        return Ok(app.clone());
    }
    if let Some(run) = &args.run {
        let store = state_store(&args.state, &args.checkout.dir)?;
        if let [one] = apply::apps_with_run(&*store, run)?.as_slice() {
            return Ok(one.clone());
        }
    }
    let session = Session::inventory(global, &args.checkout)?;
    let plan = session.plan("inventory")?;
    Ok(ferry_engine::apply::app_key(&plan))
}

/// Shows what the abort would undo, then undoes it once that is confirmed:
/// by its hash, by `--yes`, or by a person at a terminal.
pub fn abort(global: &Global, abort: &AbortArgs) -> anyhow::Result<ExitCode> {
    let args = &abort.run;
    let app = app(global, args)?;
    let store = state_store(&args.state, &args.checkout.dir)?;
    let undo = apply::undo_plan(&*store, &app, args.run.as_deref())?;
    let hash = undo.hash();
    let format = super::plan::format(args.format);
    let next = Invocation::current().again(&[("--run", true), PLAN_HASH, ("--yes", false), ("-y", false)], &["--run", &undo.run, "--plan-hash", &hash[..12]]);
    // JSON stays one document: the journal when the abort is confirmed
    // already, else the preview.
    let confirmed_already = abort.plan_hash.is_some() || abort.yes;
    if !(format == ferry_render::Format::Json && confirmed_already && !undo.undos.is_empty()) {
        super::print(&ferry_render::undo_plan(&undo, &hash, format, &next))?;
    }
    if undo.undos.is_empty() {
        return Ok(exit::OK);
    }
    let question = format!("Undo these {} action(s) of run {} ({})?", undo.undos.len(), printable(&undo.run), undo.risk().as_str());
    let confirmed = confirmed_already || super::confirm(&question)?;
    if !confirmed {
        super::eprint(&format!("nothing undone: review the undos above, then run `{next}` (or add --yes)\n"));
        return Ok(exit::FAILURE);
    }
    let exec = crate::context::providers(&args.checkout)?;
    // `--yes` undoes what was shown: the hash pins it under the lock too.
    let reviewed = abort.plan_hash.clone().unwrap_or(hash);
    let journal = apply::abort(&*store, &exec, &app, Some(&undo.run), Some(&reviewed), &owner(), LOCK_TTL_MS)?;
    super::print(&ferry_render::journal(&journal, format))?;
    let failed = journal.phases.iter().flat_map(|p| &p.entries).any(|e| matches!(e.event, ferry_engine::journal::Event::UndoFailed { .. }));
    Ok(if failed { exit::FAILURE } else { exit::OK })
}

pub fn status(global: &Global, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let app = app(global, args)?;
    let store = state_store(&args.state, &args.checkout.dir)?;
    let run = match &args.run {
        Some(r) => r.clone(),
        None => apply::latest_run(&*store, &app)?.ok_or_else(|| anyhow::anyhow!("{app} has no runs in {}", store.describe()))?,
    };
    let journal = apply::load_journal(&*store, &app, &run)?.ok_or_else(|| anyhow::anyhow!("no run {run} for {app}"))?;
    let mut out = ferry_render::journal(&journal, super::plan::format(args.format));
    // The lock is an aside here: one that cannot be read must not hide the journal.
    match ferry_state::lock::current(&*store, &app) {
        Ok(Some(lock)) => tracing::info!("{app} is locked by {}", lock.describe()),
        Ok(None) => {}
        Err(e) => tracing::warn!("{e}"),
    }
    if out.is_empty() {
        out.push('\n');
    }
    super::print(&out)?;
    Ok(exit::OK)
}

/// Removes the app's lock whatever it holds, an unreadable file included:
/// this is the way out when a lock blocks every run.
pub fn unlock(args: &UnlockArgs) -> anyhow::Result<ExitCode> {
    use ferry_state::lock::Removed;
    let store = state_store(&args.state, &args.dir)?;
    let (app, place) = (&args.app, store.describe());
    match ferry_state::lock::force_unlock(&*store, app)? {
        Some(Removed::Lock(lock)) => super::eprint(&format!(
            "removed the lock on {} held by {}, taken at {} ms, from {place}\n",
            printable(app),
            printable(&lock.describe()),
            lock.acquired_at_ms
        )),
        Some(Removed::Unreadable { reason, bytes }) => super::eprint(&format!(
            "removed the lock file of {} from {place}: it could not be read ({}; {bytes} bytes)\n",
            printable(app),
            printable(&reason.to_string())
        )),
        None => super::eprint(&format!("{} was not locked in {place}\n", printable(app))),
    }
    Ok(exit::OK)
}
