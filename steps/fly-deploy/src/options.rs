//! The deploy's knobs: `fly deploy`'s flags, as step parameters, over the
//! `[deploy]` section of fly.toml, over flyctl's defaults.

use ferry_step_sdk::params::{Params, Spec};
use ferry_step_sdk::types::{AppSpec, StepError};

/// flyctl's `DefaultWaitTimeout`.
pub const DEFAULT_WAIT_TIMEOUT_MS: u64 = 5 * 60 * 1000;
/// flyctl's `DefaultReleaseCommandTimeout`.
pub const DEFAULT_RELEASE_COMMAND_TIMEOUT_MS: u64 = 5 * 60 * 1000;
/// flyctl's `DefaultMaxUnavailable`: a third of a group's running machines.
pub const DEFAULT_MAX_UNAVAILABLE: f64 = 0.33;
/// flyctl sleeps 10 s after marking greens ready and again after cordoning blues.
pub const DEFAULT_BLUEGREEN_DRAIN_MS: u64 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Rolling,
    Immediate,
    Canary,
    Bluegreen,
}

impl Strategy {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "rolling" => Some(Strategy::Rolling),
            "immediate" => Some(Strategy::Immediate),
            "canary" => Some(Strategy::Canary),
            "bluegreen" => Some(Strategy::Bluegreen),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::Immediate => "immediate",
            Strategy::Canary => "canary",
            Strategy::Bluegreen => "bluegreen",
        }
    }
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
];

impl Options {
    pub fn from_params(app: &AppSpec, params: &[(String, String)]) -> Result<Self, StepError> {
        let p = Params(params);
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
            Some(s) => Strategy::parse(s)
                .ok_or_else(|| invalid(&format!("unknown strategy `{s}`: use rolling, immediate, canary or bluegreen")))?,
        };
        let max_unavailable = match get("max-unavailable") {
            Some(v) => v.parse::<f64>().ok().filter(|f| *f > 0.0 && f.is_finite()).ok_or_else(|| {
                invalid(&format!("max-unavailable `{v}` must be a number above 0 (a count, or a fraction below 1)"))
            })?,
            None => app.deploy.max_unavailable.filter(|f| *f > 0.0).unwrap_or(DEFAULT_MAX_UNAVAILABLE),
        };
        let duration = |name: &str, from_config: Option<u64>, default: u64| match get(name) {
            Some(v) => parse_duration_ms(v).ok_or_else(|| invalid(&format!("{name} `{v}` is not a duration (write e.g. 90s or 5m)"))),
            None => Ok(from_config.unwrap_or(default)),
        };
        let flag = |name: &str, default: bool| p.flag(name, default);
        let groups = p.list("process-groups").unwrap_or_default();
        Ok(Options {
            app: get("app").map(str::to_string),
            image,
            strategy,
            max_unavailable,
            wait_timeout_ms: duration("wait-timeout", app.deploy.wait_timeout_ms, DEFAULT_WAIT_TIMEOUT_MS)?,
            release_command_timeout_ms: duration(
                "release-command-timeout",
                app.deploy.release_command_timeout_ms,
                DEFAULT_RELEASE_COMMAND_TIMEOUT_MS,
            )?,
            detach: flag("detach", false)?,
            skip_release_command: flag("skip-release-command", false)?,
            groups,
            ha: flag("ha", true)?,
            bluegreen_drain_ms: duration("bluegreen-drain", None, DEFAULT_BLUEGREEN_DRAIN_MS)?,
        })
    }

    /// Whether `group` is deployed by this run.
    pub fn includes(&self, group: &str) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g == group)
    }

    /// flyctl's `getPoolSize`: how many of `n` warm machines update at once.
    pub fn pool_size(&self, n: usize) -> usize {
        let size = if self.max_unavailable >= 1.0 {
            self.max_unavailable.floor() as usize
        } else {
            (n as f64 * self.max_unavailable).ceil() as usize
        };
        size.max(1)
    }
}

fn invalid(message: &str) -> StepError {
    ferry_step_sdk::params::invalid(message)
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
        let mut o = Options {
            app: None,
            image: "i".into(),
            strategy: Strategy::Rolling,
            max_unavailable: 0.33,
            wait_timeout_ms: 1,
            release_command_timeout_ms: 1,
            detach: false,
            skip_release_command: false,
            groups: vec![],
            ha: true,
            bluegreen_drain_ms: 1,
        };
        assert_eq!(o.pool_size(10), 4, "ceil(10 x 0.33)");
        assert_eq!(o.pool_size(1), 1);
        o.max_unavailable = 2.0;
        assert_eq!(o.pool_size(10), 2, "an absolute count");
        o.max_unavailable = 0.01;
        assert_eq!(o.pool_size(3), 1, "never zero");
    }
}
