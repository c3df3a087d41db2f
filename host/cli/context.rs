//! What every command sets up: logging, the sandbox runtime, the workflow.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use ferry_engine::{ResolvedStep, Workflow};
use ferry_runtime::{HostContext, Runtime, RuntimeConfig};
use tracing_subscriber::EnvFilter;

use crate::args::{Checkout, Global};

/// Logs to stderr: `FERRY_LOG` if set, else info (steps' own lines included).
pub fn init_logging(global: &Global) {
    let default = match (global.quiet, global.verbose) {
        (true, _) => "warn",
        (false, 0) => "info,cranelift=warn,wasmtime=warn",
        (false, 1) => "debug,cranelift=info,wasmtime=info",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_env("FERRY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .init();
}

/// A loaded workflow, its steps, and what they run against.
pub struct Session {
    pub runtime: Runtime,
    pub host: HostContext,
    pub workflow: Workflow,
    pub steps: Vec<ResolvedStep>,
}

impl Session {
    pub fn open(global: &Global, checkout: &Checkout) -> anyhow::Result<Self> {
        let dir = &checkout.dir;
        anyhow::ensure!(dir.is_dir(), "{} is not a directory (--dir names the app's checkout)", dir.display());
        let workflow = match &checkout.workflow {
            Some(path) => Workflow::load(path)?,
            None => Workflow::discover(dir)?,
        };
        let runtime = Runtime::new(RuntimeConfig { cache_dir: cache_dir(global) })?;
        let host = HostContext::for_checkout(dir.canonicalize().with_context(|| format!("opening {}", dir.display()))?);
        let steps = ferry_engine::resolve(&runtime, &host, &workflow)?;
        Ok(Session { runtime, host, workflow, steps })
    }
}

fn cache_dir(global: &Global) -> Option<PathBuf> {
    if global.no_cache {
        return None;
    }
    global.cache_dir.clone().or_else(|| {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("ferry"))
    })
}

/// An id for this run, for step logs: the GitHub run when inside Actions.
pub fn run_id() -> String {
    match (std::env::var("GITHUB_RUN_ID"), std::env::var("GITHUB_RUN_ATTEMPT")) {
        (Ok(id), Ok(attempt)) => format!("gh-{id}-{attempt}"),
        (Ok(id), Err(_)) => format!("gh-{id}"),
        _ => {
            let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
            format!("local-{ms}-{}", std::process::id())
        }
    }
}
