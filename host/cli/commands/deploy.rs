//! `ferry deploy`: what `fly deploy` does, as a reviewed-shape plan applied
//! with a journal and a rollback, and a result scripts can read.

use std::process::ExitCode;

use ferry_engine::apply::{self, ApplyOptions, ApplyReport, Outcome};
use ferry_model::Plan;
use serde_json::json;

use super::build::{self, Built};
use crate::args::{DeployArgs, DeployTarget, Global, PlanFormat};
use crate::context::{LOCK_TTL_MS, Session, fail_on_config_errors, fly_client, in_github_actions, owner, provided_secrets, providers, state_store};
use crate::next::{FORMAT, Flag, Invocation, PLAN_HASH, PLAN_ONLY};

/// `--build-on`, which an apply naming the image it built drops.
const BUILD_ON: Flag = ("--build-on", true);

pub fn run(global: &Global, args: &DeployArgs) -> anyhow::Result<ExitCode> {
    if args.target == DeployTarget::Vm {
        if let Some(flag) = args.machines.given().first() {
            anyhow::bail!("{flag} applies to Fly Machines deploys; --target vm does not take it");
        }
        if let Some(flag) = args.build.given().into_iter().find(|flag| build::FLY_ONLY.contains(flag)) {
            anyhow::bail!("{flag} applies to a build for Fly Machines (a registry); --target vm ships the image it builds to the host");
        }
        return vm(global, args);
    }
    if args.build_on.is_some() {
        anyhow::bail!("--build-on chooses where a --target vm deploy builds; a Fly deploy builds here and pushes to the Fly registry");
    }
    if args.machines.vm_gpus.is_some() || args.machines.vm_gpu_kind.is_some() {
        // flyctl's words (`flag/machines.go:66-68`).
        anyhow::bail!("GPU machines are no longer supported: --vm-gpu-kind and --vm-gpus are no longer accepted");
    }
    let mut session = Session::builtin(global, &args.checkout, "deploy", &params(args))?;
    let built = build_unless_named(&mut session, args)?;
    if args.build.build_only {
        let built = built.expect("--build-only builds or fails");
        super::print(&build_result(&built, args.format))?;
        if in_github_actions() {
            let runner = crate::runner::Runner::from_env()?;
            runner.output("image", &built.reference)?;
            runner.output("image-digest", image_digest(Some(&built.reference)))?;
        }
        return Ok(crate::exit::OK);
    }
    let Some((plan, report)) = plan_and_apply(session, args, "deploy", built.as_ref())? else { return Ok(crate::exit::OK) };
    let result = DeployResult::gather(&report, &plan);
    super::print(&result.render(&report, args.format))?;
    if in_github_actions() {
        result.set_outputs(&crate::runner::Runner::from_env()?)?;
    }
    Ok(super::apply::exit_code(&report.outcome))
}

/// `--target vm`: provision the host, or deploy (or roll back) a release on
/// it, with the same plan, apply and journal as every other target.
fn vm(global: &Global, args: &DeployArgs) -> anyhow::Result<ExitCode> {
    let params = step_params(
        vec![("rollback", args.rollback.to_string()), ("load", args.load.to_string()), ("provided-secrets", provided_secrets().join(","))],
        [
            ("target", &args.vm),
            ("image", &args.image),
            ("hostnames", &args.hostnames),
            ("wait-timeout", &args.wait_timeout),
            ("tls-certificate", &args.tls_certificate),
            ("tls-key", &args.tls_key),
        ],
    );
    let phase = if args.provision { "provision" } else { "deploy" };
    let mut session = Session::builtin(global, &args.checkout, "vm-deploy", &params)?;
    // Provisioning and rolling back deploy no new image.
    let built = if args.provision || args.rollback { None } else { build::place_vm_build(&mut session, &args.checkout.dir, &args.build, args.build_on)? };
    let Some((_, report)) = plan_and_apply(session, args, phase, built.as_ref())? else { return Ok(crate::exit::OK) };
    super::print(&ferry_render::apply_result(&report.app, &report.run, &report.outcome, &report.phase, super::plan::format(args.format)))?;
    Ok(super::apply::exit_code(&report.outcome))
}

/// Builds the image when nothing names one, pushing it unless
/// `--build-only` without `--push`.
fn build_unless_named(session: &mut Session, args: &DeployArgs) -> anyhow::Result<Option<Built>> {
    build::build_unless_named(session, &args.build, &args.checkout.dir, !args.build.build_only || args.build.push)
}

/// What `--build-only` prints: the image, and how to deploy it.
fn build_result(built: &Built, format: PlanFormat) -> String {
    let deploy = Invocation::current().again(&[FORMAT].into_iter().chain(build::FLAGS).collect::<Vec<_>>(), &["--image", &built.reference]);
    match format {
        PlanFormat::Json => {
            let value = json!({
                "image": built.reference,
                "digest": built.digest,
                "builder": built.builder,
                "reason": built.reason,
                "deploy": built.digest.as_ref().map(|_| &deploy),
            });
            format!("{}\n", serde_json::to_string_pretty(&value).expect("a build result serialises"))
        }
        PlanFormat::Text | PlanFormat::Md => {
            let mut out = format!("{}\n", built.finding().message);
            if built.digest.is_some() {
                out.push_str(&format!("Deploy it with:\n  {deploy}\n"));
            } else {
                out.push_str("Not pushed (--push pushes it); a deploy of it needs a registry the machines can pull from.\n");
            }
            out
        }
    }
}

