//! Plain text for a terminal or a CI log.
//!
//! Every value that did not come from ferry itself (names and values from
//! fly.toml, what a step wrote) is put in [`printable`]: it stays on its
//! line, and no escape sequence in it reaches the reader's terminal. The
//! line breaks are ferry's alone.

use std::fmt::Write;

use ferry_model::{AppSpec, Finding, Plan, printable};

use crate::{action_text, counts_line, facts, short_hash, undo_label};

pub(crate) fn plan(plan: &Plan, apply: &str) -> String {
    let mut out = String::new();
    let app = plan.app.as_ref().and_then(|a| a.app.as_deref()).unwrap_or("app");
    let _ = writeln!(out, "ferry plan: {} (phase {})", printable(app), printable(&plan.phase));
    let _ = writeln!(out, "{}\n", counts_line(plan));
    if let Some(app) = &plan.app {
        inventory_rows(&mut out, app);
    }
    findings(&mut out, &plan.findings().collect::<Vec<_>>());
    for s in &plan.steps {
        let _ = writeln!(out, "Step {} {}: {} action(s)", printable(&s.step), printable(&s.version), s.actions.len());
        for (i, a) in s.actions.iter().enumerate() {
            let _ = writeln!(out, "  {}. [{}] {}", i + 1, a.risk.as_str(), printable(&action_text(a)));
            let _ = writeln!(out, "     undo: {}", printable(&undo_label(a)));
            let _ = writeln!(out, "     the step says: {}", printable(&a.summary));
        }
    }
    let _ = writeln!(out, "\nPlan {}", short_hash(&plan.hash()));
    if plan.has_changes() {
        let _ = writeln!(out, "Next: review it, then `{}`", printable(apply));
    }
    out
}

/// `ferry inventory` in a terminal.
pub(crate) fn inventory(app: &AppSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ferry inventory: {}\n", printable(app.app.as_deref().unwrap_or("app")));
    inventory_rows(&mut out, app);
    out.push_str("Process groups\n");
    for g in facts::group_rows(app) {
        let _ = writeln!(
            out,
            "  {}: {}; services {}; mount {}; vm {}; {} check(s)",
            printable(&g.name),
            printable(&g.command),
            printable(&g.services),
            printable(&g.mount),
            printable(&g.vm),
            g.checks
        );
    }
    out.push('\n');
    findings(&mut out, &app.warnings.iter().collect::<Vec<_>>());
    out
}

fn inventory_rows(out: &mut String, app: &AppSpec) {
    out.push_str("Inventory\n");
    let rows = facts::rows(app);
    let width = rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
    for row in rows {
        let _ = writeln!(out, "  {:width$}  {}", row.label, printable(&row.value));
    }
    out.push('\n');
}

fn findings(out: &mut String, findings: &[&Finding]) {
    if findings.is_empty() {
        return;
    }
    out.push_str("Findings\n");
    for f in findings {
        let at = f.location.as_ref().map(|l| format!(" ({})", printable(&l.to_string()))).unwrap_or_default();
        let _ = writeln!(out, "  {}[{}]: {}{at}", f.severity.as_str(), printable(&f.code), printable(&f.message));
    }
    out.push('\n');
}

/// `ferry abort`'s preview: each undo, newest first, with its risk.
pub(crate) fn undo_plan(undo: &ferry_engine::undo_plan::UndoPlan, hash: &str, next: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ferry abort: {}, run {}", printable(&undo.app), printable(&undo.run));
    if undo.undos.is_empty() {
        let _ = writeln!(out, "Nothing to undo: every phase of this run is undone or rolled back already.");
        return out;
    }
    let _ = writeln!(out, "Undoes {} action(s), newest first; the riskiest is {}:\n", undo.undos.len(), undo.risk().as_str());
    for (i, u) in undo.undos.iter().enumerate() {
        let maybe = if u.certain { "" } else { " (only if it happened: the run stopped inside it)" };
        let _ = writeln!(out, "  {}. [{}] undo `{}` ({}){maybe}", i + 1, u.risk.as_str(), printable(&u.summary), printable(&u.phase));
        let _ = writeln!(out, "     {}: {}", printable(&u.undo), u.reason);
    }
    let _ = writeln!(out, "\nAbort {}", short_hash(hash));
    let _ = writeln!(out, "Next: review it, then `{}`", printable(next));
    out
}
