//! Apply: execute exactly the reviewed plan, journaling every action, and
//! undo a failed phase; resume after a crash; abort a whole run.
//!
//! The journal is written to the state store *before* an action runs
//! (`Started`, with what its undo needs) and *after* (`Done` or `Failed`).
//! A run killed between the two leaves the action "in doubt"; the next
//! apply asks the executor whether its effect is in place and only runs it
//! again if not, so no action's effect happens twice.

pub mod checkout;
mod control;
mod error;
pub(crate) mod executor;
pub mod hooks;
mod journal_doc;
mod plans;
pub(crate) mod progress;
pub(crate) mod renewer;

use std::time::Instant;

pub use crate::journal::Outcome;
use crate::journal::{ActionState, Event, Journal, PhaseRecord, PhaseStatus, UndoData};
use ferry_model::{Action, ControlOp, Operation, Plan, Undo, printable};
use ferry_state::lock::{self, Lock, LockError, LockRecord};
use ferry_state::{StateStore, StoreError};

pub use crate::data::ops::DataOps;
pub use crate::dns::ops::DnsOps;
pub use crate::fly::ops::{FlyOps, SECRET_VAR_PREFIX, secret_var};
pub use crate::undo_plan::{PlannedUndo, UndoPlan};
pub use crate::vm::ops::VmOps;
pub use executor::{ExecError, Executor, Ops, Outputs, Providers};
use hooks::Point;
pub use journal_doc::{apps_with_run, latest_run, load_journal};
pub use plans::{load_plan, plan_changes, save_plan};
use renewer::Fence;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Who is applying: shown to anyone who finds the lock held.
#[derive(Clone, Debug)]
pub struct Owner {
    pub id: String,
    pub url: Option<String>,
    /// This machine and process, for runs outside CI.
    pub host: Option<String>,
    pub pid: Option<u32>,
}

impl Owner {
    pub(crate) fn holder<'a>(&'a self, purpose: &'a str) -> lock::Holder<'a> {
        lock::Holder { owner: &self.id, purpose, url: self.url.as_deref(), host: self.host.as_deref(), pid: self.pid }
    }

    /// A lock is stale when its process is gone from this machine.
    fn is_stale(&self, held: &LockRecord) -> bool {
        self.host.as_deref().is_some_and(|h| held.holder_gone(h))
    }
}

fn take_lock(store: &dyn StateStore, app: &str, owner: &Owner, purpose: &str, ttl_ms: u64) -> Result<Lock, LockError> {
    lock::acquire(store, app, &owner.holder(purpose), ttl_ms, now_ms(), &|held| owner.is_stale(held))
}

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// The hash of the plan a person reviewed; a different fresh plan is refused.
    pub reviewed_hash: Option<String>,
    /// Undo the phase's completed actions when one fails.
    pub rollback: bool,
    /// Pass approval gates (`--approve`).
    pub approve: bool,
    /// The run to apply into (a migration id); default: `<phase>-<hash>`.
    pub run: Option<String>,
    /// The app the run is kept under; default: the plan's app ([`app_key`]).
    /// A migration keeps every phase under its source app, though prepare
    /// renames the app in fly.toml.
    pub key: Option<String>,
    pub owner: Owner,
    pub lock_ttl_ms: u64,
    /// Resume an unfinished run whose plan nobody named here (`ferry apply`
    /// on a person's own machine). Off in CI: the state branch is writable
    /// by more people than review covers, so only a journal whose plan hash
    /// is the reviewed one is resumed there.
    pub resume_unreviewed: bool,
}

/// The shortest plan hash ferry accepts: 12 hex digits (what every plan
/// shows) are 48 bits, unambiguous among any app's plans. An empty or short
/// `--plan-hash` (a script's unset variable) is an error, never "any plan".
pub const MIN_HASH_DIGITS: usize = 12;

/// A reviewed plan hash as given (`--plan-hash`, `/ferry apply H`, an
/// input): 12 to 64 hex digits, in lower case.
pub fn reviewed_hash(text: &str) -> Result<String, ApplyError> {
    let hash = text.trim().to_ascii_lowercase();
    if hash.len() < MIN_HASH_DIGITS || hash.len() > 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApplyError::BadHash(text.to_string()));
    }
    Ok(hash)
}

