//! `ferry migrate`: a migration to a new Fly app as a record (its id, the
//! two apps, the regions) and one journaled run per migration, whose
//! phases the built-in `migrate` step plans. Each phase is planned for
//! review, then applied with `--apply` (against the reviewed hash), and
//! every command ends with the id and the next command.

use std::process::ExitCode;

use ferry_engine::apply::{self, ApplyOptions, Outcome};
use ferry_engine::migration::{Migration, MigrationError, Phase};
use ferry_model::{Plan, Severity};

use crate::args::{Checkout, Global, MigrateArgs, MigrateCommand, MigrateCreateArgs, MigrateIdArgs, MigratePhaseArgs, PlanFormat};
use crate::context::{LOCK_TTL_MS, Session, fail_on_config_errors, owner, provided_secrets, providers, state_store};
use crate::exit;
use crate::next::{APPLY, APPROVE, FORMAT, Invocation, PLAN_HASH};

pub fn run(global: &Global, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        MigrateCommand::Create(a) => create(global, a),
        MigrateCommand::Prepare(a) => phase(global, a, Phase::Prepare),
        MigrateCommand::Data(a) => phase(global, a, Phase::Data),
        MigrateCommand::Finalize(a) => phase(global, a, Phase::Finalize),
        MigrateCommand::Decommission(a) => phase(global, a, Phase::Decommission),
        MigrateCommand::Abort(a) => abort(a),
        MigrateCommand::Status(a) => status(a),
    }
}

fn create(global: &Global, a: &MigrateCreateArgs) -> anyhow::Result<ExitCode> {
    let mut migration = Migration {
        id: Migration::new_id(),
        from: a.from.clone().unwrap_or_default(),
        to: a.to.clone(),
        org: a.org.clone(),
        region: a.region.clone(),
        regions: a.regions.clone(),
        image: a.image.clone(),
        dns_zone: a.dns_zone.clone(),
        postgres_app: a.postgres_app.clone(),
        created_at_ms: apply::now_ms(),
        applied: Vec::new(),
        aborted: false,
    };
    let plan = plan(global, &a.checkout, &migration, "create")?;
    let prepare = Invocation::current().other(&["migrate", "prepare"], &[], &["--id", &migration.id]);
    super::print(&ferry_render::plan_applied_by(&plan, super::plan::format(a.format), &prepare))?;
    if let Some(from) = plan.app.as_ref().and_then(|app| app.app.clone()) {
        migration.from = from;
    }
    let failed: Vec<&str> = plan.steps.iter().flat_map(|s| &s.findings).filter(|f| f.severity == Severity::Error).map(|f| f.message.as_str()).collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "the migration of {} to {} cannot start: {} preflight check(s) failed, the first: {}",
            migration.from,
            migration.to,
            failed.len(),
            failed[0]
        );
    }
    let store = state_store(&a.state, &a.checkout.dir)?;
    migration.save(&*store)?;
    next(a.format, &migration, &format!("preflight passed: migration {} of {} to {}", migration.id, migration.from, migration.to), &prepare)?;
    Ok(exit::OK)
}

