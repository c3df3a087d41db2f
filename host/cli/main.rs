//! `ferry`: plans, applies and reports deploys and migrations of Fly.io apps,
//! with every step running as a sandboxed WebAssembly component.
//!
//! This binary is a thin layer: argument parsing, logging, output and exit
//! codes. The work lives in the library crates under `host/`.

mod args;
mod commands;
mod context;
mod exit;
mod guard;
mod log_format;
mod mask;
mod runner;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = match args::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // Help and --version are successes; everything else is a usage error (2).
            let _ = e.print();
            return if e.use_stderr() { exit::usage() } else { exit::OK };
        }
    };
    context::init_logging(&args.global);
    if context::in_github_actions() {
        mask::Masker::global().register_with_github();
    }
    match commands::run(args) {
        Ok(code) => code,
        Err(e) => exit::report(&e),
    }
}