/// Plans `phase` with the session's built-in step, then (unless --plan-only,
/// which prints the plan and keeps it for review) applies it; `None` when
/// only planned. An apply of a plan whose image this run `built` names that
/// image, so it deploys the reviewed bytes rather than building again.
fn plan_and_apply(session: Session, args: &DeployArgs, phase: &str, built: Option<&Built>) -> anyhow::Result<Option<(Plan, ApplyReport)>> {
    let plan = session.plan(phase)?;
    fail_on_config_errors(plan.app.as_ref())?;
    let store = state_store(&args.state, &args.checkout.dir)?;
    if args.plan_only {
        // Applied by this same deploy (its flags choose the step's
        // parameters), not by `ferry apply`, which plans ferry.toml alone.
        let hash = &plan.hash()[..12];
        let apply = match built {
            Some(built) => {
                let shipped: &[&str] = if built.ship { &["--load"] } else { &[] };
                Invocation::current().again(
                    &[PLAN_ONLY, FORMAT, PLAN_HASH, BUILD_ON].into_iter().chain(build::FLAGS).collect::<Vec<_>>(),
                    &[&["--image", built.reference.as_str()], shipped, &["--plan-hash", hash]].concat(),
                )
            }
            None => Invocation::current().again(&[PLAN_ONLY, FORMAT, PLAN_HASH], &["--plan-hash", hash]),
        };
        super::print(&ferry_render::plan_applied_by(&plan, super::plan::format(args.format), &apply))?;
        super::plan::keep(&plan, &*store)?;
        return Ok(None);
    }
    announce(&plan);
    super::confirm_destructive(&plan, args.plan_hash.is_some(), args.machines.yes)?;
    let opts = ApplyOptions {
        reviewed_hash: args.plan_hash.clone(),
        rollback: !args.no_rollback,
        approve: true,
        run: None,
        key: None,
        owner: owner(),
        lock_ttl_ms: LOCK_TTL_MS,
        resume_unreviewed: !crate::context::in_github_actions(),
    };
    let report = apply::apply(&*store, &providers(&args.checkout)?, &plan, &opts)?;
    Ok(Some((plan, report)))
}

/// `fly deploy`'s flags, as the deploy step's parameters (of the same
/// names). Repeatable flags travel as a JSON list, so a value may hold a
/// line break; the step checks every value and names the flag when one is
/// wrong.
fn params(args: &DeployArgs) -> Vec<(&'static str, String)> {
    let m = &args.machines;
    let mut params = step_params(
        vec![
            ("detach", args.detach.to_string()),
            ("skip-release-command", args.skip_release_command.to_string()),
            ("ha", args.ha.to_string()),
            ("smoke-checks", m.smoke_checks.to_string()),
            ("no-public-ips", m.no_public_ips.to_string()),
            ("flycast", m.flycast.to_string()),
            ("update-only", m.update_only.to_string()),
        ],
        [
            ("app", &args.app),
            ("image", &args.image),
            ("strategy", &args.strategy),
            ("max-unavailable", &args.max_unavailable),
            ("wait-timeout", &args.wait_timeout),
            ("release-command-timeout", &args.release_command_timeout),
            ("process-groups", &args.process_groups),
            ("bluegreen-drain", &args.bluegreen_drain),
            ("primary-region", &m.primary_region),
            ("vm-size", &m.vm_size),
            ("vm-cpus", &m.vm_cpus),
            ("vm-memory", &m.vm_memory),
            ("vm-cpu-kind", &m.vm_cpu_kind),
            ("vm-max-memory", &m.vm_max_memory),
            ("host-dedication-id", &m.host_dedication_id),
            ("deploy-retries", &m.deploy_retries),
            ("volume-initial-size", &m.volume_initial_size),
        ],
    );
    for (name, values) in
        [("regions", &m.regions), ("exclude-regions", &m.exclude_regions), ("only-machines", &m.only_machines), ("exclude-machines", &m.exclude_machines)]
    {
        if !values.is_empty() {
            params.push((name, values.join(",")));
        }
    }
    for (name, values) in [("env", &m.env), ("file-local", &m.file_local), ("file-literal", &m.file_literal), ("file-secret", &m.file_secret)] {
        if !values.is_empty() {
            params.push((name, serde_json::to_string(values).expect("strings serialise")));
        }
    }
    params
}

/// A step's parameters: those always given, then the optional flags the
/// command line set.
fn step_params<const N: usize>(mut always: Vec<(&'static str, String)>, optional: [(&'static str, &Option<String>); N]) -> Vec<(&'static str, String)> {
    always.extend(optional.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))));
    always
}

