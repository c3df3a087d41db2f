//! `ferry deploy` from source: when nothing names an image (`--image`, the
//! deploy step's `image` in ferry.toml, fly.toml `[build].image`), the host
//! builds the checkout's Dockerfile and pushes it to the Fly registry before
//! the deploy step plans. The step then plans `tag@sha256:…`, so the plan's
//! hash covers the image's bytes, and the apply command `--plan-only`
//! prints names that digest instead of building again.
//!
//! What is built comes from fly.toml (untrusted in a pull request: its
//! Dockerfile must lie inside the checkout) and from the command line; what
//! the build may read (its secrets, the registry login) comes only from
//! this job's environment, and a fork's pull request gets neither.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ferry_build::commands::{self, PushSpec};
use ferry_build::registry::human_size;
use ferry_build::{BuildSpec, Builder, Engines, LayerCache, reference};
use ferry_model::{AppSpec, Finding, Severity};

use crate::args::{BuildFlags, BuildOn, LayerCacheAt};
use crate::context::Session;
use crate::next::Flag;

/// The build flags that only a build for Fly Machines reads: a VM gets its
/// image shipped, not pushed.
pub const FLY_ONLY: [&str; 4] = ["--build-only", "--push", "--image-label", "--layer-cache"];

/// The build flags, which an apply that names the built image drops.
pub const FLAGS: [Flag; 12] = [
    ("--build-only", false),
    ("--push", false),
    ("--local-only", false),
    ("--dockerfile", true),
    ("--build-arg", true),
    ("--build-secret", true),
    ("--build-target", true),
    ("--ignorefile", true),
    ("--no-cache", false),
    ("--layer-cache", true),
    ("--image-label", true),
    ("--label", true),
];

/// An image this run built.
#[derive(Debug)]
pub struct Built {
    /// What the deploy runs: `tag@sha256:…` once pushed, else the local tag.
    pub reference: String,
    /// What built it (`buildah`, `docker buildx (BuildKit)`, `pack`…) and why.
    pub builder: String,
    pub reason: String,
    /// Where its layer cache came from and went.
    pub cached: String,
    /// The engine's image id (the sha256 of the image's config).
    pub id: Option<String>,
    /// The sha256 digest of the pushed manifest.
    pub digest: Option<String>,
    /// Whether the app's machines run these bytes already (under the tag
    /// of an earlier deploy, which `reference` then names).
    pub running: bool,
    /// Shipped to a VM by `docker save | ssh docker load` (`reference` is
    /// then the engine's image id), not pulled from a registry.
    pub ship: bool,
    /// The image's size, and the layers that changed against the image the
    /// app runs, as the registry tells them (`None` if it could not).
    pub pull: Option<String>,
}

impl Built {
    /// What the plan says about the image (a host finding: shown, not hashed;
    /// the digest is hashed through the deploy step's `image`).
    pub fn finding(&self) -> Finding {
        let what = match (&self.digest, self.running, self.ship) {
            (Some(digest), true, _) => format!("pushed it: the app runs {digest} already, as {}, which the deploy keeps", self.reference),
            (Some(_), false, _) => format!("pushed as {}", self.reference),
            (None, _, true) => format!("ships it to the host as {} (docker save | ssh docker load), unless the host has that image already", self.reference),
            (None, _, false) => format!("kept on this machine as {}", self.reference),
        };
        let pull = self.pull.as_ref().map(|p| format!("; {p}")).unwrap_or_default();
        Finding {
            code: "image-built".into(),
            severity: Severity::Info,
            message: format!("ferry built the image with {} ({}; {}) and {what}{pull}", self.builder, self.reason, self.cached),
            location: None,
        }
    }
}

/// Where the deploy step's image comes from.
pub enum Image {
    /// The workflow has no deploy step.
    NoDeploy,
    /// Something names it already: what (for refusing build flags).
    Named(String),
    /// Nothing names one: ferry builds this app.
    ToBuild(Box<AppSpec>),
}

