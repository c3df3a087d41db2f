//! The next command ferry tells a user to run.
//!
//! It is built from the command line the user typed, changed as little as
//! possible, so it works as printed from where they ran ferry: the same
//! program path, the same `--dir`, `--state` and `--config`, and only the
//! flags that must differ swapped. Writing such a command from scratch is how
//! a hint loses `--dir` or points `ferry deploy --plan-only`'s plan at
//! `ferry apply`, which plans a different workflow.

use std::path::Path;

// A word as a POSIX shell reads it back: as is when it holds nothing the
// shell would interpret, else in single quotes.
use ferry_ssh::shell_quote as quote;

/// Flags that say where ferry works (the checkout, the workflow, the state)
/// and that every later command about the same app needs again. Each takes
/// a value.
const WHERE: &[&str] = &["--dir", "--workflow", "--config", "-c", "--trusted-workflow", "--state"];

/// Global flags, which may come before the subcommand: (flag, takes a value).
const GLOBAL: &[(&str, bool)] = &[("--cache-dir", true), ("--no-step-cache", false), ("--verbose", false), ("--quiet", false)];

/// A flag ferry drops from the command it repeats: (flag, takes a value).
pub type Flag = (&'static str, bool);

/// Flags a repeated command usually drops, to add its own.
pub const FORMAT: Flag = ("--format", true);
pub const PLAN_HASH: Flag = ("--plan-hash", true);
pub const PLAN_ONLY: Flag = ("--plan-only", false);
pub const APPLY: Flag = ("--apply", false);
pub const APPROVE: Flag = ("--approve", false);

/// The command line this process was started with, split as clap reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    program: String,
    /// Global flags before the subcommand, kept as typed.
    globals: Vec<String>,
    /// The subcommand's words (`plan`, `migrate prepare`).
    command: Vec<String>,
    /// Everything after the subcommand's words.
    flags: Vec<String>,
}

impl Invocation {
    /// This process's command line.
    pub fn current() -> Self {
        let mut args = std::env::args();
        let program = args.next().unwrap_or_else(|| "ferry".into());
        Self::parse(&program_name(&program), args.collect())
    }

    fn parse(program: &str, args: Vec<String>) -> Self {
        let (mut globals, mut command) = (Vec::new(), Vec::new());
        let mut rest = args.into_iter().peekable();
        while let Some(arg) = rest.peek() {
            if let Some(takes_value) = global_flag(arg) {
                let flag = rest.next().unwrap_or_default();
                let value = takes_value && !flag.contains('=');
                globals.push(flag);
                if value {
                    globals.extend(rest.next());
                }
            } else if arg.starts_with('-') {
                break;
            } else {
                command.extend(rest.next());
            }
        }
        Invocation { program: program.to_string(), globals, command, flags: rest.collect() }
    }

    /// This command again without the flags in `drop` (and their values),
    /// with `add` appended: `ferry deploy --plan-only …` becomes
    /// `ferry deploy … --plan-hash H`.
    pub fn again(&self, drop: &[Flag], add: &[&str]) -> String {
        let mut flags = Vec::new();
        let mut rest = self.flags.iter();
        while let Some(arg) = rest.next() {
            match drop.iter().find(|(flag, _)| named(arg, flag)) {
                Some((flag, true)) if !attached(arg, flag) => {
                    rest.next();
                }
                Some(_) => {}
                None => flags.push(arg.clone()),
            }
        }
        self.line(&self.command.iter().map(String::as_str).collect::<Vec<_>>(), &flags, add)
    }

    /// Another subcommand about the same app: `command` with the flags that
    /// say where ferry works, and any of `keep`, as typed here, then `add`.
    pub fn other(&self, command: &[&str], keep: &[&str], add: &[&str]) -> String {
        let mut flags = Vec::new();
        let mut rest = self.flags.iter();
        while let Some(arg) = rest.next() {
            if let Some(flag) = WHERE.iter().chain(keep).find(|flag| named(arg, flag)) {
                flags.push(arg.clone());
                if !attached(arg, flag) {
                    flags.extend(rest.next().cloned());
                }
            }
        }
        self.line(command, &flags, add)
    }

