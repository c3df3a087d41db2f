//! Exit codes scripts can rely on, and how errors are printed.

use std::process::ExitCode;

/// Success.
pub const OK: ExitCode = ExitCode::SUCCESS;
/// The command ran and failed: a bad config, a step that failed or trapped.
pub const FAILURE: ExitCode = ExitCode::FAILURE;

/// The command line was wrong.
pub fn usage() -> ExitCode {
    ExitCode::from(2)
}

/// Prints `error: …` with its causes, one per line, and returns [`FAILURE`].
pub fn report(error: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(error) {
        // `ferry plan | head` closed stdout early: not a failure.
        return OK;
    }
    let masker = crate::mask::Masker::global();
    eprintln!("error: {}", masker.mask(&error.to_string()));
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {}", masker.mask(&cause.to_string()));
    }
    FAILURE
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
