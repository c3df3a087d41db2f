//! Renders a plan for the people and programs that read it: Markdown for a
//! pull-request comment or job summary, JSON for scripts, plain text for a
//! terminal. Rendering never fails and never shows a secret value (steps
//! only ever see secret names).
//!
//! Everything a step wrote (summaries, messages) is untrusted text: it is
//! escaped so a third-party step cannot break out of a table cell or a
//! `<details>` block, or inject HTML into a comment.
//!
//! What an action does is said by the host: each action is shown first by
//! its operation's description (`ferry_engine::policy::describe`) and its
//! host-raised risk; the step's own summary follows, labelled as the step's
//! words, so a step cannot caption `fly-destroy-app` "tidy up the logs".

pub mod comment;
mod facts;
mod json;
mod markdown;
mod results;
mod text;

use ferry_model::Plan;

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
    Text,
}

/// Renders an inventory (app-spec) in `format`; JSON is the app-spec itself.
pub fn inventory(app: &ferry_model::AppSpec, format: Format) -> String {
    match format {
        Format::Markdown => markdown::inventory(app),
        Format::Json => json::inventory(app),
        Format::Text => text::inventory(app),
    }
}

pub use results::{apply_result, journal};

/// Untrusted text made safe for one line of Markdown (a PR comment, the job
/// summary): no HTML, nothing that leaves a table cell, no line break. For
/// a sentence the CLI adds to a rendered result.
pub fn markdown_text(text: &str) -> String {
    markdown::text(text)
}

/// Renders a plan in `format`.
pub fn plan(plan: &Plan, format: Format) -> String {
    plan_applied_by(plan, format, &format!("ferry apply --plan-hash {}", short_hash(&plan.hash())))
}

/// A plan whose text form ends with `apply`, the command that applies it
/// (`ferry migrate` plans are applied by their phase, not `ferry apply`).
pub fn plan_applied_by(plan: &Plan, format: Format, apply: &str) -> String {
    match format {
        Format::Markdown => markdown::plan(plan),
        Format::Json => json::plan(plan),
        Format::Text => text::plan(plan, apply),
    }
}

/// "3 safe · 1 disruptive · 0 destructive · 0 irreversible"
pub(crate) fn counts_line(plan: &Plan) -> String {
    let counts = plan.counts();
    ferry_model::Risk::ALL.iter().map(|r| format!("{} {}", counts.get(*r), r.as_str())).collect::<Vec<_>>().join(" · ")
}

/// The first 12 hex digits of the plan hash, as people quote it.
pub(crate) fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// How an action is undone: the host's description of its undo, and the
/// step's reason (labelled as the step's) when nothing undoes it.
pub(crate) fn undo_text(action: &ferry_model::Action) -> String {
    let host = ferry_engine::policy::describe_undo(&action.operation, &action.undo);
    match &action.undo {
        ferry_model::Undo::None(reason) => format!("{host} (the step says: {reason})"),
        ferry_model::Undo::Run(_) | ferry_model::Undo::RestorePrevious => host,
    }
}

/// The risk an abort takes running the action's undo (undoing a safe
/// create deletes).
pub(crate) fn undo_risk(action: &ferry_model::Action) -> ferry_model::Risk {
    ferry_engine::policy::undo_floor(&action.operation, &action.undo).risk
}

/// [`undo_text`] led by the undo's own risk when it is more than safe, for
/// the text and Markdown tables.
pub(crate) fn undo_label(action: &ferry_model::Action) -> String {
    match undo_risk(action) {
        ferry_model::Risk::Safe => undo_text(action),
        risk => format!("{}: {}", risk.as_str(), undo_text(action)),
    }
}

/// What `ferry abort` will undo, in `format`, ending (as text) with `next`,
/// the command that undoes exactly this.
pub fn undo_plan(undo: &ferry_engine::undo_plan::UndoPlan, hash: &str, format: Format, next: &str) -> String {
    match format {
        Format::Markdown => markdown::undo_plan(undo, hash),
        Format::Json => json::undo_plan(undo, hash),
        Format::Text => text::undo_plan(undo, hash, next),
    }
}

/// What the host will do for an action: its description, built from the
/// operation alone.
pub(crate) fn action_text(action: &ferry_model::Action) -> String {
    ferry_engine::policy::describe(&action.operation)
}
