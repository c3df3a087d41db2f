//! Markdown for a pull-request comment or `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write;

use ferry_model::{AppSpec, DnsOp, Finding, Plan, Risk, Severity, StepSection};

use crate::{action_text, counts_line, facts, short_hash, undo_label};

pub(crate) fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    let app = plan.app.as_ref().and_then(|a| a.app.as_deref()).unwrap_or("app");
    let _ = writeln!(out, "## ferry plan: `{}` · phase `{}`\n", code(app), code(&plan.phase));
    let total = plan.counts().total();
    let headline = match total {
        0 => "**No changes.**".to_string(),
        1 => "**1 action to apply.**".to_string(),
        n => format!("**{n} actions to apply.**"),
    };
    let _ = writeln!(out, "{headline} {}\n", counts_line(plan));
    banner(&mut out, plan);
    // The actions lead: they are what a reviewer approves. The findings
    // follow (open when one warns), then the inventory, collapsed.
    out.push_str("### Steps\n\n");
    if plan.has_changes() {
        out.push_str("_What ferry will do_ is ferry's own description of each operation, and the risk is at least ferry's floor for it; _the step says_ is the step's own words.\n\n");
    }
    for section in &plan.steps {
        step(&mut out, section);
    }
    findings(&mut out, &plan.findings().collect::<Vec<_>>());
    if let Some(app) = &plan.app {
        out.push_str("<details><summary><b>Inventory</b></summary>\n\n");
        inventory_table(&mut out, app);
        out.push_str("</details>\n\n");
    }
    let _ = writeln!(out, "Plan `{}`", short_hash(&plan.hash()));
    out
}

/// A risk level at a glance: a coloured marker before its name.
fn risk(risk: Risk) -> String {
    let marker = match risk {
        Risk::Safe => "🟢",
        Risk::Disruptive => "🟡",
        Risk::Destructive => "🔴",
        Risk::Irreversible => "⛔",
    };
    format!("{marker} {}", risk.as_str())
}

/// `ferry inventory --format md`.
pub(crate) fn inventory(app: &AppSpec) -> String {
    let mut out = String::new();
    let name = app.app.as_deref().unwrap_or("app");
    let _ = writeln!(out, "## ferry inventory: `{}`\n", code(name));
    inventory_table(&mut out, app);
    out.push_str("### Process groups\n\n| Group | Command | Services | Mount | VM | Checks |\n|---|---|---|---|---|---|\n");
    for g in facts::group_rows(app) {
        let _ = writeln!(out, "| {} | {} | {} | {} | {} | {} |", cell(&g.name), cell(&g.command), cell(&g.services), cell(&g.mount), cell(&g.vm), g.checks);
    }
    out.push('\n');
    findings(&mut out, &app.warnings.iter().collect::<Vec<_>>());
    out
}

fn inventory_table(out: &mut String, app: &AppSpec) {
    out.push_str("### Inventory\n\n| | |\n|---|---|\n");
    for row in facts::rows(app) {
        let _ = writeln!(out, "| {} | {} |", row.label, cell(&row.value));
    }
    out.push('\n');
}

fn banner(out: &mut String, plan: &Plan) {
    let counts = plan.counts();
    let (destructive, irreversible) = (counts.get(Risk::Destructive), counts.get(Risk::Irreversible));
    if destructive + irreversible == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "> [!CAUTION]\n> This plan has {destructive} destructive and {irreversible} irreversible \
         action(s). Read them before you apply:"
    );
    for a in plan.actions().filter(|a| a.risk >= Risk::Destructive) {
        let _ = writeln!(out, "> - {}: {}", risk(a.risk), text(&action_text(a)));
    }
    out.push('\n');
}

fn findings(out: &mut String, all: &[&Finding]) {
    if all.is_empty() {
        return;
    }
    out.push_str("### Findings\n\n");
    for f in all.iter().copied() {
        let icon = match f.severity {
            Severity::Info => "ℹ️",
            Severity::Warning => "⚠️",
            Severity::Error => "❌",
        };
        let at = f.location.as_ref().map(|l| format!(" (`{}`)", code(&l.to_string()))).unwrap_or_default();
        let _ = writeln!(out, "- {icon} **{}**: {}{at}", text(&f.code), text(&f.message));
    }
    out.push('\n');
}

