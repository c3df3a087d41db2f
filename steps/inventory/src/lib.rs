//! An app's inventory: what the runbooks in ferry's seeds ask a person to
//! find before any migration or deploy — the image, the internal port, every
//! service and port mapping, the processes, the mounts, single- or
//! multi-service, the secrets (names only), the regions.
//!
//! Sources, in the order they are looked for:
//!
//! - **fly.toml**, or `fly.json` / `fly.yaml` (flyctl picks the format by
//!   suffix), read exactly as flyctl reads it: legacy forms normalised
//!   ([`fly`]'s `patch`), every key checked against flyctl's schema, process
//!   groups flattened with flyctl's rules;
//! - the **Dockerfile** it builds ([`dockerfile`]);
//! - for Heroku apps, the **Procfile** and **app.json** ([`heroku`]);
//! - optionally the **live state** from the Fly API ([`add_live`]).
//!
//! Nothing here panics on any input: it is fuzzed (`steps/inventory/fuzz`).
//!
//! # Finding codes
//!
//! | code | severity | meaning |
//! |---|---|---|
//! | `unknown-key` | warning | a key flyctl ignores (`fly config validate --strict`) |
//! | `legacy-form` | info | a V1/old form flyctl rewrites (string ports, `[[env]]`…) |
//! | `ignored-value` | warning | a value flyctl silently drops |
//! | `missing-key` | error | a key a deploy cannot do without (mount destination…) |
//! | `invalid-app-name`, `invalid-process-group`, `invalid-env-name` | error | a name that would become a DNS label, path, container name or env-file line, outside its rule ([`fly::names`]) |
//! | `invalid-strategy`, `invalid-check`, `invalid-mount` (also a source that is not a volume name), `invalid-restart`, `invalid-protocol`, `invalid-command`, `invalid-max-unavailable` | error | flyctl's validation rules |
//! | `service-without-processes`, `unknown-process-group` | error | services and groups that do not match |
//! | `canary-with-mounts`, `several-mounts-per-group` | error | volume rules |
//! | `bluegreen-with-volumes`, `bluegreen-without-checks`, `max-unavailable-ignored` | warning | strategy caveats |
//! | `service-without-ports`, `check-duration-clamped`, `kill-timeout-too-long`, `duration-in-nanoseconds`, `single-argument-command`, `several-build-strategies`, `unknown-vm-size`, `file-source` | warning | values Fly changes or misreads |
//! | `default-group-only` | info | a section without `processes` reaches only the default group |
//! | `fly-env-name` | warning | an env name starting with `FLY_` |
//! | `port-not-exposed` | warning | a service's internal port that the Dockerfile does not EXPOSE |
//! | `check-port-unused` | warning | a check on a port no service listens on |
//! | `volume-per-machine` | info | every machine of the group needs its own volume |
//! | `secret-file` | info | a file written from a secret |
//! | `multi-region`, `mixed-images` | warning | from the live Fly state |
//! | `dockerfile-*`, `procfile-*`, `app-json` | warning | lines those files could not be read from |
//! | `heroku-*` | info | how a Heroku app maps onto ferry's targets |

pub mod dockerfile;
mod findings;
pub mod fly;
pub mod heroku;
mod live;
mod local;
pub mod node;
pub mod read;
use ferry_step_sdk::units;

use ferry_step_sdk::types::{
    AppKind, AppSpec, Check, Experimental, Finding, Location, MachineDefaults, Platform, Problem, Process, Severity, StepError, TargetKind,
};

pub use findings::Findings;
pub use live::{Live, add_live};

/// The largest config file read; real ones are a few KiB.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Config file names tried, in flyctl's order of preference.
pub const CONFIG_NAMES: [&str; 4] = ["fly.toml", "fly.json", "fly.yaml", "fly.yml"];

/// Read access to the checkout.
pub trait Files {
    /// The file's text; `Ok(None)` when it does not exist, `Err` for any
    /// other failure (described in one sentence).
    fn read(&self, path: &str) -> Result<Option<String>, String>;

    /// The file's bytes (`[[files]] local_path` may name any file), with
    /// `read`'s meaning of `Ok(None)` and `Err`.
    fn read_bytes(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        self.read(path).map(|text| text.map(String::into_bytes))
    }
}

/// Files held in memory by path, for callers without a checkout (tests,
/// tools): a path not listed does not exist.
#[derive(Clone, Debug, Default)]
pub struct MemoryFiles(pub Vec<(String, String)>);