/// Which [`Image`] the session's step `step` (`deploy`, `vm-deploy`) gets:
/// `--image` (or the step's `image` in ferry.toml), else fly.toml's
/// `[build].image`, else a build of the app parse-config read (a config
/// with errors stops here, before anything is built).
pub fn image_of(session: &Session, step: &str) -> anyhow::Result<Image> {
    if !session.has_step(step) {
        return Ok(Image::NoDeploy);
    }
    if let Some(image) = session.param(step, "image") {
        return Ok(Image::Named(format!("--image (or the {step} step's image in ferry.toml) names {image}")));
    }
    let app = session.app_before(step, "deploy")?;
    crate::context::fail_on_config_errors(app.as_ref())?;
    Ok(match app {
        None => Image::NoDeploy,
        Some(app) => match &app.build.image {
            Some(image) => Image::Named(format!("fly.toml's [build].image names {image}")),
            None => Image::ToBuild(Box::new(app)),
        },
    })
}

/// When nothing names the deploy step's image, builds the checkout as
/// `flags` say (pushing it unless `push` is false) and gives the step the
/// reference, its plan the finding. `None` when an image is named, or
/// nothing deploys.
pub fn build_unless_named(session: &mut Session, flags: &BuildFlags, checkout: &Path, push: bool) -> anyhow::Result<Option<Built>> {
    let Some(app) = to_build(session, "deploy", flags)? else { return Ok(None) };
    let registry = std::env::var("FLY_REGISTRY_HOST").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| reference::FLY_REGISTRY.into());
    let built = build(checkout, &app, flags, push, &registry, &Engines::detect())?;
    session.set_param("deploy", "image", &built.reference);
    session.add_finding(built.finding());
    Ok(Some(built))
}

/// The app step `step` needs built, `None` when an image is named (a build
/// flag beside it is refused: one of the two is a mistake) or nothing deploys.
fn to_build(session: &Session, step: &str, flags: &BuildFlags) -> anyhow::Result<Option<Box<AppSpec>>> {
    match image_of(session, step)? {
        Image::ToBuild(app) => Ok(Some(app)),
        Image::Named(named) => match flags.given().first() {
            Some(flag) => bail!("{flag} asks for a build, but {named}: drop one of them"),
            None => Ok(None),
        },
        Image::NoDeploy => Ok(None),
    }
}

/// Where `ferry deploy --target vm` builds when nothing names the image
/// (`--image`, the step's `image`, fly.toml's `[build].image`): `--build-on`,
/// else here when this machine's Docker answers, else on the host. Built
/// here, the vm-deploy step gets the engine's image id to ship (`load`), so
/// the plan names the bytes and the apply skips the transfer when the host
/// has them already. The plan says where and why either way.
pub fn place_vm_build(session: &mut Session, checkout: &Path, flags: &BuildFlags, on: Option<BuildOn>) -> anyhow::Result<Option<Built>> {
    const STEP: &str = "vm-deploy";
    let Some(app) = to_build(session, STEP, flags)? else { return Ok(None) };
    let flag = flags.given().first().copied();
    if let Some(builder) = &app.build.builder {
        bail!(
            "fly.toml's [build] builder = \"{builder}\" makes this a buildpacks build, which publishes to a registry: build it \
             with `pack build <image> --builder {builder} --publish` and deploy it with --image <image> (the host pulls it)"
        );
    }
    let engines = Engines::detect();
    let on_host = |session: &mut Session, why: &str| {
        if let Some(flag) = flag {
            bail!("{flag} applies to a build on this machine, and the host builds this image ({why}): drop it, or build here");
        }
        let message = format!("the host builds the image, from the checkout streamed to its Docker as a tar: {why}");
        tracing::info!("{message}");
        session.add_finding(Finding { code: "image-build-on-host".into(), severity: Severity::Info, message, location: None });
        Ok(None)
    };
    let why = match (on, &engines.docker) {
        (Some(BuildOn::Host), _) => return on_host(session, "--build-on host"),
        (None, None) => return on_host(session, "no Docker engine answers on this machine, and docker save ships only a Docker engine's images"),
        (Some(BuildOn::Here), None) => bail!(
            "--build-on here ships the image with docker save, and no Docker engine answers on this machine (DOCKER_HOST, or \
             /var/run/docker.sock): start one, or build on the host with --build-on host"
        ),
        (Some(BuildOn::Here), Some(_)) => "--build-on here",
        (None, Some(_)) => "a Docker engine answers on this machine: the build takes its CPU and layer cache, not the server's that serves the app",
    };
    // Docker only: buildah's images are not in the engine docker save reads.
    let docker = Engines { docker: engines.docker, buildah: false };
    let mut built = build(checkout, &app, flags, false, LOCAL_REGISTRY, &docker)?;
    built.reference = built.id.clone().context("the engine wrote no image id")?;
    built.ship = true;
    built.reason = format!("{}; {why}", built.reason);
    session.set_param(STEP, "image", &built.reference);
    session.set_param(STEP, "load", "true");
    session.add_finding(built.finding());
    Ok(Some(built))
}

