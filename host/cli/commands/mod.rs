//! One module per subcommand, each a thin wrapper over the library crates.

mod apply;
mod build;
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
/// On a terminal that wants colour, the risk markers are coloured after
/// the guard (the escape sequences are ferry's own, added to text already
/// made printable).
fn print(text: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let masked = crate::mask::Masker::global().mask(text);
    let stdout = std::io::stdout();
    if !crate::colour::wanted(stdout.is_terminal(), std::env::var_os("NO_COLOR").as_deref(), std::env::var("TERM").ok().as_deref()) {
        let mut out = Guard::new(stdout.lock(), Source::Text);
        out.write_all(masked.as_bytes())?;
        out.flush()?;
        return Ok(());
    }
    let mut guarded = Vec::new();
    Guard::new(&mut guarded, Source::Text).write_all(masked.as_bytes())?;
    let mut out = stdout.lock();
    out.write_all(crate::colour::risks(&String::from_utf8_lossy(&guarded)).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A note for the person at the terminal on stderr, masked and guarded as [`print`] is.
fn eprint(text: &str) {
    let mut err = Guard::new(std::io::stderr().lock(), Source::Text);
    let _ = err.write_all(crate::mask::Masker::global().mask(text).as_bytes());
}

/// Asks `question` on the terminal; `false` (do nothing) when stdin or
/// stderr is not one, so a script is never left waiting.
fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal};
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) || crate::context::in_github_actions() {
        return Ok(false);
    }
    eprint(&format!("{question} [y/N] "));
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Before a plan with destructive or irreversible actions runs from a
/// terminal without a reviewed hash: ask, unless `--yes`. Anywhere else
/// (a pipe, CI) nothing is asked: the hash or the workflow is the review.
fn confirm_destructive(plan: &ferry_model::Plan, reviewed: bool, yes: bool) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let risky: Vec<&ferry_model::Action> = plan.actions().filter(|a| a.risk >= ferry_model::Risk::Destructive).collect();
    if reviewed || yes || risky.is_empty() || !std::io::stdin().is_terminal() || crate::context::in_github_actions() {
        return Ok(());
    }
    let names: Vec<String> = risky.iter().map(|a| format!("[{}] {}", a.risk.as_str(), ferry_engine::policy::describe(&a.operation))).collect();
    eprint(&format!("This plan has {} destructive action(s):\n  {}\n", risky.len(), names.join("\n  ")));
    if confirm("Apply it?")? { Ok(()) } else { anyhow::bail!("nothing applied: not confirmed (give --yes, or --plan-hash after review)") }
}
