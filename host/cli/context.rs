//! What every command sets up: logging, the sandbox runtime, the workflow.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use ferry_engine::{ResolvedStep, Workflow};
use ferry_runtime::{HostContext, Runtime, RuntimeConfig};
use tracing_subscriber::EnvFilter;

use crate::args::{Checkout, Global, State};
use crate::guard::{Guard, Source};
use crate::log_format::PrintableFields;
use crate::mask::{MaskingStore, MaskingWriter};

/// Logs to stderr: `FERRY_LOG` if set, else info (steps' own lines included).
/// The PostgreSQL client's server notices (`created replication slot …`)
/// and wasmtime's compiler are shown from `-v` on: at info they are noise in
/// every data apply and first run.
/// Every field is masked and escaped ([`PrintableFields`]: one event, one
/// line), then the line is masked again and guarded against workflow
/// commands on its way out.
pub fn init_logging(global: &Global) {
    let default = match (global.quiet, global.verbose) {
        (true, _) => "warn",
        (false, 0) => "info,cranelift=warn,wasmtime=warn,tokio_postgres=warn,postgres=warn",
        (false, 1) => "debug,cranelift=info,wasmtime=info,tokio_postgres=info,postgres=info",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_env("FERRY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(PrintableFields)
        .with_writer(|| MaskingWriter::new(Guard::new(std::io::stderr(), Source::Log)))
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
    /// What the host says about the plan before any step runs (credentials
    /// it withheld).
    findings: Vec<ferry_model::Finding>,
}

impl Session {
    pub fn open(global: &Global, checkout: &Checkout) -> anyhow::Result<Self> {
        let mut workflow = load_workflow(checkout)?;
        if let Some(config) = &checkout.config {
            workflow.set_param("parse-config", "config", config);
        }
        Self::with_workflow(global, checkout, workflow)
    }

    /// A session whose workflow ends with the built-in `step` (deploy,
    /// migrate), given `params` (from the subcommand's flags).
    pub fn builtin(global: &Global, checkout: &Checkout, step: &str, params: &[(&str, String)]) -> anyhow::Result<Self> {
        let mut workflow = load_workflow(checkout)?.with_builtin(step);
        if let Some(config) = &checkout.config {
            workflow.set_param("parse-config", "config", config);
        }
        for (key, value) in params {
            workflow.set_param(step, key, value);
            // `--app` names the app the command acts on: the inventory and
            // its live state are of that app too, not of the config's.
            if *key == "app" {
                workflow.set_param("parse-config", key, value);
            }
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

    /// Plans `phase`: every step's actions, the host's findings, and the
    /// digest of the settings it was planned under.
    pub fn plan(&self, phase: &str) -> anyhow::Result<ferry_model::Plan> {
        let mut plan = ferry_engine::plan(&self.runtime, &self.host, &self.steps, phase, &run_id())?;
        plan.workflow = self.workflow.digest();
        plan.host_findings = self.findings.clone();
        Ok(plan)
    }

    /// The app-spec the steps before `step` make (parse-config's
    /// inventory): what the host reads before `step` plans (the image to build).
    pub fn app_before(&self, step: &str, phase: &str) -> anyhow::Result<Option<ferry_model::AppSpec>> {
        let before = self.steps.iter().position(|s| s.spec.name == step).unwrap_or(self.steps.len());
        Ok(ferry_engine::plan(&self.runtime, &self.host, &self.steps[..before], phase, &run_id())?.app)
    }

    /// Whether the workflow has a step called `step`.
    pub fn has_step(&self, step: &str) -> bool {
        self.steps.iter().any(|s| s.spec.name == step)
    }

    /// Step `step`'s parameter `key`, as the workflow and the flags set it.
    pub fn param(&self, step: &str, key: &str) -> Option<&str> {
        let spec = self.steps.iter().find(|s| s.spec.name == step)?;
        spec.spec.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Sets a parameter of step `step` after the session opened: a value
    /// the host made (the image it built). The workflow's digest, which the
    /// plan hash covers, includes it as it would a flag's.
    pub fn set_param(&mut self, step: &str, key: &str, value: &str) {
        self.workflow.set_param(step, key, value);
        for resolved in self.steps.iter_mut().filter(|s| s.spec.name == step) {
            resolved.spec.set_param(key, value);
        }
    }

    /// A finding of the host's, shown with the plan.
    pub fn add_finding(&mut self, finding: ferry_model::Finding) {
        self.findings.push(finding);
    }

    /// Whether any step may propose an operation that changes something
    /// (not only approvals and waits): a workflow of checks deploys nothing.
    pub fn can_act(&self) -> bool {
        self.steps.iter().any(|s| s.actions.iter().next().is_some())
    }

    /// Why applying this workflow would change nothing, and what to add.
    pub fn nothing_acts(&self) -> String {
        let names: Vec<&str> = self.steps.iter().map(|s| s.spec.name.as_str()).collect();
        let source = match &self.workflow.file {
            Some(_) => "ferry.toml".to_string(),
            None => "this repository has no ferry.toml, and the default workflow".to_string(),
        };
        format!(
            "{source} runs only steps that read ({}), so applying it deploys nothing. Add the deploy step to ferry.toml \
             (`[[steps]]` with `name = \"deploy\"` and `params = {{ image = \"registry.fly.io/<app>:${{GITHUB_SHA}}\" }}`), \
             or run `ferry deploy` in this job",
            names.join(", ")
        )
    }

    fn with_workflow(global: &Global, checkout: &Checkout, workflow: Workflow) -> anyhow::Result<Self> {
        let findings = withhold_unless_trusted(checkout, &workflow)?;
        let dir = &checkout.dir;
        anyhow::ensure!(dir.is_dir(), "{} is not a directory (--dir names the app's checkout)", dir.display());
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: cache_dir(global),
            cache_key_file: RuntimeConfig::default_cache_key_file(),
            // `--no-step-cache` compiles every step now (the release's smoke test
            // checks code generation on its target with it).
            precompiled: if global.no_step_cache { None } else { std::env::current_exe().ok() },
        })?;
        let mut host = HostContext::for_checkout(dir.canonicalize().with_context(|| format!("opening {}", dir.display()))?);
        if let Some(client) = fly_client()? {
            host.fly = std::sync::Arc::new(ferry_engine::FlyApiReader::new(client));
        }
        if !workflow.dns.is_empty() {
            host.dns = std::sync::Arc::new(ferry_engine::DnsZones::new(workflow.dns.clone()));
        }
        // One set of SSH sessions for the VM steps and a database on a VM.
        let vm = std::sync::Arc::new(ferry_engine::VmTargets::new(workflow.vm_targets.clone()));
        if !workflow.data.is_empty() || !workflow.volumes.is_empty() {
            host.data = std::sync::Arc::new(ferry_engine::DataSources::new(workflow.data.clone(), workflow.volumes.clone()).with_vm(vm.clone()));
        }
        if !workflow.vm_targets.is_empty() {
            host.vm = vm;
        }
        let steps = ferry_engine::resolve(&runtime, &host, &workflow)?;
        Ok(Session { runtime, host, workflow, steps, findings })
    }
}

/// Compares the workflow's credential bindings with the trusted workflow's
/// (`--trusted-workflow`): when they differ, no credential is read for the
/// rest of the process, and the plan says so.
fn withhold_unless_trusted(checkout: &Checkout, workflow: &Workflow) -> anyhow::Result<Vec<ferry_model::Finding>> {
    let Some(path) = &checkout.trusted_workflow else { return Ok(Vec::new()) };
    let trusted = if path.is_file() { Workflow::load(path)? } else { Workflow::default_workflow() };
    let changes = workflow.binding_changes(&trusted);
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let reason = format!(
        "this ferry.toml changes where credentials go ({}) from the trusted one on the default branch, so ferry reads no credential \
         for this plan; once the change is merged, ferry uses them as the default branch says",
        changes.join(", ")
    );
    tracing::warn!("{reason}");
    ferry_secrets::withhold(reason.clone());
    Ok(vec![ferry_model::Finding { code: "credentials-withheld".into(), severity: ferry_model::Severity::Warning, message: reason, location: None }])
}

/// Names of the secrets ferry has a value for (`FERRY_SECRET_<NAME>`): a
/// step learns which names are covered, never a value.
pub fn provided_secrets() -> Vec<String> {
    ferry_secrets::provided_names()
}

/// The Machines API client, when `FLY_API_TOKEN` (or `FLY_ACCESS_TOKEN`) is set.
pub fn fly_client() -> anyhow::Result<Option<ferry_fly::FlyClient>> {
    ferry_fly::FlyClient::from_env().context("configuring the Fly API client")
}

/// `--workflow FILE`, else the checkout's ferry.toml, else the built-in workflow.
fn load_workflow(checkout: &Checkout) -> anyhow::Result<Workflow> {
    Ok(match &checkout.workflow {
        Some(path) => Workflow::load(path)?,
        None => Workflow::discover(&checkout.dir)?,
    })
}

/// What carries out a plan's actions for the checkout (whose workflow
/// configures the DNS zones).
pub fn providers(checkout: &Checkout) -> anyhow::Result<ferry_engine::apply::Providers> {
    let workflow = load_workflow(checkout)?;
    let dir = &checkout.dir;
    let vm = std::sync::Arc::new(ferry_engine::VmTargets::new(workflow.vm_targets));
    let fly = fly_client()?.map(|client| std::sync::Arc::new(ferry_engine::apply::FlyOps::new(client)));
    Ok(ferry_engine::apply::Providers {
        checkout: dir.canonicalize().with_context(|| format!("opening {}", dir.display()))?,
        fly: fly.clone(),
        dns: ferry_engine::apply::DnsOps::new(ferry_engine::DnsZones::new(workflow.dns.clone())),
        data: ferry_engine::apply::DataOps::new(ferry_engine::DataSources::new(workflow.data, workflow.volumes).with_vm(vm.clone())),
        vm: ferry_engine::apply::VmOps::new(vm, owner(), dir.canonicalize()?, ferry_engine::DnsZones::new(workflow.dns), fly),
    })
}

fn cache_dir(global: &Global) -> Option<PathBuf> {
    if global.no_step_cache {
        return None;
    }
    global.cache_dir.clone().or_else(|| {
        let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
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

/// The state store: `--state github` (a branch of the repository), a
/// directory, or by default `github` inside GitHub Actions and `DIR/.ferry`
/// elsewhere. Every write is masked, and signed when `FERRY_STATE_KEY` is set.
pub fn state_store(state: &State, dir: &std::path::Path) -> anyhow::Result<Box<dyn ferry_state::StateStore>> {
    let choice = state.state.clone().or_else(|| in_github_actions().then(|| "github".to_string()));
    let inner: Box<dyn ferry_state::StateStore> = match choice.as_deref() {
        Some("github") => Box::new(ferry_github::BranchStore::new(crate::runner::github_from_env()?)),
        Some(path) => Box::new(ferry_state::DirStore::open(path)?),
        None => Box::new(ferry_state::DirStore::open(dir.join(".ferry"))?),
    };
    Ok(Box::new(MaskingStore { inner: Box::new(crate::signing::SigningStore::from_env(inner)) }))
}

pub fn in_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Who this run is, for locks: the GitHub Actions run, or this host and process.
///
/// In CI the id is `gh-<run>-<attempt>-<job>-<nonce>`: the run and job say
/// where to look, and the per-process nonce keeps two jobs of one run (a
/// matrix's jobs share the run, the attempt and the job name) from being
/// one owner, which `acquire` would let share the lock.
pub fn owner() -> ferry_engine::apply::Owner {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (env("GITHUB_SERVER_URL"), env("GITHUB_REPOSITORY"), env("GITHUB_RUN_ID")) {
        (Some(server), Some(repo), Some(run)) => ferry_engine::apply::Owner {
            id: ci_owner_id(&run, env("GITHUB_RUN_ATTEMPT").as_deref(), env("GITHUB_JOB").as_deref(), ferry_state::lock::process_nonce()),
            url: Some(format!("{server}/{repo}/actions/runs/{run}")),
            host: None,
            pid: None,
        },
        _ => {
            let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into());
            let pid = std::process::id();
            ferry_engine::apply::Owner { id: format!("{host}-{pid}"), url: None, host: Some(host), pid: Some(pid) }
        }
    }
}

/// `gh-<run>-<attempt>-<job>-<nonce>`, each part cut to a safe charset
/// and length (they come from the environment and end up in messages).
fn ci_owner_id(run: &str, attempt: Option<&str>, job: Option<&str>, nonce: &str) -> String {
    let part = |s: &str| -> String { s.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')).take(64).collect() };
    let mut id = format!("gh-{}-{}", part(run), part(attempt.unwrap_or("1")));
    if let Some(job) = job.map(part).filter(|j| !j.is_empty()) {
        id.push('-');
        id.push_str(&job);
    }
    id.push('-');
    id.push_str(nonce);
    id
}

/// How long a lock lives without a refresh: a vanished run blocks no one longer.
pub const LOCK_TTL_MS: u64 = 10 * 60 * 1000;
