//! The deploy's knobs: `fly deploy`'s flags, as step parameters, over the
//! `[deploy]` section of fly.toml, over flyctl's defaults.

use ferry_step_sdk::params::{Params, Spec};
use ferry_step_sdk::types::{AppSpec, StepError};

use crate::flag_files::{self, FlagFile};
use crate::placement::Placement;
use crate::vm_size::VmOverride;

/// flyctl's `DefaultWaitTimeout`.
pub const DEFAULT_WAIT_TIMEOUT_MS: u64 = 5 * 60 * 1000;
/// flyctl's `DefaultReleaseCommandTimeout`.
pub const DEFAULT_RELEASE_COMMAND_TIMEOUT_MS: u64 = 5 * 60 * 1000;
/// flyctl's `DefaultMaxUnavailable`: a third of a group's running machines.
pub const DEFAULT_MAX_UNAVAILABLE: f64 = 0.33;
/// flyctl sleeps 10 s after marking greens ready and again after cordoning blues.
pub const DEFAULT_BLUEGREEN_DRAIN_MS: u64 = 10_000;
/// flyctl's smoke check: a changed machine must stay up this long without
/// crashing (`leasable_machine.go:314-365`, `WaitForSmokeChecksToPass`).
pub const SMOKE_CHECK_MS: u64 = 10_000;
/// What `--wait-timeout none` and `--release-command-timeout none` mean in
/// ferry: no deadline of ferry's own. flyctl's handling is broken (brief
/// §16: `none` is a 2-minute state wait, an immediate health-check failure
/// and a blue/green panic), so ferry does what the word says: it waits
/// until the machine is healthy (or the release command exits), failing at
/// once on a crash as always, and lets the CI job's own timeout end a wait
/// that never finishes. The plan carries a week, longer than any CI job may
/// run (GitHub: 6 h hosted, 5 days self-hosted), so no clock overflows.
pub const NO_LIMIT_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// Which addresses a first deploy allocates (`--no-public-ips`,
/// `--flycast`; `deploy.go:633-639`: `--flycast` wins over `--no-public-ips`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpAllocation {
    /// flyctl's default: a dedicated IPv6 and a shared IPv4 for HTTP services.
    Public,
    /// `--flycast`: one private IPv6, reachable over the org's network only.
    Private,
    /// `--no-public-ips`: none.
    None,
}

/// `--strategy` / `[deploy] strategy`: the contract's enum, so the plan
/// carries what was parsed here and the host never reads a name again.
pub use ferry_step_sdk::types::ReleaseStrategy as Strategy;

/// The name fly.toml and `--strategy` use.
pub fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Rolling => "rolling",
        Strategy::Immediate => "immediate",
        Strategy::Canary => "canary",
        Strategy::Bluegreen => "bluegreen",
    }
}

fn parse_strategy(text: &str) -> Option<Strategy> {
    [Strategy::Rolling, Strategy::Immediate, Strategy::Canary, Strategy::Bluegreen].into_iter().find(|s| strategy_name(*s) == text)
}

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// `--app`: deploy to this app instead of fly.toml's `app`.
    pub app: Option<String>,
    pub image: String,
    pub strategy: Strategy,
    pub max_unavailable: f64,
    pub wait_timeout_ms: u64,
    pub release_command_timeout_ms: u64,
    /// `--detach`: return once the API accepted each change.
    pub detach: bool,
    pub skip_release_command: bool,
    /// `--process-groups`: only these groups change; empty means all.
    pub groups: Vec<String>,
    /// `--ha`: two machines for a new group with services.
    pub ha: bool,
    pub bluegreen_drain_ms: u64,
    /// `--primary-region`: fly.toml's `primary_region` for this deploy.
    pub primary_region: Option<String>,
    /// `--regions`, `--exclude-regions`, `--only-machines`, `--exclude-machines`.
    pub placement: Placement,
    /// `--env NAME=VALUE`, over `[env]`.
    pub env: Vec<(String, String)>,
    /// `--file-local`, `--file-literal`, `--file-secret`, over `[[files]]`.
    pub files: Vec<FlagFile>,
    /// `--vm-size` and friends: the size of machines this deploy creates.
    pub vm: VmOverride,
    /// `--no-public-ips`, `--flycast`.
    pub ips: IpAllocation,
    /// `--deploy-retries`: how often a failed machine update is tried again
    /// from where it stands before the deploy fails (and rolls back).
    pub deploy_retries: u32,
    /// `--smoke-checks`: watch each changed machine for crashes for 10 s.
    pub smoke_checks: bool,
    /// `--update-only`: create no machines for groups that have none.
    pub update_only: bool,
    /// `--volume-initial-size`: GB of a new group's volume when
    /// `[mounts].initial_size` does not say.
    pub volume_initial_size_gb: Option<u32>,
}

