//! What an apply or an abort did: per action, its state and duration.

use std::fmt::Write;

use ferry_engine::journal::{ActionState, Event, Journal, Outcome, PhaseRecord};
use ferry_model::{printable, printable_lines};

use crate::Format;

/// One action's line in a results table.
struct Row {
    summary: String,
    risk: &'static str,
    status: &'static str,
    duration_ms: Option<u64>,
    note: Option<String>,
}

fn rows(phase: &PhaseRecord) -> Vec<Row> {
    phase
        .plan
        .actions()
        .map(|a| {
            let (status, duration_ms, note) = match (phase.state(&a.id), phase.outcome(&a.id)) {
                (ActionState::Undone, Some(Event::NotUndoable { reason })) => ("not undoable", None, Some(reason.clone())),
                (ActionState::Undone, Some(Event::Undone { duration_ms })) => ("undone", Some(*duration_ms), None),
                (_, Some(Event::UndoFailed { error })) => ("undo failed", None, Some(error.clone())),
                (ActionState::Done(_), Some(Event::Done { duration_ms, outputs })) => {
                    let note = outputs.iter().find(|(key, _)| key == ferry_engine::journal::NOTE_OUTPUT).map(|(_, note)| note.clone());
                    ("done", Some(*duration_ms), note)
                }
                (ActionState::Done(_), _) => ("done (found in effect)", None, None),
                // Its error is the headline's: said once.
                (ActionState::Failed(_), Some(Event::Failed { duration_ms, .. })) => ("failed", Some(*duration_ms), None),
                (ActionState::InDoubt(_), _) => ("interrupted", None, None),
                _ => ("not run", None, None),
            };
            Row { summary: a.summary.clone(), risk: a.risk.as_str(), status, duration_ms, note }
        })
        .collect()
}

fn headline(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Applied => "✅ Applied".into(),
        Outcome::AlreadyApplied => "✅ Already applied: nothing to do".into(),
        Outcome::WaitingApproval { message, .. } => format!("⏸️ Waiting for approval: {message}"),
        Outcome::RolledBack { error, .. } => format!("❌ Failed and rolled back: {error}"),
        Outcome::Failed { error, .. } => format!("❌ Failed (not rolled back): {error}"),
    }
}

/// For a failure the platform called its own and passing (a 503, a
/// dropped connection): that running the same apply again may succeed.
pub fn retry_note(outcome: &Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::RolledBack { transient: true, .. } | Outcome::Failed { transient: true, .. } => {
            Some("The platform reported this failure as temporary (overloaded, unavailable or unreachable): the same apply, run again, may succeed.")
        }
        Outcome::Applied | Outcome::AlreadyApplied | Outcome::WaitingApproval { .. } | Outcome::RolledBack { .. } | Outcome::Failed { .. } => None,
    }
}

/// The results of one apply.
pub fn apply_result(app: &str, run: &str, outcome: &Outcome, phase: &PhaseRecord, format: Format) -> String {
    match format {
        Format::Json => {
            let value = serde_json::json!({ "app": app, "run": run, "result": outcome, "phase": phase });
            let mut out = serde_json::to_string_pretty(&value).expect("results serialise");
            out.push('\n');
            out
        }
        Format::Markdown => {
            let headline = headline(outcome);
            let (first, rest) = headline.split_once('\n').unwrap_or((&headline, ""));
            let mut out = format!("## ferry apply: `{app}` · phase `{}` · run `{run}`\n\n**{}**\n\n", phase.phase, crate::markdown::text(first));
            // An error's further lines (a machine's last log lines) as an
            // indented code block: shown as they are, no markup read in them,
            // and a line cannot leave the block (each gets the indent).
            if !rest.is_empty() {
                let _ = writeln!(out, "    {}\n", printable_lines(rest, "\n    "));
            }
            if let Some(note) = retry_note(outcome) {
                let _ = writeln!(out, "{note}\n");
            }
            table_md(&mut out, phase);
            out
        }
        Format::Text => {
            let mut out = format!(
                "ferry apply: {}, phase {}, run {}\n{}\n\n",
                printable(app),
                printable(&phase.phase),
                printable(run),
                // Later lines behind a margin: none starts a line of output.
                printable_lines(&headline(outcome), "\n   │ ")
            );
            if let Some(note) = retry_note(outcome) {
                let _ = writeln!(out, "{note}\n");
            }
            table_text(&mut out, phase);
            out
        }
    }
}

