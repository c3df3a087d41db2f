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
        let mut workflow = match &checkout.workflow {
            Some(path) => Workflow::load(path)?,
            None => Workflow::discover(&checkout.dir)?,
        };
        if let Some(config) = &checkout.config {
            workflow.set_param("parse-config", "config", config);
        }
        Self::with_workflow(global, checkout, workflow)
    }

    /// A session running only the built-in parse-config step.
    pub fn inventory(global: &Global, checkout: &Checkout) -> anyhow::Result<Self> {
        let mut workflow = Workflow::default_workflow();
        if let Some(config) = &checkout.config {
            workflow.set_param("parse-config", "config", config);
        }
        Self::with_workflow(global, checkout, workflow)
    }

    fn with_workflow(global: &Global, checkout: &Checkout, workflow: Workflow) -> anyhow::Result<Self> {
        let dir = &checkout.dir;
        anyhow::ensure!(dir.is_dir(), "{} is not a directory (--dir names the app's checkout)", dir.display());
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

/// Fails when the inventory holds findings of error severity: the config is
/// one flyctl would refuse. The output was printed first, so the findings
/// are there to read.
pub fn fail_on_config_errors(app: Option<&ferry_model::AppSpec>) -> anyhow::Result<()> {
    let Some(app) = app else { return Ok(()) };
    let errors: Vec<_> = app.warnings.iter().filter(|f| f.severity == ferry_model::Severity::Error).collect();
    match errors.as_slice() {
        [] => Ok(()),
        [one] => anyhow::bail!("{} is not valid: {}", app.source, describe(one)),
        many => anyhow::bail!("{} is not valid: {} errors, the first: {}", app.source, many.len(), describe(many[0])),
    }
}

fn describe(f: &ferry_model::Finding) -> String {
    match &f.location {
        Some(at) => format!("{at}: {}", f.message),
        None => f.message.clone(),
    }
}