/// The parameters the step accepts, for `describe`.
pub const PARAMS: &[Spec] = &[
    ("app", "The Fly app to deploy to; default: fly.toml's app.", None),
    ("image", "The image to deploy (built and pushed by CI); default: [build].image.", None),
    ("strategy", "rolling, immediate, canary or bluegreen; default: [deploy].strategy, else rolling.", None),
    ("max-unavailable", "Machines of a group updated at once: a count (>= 1) or a fraction (< 1).", Some("0.33")),
    ("wait-timeout", "How long a machine may take to start and pass its checks, e.g. 5m.", Some("5m")),
    ("release-command-timeout", "How long the release command may run, e.g. 5m.", Some("5m")),
    ("detach", "Do not wait for machines to become healthy (true/false).", Some("false")),
    ("skip-release-command", "Do not run [deploy].release_command (true/false).", Some("false")),
    ("process-groups", "Comma-separated process groups to deploy; default: all.", None),
    ("ha", "Create two machines for a new process group with services (true/false).", Some("true")),
    ("bluegreen-drain", "bluegreen: how long traffic drains before blues are cordoned and stopped.", Some("10s")),
    ("primary-region", "Override fly.toml's primary_region: PRIMARY_REGION on every machine, where new machines and the release command run.", None),
    ("regions", "Comma-separated regions: only machines there are deployed (new machines still go to primary_region).", None),
    ("exclude-regions", "Comma-separated regions whose machines are left as they are.", None),
    ("only-machines", "Comma-separated machine ids: only these are deployed.", None),
    ("exclude-machines", "Comma-separated machine ids left as they are.", None),
    ("env", "NAME=VALUE per line (or a JSON list of them), over [env] on every machine and the release command.", None),
    ("file-local", "/path/in/machine=checkout/path per line (or a JSON list): the checkout file written into every machine.", None),
    ("file-literal", "/path/in/machine=VALUE per line (or a JSON list, for multi-line values): VALUE written into every machine.", None),
    ("file-secret", "/path/in/machine=SECRET per line (or a JSON list): the app secret SECRET written into every machine.", None),
    ("vm-size", "Size of machines this deploy creates (shared-cpu-1x … performance-16x); existing machines keep theirs.", Some("shared-cpu-1x")),
    ("vm-cpus", "CPUs of machines this deploy creates.", None),
    ("vm-memory", "Memory of machines this deploy creates (512, 1gb).", None),
    ("vm-cpu-kind", "shared or performance, for machines this deploy creates.", None),
    ("vm-max-memory", "Maximum memory of machines this deploy creates.", None),
    ("host-dedication-id", "Dedicated hosts of your organization for machines this deploy creates.", None),
    ("no-public-ips", "On a first deploy, allocate no public addresses (true/false).", Some("false")),
    ("flycast", "On a first deploy, allocate a private (Flycast) IPv6 instead of public addresses (true/false).", Some("false")),
    ("deploy-retries", "How often a failed machine update is tried again before the deploy fails: a number, or auto (0).", Some("auto")),
    ("smoke-checks", "Watch each changed machine for crashes for 10 s after it is up (true/false).", Some("true")),
    ("update-only", "Create no machines for process groups that have none (true/false).", Some("false")),
    ("volume-initial-size", "GB of a new group's volume when [mounts].initial_size does not say.", None),
];