fn phase(global: &Global, a: &MigratePhaseArgs, phase: Phase) -> anyhow::Result<ExitCode> {
    let store = state_store(&a.state, &a.checkout.dir)?;
    let mut migration = Migration::load(&*store, &a.id)?;
    match migration.may_run(phase) {
        Ok(()) => {}
        Err(e @ MigrationError::Aborted { .. }) => {
            let again = Invocation::current().other(&["migrate", "create"], &[], &["--to", &migration.to]);
            anyhow::bail!("{e}: start a new one with `{again}`");
        }
        Err(e @ MigrationError::NotYet { needs, .. }) => {
            let first = Invocation::current().other(&["migrate", needs.name()], &[], &["--id", &migration.id]);
            anyhow::bail!("{e}: run `{first}` first");
        }
        Err(e) => return Err(e.into()),
    }
    let plan = plan(global, &a.checkout, &migration, phase.name())?;
    if !a.apply {
        let apply = Invocation::current().again(&[FORMAT, PLAN_HASH, APPLY], &["--apply", "--plan-hash", &plan.hash()[..12]]);
        super::print(&ferry_render::plan_applied_by(&plan, super::plan::format(a.format), &apply))?;
        super::plan::keep(&plan, &*store)?;
        next(a.format, &migration, &format!("migration {}: {phase} planned, nothing changed", migration.id), &apply)?;
        return Ok(exit::OK);
    }
    let opts = ApplyOptions {
        reviewed_hash: a.plan_hash.clone(),
        rollback: !a.no_rollback,
        approve: a.approve,
        run: Some(migration.id.clone()),
        key: Some(migration.from.clone()),
        owner: owner(),
        lock_ttl_ms: LOCK_TTL_MS,
        resume_unreviewed: !crate::context::in_github_actions(),
    };
    let report = apply::apply(&*store, &providers(&a.checkout)?, &plan, &opts)?;
    super::print(&ferry_render::apply_result(&report.app, &report.run, &report.outcome, &report.phase, super::plan::format(a.format)))?;
    let id = migration.id.clone();
    let inv = Invocation::current();
    match &report.outcome {
        Outcome::Applied | Outcome::AlreadyApplied => {
            if migration.record_applied(phase) {
                migration.save(&*store)?;
            }
            let (what, command) = after(phase, &migration, &inv);
            next(a.format, &migration, &format!("migration {id}: {phase} applied; {what}"), &command)?;
        }
        Outcome::WaitingApproval { .. } => {
            next(
                a.format,
                &migration,
                &format!("migration {id}: {phase} waits for an approval"),
                &inv.again(&[FORMAT, APPLY, APPROVE], &["--apply", "--approve"]),
            )?;
        }
        Outcome::RolledBack { .. } | Outcome::Failed { .. } => {
            next(
                a.format,
                &migration,
                &format!("migration {id}: {phase} failed"),
                &format!("{} (resumes), or {}", inv.again(&[FORMAT, APPLY], &["--apply"]), inv.other(&["migrate", "abort"], &[], &["--id", &id])),
            )?;
        }
    }
    Ok(super::apply::exit_code(&report.outcome))
}

/// What comes after an applied phase.
fn after(phase: Phase, m: &Migration, inv: &Invocation) -> (String, String) {
    let command = |next: &str| inv.other(&["migrate", next], &[], &["--id", &m.id]);
    if let Some(target) = m.to.strip_prefix("vm:") {
        return match phase {
            Phase::Prepare => (
                format!("{} runs on {target} beside Fly; DNS still points at Fly", m.from),
                format!("{} (or finalize, when there is no data to carry)", command("data")),
            ),
            Phase::Data => (format!("{} is stopped on Fly and its volumes are on {target}", m.from), command("finalize")),
            Phase::Finalize => {
                (format!("{target} serves {}; the Fly app is untouched", m.from), format!("{} moves DNS back until you delete the Fly app", command("abort")))
            }
            Phase::Decommission => (format!("{} is deleted from Fly; {target} serves it", m.from), "nothing: the migration is complete".into()),
        };
    }
    match phase {
        Phase::Prepare => (format!("{} is built beside {}", m.to, m.from), format!("{} (or finalize, when there is no data to carry)", command("data"))),
        Phase::Data => (format!("{} is stopped and its volumes copied", m.from), command("finalize")),
        Phase::Finalize => (
            format!("{} serves the app; {} is kept, stopped", m.to, m.from),
            format!("{} once you are sure ({} moves back until then)", command("decommission"), command("abort")),
        ),
        Phase::Decommission => (format!("{} is deleted", m.from), "nothing: the migration is complete".into()),
    }
}