/// The registry part of an image built for a VM, never pushed: podman's
/// name for images that live on one machine.
const LOCAL_REGISTRY: &str = "localhost";

/// Builds the checkout as `flags` and fly.toml's `[build]` say, with one of
/// `engines`, and pushes it to `registry` unless `push` is false.
fn build(checkout: &Path, app: &AppSpec, flags: &BuildFlags, push: bool, registry: &str, engines: &Engines) -> anyhow::Result<Built> {
    refuse_fork()?;
    let app_name = app.app.as_deref().context("no app to build for: set `app` in fly.toml or pass --app")?;
    let checkout = checkout.canonicalize().with_context(|| format!("opening {}", checkout.display()))?;
    let label = flags.image_label.clone().unwrap_or_else(reference::new_deployment_label);
    let work = tempfile::tempdir().context("a temporary directory for the build")?;
    if app.build.builder.is_some() {
        let tag = reference::deployment_tag(registry, app_name, &label)?;
        return pack_build(&checkout, app, flags, (registry, tag), push, work.path());
    }
    // The login, when pushing: the push reads it, and a registry cache too.
    let login = if push {
        let password = registry_password()?;
        let auth_dir = login(work.path(), registry, &password)?;
        Some((password, auth_dir))
    } else {
        None
    };
    let images = if push { running_images(app_name) } else { Vec::new() };
    let cache = match (&login, layer_cache(flags, push)?) {
        (Some((_, auth_dir)), LayerCacheAt::Registry) if !flags.no_cache => Some(LayerCache {
            repository: format!("{registry}/{app_name}"),
            from: images.first().filter(|image| image.starts_with(&format!("{registry}/"))).cloned(),
            auth_dir: auth_dir.clone(),
        }),
        (Some(_) | None, LayerCacheAt::Registry | LayerCacheAt::Local) => None,
    };
    let mut spec = BuildSpec {
        dockerfile: Some(dockerfile(&checkout, app, flags.dockerfile.as_deref())?),
        ignorefile: ignorefile(&checkout, app, flags.ignorefile.as_deref())?,
        target: flags.build_target.clone().or_else(|| app.build.target.clone()),
        args: app.build.args.iter().cloned().chain(flags.build_arg.iter().map(|a| split_pair(a))).collect(),
        secrets: secrets(&flags.build_secret)?,
        labels: labels(&flags.label),
        no_cache: flags.no_cache,
        tag: reference::deployment_tag(registry, app_name, &label)?,
        iidfile: work.path().join("iid"),
        context: checkout,
        cache,
    };
    let choice = ferry_build::builder::choose(engines, &spec)?;
    if let (Builder::Buildx | Builder::DockerBuildKit, Some(ignorefile)) = (choice.builder, &spec.ignorefile) {
        spec.dockerfile = Some(dockerfile_beside(work.path(), spec.dockerfile.as_deref().expect("set above"), ignorefile)?);
    }
    let cached = cache_note(choice.builder, &spec);
    tracing::info!("building {} with {} ({}); {cached}", spec.tag, choice.builder, choice.reason);
    run(&commands::build(choice.builder, &spec)?, &spec.secrets)?;
    let id = std::fs::read_to_string(&spec.iidfile).ok().map(|id| id.trim().to_string()).filter(|id| id.starts_with("sha256:"));
    let (builder, reason) = (choice.builder.to_string(), choice.reason);
    let Some((password, auth_dir)) = login else {
        return Ok(Built { reference: spec.tag, builder, reason, cached, id, digest: None, running: false, ship: false, pull: None });
    };
    let digest = self::push(choice.builder, &spec.tag, work.path(), auth_dir)?;
    let (reference, running, pull) = published(registry, &password, app_name, &spec.tag, &digest, &images)?;
    Ok(Built { reference, builder, reason, cached, id, digest: Some(digest), running, ship: false, pull })
}