impl MemoryFiles {
    /// A checkout holding only `fly.toml`.
    pub fn fly_toml(text: impl Into<String>) -> Self {
        MemoryFiles(vec![("fly.toml".into(), text.into())])
    }
}

impl Files for MemoryFiles {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        Ok(self.0.iter().find(|(p, _)| p == path).map(|(_, text)| text.clone()))
    }
}

/// Builds the inventory of the checkout. `config` names the Fly config file;
/// without it the usual names are tried, then a Heroku Procfile/app.json.
pub fn inventory(files: &dyn Files, config: Option<&str>) -> Result<AppSpec, StepError> {
    let config = match config {
        Some(path) => Some((path.to_string(), read(files, path)?.ok_or_else(|| not_found(path))?)),
        None => find_config(files)?,
    };
    match config {
        Some((path, text)) => fly_inventory(files, &path, &text),
        None => heroku_inventory(files),
    }
}

fn find_config(files: &dyn Files) -> Result<Option<(String, String)>, StepError> {
    for name in CONFIG_NAMES {
        if let Some(text) = read(files, name)? {
            return Ok(Some((name.to_string(), text)));
        }
    }
    Ok(None)
}

fn read(files: &dyn Files, path: &str) -> Result<Option<String>, StepError> {
    let text = files.read(path).map_err(|e| invalid(e, path, None, None))?;
    if let Some(t) = &text
        && t.len() > MAX_FILE_BYTES
    {
        return Err(invalid(format!("{path} is over 1 MiB; refusing to read it"), path, None, None));
    }
    Ok(text)
}

fn not_found(path: &str) -> StepError {
    invalid(format!("{path} not found in the checkout"), path, None, None)
}

fn invalid(message: String, file: &str, pos: Option<node::Pos>, key: Option<String>) -> StepError {
    StepError::InvalidInput(Problem { message, location: Some(location(file, pos, key)) })
}

fn location(file: &str, pos: Option<node::Pos>, key: Option<String>) -> Location {
    Location { file: file.to_string(), line: pos.map(|p| p.line), column: pos.map(|p| p.column), key: key.filter(|k| !k.is_empty()) }
}

/// Parses by suffix, as flyctl's `LoadConfig` does.
fn parse(path: &str, text: &str) -> Result<node::Node, StepError> {
    let lower = path.to_ascii_lowercase();
    let (parsed, format) = if lower.ends_with(".json") {
        (node::parse_json(text), "JSON")
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        (node::parse_yaml(text), "YAML")
    } else {
        (node::parse_toml(text), "TOML")
    };
    parsed.map_err(|e| invalid(format!("{path} is not valid {format}: {}", e.message), path, e.pos, None))
}

fn fly_inventory(files: &dyn Files, path: &str, text: &str) -> Result<AppSpec, StepError> {
    let root = parse(path, text)?;
    let mut findings = Findings::new(path);
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let parsed = fly::read(root, &mut findings, &|fly: &mut fly::FlyToml, findings: &mut Findings| {
        local::read_files(files, dir, &mut fly.files, &fly.file_spots, findings);
        if let Some((source, spot)) = &fly.machine_config {
            fly.machine.machine_config = local::machine_config(files, dir, source, fly.container.as_deref(), spot, findings);
        }
    })
    .map_err(|p| invalid(p.message, path, p.pos, Some(p.key)))?;
    let mut fly = parsed.fly;
    // Relative to fly.toml, as flyctl resolves it (deploy_build.go); the
    // app-spec's paths are the checkout's.
    fly.build.ignorefile = fly.build.ignorefile.as_deref().map(|file| join(dir, file));
    let mut sources = vec![path.to_string()];
    let mut docker_findings = Vec::new();
    let dockerfile = dockerfile_for(files, path, &fly.build, &mut findings, &mut sources, &mut docker_findings);
    let processes =
        if fly.processes.is_empty() { vec![Process { name: fly::flatten::DEFAULT_GROUP.into(), command: String::new() }] } else { fly.processes.clone() };
    let http_port = fly.services.iter().find(|s| s.http_service).map(|s| s.internal_port);
    let mut checks: Vec<Check> = fly.service_checks.iter().map(|(_, c)| c.clone()).collect();
    checks.extend(fly.checks.iter().cloned().map(|mut c| {
        c.port = c.port.or(http_port);
        c
    }));
    let kind = kind(parsed.groups.len());
    let mut spec = AppSpec {
        source: path.to_string(),
        sources,
        platform: Platform::Fly,
        app: fly.app,
        primary_region: fly.primary_region,
        processes,
        services: fly.services,
        checks,
        mounts: fly.mounts,
        env: fly.env,
        secrets: fly.secret_refs,
        vm: fly.vm,
        restart: fly.restart,
        files: fly.files,
        metrics: fly.metrics,
        statics: fly.statics,
        experimental: fly.experimental,
        machine: fly.machine,
        deploy: fly.deploy,
        build: fly.build,
        dockerfile,
        groups: parsed.groups,
        addons: Vec::new(),
        formation: Vec::new(),
        scripts: Vec::new(),
        live: None,
        kind,
        recommended_target: recommended(kind),
        warnings: Vec::new(),
    };
    cross_file_findings(&spec, &mut findings);
    let mut warnings = findings.into_vec();
    // In file order; findings about the file as a whole come last.
    warnings.sort_by_key(|f| f.location.as_ref().and_then(|l| l.line).unwrap_or(u32::MAX));
    warnings.extend(docker_findings);
    spec.warnings = warnings;
    Ok(spec)
}