#[derive(Clone, Debug)]
pub struct ApplyReport {
    pub outcome: Outcome,
    pub app: String,
    pub run: String,
    pub phase: PhaseRecord,
    /// The expired lock of a vanished run this apply took over, if any.
    pub took_over: Option<LockRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// One change a line: each part from outside (a hash as given, an
    /// action's summary) is escaped where it is put in, so the line breaks
    /// are only these (the CLI prints this error over several lines).
    #[error(
        "the plan changed since it was reviewed (reviewed {}, now {}):\n{}\nrun `ferry plan` again and review the new plan",
        printable(short(reviewed)), short(fresh), changes.iter().map(|c| format!("  - {}", printable(c))).collect::<Vec<_>>().join("\n")
    )]
    PlanChanged { reviewed: String, fresh: String, changes: Vec<String> },
    #[error(
        "run {run} has an unfinished `{phase}` phase of plan {}, not of the plan given ({}): read it with \
         `ferry status --run {run}` and undo it with `ferry abort --run {run}`, or, once that plan is the one reviewed, \
         resume it by giving its hash",
        short(hash),
        short(given)
    )]
    Unfinished { run: String, phase: String, hash: String, given: String },
    #[error(
        "run {run} has an unfinished `{phase}` phase (plan {}), and nothing here names that plan as reviewed: ferry resumes \
         a run only with its reviewed hash (`--plan-hash {}`, or `/ferry apply` on its pull request); read it with \
         `ferry status --run {run}`, or undo it with `ferry abort --run {run}`",
        short(hash),
        short(hash)
    )]
    UnreviewedResume { run: String, phase: String, hash: String },
    #[error(
        "the journal of run {run} was changed after ferry wrote it: its `{phase}` phase records plan {} but holds plan {}; \
         ferry neither resumes nor undoes it (its actions and undo data cannot be trusted); look at the state store's \
         history for who changed it",
        short(recorded),
        short(actual)
    )]
    Tampered { run: String, phase: String, recorded: String, actual: String },
    #[error(
        "what aborting run {run} would undo changed since it was shown (shown {}, now {}): run `ferry abort --run {run}` \
         again and review it",
        printable(short(reviewed)),
        short(fresh)
    )]
    AbortChanged { run: String, reviewed: String, fresh: String },
    #[error("`{0}` is not a plan hash: give at least 12 hex digits of the plan's sha256 (every plan prints them)")]
    BadHash(String),
    #[error("no journal for {app}{}", run.as_ref().map(|r| format!(" run {r}")).unwrap_or_default())]
    NoRun { app: String, run: Option<String> },
    #[error("{0}")]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// The state-store name of the app a plan is for.
pub fn app_key(plan: &Plan) -> String {
    app_key_of(plan.app.as_ref())
}