/// What deploys an image pushed to `registry` as `tag` with `digest`: the
/// reference a machine of the app runs it under already (`images`), else
/// `tag@digest`; whether it runs; and what pulling it costs.
fn published(registry: &str, password: &str, app: &str, tag: &str, digest: &str, images: &[String]) -> anyhow::Result<(String, bool, Option<String>)> {
    let suffix = format!("@{digest}");
    let (reference, running) = match images.iter().find(|image| image.ends_with(&suffix)) {
        Some(running) => {
            tracing::info!("{app} runs {digest} already, as {running}: the deploy keeps that reference");
            (running.clone(), true)
        }
        None => (reference::pinned(tag, digest)?, false),
    };
    let pull = pull_note(registry, password, &reference, images.first().map(String::as_str));
    if let Some(note) = &pull {
        tracing::info!("{note}");
    }
    Ok((reference, running, pull))
}

/// fly.toml's `[build] builder` (and `buildpacks`): a Cloud Native
/// Buildpacks build with `pack`, published straight to the registry as
/// flyctl's buildpacks builder does; the digest is read back from the
/// registry. What only a Dockerfile build reads is refused, not dropped.
/// `(registry, tag)` is where it publishes.
fn pack_build(checkout: &Path, app: &AppSpec, flags: &BuildFlags, (registry, tag): (&str, String), push: bool, work: &Path) -> anyhow::Result<Built> {
    let app_name = app.app.as_deref().unwrap_or_default();
    let builder = app.build.builder.as_deref().unwrap_or_default();
    const DOCKERFILE_ONLY: [&str; 6] = ["--dockerfile", "--build-secret", "--build-target", "--ignorefile", "--label", "--layer-cache"];
    if let Some(flag) = flags.given().into_iter().find(|flag| DOCKERFILE_ONLY.contains(flag)) {
        bail!("{flag} applies to a Dockerfile build, and fly.toml's [build] builder = \"{builder}\" makes this a buildpacks build");
    }
    if !push {
        bail!("a buildpacks build publishes to the registry as it builds (pack build --publish): add --push");
    }
    let version = std::process::Command::new("pack").arg("version").stdin(std::process::Stdio::null()).output();
    let Some(version) = version.ok().filter(|out| out.status.success()).map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string()) else {
        bail!(
            "fly.toml's [build] builder = \"{builder}\" is a buildpacks build, which needs the `pack` CLI: install it \
             (https://buildpacks.io/docs/for-platform-operators/how-to/integrate-ci/pack/; in GitHub Actions, the step \
             `uses: buildpacks/github-actions/setup-pack@v5`), or build the image elsewhere and pass it with --image"
        );
    };
    let password = registry_password()?;
    let auth_dir = login(work, registry, &password)?;
    let images = running_images(app_name);
    let spec = commands::PackSpec {
        builder: builder.into(),
        buildpacks: app.build.buildpacks.clone(),
        context: checkout.to_path_buf(),
        env: app.build.args.iter().cloned().chain(flags.build_arg.iter().map(|a| split_pair(a))).collect(),
        tag,
        no_cache: flags.no_cache,
        auth_dir,
    };
    let reason = format!("fly.toml's [build] builder = \"{builder}\", with pack {version}");
    tracing::info!("building {} with pack ({reason})", spec.tag);
    run(&commands::pack(&spec)?, &[])?;
    let (_, repository, label) = reference::split(&spec.tag).context("the tag just built")?;
    let digest = ferry_build::registry::Registry::new(registry, reference::REGISTRY_USER, &password)?.digest(repository, label)?;
    let (reference, running, pull) = published(registry, &password, app_name, &spec.tag, &digest, &images)?;
    let cached = format!("layers cached in {}:cache", spec.tag.rsplit_once(':').map_or(spec.tag.as_str(), |(repository, _)| repository));
    Ok(Built { reference, builder: "pack".into(), reason, cached, id: None, digest: Some(digest), running, ship: false, pull })
}