fn kind(groups: usize) -> AppKind {
    if groups > 1 { AppKind::MultiService } else { AppKind::SingleService }
}

/// A single container lands on a VM; several independently scaled process
/// groups are a multi-service app, better served by Kubernetes (seed 001).
fn recommended(kind: AppKind) -> TargetKind {
    match kind {
        AppKind::MultiService => TargetKind::Kubernetes,
        AppKind::SingleService => TargetKind::Vm,
    }
}

/// Reads the Dockerfile the build uses: `[build] dockerfile` (relative to the
/// config file, as flyctl resolves it) or `Dockerfile` beside the config,
/// unless the image comes from `[build] image` or buildpacks.
fn dockerfile_for(
    files: &dyn Files,
    config: &str,
    build: &ferry_step_sdk::types::Build,
    findings: &mut Findings,
    sources: &mut Vec<String>,
    out: &mut Vec<Finding>,
) -> Option<ferry_step_sdk::types::Dockerfile> {
    if build.image.is_some() || build.builder.is_some() || !build.buildpacks.is_empty() {
        return None;
    }
    let dir = config.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let beside = join(dir, "Dockerfile");
    let named = build.dockerfile.as_deref().map(|d| join(dir, d));
    let mut candidates: Vec<String> = named.iter().cloned().collect();
    if !candidates.contains(&beside) {
        candidates.push(beside);
    }
    let mut misses = Vec::new();
    for path in &candidates {
        match files.read(path) {
            Ok(Some(text)) if text.len() <= MAX_FILE_BYTES => {
                if !misses.is_empty() {
                    findings.warn("dockerfile-missing", format!("{}; using {path}", misses.join("; ")), findings::Spot::new(None, "build.dockerfile"));
                }
                sources.push(path.clone());
                let mut df = Findings::new(path.as_str());
                let parsed = dockerfile::read(path, &text, build.target.as_deref(), &mut df);
                out.extend(df.into_vec());
                return Some(parsed);
            }
            Ok(Some(_)) => misses.push(format!("{path} is over 1 MiB")),
            Ok(None) => misses.push(format!("{path} is not in the checkout")),
            Err(e) => misses.push(e),
        }
    }
    findings.warn(
        "dockerfile-missing",
        format!("{}, and there is no [build] image: flyctl would fall back to detecting the app's framework", misses.join("; ")),
        findings::Spot::default(),
    );
    None
}