fn step(out: &mut String, section: &StepSection) {
    let n = section.actions.len();
    let what = match n {
        0 => "no changes".to_string(),
        1 => "1 action".to_string(),
        n => format!("{n} actions"),
    };
    let open = if n > 0 { " open" } else { "" };
    let _ = writeln!(out, "<details{open}><summary><b>{}</b> {} · {what}</summary>\n", text(&section.step), text(&section.version));
    if n == 0 {
        out.push_str("No actions.\n");
    } else {
        out.push_str("| # | What ferry will do | Risk | Undo | The step says |\n|---|---|---|---|---|\n");
        for (i, a) in section.actions.iter().enumerate() {
            let _ = writeln!(out, "| {} | {} | {} | {} | {} |", i + 1, cell(&action_text(a)), risk(a.risk), cell(&undo_label(a)), cell(&a.summary));
        }
        action_details(out, section);
        dns_changes(out, section);
    }
    out.push_str("\n</details>\n\n");
}

/// Record changes as a table, old -> new, the way DNS people review them.
fn dns_changes(out: &mut String, section: &StepSection) {
    let show = |r: Option<&ferry_model::DnsRrset>| match r {
        Some(r) => format!("{} (ttl {})", r.values.join(", "), r.ttl),
        None => "none".into(),
    };
    let rows: Vec<String> = section
        .actions
        .iter()
        .filter_map(|a| match &a.operation {
            ferry_model::Operation::Dns(DnsOp::Change(c)) => {
                let r = c.new.as_ref().or(c.expected.as_ref())?;
                Some(format!("| {} | {} | {} | {} |", cell(&r.name), cell(&r.rtype), cell(&show(c.expected.as_ref())), cell(&show(c.new.as_ref()))))
            }
            _ => None,
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str("\n| Record | Type | Old | New |\n|---|---|---|---|\n");
    for row in rows {
        out.push_str(&row);
        out.push('\n');
    }
}

/// Each distinct detail once, with the actions it explains: a rollout's
/// batches share one ("Changes: image a -> b …"), so it is read once.
fn action_details(out: &mut String, section: &StepSection) {
    let mut details: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, a) in section.actions.iter().enumerate() {
        let Some(d) = a.detail.as_deref() else { continue };
        match details.iter_mut().find(|(text, _)| *text == d) {
            Some((_, numbers)) => numbers.push(i + 1),
            None => details.push((d, vec![i + 1])),
        }
    }
    if details.is_empty() {
        return;
    }
    out.push_str("\nThe step's notes:\n\n");
    for (d, numbers) in details {
        let which: Vec<String> = numbers.iter().map(usize::to_string).collect();
        let _ = writeln!(out, "- **{}**: {}", which.join(", "), text(d));
    }
}

/// Escapes untrusted text for Markdown: no HTML (so nothing can open or
/// close a `<details>` block or inject markup), no `|` (so nothing leaves a
/// table cell), no line breaks. Code spans and emphasis stay: they are
/// harmless and make messages readable.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a table cell.
fn cell(s: &str) -> String {
    text(s)
}

/// Text inside a `code span`: backticks would end it, so they are replaced.
fn code(s: &str) -> String {
    s.replace('`', "'").replace(['\n', '\r'], " ")
}

/// `ferry abort`'s preview: a table of the undos, newest first.
pub(crate) fn undo_plan(undo: &ferry_engine::undo_plan::UndoPlan, hash: &str) -> String {
    let mut out = format!("## ferry abort: `{}` · run `{}`\n\n", code(&undo.app), code(&undo.run));
    if undo.undos.is_empty() {
        out.push_str("Nothing to undo: every phase of this run is undone or rolled back already.\n");
        return out;
    }
    out.push_str("| # | Risk | Undoes | What the undo does |\n|---|---|---|---|\n");
    for (i, u) in undo.undos.iter().enumerate() {
        let maybe = if u.certain { "" } else { " (only if it happened)" };
        out.push_str(&format!("| {} | {} | {}{maybe} | {} |\n", i + 1, u.risk.as_str(), text(&u.summary), text(&u.undo)));
    }
    out.push_str(&format!("\nAbort `{}`\n", crate::short_hash(hash)));
    out
}