/// `--layer-cache`, else the registry inside GitHub Actions when pushing
/// (each job's engine starts empty), else this machine's engine.
fn layer_cache(flags: &BuildFlags, push: bool) -> anyhow::Result<LayerCacheAt> {
    if flags.layer_cache == Some(LayerCacheAt::Registry) && !push {
        bail!("--layer-cache registry reads and writes the cache with the push's login: add --push, or drop --layer-cache");
    }
    Ok(flags.layer_cache.unwrap_or(if push && crate::context::in_github_actions() { LayerCacheAt::Registry } else { LayerCacheAt::Local }))
}

/// Where the build's layers come from and go, for the log and the plan.
fn cache_note(builder: Builder, spec: &BuildSpec) -> String {
    if spec.no_cache {
        return "no layer cache (--no-cache)".into();
    }
    let Some(cache) = &spec.cache else { return "layers cached on this machine's engine only".into() };
    match builder {
        Builder::Buildah => format!("layers cached in {} (read and written)", cache.repository),
        Builder::Buildx | Builder::DockerBuildKit => match &cache.from {
            Some(from) => format!("layer cache read from {from} and written into the pushed image"),
            None => "layer cache written into the pushed image, for the next build (the app runs no image of this registry yet)".into(),
        },
        Builder::DockerClassic => "layers cached on this machine's engine only (the classic builder reads no cache from a registry)".into(),
    }
}

/// The images the app's machines run, by reference. An unchanged checkout
/// builds the same bytes under a new tag; deploying the new name would
/// replace every machine for nothing, the name a machine runs leaves them
/// be. Without an answer from the API (a new app, no token) there are none:
/// the plan reads the app again and says what it finds.
fn running_images(app: &str) -> Vec<String> {
    let Some(client) = crate::context::fly_client().ok().flatten() else { return Vec::new() };
    match client.list_managed_machines(app) {
        Ok(machines) => machines.iter().filter_map(|m| m.config()?.image().map(str::to_string)).collect(),
        Err(e) => {
            tracing::debug!("listing {app}'s machines: {e}");
            Vec::new()
        }
    }
}

/// "image 32.1 MB in 3 layers; 1 layer changed against the running image (2.1 MB
/// to pull)", from the registry; `None` (with the reason logged) if it
/// cannot say. Only a running image in the same registry is compared.
fn pull_note(registry: &str, password: &str, built: &str, running: Option<&str>) -> Option<String> {
    let reader = ferry_build::registry::Registry::new(registry, reference::REGISTRY_USER, password).map_err(|e| tracing::warn!("{e}")).ok()?;
    let read = |image: &str| {
        let (_, repository, wanted) = reference::split(image)?;
        reader.manifest(repository, wanted).map_err(|e| tracing::warn!("reading {image}'s layers: {e}")).ok()
    };
    let new = read(built)?;
    let layers = |n: usize| if n == 1 { "1 layer".to_string() } else { format!("{n} layers") };
    let size = format!("image {} in {}", human_size(new.size()), layers(new.layers.len()));
    let Some(old) = running.filter(|r| reference::split(r).is_some_and(|(host, ..)| host == registry)).and_then(read) else {
        return Some(size);
    };
    let changed = new.changed_since(&old);
    let bytes: u64 = changed.iter().map(|l| l.size).sum();
    Some(format!("{size}; {} changed against the running image ({} to pull)", layers(changed.len()), human_size(bytes)))
}