/// The state-store name of `app` (`app` when it has no name).
pub fn app_key_of(app: Option<&ferry_model::AppSpec>) -> String {
    let name = app.and_then(|a| a.app.as_deref()).unwrap_or("app");
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// Applies a plan. An unfinished run of this phase (stopped by a crash, a
/// failure or an approval gate) is resumed from its journal, with the plan
/// that was journaled — the reviewed one, whatever the actions already done
/// changed in the world. Otherwise `fresh` (just computed) is applied, after
/// checking it against the reviewed hash.
pub fn apply(store: &dyn StateStore, exec: &dyn Executor, fresh: &Plan, opts: &ApplyOptions) -> Result<ApplyReport, ApplyError> {
    if let Some(reviewed) = &opts.reviewed_hash {
        reviewed_hash(reviewed)?;
    }
    let app = opts.key.clone().unwrap_or_else(|| app_key(fresh));
    let phase = fresh.phase.as_str();
    if let Some((run, plan)) = unfinished(store, &app, phase, opts)? {
        tracing::info!("resuming run {run} from its journal");
        return run_locked(store, exec, &plan, opts, &app, &run);
    }
    let hash = fresh.hash();
    if let Some(reviewed) = &opts.reviewed_hash
        && !hash.starts_with(reviewed.as_str())
    {
        // Applying the same reviewed plan again after it succeeded: the
        // world changed because of it, so the fresh plan differs.
        if let Some(report) = already_applied(store, &app, phase, reviewed, opts)? {
            return Ok(report);
        }
        let changes = match load_plan(store, &app, reviewed)? {
            Some(old) => plan_changes(&old, fresh),
            None => vec![format!("the reviewed plan {} is not in {}", short(reviewed), store.describe())],
        };
        return Err(ApplyError::PlanChanged { reviewed: reviewed.clone(), fresh: hash, changes });
    }
    save_plan(store, &app, fresh)?;
    let run = opts.run.clone().unwrap_or_else(|| format!("{phase}-{}", short(&hash)));
    run_locked(store, exec, fresh, opts, &app, &run)
}

fn run_locked(store: &dyn StateStore, exec: &dyn Executor, plan: &Plan, opts: &ApplyOptions, app: &str, run: &str) -> Result<ApplyReport, ApplyError> {
    let mut held = take_lock(store, app, &opts.owner, &format!("apply {}", plan.phase), opts.lock_ttl_ms)?;
    let took_over = held.took_over_from.take();
    // The lock is renewed from a thread for the whole apply, however long
    // and quiet an action is; the applier checks the fence between actions.
    let (result, lost_at_the_end) =
        renewer::renewing_app_lock(store, &mut held, |fence| Applier { store, exec, plan, opts, fence, app }.run(run, &plan.hash()));
    if let Some(lost) = lost_at_the_end {
        tracing::warn!("{lost} (after the last action)");
    }
    held.release(store)?;
    let (outcome, phase) = result?;
    Ok(ApplyReport { outcome, app: app.to_string(), run: run.to_string(), phase, took_over })
}

/// The run and journaled plan of an unfinished `phase` to resume: the
/// `--run` given, or the reviewed plan's run, or (with neither) the app's
/// latest unfinished run of the phase.
fn unfinished(store: &dyn StateStore, app: &str, phase: &str, opts: &ApplyOptions) -> Result<Option<(String, Plan)>, ApplyError> {
    let candidates: Vec<String> = match (&opts.run, &opts.reviewed_hash) {
        (Some(run), _) => vec![run.clone()],
        (None, Some(reviewed)) => vec![format!("{phase}-{}", short(reviewed))],
        (None, None) => latest_run(store, app)?.into_iter().collect(),
    };
    for run in candidates {
        let Some(journal) = load_journal(store, app, &run)? else { continue };
        let Some(record) = journal.phases.iter().rev().find(|p| p.phase == phase) else { continue };
        if record.status.is_final() {
            continue;
        }
        verify_record(&run, record)?;
        let hash = record.plan_hash.clone();
        match &opts.reviewed_hash {
            Some(reviewed) if !hash.starts_with(reviewed.as_str()) => {
                return Err(ApplyError::Unfinished { run, phase: phase.into(), hash, given: reviewed.clone() });
            }
            Some(_) => {}
            None if !opts.resume_unreviewed => return Err(ApplyError::UnreviewedResume { run, phase: phase.into(), hash }),
            None => {}
        }
        return Ok(Some((run, record.plan.clone())));
    }
    Ok(None)
}

/// A journaled phase holds the plan its hash names: a phase whose plan was
/// edited after ferry wrote it (a hand-edited state branch) is neither
/// resumed nor undone.
fn verify_record(run: &str, record: &PhaseRecord) -> Result<(), ApplyError> {
    let actual = record.plan.hash();
    if actual != record.plan_hash {
        return Err(ApplyError::Tampered { run: run.into(), phase: record.phase.clone(), recorded: record.plan_hash.clone(), actual });
    }
    Ok(())
}

/// The report of an earlier successful apply of the reviewed plan, if any.
fn already_applied(store: &dyn StateStore, app: &str, phase: &str, reviewed: &str, opts: &ApplyOptions) -> Result<Option<ApplyReport>, ApplyError> {
    let run = opts.run.clone().unwrap_or_else(|| format!("{phase}-{}", short(reviewed)));
    let Some(journal) = load_journal(store, app, &run)? else { return Ok(None) };
    let done = journal.phases.iter().rev().find(|p| p.phase == phase && p.plan_hash.starts_with(reviewed) && p.status == PhaseStatus::Applied);
    Ok(done.map(|p| ApplyReport { outcome: Outcome::AlreadyApplied, app: app.to_string(), run, phase: p.clone(), took_over: None }))
}

struct Applier<'a> {
    store: &'a dyn StateStore,
    exec: &'a dyn Executor,
    plan: &'a Plan,
    opts: &'a ApplyOptions,
    /// Broken when a renewal found the app lock taken over.
    fence: &'a Fence<LockError>,
    app: &'a str,
}