/// Joins `dir` and a relative `path`, resolving `.` and `..` (a path that
/// climbs out of the checkout keeps its `..` and is refused by the host).
fn join(dir: &str, path: &str) -> String {
    let mut parts: Vec<&str> = if path.starts_with('/') { Vec::new() } else { dir.split('/').filter(|p| !p.is_empty()).collect() };
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Findings that need more than one file or section.
fn cross_file_findings(spec: &AppSpec, findings: &mut Findings) {
    let internal_ports: Vec<u16> = spec.services.iter().map(|s| s.internal_port).collect();
    if let Some(df) = &spec.dockerfile {
        let mut missing: Vec<u16> = internal_ports.iter().copied().filter(|p| !df.exposed_ports.contains(p)).collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let exposed = if df.exposed_ports.is_empty() { "EXPOSEs no port".to_string() } else { format!("EXPOSEs {}", ranges(&df.exposed_ports)) };
            let (noun, verb) = if missing.len() == 1 { ("port", "is") } else { ("ports", "are") };
            findings.warn(
                "port-not-exposed",
                format!("internal {noun} {} {verb} not EXPOSEd ({} {exposed}); check that the app listens there", ranges(&missing), df.path),
                findings::Spot::new(None, "internal_port"),
            );
        }
    }
    for check in spec.checks.iter().filter(|c| c.scope == ferry_step_sdk::types::CheckScope::Machine) {
        match check.port {
            Some(p) if !internal_ports.contains(&p) => findings.warn(
                "check-port-unused",
                format!("check `{}` probes port {p}, which no service listens on (services: {})", check.name, list(&internal_ports)),
                findings::Spot::new(None, format!("checks.{}", check.name)),
            ),
            None => findings.warn(
                "check-port-unused",
                format!("check `{}` sets no port and there is no [http_service] port to default to", check.name),
                findings::Spot::new(None, format!("checks.{}", check.name)),
            ),
            _ => {}
        }
    }
    for g in &spec.groups {
        if let Some(m) = &g.mount {
            findings.info(
                "volume-per-machine",
                format!(
                    "every machine of group `{}` needs its own unattached volume `{}` in its region, mounted at {}; volumes are not shared or replicated between machines",
                    g.name, m.source, m.destination
                ),
                findings::Spot::new(None, "mounts"),
            );
        }
    }
    for f in &spec.files {
        if let ferry_step_sdk::types::FileSource::SecretName(s) = &f.source {
            findings.info(
                "secret-file",
                format!("{} is written from secret `{s}`: the target must provide that secret", f.guest_path),
                findings::Spot::new(None, "files"),
            );
        }
    }
}

fn list(ports: &[u16]) -> String {
    if ports.is_empty() { "none".into() } else { ranges(ports) }
}

/// `80, 443, 10022-10099`: sorted ports with consecutive runs folded.
fn ranges(ports: &[u16]) -> String {
    let mut sorted = ports.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        out.push(if j > i + 1 { format!("{}-{}", sorted[i], sorted[j]) } else { sorted[i].to_string() });
        if j == i + 1 {
            out.push(sorted[j].to_string());
        }
        i = j + 1;
    }
    out.join(", ")
}

/// A Heroku app: Procfile and/or app.json, plus a Dockerfile if there is one.
fn heroku_inventory(files: &dyn Files) -> Result<AppSpec, StepError> {
    let procfile_text = read(files, "Procfile")?;
    let app_json_text = read(files, "app.json")?;
    if procfile_text.is_none() && app_json_text.is_none() {
        return Err(StepError::InvalidInput(Problem {
            message: format!("no {} and no Heroku Procfile or app.json in the checkout", CONFIG_NAMES.join(", ")),
            location: None,
        }));
    }
    let mut sources = Vec::new();
    let mut warnings = Vec::new();
    let mut processes = Vec::new();
    if let Some(text) = &procfile_text {
        sources.push("Procfile".to_string());
        let mut f = Findings::new("Procfile");
        processes = heroku::procfile(text, &mut f);
        warnings.extend(f.into_vec());
    }
    let mut app = heroku::AppJson::default();
    if let Some(text) = &app_json_text {
        sources.push("app.json".to_string());
        let mut f = Findings::new("app.json");
        app = heroku::app_json(text, &mut f).map_err(|p| invalid(p.message, "app.json", p.pos, None))?;
        warnings.extend(f.into_vec());
    }
    let release = processes.iter().position(|p| p.name == "release").map(|i| processes.remove(i).command);
    let mut notes = Findings::new(if procfile_text.is_some() { "Procfile" } else { "app.json" });
    let services = if processes.iter().any(|p| p.name == "web") {
        notes.info(
            "heroku-web",
            format!("the `web` process is served on internal port {} with PORT={} set, behind ports 80 and 443", heroku::WEB_PORT, heroku::WEB_PORT),
            findings::Spot::default(),
        );
        vec![heroku::web_service()]
    } else {
        Vec::new()
    };
    let mut env = app.env.clone();
    if !services.is_empty() && !env.iter().any(|(k, _)| k == "PORT") {
        env.push(("PORT".into(), heroku::WEB_PORT.to_string()));
    }
    for addon in &app.addons {
        notes.info(
            "heroku-addon",
            format!("add-on `{}` must be replaced on the target (its config vars are listed as secrets)", addon.name),
            findings::Spot::new(None, "addons"),
        );
    }
    let mut build = ferry_step_sdk::types::Build { buildpacks: app.buildpacks.clone(), ..Default::default() };
    let dockerfile = match read(files, "Dockerfile")? {
        Some(text) => {
            sources.push("Dockerfile".into());
            build.dockerfile = Some("Dockerfile".into());
            let mut f = Findings::new("Dockerfile");
            let d = dockerfile::read("Dockerfile", &text, None, &mut f);
            warnings.extend(f.into_vec());
            Some(d)
        }
        None => None,
    };
    let groups = processes
        .iter()
        .map(|p| ferry_step_sdk::types::ProcessGroup {
            name: p.name.clone(),
            command: p.command.clone(),
            services: services.iter().filter(|s| s.processes.contains(&p.name)).cloned().collect(),
            checks: Vec::new(),
            mount: None,
            vm: None,
            restart: None,
            files: Vec::new(),
            metrics: Vec::new(),
        })
        .collect::<Vec<_>>();
    let kind = kind(groups.len());
    warnings.extend(notes.into_vec());
    Ok(AppSpec {
        source: sources[0].clone(),
        sources,
        platform: Platform::Heroku,
        app: app.name.as_deref().map(slug),
        primary_region: None,
        processes,
        services,
        checks: Vec::new(),
        mounts: Vec::new(),
        env,
        secrets: app.secrets,
        vm: Vec::new(),
        restart: Vec::new(),
        files: Vec::new(),
        metrics: Vec::new(),
        statics: Vec::new(),
        experimental: Experimental::default(),
        machine: MachineDefaults::default(),
        deploy: ferry_step_sdk::types::Deploy { release_command: release, ..Default::default() },
        build,
        dockerfile,
        groups,
        addons: app.addons,
        formation: app.formation,
        scripts: app.scripts,
        live: None,
        kind,
        recommended_target: recommended(kind),
        warnings,
    })
}