/// The registry password the Fly token makes (flyctl's login, user `x`).
fn registry_password() -> anyhow::Result<String> {
    let token = ferry_secrets::var("FLY_API_TOKEN")
        .or_else(|_| ferry_secrets::var("FLY_ACCESS_TOKEN"))
        .context("pushing the image needs FLY_API_TOKEN (a deploy token for the app is enough)")?;
    Ok(reference::registry_password(token.expose()).to_string())
}

/// A pull request from a fork is the fork's code: its Dockerfile's `RUN`
/// steps would run with the build secrets and next to the registry login.
/// Outside GitHub Actions the person running ferry decides what to build.
fn refuse_fork() -> anyhow::Result<()> {
    if !crate::context::in_github_actions() {
        return Ok(());
    }
    let runner = crate::runner::Runner::from_env()?;
    let event = ferry_github::events::Event::parse(&runner.event_name, &runner.event).context("reading the event payload")?;
    if let ferry_github::events::Event::PullRequest(e) | ferry_github::events::Event::PullRequestTarget(e) = &event {
        let head = e.pull_request.head.repo.as_ref().map(|r| r.full_name.as_str());
        if head != Some(e.repository.full_name.as_str()) {
            bail!(
                "#{} comes from a fork ({}): ferry never builds a fork's code with this job's registry login and build \
                 secrets. Plan it with --image naming an image already built, or build it after merging (on `push`)",
                e.number,
                head.unwrap_or("deleted")
            );
        }
    }
    Ok(())
}

/// The Dockerfile: `--dockerfile` (the caller's, relative to where ferry
/// runs), else the one parse-config read (`[build].dockerfile` relative to
/// fly.toml, or `Dockerfile` beside it), which must lie inside the
/// checkout once links are followed.
fn dockerfile(checkout: &Path, app: &AppSpec, flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = flag {
        return std::path::absolute(path).with_context(|| format!("--dockerfile {}", path.display()));
    }
    let Some(found) = &app.dockerfile else {
        let why = app.warnings.iter().find(|w| w.code == "dockerfile-missing").map(|w| format!(" ({})", w.message)).unwrap_or_default();
        bail!("no Dockerfile to build{why}: add one, set [build].dockerfile in fly.toml, pass --dockerfile, or pass --image");
    };
    within_checkout(checkout, &found.path, "the Dockerfile")
}

/// `file` of the checkout (which `what` names), refused once links are
/// followed if it leads outside: fly.toml is the pull request's.
fn within_checkout(checkout: &Path, file: &str, what: &str) -> anyhow::Result<PathBuf> {
    let real = checkout.join(file).canonicalize().with_context(|| format!("opening {what} {file}"))?;
    if !real.starts_with(checkout) {
        bail!("{what} {file} leads outside the checkout (to {}): ferry builds only what the checkout holds", real.display());
    }
    Ok(real)
}

/// The context's exclusions: `--ignorefile` (the caller's, relative to
/// where ferry runs), else fly.toml's `[build].ignorefile`, which must lie
/// inside the checkout once links are followed; `None` leaves each engine
/// to the context's own `.dockerignore`.
fn ignorefile(checkout: &Path, app: &AppSpec, flag: Option<&Path>) -> anyhow::Result<Option<PathBuf>> {
    if let Some(path) = flag {
        let path = std::path::absolute(path).with_context(|| format!("--ignorefile {}", path.display()))?;
        anyhow::ensure!(path.is_file(), "--ignorefile {}: no such file", path.display());
        return Ok(Some(path));
    }
    app.build.ignorefile.as_deref().map(|file| within_checkout(checkout, file, "fly.toml's [build].ignorefile")).transpose()
}