impl Applier<'_> {
    fn run(&mut self, run: &str, hash: &str) -> Result<(Outcome, PhaseRecord), ApplyError> {
        let mut doc = journal_doc::Doc::load(self.store, self.app, run)?;
        let phase = &self.plan.phase;
        match doc.journal.phase_mut(phase) {
            Some(p) if p.plan_hash == hash && p.status == PhaseStatus::Applied => {
                return Ok((Outcome::AlreadyApplied, p.clone()));
            }
            Some(p) if p.plan_hash == hash => {
                verify_record(run, p)?;
                p.status = PhaseStatus::Applying;
            }
            Some(p) if !p.status.is_final() => {
                return Err(ApplyError::Unfinished { run: run.into(), phase: phase.clone(), hash: p.plan_hash.clone(), given: hash.to_string() });
            }
            _ => doc.journal.phases.push(PhaseRecord {
                phase: phase.clone(),
                plan_hash: hash.to_string(),
                plan: self.plan.clone(),
                status: PhaseStatus::Applying,
                started_at_ms: now_ms(),
                entries: Vec::new(),
            }),
        }
        doc.save(self.store)?;
        teach(self.exec, &doc.journal);
        for action in self.plan.actions() {
            if let Some(lost) = self.fence.take() {
                return Err(lost.into());
            }
            if let Some(outcome) = self.step(&mut doc, action)? {
                return Ok((outcome, doc.phase(phase).clone()));
            }
        }
        doc.phase_mut(phase).status = PhaseStatus::Applied;
        doc.save(self.store)?;
        Ok((Outcome::Applied, doc.phase(phase).clone()))
    }

    /// Runs one action; `Some` when the apply stops here.
    fn step(&mut self, doc: &mut journal_doc::Doc, action: &Action) -> Result<Option<Outcome>, ApplyError> {
        let phase = self.plan.phase.clone();
        let record = doc.phase(&phase);
        let undo = match record.state(&action.id) {
            ActionState::Done(_) => return Ok(None),
            ActionState::InDoubt(undo) => {
                let started = last_start(record, &action.id);
                if self.exec.observe(&action.operation, started)? {
                    doc.phase_mut(&phase).record(&action.id, now_ms(), Event::Reconciled);
                    doc.save(self.store)?;
                    return Ok(None);
                }
                undo
            }
            // A failed action may have changed part of the world: keep the
            // state captured before its first attempt.
            ActionState::Failed(undo) => undo,
            ActionState::Pending | ActionState::Undone => match self.exec.prepare(&action.operation) {
                Ok(undo) => undo,
                Err(e) => return self.fail(doc, action, 0, &e).map(Some),
            },
        };
        if let Operation::Control(ControlOp::Approval(message)) = &action.operation
            && !self.opts.approve
        {
            doc.phase_mut(&phase).status = PhaseStatus::WaitingApproval;
            doc.save(self.store)?;
            return Ok(Some(Outcome::WaitingApproval { action: action.id.clone(), message: message.clone() }));
        }
        // Lost while preparing: this action has not started, and must not.
        if let Some(lost) = self.fence.take() {
            return Err(lost.into());
        }
        doc.phase_mut(&phase).record(&action.id, now_ms(), Event::Started { undo });
        doc.save(self.store)?;
        hooks::maybe_kill(&action.id, Point::Started);
        let started = Instant::now();
        // The renewer keeps the lock alive: `keepalive` has nothing to do.
        let result = progress::heartbeat(&action.summary, || self.exec.execute(&action.operation, &mut || {}));
        let duration_ms = started.elapsed().as_millis() as u64;
        if let Some(lost) = self.fence.take() {
            return Err(self.fenced(doc, action, duration_ms, result, lost));
        }
        match result {
            Ok(outputs) => {
                hooks::log_execution(&action.id);
                self.exec.learn(&action.operation, &outputs);
                hooks::maybe_kill(&action.id, Point::Executed);
                doc.phase_mut(&phase).record(&action.id, now_ms(), Event::Done { duration_ms, outputs });
                doc.save(self.store)?;
                hooks::maybe_kill(&action.id, Point::Done);
                tracing::info!("done: {} ({duration_ms} ms)", action.summary);
                Ok(None)
            }
            Err(e) => self.fail(doc, action, duration_ms, &e).map(Some),
        }
    }

    fn fail(&mut self, doc: &mut journal_doc::Doc, action: &Action, duration_ms: u64, failure: &ExecError) -> Result<Outcome, ApplyError> {
        let (error, transient) = (failure.to_string(), failure.is_transient());
        let phase = self.plan.phase.clone();
        // The reason is told once, in the results this run ends with (and
        // the journal): the live log only says where it stopped.
        let next = if self.opts.rollback { "; undoing what this run did" } else { "" };
        tracing::error!("failed: {}{next}", action.summary);
        doc.phase_mut(&phase).record(&action.id, now_ms(), Event::Failed { duration_ms, error: error.clone() });
        let outcome = if self.opts.rollback {
            if let Err(lost) = undo_phase(self.exec, doc.phase_mut(&phase), self.fence) {
                // Another run holds the app now: what is left undone stays
                // journaled as done, for it (or an abort) to see.
                doc.phase_mut(&phase).status = PhaseStatus::Failed;
                if let Err(e) = doc.save(self.store) {
                    tracing::error!("journaling the partial rollback after the lock was lost: {e}");
                }
                return Err(lost.into());
            }
            doc.phase_mut(&phase).status = PhaseStatus::RolledBack;
            Outcome::RolledBack { action: action.id.clone(), error, transient }
        } else {
            doc.phase_mut(&phase).status = PhaseStatus::Failed;
            Outcome::Failed { action: action.id.clone(), error, transient }
        };
        doc.save(self.store)?;
        Ok(outcome)
    }

    /// The lock was taken over while `action` ran: journal its outcome and
    /// stop. No further action runs, and a failure is not rolled back:
    /// another run holds the app now, and its actions must not interleave
    /// with this run's.
    fn fenced(
        &self,
        doc: &mut journal_doc::Doc,
        action: &Action,
        duration_ms: u64,
        result: Result<Vec<(String, String)>, ExecError>,
        lost: LockError,
    ) -> ApplyError {
        let phase = self.plan.phase.clone();
        let event = match result {
            Ok(outputs) => {
                hooks::log_execution(&action.id);
                Event::Done { duration_ms, outputs }
            }
            Err(e) => {
                doc.phase_mut(&phase).status = PhaseStatus::Failed;
                Event::Failed { duration_ms, error: e.to_string() }
            }
        };
        doc.phase_mut(&phase).record(&action.id, now_ms(), event);
        // The new holder may be writing this journal too; the lost lock is
        // the error to report either way.
        if let Err(e) = doc.save(self.store) {
            tracing::error!("journaling `{}` after the lock was lost: {e}", action.summary);
        }
        lost.into()
    }
}