impl Options {
    pub fn from_params(app: &AppSpec, params: &[(String, String)]) -> Result<Self, StepError> {
        let p = Params(params);
        p.only("deploy", PARAMS)?;
        let get = |name: &str| p.get(name);
        let image = match get("image").or(app.build.image.as_deref()) {
            Some(image) => image.to_string(),
            None => {
                return Err(invalid(
                    "no image to deploy: pass --image (the image your CI built and pushed, e.g. registry.fly.io/APP:TAG) \
                     or set [build].image in fly.toml",
                ));
            }
        };
        let strategy = match get("strategy").or(app.deploy.strategy.as_deref()) {
            None | Some("") => Strategy::Rolling,
            Some(s) => parse_strategy(s).ok_or_else(|| invalid(&format!("unknown strategy `{s}`: use rolling, immediate, canary or bluegreen")))?,
        };
        let max_unavailable = match get("max-unavailable") {
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|f| *f > 0.0 && f.is_finite())
                .ok_or_else(|| invalid(&format!("max-unavailable `{v}` must be a number above 0 (a count, or a fraction below 1)")))?,
            None => app.deploy.max_unavailable.filter(|f| *f > 0.0).unwrap_or(DEFAULT_MAX_UNAVAILABLE),
        };
        let duration = |name: &str, from_config: Option<u64>, default: u64| match get(name) {
            Some(v) => parse_duration_ms(v).ok_or_else(|| invalid(&format!("{name} `{v}` is not a duration (write e.g. 90s or 5m)"))),
            None => Ok(from_config.unwrap_or(default)),
        };
        // flyctl's `parseDurationFlag` (`deploy.go:481-508`): `none`, a Go
        // duration, or whole seconds.
        let timeout = |name: &str, from_config: Option<u64>, default: u64| match get(name) {
            Some("none") => Ok(NO_LIMIT_MS),
            Some(v) => parse_duration_ms(v)
                .ok_or_else(|| invalid(&format!("{name} `{v}` is not a duration: write a number of seconds, a number with a unit (90s, 5m) or `none`"))),
            None => Ok(from_config.unwrap_or(default)),
        };
        let flag = |name: &str, default: bool| p.flag(name, default);
        let groups = p.list("process-groups").unwrap_or_default();
        let ips = match (flag("flycast", false)?, flag("no-public-ips", false)?) {
            (true, _) => IpAllocation::Private,
            (false, true) => IpAllocation::None,
            (false, false) => IpAllocation::Public,
        };
        let deploy_retries = match get("deploy-retries") {
            // flyctl asks a LaunchDarkly flag whose default is 0; ferry has
            // no remote switch, so `auto` is 0.
            None | Some("auto") => 0,
            Some(v) => v.parse::<u32>().map_err(|_| invalid(&format!("deploy-retries `{v}` must be a whole number (0 or more) or `auto`")))?,
        };
        let volume_initial_size_gb = match get("volume-initial-size") {
            Some(v) => Some(
                v.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid(&format!("volume-initial-size `{v}` must be a whole number of GB, at least 1")))?,
            ),
            None => None,
        };
        Ok(Options {
            app: get("app").map(str::to_string),
            image,
            strategy,
            max_unavailable,
            wait_timeout_ms: timeout("wait-timeout", app.deploy.wait_timeout_ms, DEFAULT_WAIT_TIMEOUT_MS)?,
            release_command_timeout_ms: timeout("release-command-timeout", app.deploy.release_command_timeout_ms, DEFAULT_RELEASE_COMMAND_TIMEOUT_MS)?,
            detach: flag("detach", false)?,
            skip_release_command: flag("skip-release-command", false)?,
            groups,
            ha: flag("ha", true)?,
            bluegreen_drain_ms: duration("bluegreen-drain", None, DEFAULT_BLUEGREEN_DRAIN_MS)?,
            primary_region: get("primary-region").map(str::to_string),
            placement: Placement::from_params(&p),
            env: crate::extra_env::parse(&entries(&p, "env")?)?,
            files: flag_files::from_params(&p)?,
            vm: VmOverride::from_params(&p)?,
            ips,
            deploy_retries,
            smoke_checks: flag("smoke-checks", true)?,
            update_only: flag("update-only", false)?,
            volume_initial_size_gb,
        })
    }

    /// How long a changed machine is watched for crashes once it is up:
    /// flyctl's 10 s, unless `--smoke-checks=false`, `--detach`, or the
    /// immediate strategy (which waits for nothing, `deploy.go:662`;
    /// `machines_deploymachinesapp.go:1150-1152`).
    pub fn smoke_check_ms(&self) -> u64 {
        if self.smoke_checks && !self.detach && self.strategy != Strategy::Immediate { SMOKE_CHECK_MS } else { 0 }
    }

    /// Whether `group` is deployed by this run.
    pub fn includes(&self, group: &str) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g == group)
    }

    /// flyctl's `getPoolSize`: how many of `n` warm machines update at once.
    pub fn pool_size(&self, n: usize) -> usize {
        let size = if self.max_unavailable >= 1.0 { self.max_unavailable.floor() as usize } else { (n as f64 * self.max_unavailable).ceil() as usize };
        size.max(1)
    }
}

fn invalid(message: &str) -> StepError {
    ferry_step_sdk::params::invalid(message)
}

/// A repeatable flag's values: one per line (what a ferry.toml writes), or
/// a JSON list of strings (what the CLI passes, so a value may hold a line
/// break, e.g. a multi-line `--file-literal`). Blank lines are skipped.
pub fn entries(p: &Params<'_>, name: &str) -> Result<Vec<String>, StepError> {
    match p.get(name) {
        None => Ok(Vec::new()),
        Some(list) if list.starts_with('[') => serde_json::from_str::<Vec<String>>(list)
            .map_err(|e| invalid(&format!("{name} starts like a JSON list of strings but is not one ({e}): write one entry per line instead"))),
        Some(lines) => Ok(lines.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()),
    }
}