/// BuildKit has no ignorefile flag; it reads `<Dockerfile>.dockerignore`
/// beside the Dockerfile over the context's own (DD:build/concepts/context.md).
/// A copy of the Dockerfile in `work`, with the ignorefile beside it.
fn dockerfile_beside(work: &Path, dockerfile: &Path, ignorefile: &Path) -> anyhow::Result<PathBuf> {
    let dir = work.join("dockerfile");
    std::fs::create_dir(&dir)?;
    let copy = dir.join("Dockerfile");
    std::fs::copy(dockerfile, &copy).with_context(|| format!("copying {}", dockerfile.display()))?;
    std::fs::copy(ignorefile, dir.join("Dockerfile.dockerignore")).with_context(|| format!("copying {}", ignorefile.display()))?;
    Ok(copy)
}

/// `NAME=VALUE` (the parser checked the `=`).
fn split_pair(pair: &str) -> (String, String) {
    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
    (name.to_string(), value.to_string())
}

/// The build secrets' names, each with a value this job may read (learnt
/// by the masker, so no build output can show it).
fn secrets(names: &[String]) -> anyhow::Result<Vec<String>> {
    for name in names {
        let var = format!("{}{name}", ferry_build::SECRET_VAR_PREFIX);
        ferry_secrets::var(&var).with_context(|| format!("--build-secret {name} takes its value from {var}"))?;
    }
    Ok(names.to_vec())
}

/// `--label`s, and inside GitHub Actions the labels flyctl adds
/// (`deploy_build.go`: the commit, action, repository and event).
fn labels(flags: &[String]) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = flags.iter().map(|l| split_pair(l)).collect();
    if crate::context::in_github_actions() {
        for (label, var) in
            [("GH_SHA", "GITHUB_SHA"), ("GH_ACTION_NAME", "GITHUB_ACTION"), ("GH_REPO", "GITHUB_REPOSITORY"), ("GH_EVENT_NAME", "GITHUB_EVENT_NAME")]
        {
            labels.insert(label.into(), std::env::var(var).unwrap_or_default());
        }
    }
    labels
}

/// Writes the registry login as flyctl logs in (user `x`, the token's
/// password) into a directory of `work` (removed with it), as Docker's and
/// buildah's `config.json`; that directory.
fn login(work: &Path, registry: &str, password: &str) -> anyhow::Result<PathBuf> {
    let auth_dir = work.join("auth");
    std::fs::create_dir(&auth_dir)?;
    write_private(&auth_dir.join("config.json"), &commands::auth_config(registry, reference::REGISTRY_USER, password))?;
    // `docker --config` also looks for CLI plugins (buildx) there: the user's own stay reachable.
    let plugins = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".docker")))
        .map(|config| config.join("cli-plugins"))
        .filter(|dir| dir.is_dir());
    if let Some(dir) = plugins {
        std::os::unix::fs::symlink(dir, auth_dir.join("cli-plugins"))?;
    }
    Ok(auth_dir)
}

/// Pushes `tag` with the login in `auth_dir`; the pushed digest.
fn push(builder: Builder, tag: &str, work: &Path, auth_dir: PathBuf) -> anyhow::Result<String> {
    let spec = PushSpec { tag: tag.into(), auth_dir, cert_dir: None, digestfile: work.join("digest") };
    tracing::info!("pushing {tag}");
    let output = run(&commands::push(builder, &spec), &[])?;
    let digest = match builder {
        Builder::Buildah => std::fs::read_to_string(&spec.digestfile).with_context(|| format!("reading the digest buildah wrote for {tag}"))?,
        Builder::Buildx | Builder::DockerBuildKit | Builder::DockerClassic => {
            commands::pushed_digest(&output.join("\n")).with_context(|| format!("docker push printed no digest for {tag}"))?.to_string()
        }
    };
    Ok(digest.trim().to_string())
}

/// Writes `text` readable by this user only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Runs an engine command, its output logged line by line (masked and
/// escaped by the log writer: a `RUN` may print anything).
fn run(command: &commands::Command, secrets: &[String]) -> anyhow::Result<Vec<String>> {
    tracing::debug!("running {command}");
    Ok(ferry_build::exec::run(command, secrets, &mut |line| tracing::info!(target: "build", "{line}"))?)
}