/// The plan, on stderr, before anything changes.
fn announce(plan: &Plan) {
    let counts = plan.counts();
    tracing::info!(
        "plan {}: {} action(s) ({} safe, {} disruptive, {} destructive)",
        &plan.hash()[..12],
        counts.total(),
        counts.safe,
        counts.disruptive,
        counts.destructive
    );
    for action in plan.actions() {
        tracing::info!("  - {}", action.summary);
    }
    for finding in plan.steps.iter().flat_map(|s| &s.findings) {
        match finding.severity {
            ferry_model::Severity::Info => tracing::info!("{}", finding.message),
            _ => tracing::warn!("{}", finding.message),
        }
    }
}

/// The `sha256:…` a reference is pinned to, or "" (a tag the platform resolves).
fn image_digest(image: Option<&str>) -> &str {
    image.and_then(|i| i.split_once('@')).map_or("", |(_, digest)| digest)
}

/// What a deploy left running, read back from the API afterwards (so it is
/// true after a rollback as well).
pub(super) struct DeployResult {
    app: String,
    release_id: Option<String>,
    release_version: Option<String>,
    image: Option<String>,
    machines: Vec<String>,
}

impl DeployResult {
    /// The result of a plan that deployed to Fly, if it did.
    pub(super) fn of(report: &ApplyReport) -> Option<Self> {
        let plan = &report.phase.plan;
        plan.steps.iter().any(|s| s.step == "deploy").then(|| Self::gather(report, plan))
    }

    fn gather(report: &ApplyReport, plan: &Plan) -> Self {
        let app = plan.app.as_ref().and_then(|a| a.app.clone()).unwrap_or_else(|| report.app.clone());
        let mut result = DeployResult { app, release_id: None, release_version: None, image: None, machines: Vec::new() };
        let machines = match fly_client().ok().flatten().map(|c| c.list_managed_machines(&result.app)) {
            Some(Ok(machines)) => machines,
            Some(Err(e)) => {
                tracing::warn!("could not list the machines of {} after the deploy: {e}", result.app);
                return result;
            }
            None => return result,
        };
        let newest = machines
            .iter()
            .filter_map(|m| m.config())
            .max_by_key(|c| c.metadata_value(ferry_fly::metadata::RELEASE_VERSION).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0));
        if let Some(config) = newest {
            result.release_id = config.metadata_value(ferry_fly::metadata::RELEASE_ID).map(str::to_string);
            result.release_version = config.metadata_value(ferry_fly::metadata::RELEASE_VERSION).map(str::to_string);
            result.image = config.image().map(str::to_string);
        }
        result.machines = machines.into_iter().map(|m| m.id).collect();
        result
    }

    fn render(&self, report: &ApplyReport, format: PlanFormat) -> String {
        match format {
            PlanFormat::Json => {
                let value = json!({
                    "app": self.app,
                    "run": report.run,
                    "result": report.outcome,
                    "release": {"id": self.release_id, "version": self.release_version},
                    "image": self.image,
                    "machines": self.machines,
                    "phase": report.phase,
                });
                format!("{}\n", serde_json::to_string_pretty(&value).expect("a deploy result serialises"))
            }
            other => {
                let mut out = ferry_render::apply_result(&report.app, &report.run, &report.outcome, &report.phase, super::plan::format(other));
                out.push('\n');
                let sentence = self.sentence(&report.outcome);
                // The image and ids come from the Fly API (the image from fly.toml).
                out.push_str(&match other {
                    PlanFormat::Md => ferry_render::markdown_text(&sentence),
                    PlanFormat::Text | PlanFormat::Json => ferry_model::printable(&sentence).into_owned(),
                });
                out.push('\n');
                out
            }
        }
    }

    /// "shop now runs release 01JD… (v3), image …, on 3 machine(s): …"
    pub(super) fn sentence(&self, outcome: &Outcome) -> String {
        let verb = if matches!(outcome, Outcome::Applied | Outcome::AlreadyApplied) { "now runs" } else { "still runs" };
        if self.machines.is_empty() {
            return format!("{} {verb} no machines", self.app);
        }
        let release = match (&self.release_id, &self.release_version) {
            (Some(id), Some(v)) => format!("release {id} (v{v})"),
            _ => "no release".into(),
        };
        format!(
            "{} {verb} {release}, image {}, on {} machine(s): {}",
            self.app,
            self.image.as_deref().unwrap_or("-"),
            self.machines.len(),
            self.machines.join(", ")
        )
    }

    /// Step outputs for the workflow's later steps.
    pub(super) fn set_outputs(&self, runner: &crate::runner::Runner) -> anyhow::Result<()> {
        runner.output("release-id", self.release_id.as_deref().unwrap_or(""))?;
        runner.output("release-version", self.release_version.as_deref().unwrap_or(""))?;
        runner.output("image", self.image.as_deref().unwrap_or(""))?;
        runner.output("image-digest", image_digest(self.image.as_deref()))?;
        runner.output("machine-ids", &self.machines.join(","))?;
        Ok(())
    }
}