/// An app name from app.json's display name: lowercase letters, digits,
/// dashes, at most 63 of them (a valid Fly app name, see [`fly::names`]).
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if out.len() >= 63 {
            break;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// How serious the worst finding is.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max_by_key(|s| match s {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_like_flyctl() {
        assert_eq!(join("", "Dockerfile"), "Dockerfile");
        assert_eq!(join("deploy", "Dockerfile"), "deploy/Dockerfile");
        assert_eq!(join("deploy/preview", "../../Dockerfile"), "Dockerfile");
        assert_eq!(join("", "../Dockerfile"), "../Dockerfile");
        assert_eq!(join("a", "./_fly/Dockerfile"), "a/_fly/Dockerfile");
    }

    #[test]
    fn port_ranges() {
        assert_eq!(ranges(&[443, 80, 10024, 10022, 10023, 8080, 8081]), "80, 443, 8080, 8081, 10022-10024");
        assert_eq!(ranges(&[]), "");
    }

    /// The audit's hostile fly.toml: each name that would reach a host is an
    /// error finding naming the file, line and key.
    #[test]
    fn names_that_would_reach_a_host_are_errors_with_file_line_and_key() {
        let text = "app = \"shop;}\\nserver { listen 80; root /; autoindex on; }\\n#\"\n\n[processes]\n  \"web;x\" = \"bin/web\"\n\n[env]\n  \"A=B\" = \"1\"\n\n[mounts]\n  source = \"../../../../\"\n  destination = \"/data\"\n";
        let spec = inventory(&MemoryFiles::fly_toml(text), None).unwrap();
        let errors: Vec<(&str, Option<u32>, Option<&str>)> = spec
            .warnings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| {
                let at = f.location.as_ref().unwrap();
                assert_eq!(at.file, "fly.toml");
                (f.code.as_str(), at.line, at.key.as_deref())
            })
            .collect();
        assert_eq!(
            errors,
            [
                ("invalid-app-name", Some(1), Some("app")),
                ("invalid-process-group", Some(4), Some("processes.web;x")),
                ("invalid-env-name", Some(7), Some("env.A=B")),
                ("invalid-mount", Some(10), Some("mounts[0].source")),
            ],
            "{:#?}",
            spec.warnings
        );
        let app = &spec.warnings[0].message;
        assert!(app.contains(r#""shop;}\nserver"#) && !app.contains('\n'), "the name is shown escaped: {app}");
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Mastodon"), "mastodon");
        assert_eq!(slug("CodiMD - Collaborative markdown notes"), "codimd-collaborative-markdown-notes");
        let long = slug(&"Very Long Name ".repeat(10));
        assert!(long.len() <= 63 && fly::names::app_problem(&long).is_none(), "{long}");
    }
}