    fn line(&self, command: &[&str], flags: &[String], add: &[&str]) -> String {
        let words = std::iter::once(self.program.as_str())
            .chain(self.globals.iter().map(String::as_str))
            .chain(command.iter().copied())
            .chain(flags.iter().map(String::as_str))
            .chain(add.iter().copied());
        words.map(quote).collect::<Vec<_>>().join(" ")
    }
}

/// Whether `arg` is `flag` (`--dir`, `--dir=x`; `-c`, `-cx` for a short one).
fn named(arg: &str, flag: &str) -> bool {
    match arg.strip_prefix(flag) {
        Some(rest) => rest.is_empty() || rest.starts_with('=') || (!flag.starts_with("--") && flag.len() == 2),
        None => false,
    }
}

/// Whether `arg` (which is `flag`) holds its value: `--dir=x`, `-cx`.
fn attached(arg: &str, flag: &str) -> bool {
    arg.len() > flag.len()
}

/// Whether `arg` is a global flag, and if so whether it takes a value.
fn global_flag(arg: &str) -> Option<bool> {
    if arg.len() >= 2 && arg.starts_with('-') && !arg.starts_with("--") {
        // `-v`, `-vv`, `-q`: short global flags take no value.
        return arg[1..].chars().all(|c| c == 'v' || c == 'q').then_some(false);
    }
    GLOBAL.iter().find(|(flag, _)| named(arg, flag)).map(|(_, value)| *value)
}

/// The program as the user can type it again: `ferry` when that is what
/// `PATH` finds, else the path they ran.
fn program_name(argv0: &str) -> String {
    let path = Path::new(argv0);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return argv0.to_string() };
    if !argv0.contains('/') {
        return argv0.to_string();
    }
    let on_path =
        std::env::var_os("PATH").map(|paths| std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())).unwrap_or_default();
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    match on_path {
        Some(found) if same(&found, path) => name.to_string(),
        _ => argv0.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(line: &str) -> Invocation {
        Invocation::parse("ferry", line.split_whitespace().map(String::from).collect())
    }

    #[test]
    fn a_plans_next_command_keeps_where_ferry_worked() {
        let plan = invocation("-v plan --dir app --format json --state /tmp/s --phase data -c fly.prod.toml");
        assert_eq!(plan.command, ["plan"]);
        assert_eq!(
            plan.other(&["apply"], &["--phase"], &["--plan-hash", "3f96cc6067a6"]),
            "ferry -v apply --dir app --state /tmp/s --phase data -c fly.prod.toml --plan-hash 3f96cc6067a6"
        );
        let spaced = Invocation::parse("ferry", vec!["plan".into(), "--dir=my app".into(), "-cfly.x.toml".into(), "--format".into(), "md".into()]);
        assert_eq!(spaced.other(&["apply"], &[], &[]), "ferry apply '--dir=my app' -cfly.x.toml");
    }

    #[test]
    fn a_deploy_plan_is_applied_by_the_same_deploy() {
        let deploy = invocation("--cache-dir /c deploy --plan-only --image registry.fly.io/shop:1 --format=md --plan-hash 0123456789ab");
        assert_eq!(deploy.command, ["deploy"]);
        let next = deploy.again(&[("--plan-only", false), ("--format", true), ("--plan-hash", true)], &["--plan-hash", "3f96cc6067a6"]);
        assert_eq!(next, "ferry --cache-dir /c deploy --image registry.fly.io/shop:1 --plan-hash 3f96cc6067a6");
    }

    #[test]
    fn a_migration_phase_names_both_words() {
        let m = invocation("migrate data --id mig-1 --dir app --format md");
        assert_eq!(m.command, ["migrate", "data"]);
        assert_eq!(m.other(&["migrate", "finalize"], &["--id"], &[]), "ferry migrate finalize --id mig-1 --dir app");
    }

    #[test]
    fn words_the_shell_would_read_otherwise_are_quoted() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote("registry.fly.io/shop:v1"), "registry.fly.io/shop:v1");
    }
}