/// Every phase of a run (`ferry status`, `ferry abort`).
pub fn journal(journal: &Journal, format: Format) -> String {
    match format {
        Format::Json => {
            let mut out = serde_json::to_string_pretty(journal).expect("journals serialise");
            out.push('\n');
            out
        }
        Format::Markdown => {
            let mut out = format!("## ferry run `{}` of `{}`\n\n", journal.run, journal.app);
            for phase in &journal.phases {
                let _ = writeln!(out, "### Phase `{}`: {}\n", phase.phase, status(phase));
                table_md(&mut out, phase);
            }
            out
        }
        Format::Text => {
            let mut out = format!("run {} of {}\n", printable(&journal.run), printable(&journal.app));
            for phase in &journal.phases {
                let hash = crate::short_hash(&phase.plan_hash);
                let _ = writeln!(out, "\nphase {}: {} (plan {})", printable(&phase.phase), status(phase), printable(hash));
                table_text(&mut out, phase);
            }
            out
        }
    }
}

fn status(phase: &PhaseRecord) -> String {
    serde_json::to_value(phase.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn table_md(out: &mut String, phase: &PhaseRecord) {
    out.push_str("| # | Action | Risk | Status | Duration |\n|---|---|---|---|---|\n");
    for (i, r) in rows(phase).iter().enumerate() {
        let note = r.note.as_deref().map(|n| format!(": {}", crate::markdown::text(n))).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {}{note} | {} |",
            i + 1,
            crate::markdown::text(&r.summary),
            r.risk,
            r.status,
            r.duration_ms.map(ms).unwrap_or_default()
        );
    }
    out.push('\n');
}

fn table_text(out: &mut String, phase: &PhaseRecord) {
    for (i, r) in rows(phase).iter().enumerate() {
        let duration = r.duration_ms.map(|d| format!(" in {}", ms(d))).unwrap_or_default();
        let note = r.note.as_deref().map(|n| format!(": {}", printable(n))).unwrap_or_default();
        let _ = writeln!(out, "  {}. [{}] {}{duration}{note} ({})", i + 1, r.status, printable(&r.summary), r.risk);
    }
}

fn ms(d: u64) -> String {
    if d < 1000 { format!("{d} ms") } else { format!("{:.1} s", d as f64 / 1000.0) }
}

#[cfg(test)]
mod tests {
    use ferry_engine::journal::{Event, Outcome, PhaseRecord, PhaseStatus, UndoData};
    use ferry_model::{Action, CheckoutOp, ConfigEdit, Operation, Plan, Risk, StepSection, Undo};

    use crate::Format;

    #[test]
    fn text_results_keep_a_steps_summary_and_an_error_on_their_lines() {
        let summary = "set A = \"x\n::warning title=pwned::y\" in fly.toml";
        let error = "exited with 1:\n::add-mask::shop\r\u{1b}[2J";
        let action = Action {
            id: "edit:A".into(),
            summary: summary.into(),
            risk: Risk::Safe,
            operation: Operation::Checkout(CheckoutOp::EditConfig(ConfigEdit { file: "fly.toml".into(), key: "A".into(), value: Some("1".into()) })),
            undo: Undo::RestorePrevious,
            detail: None,
        };
        let mut plan = Plan::new("deploy");
        plan.steps.push(StepSection { step: "edits".into(), version: "0.1.0".into(), actions: vec![action], findings: vec![] });
        let mut phase =
            PhaseRecord { phase: "deploy".into(), plan_hash: plan.hash(), plan, status: PhaseStatus::RolledBack, started_at_ms: 0, entries: vec![] };
        phase.record("edit:A", 1, Event::Started { undo: UndoData::Checkout(ferry_engine::apply::checkout::CheckoutUndo::ConfigValue { previous: None }) });
        phase.record("edit:A", 2, Event::Failed { duration_ms: 5, error: error.into() });
        let outcome = Outcome::RolledBack { action: "edit:A".into(), error: error.into(), transient: false };
        let text = super::apply_result("shop\n::error::app", "run\u{9b}1", &outcome, &phase, Format::Text);
        assert_eq!(
            text,
            "ferry apply: shop\\n::error::app, phase deploy, run run\\u009b1\n\
             ❌ Failed and rolled back: exited with 1:\n   │ ::add-mask::shop\\r\\u001b[2J\n\n  \
             1. [failed] set A = \"x\\n::warning title=pwned::y\" in fly.toml in 5 ms (safe)\n"
        );
    }

    #[test]
    fn only_a_transient_failure_says_that_another_try_may_succeed() {
        let failed = |transient| Outcome::Failed { action: "fly:update".into(), error: "503 Service Unavailable".into(), transient };
        assert!(super::retry_note(&failed(true)).is_some_and(|n| n.contains("may succeed")));
        assert_eq!(super::retry_note(&failed(false)), None);
        let json = serde_json::to_value(failed(true)).unwrap();
        assert_eq!(json["transient"], true, "{json}");
        assert!(serde_json::to_value(failed(false)).unwrap().get("transient").is_none(), "the field is left out when false");
    }
}
