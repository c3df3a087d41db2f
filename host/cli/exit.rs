//! Exit codes scripts can rely on, and how errors are printed.

use std::io::Write;
use std::process::ExitCode;

use ferry_engine::apply::ApplyError;
use ferry_model::printable;

use crate::guard::{Guard, Source};

/// Success.
pub const OK: ExitCode = ExitCode::SUCCESS;
/// The command ran and failed: a bad config, a step that failed or trapped.
pub const FAILURE: ExitCode = ExitCode::FAILURE;

/// The command line was wrong.
pub fn usage() -> ExitCode {
    ExitCode::from(2)
}

/// Prints `error: …` with its causes, one per line, and returns [`FAILURE`].
///
/// An error's text holds untrusted parts (a fly.toml key, a step's message,
/// a tool's output), so each cause is masked, then made [`printable`]: it
/// stays on its one line, its line breaks shown as `\n`. The exception is an
/// error whose lines ferry lays out itself and whose every untrusted part is
/// escaped where it is put in ([`laid_out_by_ferry`]): its lines are kept.
pub fn report(error: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(error) {
        // `ferry plan | head` closed stdout early: not a failure.
        return OK;
    }
    let masker = crate::mask::Masker::global();
    let mut text = String::new();
    for (i, cause) in error.chain().enumerate() {
        let message = masker.mask(&cause.to_string());
        let shown = if laid_out_by_ferry(cause) { message.split('\n').map(printable).collect::<Vec<_>>().join("\n") } else { printable(&message).into_owned() };
        let lead = if i == 0 { "error" } else { "  caused by" };
        text.push_str(&format!("{lead}: {shown}\n"));
    }
    let mut stderr = Guard::new(std::io::stderr().lock(), Source::Text);
    let _ = stderr.write_all(text.as_bytes());
    FAILURE
}

/// Errors printed over several lines: each escapes its untrusted parts
/// itself, so its line breaks are ferry's. Every other error is one line.
fn laid_out_by_ferry(cause: &(dyn std::error::Error + 'static)) -> bool {
    match cause.downcast_ref::<ApplyError>() {
        // The list of what changed since the review, one change a line.
        Some(ApplyError::PlanChanged { .. }) => true,
        Some(
            ApplyError::Unfinished { .. }
            | ApplyError::UnreviewedResume { .. }
            | ApplyError::Tampered { .. }
            | ApplyError::AbortChanged { .. }
            | ApplyError::BadHash(_)
            | ApplyError::NoRun { .. }
            | ApplyError::Exec(_)
            | ApplyError::Lock(_)
            | ApplyError::Store(_),
        )
        | None => false,
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().filter_map(|c| c.downcast_ref::<std::io::Error>()).any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
