//! Plain text for a terminal.

use std::fmt::Write;

use ferry_model::Plan;

use crate::{counts_line, inventory, short_hash, undo_text};

pub(crate) fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    let app = plan.app.as_ref().and_then(|a| a.app.as_deref()).unwrap_or("app");
    let _ = writeln!(out, "ferry plan: {app} (phase {})", plan.phase);
    let _ = writeln!(out, "{}\n", counts_line(plan));
    if let Some(app) = &plan.app {
        out.push_str("Inventory\n");
        let rows = inventory::rows(app);
        let width = rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
        for row in rows {
            let _ = writeln!(out, "  {:width$}  {}", row.label, row.value);
        }
        out.push('\n');
    }
    let findings: Vec<_> = plan.findings().collect();
    if !findings.is_empty() {
        out.push_str("Findings\n");
        for f in findings {
            let level = f.severity.as_str();
            let at = f.location.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
            let _ = writeln!(out, "  {level}[{}]: {}{at}", f.code, f.message);
        }
        out.push('\n');
    }
    for s in &plan.steps {
        let _ = writeln!(out, "Step {} {}: {} action(s)", s.step, s.version, s.actions.len());
        for (i, a) in s.actions.iter().enumerate() {
            let _ = writeln!(out, "  {}. [{}] {}  (undo: {})", i + 1, a.risk.as_str(), a.summary, undo_text(&a.undo));
        }
    }
    let _ = writeln!(out, "\nPlan {}", short_hash(&plan.hash()));
    out
}