/// A Go duration (`90s`, `5m`, `1h30m`, `500ms`), or a bare number of
/// seconds as fly.toml's `wait_timeout` allows; zero is not a timeout.
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let ms = match text.parse::<u64>() {
        Ok(secs) => secs.checked_mul(1000),
        Err(_) => ferry_step_sdk::units::go_duration_ms(text),
    };
    ms.filter(|ms| *ms > 0)
}

/// Milliseconds as a Go duration string, the form fly-go sends.
pub use crate::config::wire::go_duration;

#[cfg(test)]
mod tests {
    use super::*;

    fn app(toml: &str) -> AppSpec {
        ferry_inventory::inventory(&ferry_inventory::MemoryFiles::fly_toml(toml), None).expect("fly.toml parses")
    }

    fn options(params: &[(&str, &str)]) -> Result<Options, StepError> {
        let mut all = vec![("image".to_string(), "registry.fly.io/shop:v2".to_string())];
        all.extend(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Options::from_params(&app("app = \"shop\"\n[deploy]\n  wait_timeout = \"2m\""), &all)
    }

    fn message(e: StepError) -> String {
        match e {
            StepError::InvalidInput(p) => p.message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timeouts_take_none_as_no_limit_of_ferrys_own() {
        let o = options(&[("wait-timeout", "none"), ("release-command-timeout", "none")]).unwrap();
        assert_eq!((o.wait_timeout_ms, o.release_command_timeout_ms), (NO_LIMIT_MS, NO_LIMIT_MS));
        assert_eq!(options(&[]).unwrap().wait_timeout_ms, 120_000, "fly.toml's wait_timeout when no flag");
        assert_eq!(options(&[("wait-timeout", "90")]).unwrap().wait_timeout_ms, 90_000, "bare seconds, as flyctl");
        assert_eq!(
            message(options(&[("wait-timeout", "soon")]).unwrap_err()),
            "wait-timeout `soon` is not a duration: write a number of seconds, a number with a unit (90s, 5m) or `none`"
        );
        assert!(options(&[("bluegreen-drain", "none")]).is_err(), "a drain is a wait, not a limit");
    }

    #[test]
    fn deploy_retries_smoke_checks_and_addresses() {
        let o = options(&[]).unwrap();
        assert_eq!((o.deploy_retries, o.smoke_check_ms(), o.ips), (0, SMOKE_CHECK_MS, IpAllocation::Public));
        assert_eq!(options(&[("deploy-retries", "auto")]).unwrap().deploy_retries, 0);
        assert_eq!(options(&[("deploy-retries", "3")]).unwrap().deploy_retries, 3);
        assert_eq!(message(options(&[("deploy-retries", "-1")]).unwrap_err()), "deploy-retries `-1` must be a whole number (0 or more) or `auto`");
        assert_eq!(options(&[("smoke-checks", "false")]).unwrap().smoke_check_ms(), 0);
        assert_eq!(options(&[("detach", "true")]).unwrap().smoke_check_ms(), 0, "--detach skips smoke checks");
        assert_eq!(options(&[("strategy", "immediate")]).unwrap().smoke_check_ms(), 0);
        assert_eq!(options(&[("no-public-ips", "true")]).unwrap().ips, IpAllocation::None);
        assert_eq!(options(&[("no-public-ips", "true"), ("flycast", "true")]).unwrap().ips, IpAllocation::Private);
        assert_eq!(message(options(&[("smoke-checks", "maybe")]).unwrap_err()), "smoke-checks `maybe` must be true or false");
        assert_eq!(message(options(&[("volume-initial-size", "0")]).unwrap_err()), "volume-initial-size `0` must be a whole number of GB, at least 1");
    }

    #[test]
    fn an_unknown_parameter_is_refused_with_a_suggestion() {
        let m = message(options(&[("stratgy", "canary")]).unwrap_err());
        assert!(m.starts_with("deploy has no parameter `stratgy` (did you mean `strategy`?)"), "{m}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("90s"), Some(90_000));
        assert_eq!(parse_duration_ms("5m"), Some(300_000));
        assert_eq!(parse_duration_ms("1m30s"), Some(90_000));
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("120"), Some(120_000));
        assert_eq!(parse_duration_ms("soon"), None);
        assert_eq!(parse_duration_ms("0s"), None);
        assert_eq!(go_duration(15_000), "15s");
        assert_eq!(go_duration(1500), "1.5s");
    }

    #[test]
    fn pool_size_follows_flyctl() {
        let mut o = Options::from_params(&app("app = \"shop\""), &[("image".into(), "i".into())]).unwrap();
        assert_eq!(o.pool_size(10), 4, "ceil(10 x 0.33)");
        assert_eq!(o.pool_size(1), 1);
        o.max_unavailable = 2.0;
        assert_eq!(o.pool_size(10), 2, "an absolute count");
        o.max_unavailable = 0.01;
        assert_eq!(o.pool_size(3), 1, "never zero");
    }
}
