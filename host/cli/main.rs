//! `ferry`: plans, applies and reports deploys and migrations of Fly.io apps,
//! with every step running as a sandboxed WebAssembly component.
//!
//! This binary is a thin layer: argument parsing, logging, output and exit
//! codes. The work lives in the library crates under `host/`.

mod args;
mod colour;
mod commands;
mod context;
mod exit;
mod guard;
mod log_format;
mod mask;
mod next;
mod runner;
mod signing;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = match args::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            print_usage(&e);
            // Help and --version are successes; everything else is a usage error (2).
            return if e.use_stderr() { exit::usage() } else { exit::OK };
        }
    };
    context::init_logging(&args.global);
    if context::in_github_actions() {
        mask::Masker::global().announce_to_github();
    }
    match commands::run(args) {
        Ok(code) => code,
        Err(e) => exit::report(&e),
    }
}

/// clap's help or usage error. Inside Actions it goes through the guard: a
/// usage error quotes the value given, which a workflow may take from an
/// event (a dispatch input, a comment).
fn print_usage(e: &clap::Error) {
    use std::io::Write;
    if !context::in_github_actions() {
        let _ = e.print();
        return;
    }
    let text = e.render().to_string();
    let _ = if e.use_stderr() {
        guard::Guard::new(std::io::stderr().lock(), guard::Source::Text).write_all(text.as_bytes())
    } else {
        guard::Guard::new(std::io::stdout().lock(), guard::Source::Text).write_all(text.as_bytes())
    };
}
