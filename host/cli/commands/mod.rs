//! One module per subcommand, each a thin wrapper over the library crates.

mod inventory;
mod plan;
mod steps;

use std::io::Write;
use std::process::ExitCode;

use crate::args::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Inventory(args) => inventory::run(&cli.global, args),
        Command::Steps(args) => steps::run(&cli.global, args),
    }
}

/// Writes a command's result to stdout in one piece.
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