/// Hands the executor the outputs of every action of the run (every phase)
/// that is done, in the order they were done, so that what an earlier
/// action learned from the world (a secrets version, a release's id)
/// reaches the actions after it, also when a killed run resumes or a run
/// is aborted in a new process. An action undone since does not count.
fn teach(exec: &dyn Executor, journal: &Journal) {
    for record in &journal.phases {
        let mut done: Vec<(&str, &Vec<(String, String)>)> = Vec::new();
        for entry in &record.entries {
            match &entry.event {
                Event::Done { outputs, .. } => {
                    done.retain(|(id, _)| *id != entry.action);
                    done.push((&entry.action, outputs));
                }
                Event::Undone { .. } | Event::NotUndoable { .. } => done.retain(|(id, _)| *id != entry.action),
                Event::Started { .. } | Event::Reconciled | Event::Failed { .. } | Event::UndoFailed { .. } => {}
            }
        }
        for (id, outputs) in done {
            if let (ActionState::Done(_), Some(action)) = (record.state(id), record.plan.actions().find(|a| a.id == id)) {
                exec.learn(&action.operation, outputs);
            }
        }
    }
}

fn last_start(record: &PhaseRecord, action: &str) -> u64 {
    record.entries.iter().rev().find(|e| e.action == action && matches!(e.event, Event::Started { .. })).map(|e| e.at_ms).unwrap_or(0)
}

/// Undoes, newest first, every action of the phase that took effect.
/// Stops before the next undo once the lock is lost (returning why):
/// another run holds the app, and undoing further would undo into its work.
fn undo_phase(exec: &dyn Executor, record: &mut PhaseRecord, fence: &Fence<LockError>) -> Result<(), LockError> {
    let actions: Vec<Action> = record.plan.actions().cloned().collect();
    for action in actions.iter().rev() {
        if let Some(lost) = fence.take() {
            return Err(lost);
        }
        let undo = match record.state(&action.id) {
            ActionState::Done(undo) => undo,
            // Stopped inside, or failed part-way: restore the captured state
            // if it is not what the world holds now.
            ActionState::InDoubt(undo) | ActionState::Failed(undo) if action.undo == Undo::RestorePrevious => match exec.prepare(&action.operation) {
                Ok(now) if now == undo => continue,
                _ => undo,
            },
            ActionState::InDoubt(undo) => match exec.observe(&action.operation, last_start(record, &action.id)) {
                Ok(true) => undo,
                _ => continue,
            },
            _ => continue,
        };
        undo_action(exec, record, action, &undo);
    }
    Ok(())
}

