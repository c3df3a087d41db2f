//! One module per subcommand, each a thin wrapper over the library crates.

mod apply;
mod ci;
mod deploy;
mod inventory;
mod migrate;
mod plan;
mod run;
mod steps;

use std::io::Write;
use std::process::ExitCode;

use crate::args::{Cli, Command};
use crate::guard::{Guard, Source};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Inventory(args) => inventory::run(&cli.global, args),
        Command::Apply(args) => apply::run(&cli.global, args),
        Command::Abort(args) => run::abort(&cli.global, args),
        Command::Status(args) => run::status(&cli.global, &args.run),
        Command::Unlock(args) => run::unlock(args),
        Command::Ci(args) => ci::run(&cli.global, args),
        Command::Steps(args) => steps::run(&cli.global, args),
        Command::Deploy(args) => deploy::run(&cli.global, args),
        Command::Migrate(args) => migrate::run(&cli.global, args),
    }
}

/// Writes a command's result to stdout in one piece, secrets masked, then
/// guarded (no raw control character; no workflow command inside Actions).
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = Guard::new(std::io::stdout().lock(), Source::Text);
    out.write_all(crate::mask::Masker::global().mask(text).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A note for the person at the terminal on stderr, masked and guarded as [`print`] is.
fn eprint(text: &str) {
    let mut err = Guard::new(std::io::stderr().lock(), Source::Text);
    let _ = err.write_all(crate::mask::Masker::global().mask(text).as_bytes());
}
