//! Client configuration: base URLs, token, timeouts and retry budgets, and
//! how they are read from the environment the way flyctl reads them.

use std::time::Duration;

use crate::auth::Token;
use crate::error::FlyError;

/// Default Machines API ("flaps") host (fly-go `flaps/flaps.go` L61-71).
pub const DEFAULT_FLAPS_BASE: &str = "https://api.machines.dev";
/// Default web API host (logs) (flyctl `internal/config/config.go`).
pub const DEFAULT_API_BASE: &str = "https://api.fly.io";
/// Default release-record host (flyctl `internal/uiex/client.go` L48-59).
pub const DEFAULT_UIEX_BASE: &str = "https://api.fly.io";

/// A bounded exponential backoff with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries, the first included (1 = no retry).
    pub attempts: u32,
    /// Delay before the first retry; doubled for each later one.
    pub base_delay: Duration,
    /// Upper bound for one delay.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0-based): uniformly random in
    /// `[0, min(max_delay, base_delay·2^retry))`, rehttp's `ExpJitterDelay`
    /// that fly-go's transport uses (`http.go`), so concurrent CI jobs
    /// hitting the same transient failure do not retry in lockstep.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(2u32.saturating_pow(retry.min(16))).min(self.max_delay);
        exp.mul_f64(crate::http::jitter_fraction())
    }
}

/// Everything a [`crate::FlyClient`] needs. Build it with [`Config::new`]
/// (defaults plus a token) or [`Config::from_vars`] / the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Machines API base, without `/v1` (paths are appended under `/v1`).
    /// A path prefix in it is kept (`http://127.0.0.1:9/fake` →
    /// `http://127.0.0.1:9/fake/v1/apps/…`).
    pub flaps_base: String,
    /// Web API base (`/api/v1/apps/{app}/logs`).
    pub api_base: String,
    /// Release-record base (`/api/v1/releases`).
    pub uiex_base: String,
    /// The API token (redacted in `Debug`).
    pub token: Token,
    /// `User-Agent` sent with every request.
    pub user_agent: String,
    /// Timeout of one ordinary request. The wait endpoint gets its own
    /// server-side `timeout` plus [`Config::wait_margin`] instead, and
    /// machine creates and updates get [`Config::launch_timeout`].
    pub request_timeout: Duration,
    /// Timeout of a machine create or update: the API answers once the
    /// machine is launched, which can mean pulling a large image, so a
    /// short timeout fails a change the server goes on applying (fly-go
    /// sets no client timeout at all).
    pub launch_timeout: Duration,
    /// Added to a wait request's `timeout` for the client-side deadline, so
    /// the server's 408 arrives before we give up on the socket.
    pub wait_margin: Duration,
    /// fly-go's transport retries (`http.go`: rehttp, 4 attempts, jittered
    /// 100 ms·2ⁿ up to 1 s), for every method: a 502 or 503 from Fly's
    /// proxy, or a connection that could not be made. Idempotent requests
    /// (GET, the PATCH of a release status) are also retried on any other
    /// 5xx and any transport error.
    pub retry: RetryPolicy,
    /// Retries of a 429 (rate limited), on every method: the request was
    /// not applied, so repeating it is safe. The delay is the answer's
    /// `Retry-After` when it has one (capped at `max_delay`), else this
    /// policy's backoff.
    pub rate_limit_retry: RetryPolicy,
    /// Creates of one machine after ambiguous failures (408, 5xx, a
    /// transport error after sending); before each new create, the launch
    /// id is looked up over [`Config::create_lookup_window`].
    pub create_retry: RetryPolicy,
    /// How long after an ambiguous create the launch id is looked for
    /// before creating again: [`Config::create_lookups`] lists spread over
    /// this window, since a machine the API made can take a while to be
    /// listed.
    pub create_lookup_window: Duration,
    /// How many lists look for the launch id within the window (at 1, 2, 3…
    /// parts of it, so the first comes soon and the last at its end).
    pub create_lookups: u32,
    /// How long a new app may answer 404 or 401 before it counts as missing
    /// (fly-go `WaitForApp`: one minute).
    pub app_wait: Duration,
    /// Retries of a lease acquire on 409 (fly-go `AcquireLease` retries 409).
    pub lease_retry: RetryPolicy,
    /// How long after this client created a machine a 404 on `get` or
    /// `wait` is retried (eventual consistency, flyctl#4618).
    pub not_found_window: Duration,
}

impl Config {
    /// Defaults for every setting, with the public Fly hosts.
    pub fn new(token: impl Into<Token>) -> Self {
        Config {
            flaps_base: DEFAULT_FLAPS_BASE.to_owned(),
            api_base: DEFAULT_API_BASE.to_owned(),
            uiex_base: DEFAULT_UIEX_BASE.to_owned(),
            token: token.into(),
            user_agent: concat!("ferry/", env!("CARGO_PKG_VERSION")).to_owned(),
            request_timeout: Duration::from_secs(30),
            launch_timeout: Duration::from_secs(10 * 60),
            wait_margin: Duration::from_secs(10),
            retry: RetryPolicy { attempts: 4, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1) },
            rate_limit_retry: RetryPolicy { attempts: 8, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(30) },
            create_retry: RetryPolicy { attempts: 3, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(5) },
            create_lookup_window: Duration::from_secs(30),
            create_lookups: 5,
            app_wait: Duration::from_secs(60),
            lease_retry: RetryPolicy { attempts: 4, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(2) },
            not_found_window: Duration::from_secs(20),
        }
    }

    /// Reads the configuration from variables looked up with `var`, using
    /// the names flyctl uses:
    ///
    /// * token: `FLY_ACCESS_TOKEN`, else `FLY_API_TOKEN`, the order of
    ///   flyctl's `internal/config/config.go` (`Ok(None)` when neither is
    ///   set or both are empty); a `Bearer`/`FlyV1` scheme in the value is
    ///   stripped as fly-go does;
    /// * `FLY_FLAPS_BASE_URL` (default [`DEFAULT_FLAPS_BASE`]);
    /// * `FLY_API_BASE_URL` (default [`DEFAULT_API_BASE`]);
    /// * `FLY_UIEX_BASE_URL` (default [`DEFAULT_UIEX_BASE`]).
    ///
    /// Taking a lookup function keeps this testable without mutating the
    /// process environment (which is `unsafe` in edition 2024).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Config>, FlyError> {
        let non_empty = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        // A value that is only a scheme (`Bearer `) holds no token either.
        let token_in = |name: &str| var(name).filter(|v| !Token::new(v.as_str()).is_empty());
        let Some(token) = token_in("FLY_ACCESS_TOKEN").or_else(|| token_in("FLY_API_TOKEN")) else {
            return Ok(None);
        };
        let mut config = Config::new(token);
        for (name, slot) in
            [("FLY_FLAPS_BASE_URL", &mut config.flaps_base), ("FLY_API_BASE_URL", &mut config.api_base), ("FLY_UIEX_BASE_URL", &mut config.uiex_base)]
        {
            if let Some(value) = non_empty(name) {
                check_base(name, &value)?;
                *slot = value.trim().to_owned();
            }
        }
        Ok(Some(config))
    }
}

/// Rejects a base URL that cannot be parsed, naming the variable, as fly-go
/// does ("invalid FLY_FLAPS_BASE_URL").
pub(crate) fn check_base(name: &str, value: &str) -> Result<reqwest::Url, FlyError> {
    reqwest::Url::parse(value.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .ok_or_else(|| FlyError::Config(format!("invalid {name} {value:?}: expected an http(s) URL")))
}