fn undo_action(exec: &dyn Executor, record: &mut PhaseRecord, action: &Action, data: &UndoData) {
    let started = Instant::now();
    let result = match &action.undo {
        Undo::Run(op) => exec.execute(op, &mut || {}).map(drop),
        Undo::RestorePrevious => exec.restore(&action.operation, data),
        Undo::None(reason) => {
            tracing::warn!("cannot undo: {} ({reason})", action.summary);
            record.record(&action.id, now_ms(), Event::NotUndoable { reason: reason.clone() });
            return;
        }
    };
    let event = match result {
        Ok(()) => {
            tracing::info!("undone: {}", action.summary);
            Event::Undone { duration_ms: started.elapsed().as_millis() as u64 }
        }
        Err(e) => {
            tracing::error!("undo failed: {}: {e}", action.summary);
            Event::UndoFailed { error: e.to_string() }
        }
    };
    record.record(&action.id, now_ms(), event);
}

/// The run an abort of `app` is about: `run` if given, else the newest run
/// that has something left to undo (a later run that changed nothing, or
/// one already aborted, is not it).
pub fn abort_target(store: &dyn StateStore, app: &str, run: Option<&str>) -> Result<String, ApplyError> {
    match run {
        Some(r) => Ok(r.to_string()),
        // Else the latest of any, so that what is wrong with it (edited,
        // nothing left to undo) is what the user reads.
        None => match journal_doc::latest_run_where(store, app, |j| !UndoPlan::of(j).undos.is_empty())? {
            Some(run) => Ok(run),
            None => latest_run(store, app)?.ok_or_else(|| ApplyError::NoRun { app: app.into(), run: None }),
        },
    }
}

/// What aborting `run` (or the newest run with something to undo) would
/// do, read from its journal without taking the lock.
pub fn undo_plan(store: &dyn StateStore, app: &str, run: Option<&str>) -> Result<UndoPlan, ApplyError> {
    let run = abort_target(store, app, run)?;
    let journal = load_journal(store, app, &run)?.ok_or_else(|| ApplyError::NoRun { app: app.into(), run: Some(run.clone()) })?;
    for record in &journal.phases {
        verify_record(&run, record)?;
    }
    Ok(UndoPlan::of(&journal))
}

/// Undoes every phase of a run, newest first (`ferry abort`). With
/// `reviewed`, only if the [`UndoPlan`] shown to a person still has that
/// hash once the lock is held.
pub fn abort(
    store: &dyn StateStore,
    exec: &dyn Executor,
    app: &str,
    run: Option<&str>,
    reviewed: Option<&str>,
    owner: &Owner,
    lock_ttl_ms: u64,
) -> Result<Journal, ApplyError> {
    let run = abort_target(store, app, run)?;
    let mut held = take_lock(store, app, owner, "abort", lock_ttl_ms)?;
    let (result, lost_at_the_end) = renewer::renewing_app_lock(store, &mut held, |fence| {
        let mut doc = journal_doc::Doc::load(store, app, &run)?;
        if doc.is_new() {
            return Err(ApplyError::NoRun { app: app.into(), run: Some(run.clone()) });
        }
        for record in &doc.journal.phases {
            verify_record(&run, record)?;
        }
        if let Some(reviewed) = reviewed {
            let fresh = UndoPlan::of(&doc.journal).hash();
            if !fresh.starts_with(&reviewed.to_ascii_lowercase()) {
                return Err(ApplyError::AbortChanged { run: run.clone(), reviewed: reviewed.to_string(), fresh });
            }
        }
        teach(exec, &doc.journal);
        for record in doc.journal.phases.iter_mut().rev() {
            if matches!(record.status, PhaseStatus::Aborted | PhaseStatus::RolledBack) {
                continue;
            }
            // Another run holds the app now: undo no further phase.
            if let Some(lost) = fence.take() {
                doc.save(store)?;
                return Err(lost.into());
            }
            if let Err(lost) = undo_phase(exec, record, fence) {
                doc.save(store)?;
                return Err(lost.into());
            }
            record.status = PhaseStatus::Aborted;
        }
        doc.save(store)?;
        Ok(doc.journal)
    });
    if let Some(lost) = lost_at_the_end {
        tracing::warn!("{lost} (after the abort finished)");
    }
    held.release(store)?;
    result
}
