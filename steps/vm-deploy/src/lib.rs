//! `vm-deploy`: plans the `provision` and `deploy` phases of a VM target (a
//! Docker host over SSH, `[targets.vm.<name>]`) from the app-spec and what
//! the read-only `vm` import reports of the host. The host executes the
//! plan under the host lock and journals every action.

use ferry_step_sdk::host::vm;
use ferry_step_sdk::params::{Params, Spec, finding, invalid, precondition};
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{AppSpec, Problem, Severity, StepError};
use ferry_step_sdk::units::go_duration_ms;
use ferry_step_sdk::{Step, export_step, info};
use ferry_vm_plan::app::VmApp;
use ferry_vm_plan::deploy::{self, ImageFrom, Options};
use ferry_vm_plan::nginx::Tls;
use ferry_vm_plan::observed::Observed;
use ferry_vm_plan::provision;

const PARAMS: &[Spec] = &[
    ("target", "The [targets.vm.<name>] to plan for; default: the only one configured.", None),
    (
        "image",
        "An image to pull on the host (or, with `load`, to ship from this machine's Docker); default: build on the host from the checkout's Dockerfile.",
        None,
    ),
    ("load", "Ship `image` from this machine's engine (docker save | ssh docker load) instead of pulling it.", Some("false")),
    ("rollback", "Plan starting the release before the serving one again instead of a new release.", Some("false")),
    ("hostnames", "Comma-separated server names for the nginx site; default: every name.", None),
    ("wait-timeout", "How long a new container (or the database provision starts) has to pass its health check.", Some("60s")),
    ("tls-certificate", "A certificate (full chain) on the host: nginx also serves 443 with it.", None),
    ("tls-key", "The certificate's private key on the host.", None),
    ("provided-secrets", "Comma-separated secret names ferry has a value for (set by the CLI).", None),
];

struct VmDeploy;

impl Step for VmDeploy {
    fn describe() -> StepInfo {
        StepInfo {
            name: "vm-deploy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Plans provisioning a Docker host over SSH and health-gated releases on it behind nginx, with a rollback to the previous release.".into(),
            params: ferry_step_sdk::params::param_infos(PARAMS, &[]),
        }
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let p = Params(&request.params);
        p.only("vm-deploy", PARAMS)?;
        let spec = request.app.clone().ok_or_else(|| precondition("vm-deploy needs the app-spec: run parse-config before it"))?;
        if !matches!(request.phase.as_str(), "provision" | "deploy") {
            let note = finding("other-phase", Severity::Info, format!("vm-deploy plans the provision and deploy phases; nothing to do in `{}`", request.phase));
            return Ok(StepPlan { app: request.app, actions: Vec::new(), findings: vec![note] });
        }
        let target = target(p.get("target"))?;
        deploy::check_target(&target).map_err(invalid)?;
        let app = VmApp::new(&spec, &target.root)?;
        // Every parameter is checked before the host is asked anything.
        let deploy_options = if request.phase == "deploy" { Some(options(&p, &spec)?) } else { None };
        let provided_secrets = p.list("provided-secrets").unwrap_or_default();
        let wait_timeout_ms = wait_timeout(&p)?;
        let served = deploy_options.as_ref().and_then(|o| o.serving_tls(&app, &target));
        let observed = observe(target, &app.name, served.as_ref())?;
        let planned = match &deploy_options {
            None => provision::plan(&app, &observed, &provision::Options { provided_secrets, wait_timeout_ms }),
            Some(options) if p.flag("rollback", false)? => deploy::rollback(&app, &observed, options)?,
            Some(options) => deploy::plan(&app, &observed, options),
        };
        info!("{} on {}, {}: {} action(s)", app.name, observed.target.name, request.phase, planned.actions.len());
        Ok(StepPlan { app: request.app, actions: planned.actions, findings: planned.findings })
    }
}

fn options(p: &Params<'_>, spec: &AppSpec) -> Result<Options, StepError> {
    let image = match (p.get("image").or(spec.build.image.as_deref()), p.flag("load", false)?) {
        (Some(image), true) => ImageFrom::Load(image.into()),
        (Some(image), false) => ImageFrom::Pull(image.into()),
        (None, true) => return Err(invalid("`load` ships an image: give it with `image`")),
        (None, false) => ImageFrom::Build(deploy::build_from(spec)),
    };
    let wait_timeout_ms = wait_timeout(p)?;
    let tls = match (p.get("tls-certificate"), p.get("tls-key")) {
        (Some(certificate), Some(key)) => Some(Tls { certificate: certificate.into(), key: key.into() }),
        (None, None) => None,
        _ => return Err(invalid("TLS needs both `tls-certificate` and `tls-key` (paths on the host)")),
    };
    let options = Options { image, hostnames: p.list("hostnames").unwrap_or_default(), wait_timeout_ms, tls };
    options.check().map_err(invalid)?;
    Ok(options)
}

fn wait_timeout(p: &Params<'_>) -> Result<u64, StepError> {
    let wait = p.get("wait-timeout").unwrap_or("60s");
    go_duration_ms(wait).ok_or_else(|| invalid(format!("wait-timeout `{wait}` is not a duration (e.g. 60s, 2m)")))
}

fn target(name: Option<&str>) -> Result<vm::VmTargetInfo, StepError> {
    let targets = vm::list_targets();
    match name {
        Some(name) => targets
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| precondition(format!("VM target {name} is not configured: add [targets.vm.{name}] to ferry.toml"))),
        None if targets.len() == 1 => Ok(targets.into_iter().next().expect("one target")),
        None if targets.is_empty() => {
            Err(precondition("no VM target is configured: add [targets.vm.<name>] to ferry.toml (host, ssh_key_env, known_hosts_env)"))
        }
        None => {
            let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
            Err(invalid(format!("several VM targets are configured ({}): choose one with `target`", names.join(", "))))
        }
    }
}

fn observe(target: vm::VmTargetInfo, app: &str, tls: Option<&Tls>) -> Result<Observed, StepError> {
    let name = target.name.clone();
    let at = |e: String| StepError::Transient(Problem { message: format!("reading VM target {name}: {e}"), location: None });
    let facts = vm::facts(&name).map_err(at)?;
    let containers = vm::containers(&name, app).map_err(at)?;
    let releases = Observed::parse_releases(&vm::releases(&name, app).map_err(at)?);
    let certificate = tls.map(|t| vm::certificate(&name, &t.certificate)).transpose().map_err(at)?.flatten();
    Ok(Observed { target, facts, containers, releases, certificate })
}

export_step!(VmDeploy);
