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

/// Writes a command's result to stdout in one piece, secrets masked.
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(crate::mask::Masker::global().mask(text).as_bytes())?;
    out.flush()?;
    Ok(())
}