fn abort(a: &MigrateIdArgs) -> anyhow::Result<ExitCode> {
    let store = state_store(&a.state, &a.checkout.dir)?;
    let mut migration = Migration::load(&*store, &a.id)?;
    migration.may_abort()?;
    let mut failed = false;
    if apply::load_journal(&*store, &migration.from, &migration.id)?.is_some() {
        let journal = apply::abort(&*store, &providers(&a.checkout)?, &migration.from, Some(&migration.id), None, &owner(), LOCK_TTL_MS)?;
        super::print(&ferry_render::journal(&journal, super::plan::format(a.format)))?;
        failed = journal.phases.iter().flat_map(|p| &p.entries).any(|e| matches!(e.event, ferry_engine::journal::Event::UndoFailed { .. }));
    }
    if failed {
        next(
            a.format,
            &migration,
            &format!("migration {}: some undos failed (above)", migration.id),
            &format!("{} (retries them)", Invocation::current().other(&["migrate", "abort"], &[], &["--id", &migration.id])),
        )?;
        return Ok(exit::FAILURE);
    }
    migration.aborted = true;
    migration.save(&*store)?;
    next(
        a.format,
        &migration,
        &match migration.to.strip_prefix("vm:") {
            Some(target) => format!("migration {} aborted: {} runs on Fly as before; what ferry put on {target} is gone", migration.id, migration.from),
            None => format!("migration {} aborted: {} runs as before, {} is gone", migration.id, migration.from, migration.to),
        },
        &format!("{} to start again", Invocation::current().other(&["migrate", "create"], &[], &["--to", &migration.to])),
    )?;
    Ok(exit::OK)
}

fn status(a: &MigrateIdArgs) -> anyhow::Result<ExitCode> {
    let store = state_store(&a.state, &a.checkout.dir)?;
    let migration = Migration::load(&*store, &a.id)?;
    if a.format == PlanFormat::Json {
        let journal = apply::load_journal(&*store, &migration.from, &migration.id)?;
        let value = serde_json::json!({ "migration": migration, "journal": journal });
        super::print(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
        return Ok(exit::OK);
    }
    if let Some(journal) = apply::load_journal(&*store, &migration.from, &migration.id)? {
        super::print(&ferry_render::journal(&journal, super::plan::format(a.format)))?;
    }
    let applied = if migration.applied.is_empty() { "none".to_string() } else { migration.applied.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ") };
    let inv = Invocation::current();
    let command = if migration.aborted {
        format!("{} to start again", inv.other(&["migrate", "create"], &[], &["--to", &migration.to]))
    } else {
        match migration.next_phase() {
            Some(p) => inv.other(&["migrate", p.name()], &[], &["--id", &migration.id]),
            None => "nothing: the migration is complete".into(),
        }
    };
    let state = if migration.aborted { "aborted" } else { "open" };
    next(
        a.format,
        &migration,
        &format!("migration {} of {} to {} ({state}); phases applied: {applied}", migration.id, migration.from, migration.to),
        &command,
    )?;
    Ok(exit::OK)
}

/// Plans a phase of the migration with the built-in migrate step.
fn plan(global: &Global, checkout: &Checkout, m: &Migration, phase: &str) -> anyhow::Result<Plan> {
    let mut params = m.params();
    params.push(("provided-secrets", provided_secrets().join(",")));
    let session = Session::builtin(global, checkout, "migrate", &params)?;
    let plan = session.plan(phase)?;
    fail_on_config_errors(plan.app.as_ref())?;
    Ok(plan)
}

/// The id and the next command: on stdout with the result (stderr for
/// JSON, which stays one document).
fn next(format: PlanFormat, m: &Migration, what: &str, command: &str) -> anyhow::Result<()> {
    let text = format!("\n{what}\nmigration id: {}\nnext: {command}\n", m.id);
    if format == PlanFormat::Json {
        super::eprint(&text);
        Ok(())
    } else {
        super::print(&text)
    }
}
