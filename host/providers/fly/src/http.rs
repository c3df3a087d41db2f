//! Transport: URLs, headers, timeouts, the retry rules, request ids and the
//! mapping of error responses to [`FlyError`].
//!
//! Retry rules (fly-go's transport, `http.go`, plus what it lacks):
//! * every method, POST and DELETE included, is retried on a 502 or 503
//!   from Fly's proxy and on a connection that could not be made, up to 4
//!   attempts with a jittered 100 ms·2ⁿ delay (rehttp `ExpJitterDelay`);
//! * every method is retried on a 429: the request was not applied. The
//!   delay is `Retry-After` when the answer has one, else a backoff, within
//!   its own bound ([`crate::Config::rate_limit_retry`]); fly-go ignores
//!   429 and `Retry-After`, but Fly documents per-action rate limits;
//! * idempotent requests (GET, and PATCH of a release status) are also
//!   retried on any 5xx and any transport error;
//! * a machine create is only retried when it provably did not apply (429,
//!   no connection): its 502/503 go to the caller, which looks the launch
//!   id up before creating again ([`crate::FlyClient::create_machine`]).

use std::error::Error as _;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, RETRY_AFTER};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{Config, check_base};
use crate::error::{FlyError, RequestContext};

/// The lease nonce header every mutation of a leased machine carries (fly-go
/// `flaps_machines.go` L15).
pub(crate) const NONCE_HEADER: &str = "fly-machine-lease-nonce";
/// The response header naming the request for Fly support.
const REQUEST_ID_HEADER: &str = "fly-request-id";

/// Where a request goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Base {
    /// The Machines API; paths are under `/v1`.
    Flaps,
    /// `api.fly.io` (logs).
    Api,
    /// The release-record API.
    Uiex,
}

/// Which failures may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Safe to repeat: retry every 5xx, 429 and transport error.
    Idempotent,
    /// fly-go's rule for any method: 502, 503, 429 and failed connections.
    Transport,
    /// Only what provably did not apply: 429 and failed connections (a
    /// create, whose ambiguous failures its caller resolves).
    Unapplied,
    /// Nothing: the caller loops itself (the wait endpoint).
    Never,
}

/// Why a failed try may be repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Again {
    /// A 429: counted against [`Config::rate_limit_retry`].
    RateLimited,
    /// A server or connection failure: counted against [`Config::retry`].
    Failure,
}

/// Whether `error` may be retried under `retry`, and on which budget.
fn again(error: &FlyError, retry: Retry) -> Option<Again> {
    if retry == Retry::Never {
        return None;
    }
    match error {
        FlyError::Api { status: 429, .. } => Some(Again::RateLimited),
        FlyError::Transport { maybe_sent: false, .. } => Some(Again::Failure),
        FlyError::Api { status: 502 | 503, .. } if retry != Retry::Unapplied => Some(Again::Failure),
        FlyError::Api { status, .. } if *status >= 500 && retry == Retry::Idempotent => Some(Again::Failure),
        FlyError::Transport { .. } if retry == Retry::Idempotent => Some(Again::Failure),
        _ => None,
    }
}

/// One request, built fluently.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    method: Method,
    base: Base,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Value>,
    nonce: Option<&'a str>,
    timeout: Option<Duration>,
    retry: Retry,
}

impl<'a> Request<'a> {
    pub(crate) fn new(method: Method, base: Base, segments: &[&str]) -> Self {
        let retry = if method == Method::GET { Retry::Idempotent } else { Retry::Transport };
        Request { method, base, segments: segments.iter().map(|s| (*s).to_owned()).collect(), query: Vec::new(), body: None, nonce: None, timeout: None, retry }
    }

    /// A Machines API request (`/v1/…`).
    pub(crate) fn flaps(method: Method, segments: &[&str]) -> Self {
        Request::new(method, Base::Flaps, segments)
    }

    pub(crate) fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }

    /// Sets the JSON body. Serializing our own wire types cannot fail (they
    /// have string keys only), so a failure is a bug worth a loud panic.
    pub(crate) fn json(mut self, body: &impl Serialize) -> Self {
        self.body = Some(serde_json::to_value(body).expect("request bodies serialize to JSON"));
        self
    }

    pub(crate) fn nonce(mut self, nonce: Option<&'a str>) -> Self {
        self.nonce = nonce.filter(|n| !n.is_empty());
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub(crate) fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }
}

/// A successful (2xx) response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) ctx: RequestContext,
    body: Vec<u8>,
}

impl Response {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, FlyError> {
        serde_json::from_slice(&self.body).map_err(|e| FlyError::Decode { ctx: self.ctx.clone(), message: e.to_string() })
    }
}

/// The HTTP side of the client.
pub(crate) struct Transport {
    http: reqwest::blocking::Client,
    config: Config,
    /// The Machines API's header (also sent to `api.fly.io` for logs).
    authorization: HeaderValue,
    /// The release-record API's header (flyctl's uiex client).
    uiex_authorization: HeaderValue,
    flaps: reqwest::Url,
    api: reqwest::Url,
    uiex: reqwest::Url,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `config.token` has a redacted Debug; the header value is left out.
        f.debug_struct("Transport").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(config: Config) -> Result<Self, FlyError> {
        if config.token.is_empty() {
            return Err(FlyError::Config("the API token is empty".into()));
        }
        let flaps = check_base("flaps base URL", &config.flaps_base)?;
        let api = check_base("API base URL", &config.api_base)?;
        let uiex = check_base("UIEX base URL", &config.uiex_base)?;
        let mut authorization = HeaderValue::from_str(&config.token.authorization())
            .map_err(|_| FlyError::Config("the API token contains characters not allowed in a header".into()))?;
        authorization.set_sensitive(true);
        let mut uiex_authorization = HeaderValue::from_str(&config.token.uiex_authorization())
            .map_err(|_| FlyError::Config("the API token contains characters not allowed in a header".into()))?;
        uiex_authorization.set_sensitive(true);
        let http = reqwest::blocking::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| FlyError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport { http, config, authorization, uiex_authorization, flaps, api, uiex })
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    fn url(&self, request: &Request<'_>) -> reqwest::Url {
        let (mut url, prefix) = match request.base {
            Base::Flaps => (self.flaps.clone(), Some("v1")),
            Base::Api => (self.api.clone(), None),
            Base::Uiex => (self.uiex.clone(), None),
        };
        // Segments are escaped as Go's `url.PathEscape` escapes them (fly-go
        // builds every path with it): a wildcard hostname's `*` goes out as
        // `%2A`, as Fly's certificate docs require.
        let mut path = url.path().trim_end_matches('/').to_owned();
        for segment in prefix.into_iter().map(str::to_owned).chain(request.segments.iter().map(|s| path_escape(s))) {
            path.push('/');
            path.push_str(&segment);
        }
        url.set_path(&path);
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        url
    }

    /// Sends `request`, retrying as its [`Retry`] allows. Non-2xx answers
    /// become errors.
    pub(crate) fn send(&self, request: &Request<'_>) -> Result<Response, FlyError> {
        let (policy, limits) = (self.config.retry, self.config.rate_limit_retry);
        let (mut failures, mut limited) = (0, 0);
        loop {
            let (result, retry_after) = self.send_once(request);
            let Err(error) = &result else { return result };
            let delay = match again(error, request.retry) {
                Some(Again::RateLimited) if limited + 1 < limits.attempts => {
                    limited += 1;
                    retry_after.map_or_else(|| limits.delay(limited - 1), |d| d.min(limits.max_delay))
                }
                Some(Again::Failure) if failures + 1 < policy.attempts => {
                    failures += 1;
                    policy.delay(failures - 1)
                }
                _ => return result,
            };
            tracing::debug!(error = %error, delay_ms = delay.as_millis() as u64, "retrying fly api request");
            std::thread::sleep(delay);
        }
    }

    /// One try; also returns a `Retry-After` delay when the server sent one.
    fn send_once(&self, request: &Request<'_>) -> (Result<Response, FlyError>, Option<Duration>) {
        let url = self.url(request);
        let mut ctx = RequestContext {
            method: request.method.to_string(),
            host: url.origin().ascii_serialization(),
            path: match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            },
            request_id: None,
        };
        let timeout = request.timeout.unwrap_or(self.config.request_timeout);
        let authorization = match request.base {
            Base::Uiex => &self.uiex_authorization,
            Base::Flaps | Base::Api => &self.authorization,
        };
        let mut builder =
            self.http.request(request.method.clone(), url).header(AUTHORIZATION, authorization.clone()).header(ACCEPT, "application/json").timeout(timeout);
        if let Some(nonce) = request.nonce {
            builder = builder.header(NONCE_HEADER, nonce);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let started = Instant::now();
        let response = match builder.send() {
            Ok(response) => response,
            Err(e) => return (Err(self.transport_error(ctx, timeout, e)), None),
        };
        let status = response.status();
        ctx.request_id = header_str(&response, REQUEST_ID_HEADER);
        // Seconds (RFC 9110 also allows a date; Fly's form is unverified).
        let retry_after = header_str(&response, RETRY_AFTER.as_str())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(Duration::from_secs_f64);
        tracing::debug!(
            method = %ctx.method,
            path = %ctx.path,
            status = status.as_u16(),
            request_id = ctx.request_id.as_deref().unwrap_or("-"),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "fly api response"
        );
        let body = match response.bytes() {
            Ok(body) => body.to_vec(),
            Err(e) => return (Err(self.transport_error(ctx, timeout, e)), None),
        };
        if status.is_success() { (Ok(Response { ctx, body }), None) } else { (Err(self.api_error(ctx, status.as_u16(), &body)), retry_after) }
    }

    fn transport_error(&self, ctx: RequestContext, timeout: Duration, error: reqwest::Error) -> FlyError {
        let maybe_sent = !error.is_connect();
        let kind = if error.is_timeout() {
            format!("no response within {timeout:?}")
        } else if error.is_connect() {
            "cannot connect".to_owned()
        } else {
            "transport error".to_owned()
        };
        let error = error.without_url();
        let mut chain = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        FlyError::Transport { ctx, message: self.config.token.redact(&format!("{kind}: {chain}")), maybe_sent }
    }

    fn api_error(&self, ctx: RequestContext, status: u16, body: &[u8]) -> FlyError {
        let (message, code) = error_text(status, body);
        let message = self.config.token.redact(&message);
        if message.contains("lease currently held by") {
            return FlyError::LeaseHeld { machine_id: machine_id_in(&ctx.path).unwrap_or("?").to_owned(), holder: holder_in(&message), message };
        }
        match status {
            401 => FlyError::Unauthorized { ctx, message },
            403 => FlyError::Forbidden { ctx, message },
            404 => FlyError::NotFound { ctx, message },
            408 => FlyError::Timeout { ctx: Some(ctx), message },
            _ => FlyError::Api { ctx, status, message, code },
        }
    }
}

fn header_str(response: &reqwest::blocking::Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The API's error text: `{"error": …, "message"?: …, "status"?: code}`
/// (fly-go `handleAPIError`), else the raw body (truncated), else the reason
/// phrase.
fn error_text(status: u16, body: &[u8]) -> (String, Option<String>) {
    #[derive(serde::Deserialize)]
    struct ApiError {
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        status: Option<Value>,
    }
    if let Ok(parsed) = serde_json::from_slice::<ApiError>(body) {
        let code = parsed.status.and_then(|s| s.as_str().map(str::to_owned)).filter(|s| !s.is_empty());
        let error = parsed.error.filter(|s| !s.is_empty());
        let message = parsed.message.filter(|s| !s.is_empty());
        let text = match (error, message) {
            (Some(e), Some(m)) if e != m => format!("{e}: {m}"),
            (Some(e), _) => e,
            (None, Some(m)) => m,
            (None, None) => String::from_utf8_lossy(body).trim().to_owned(),
        };
        return (text, code);
    }
    let raw = String::from_utf8_lossy(body);
    let raw = raw.trim();
    if raw.is_empty() {
        let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
        return (reason.unwrap_or("no error text").to_owned(), None);
    }
    let mut text: String = raw.chars().take(500).collect();
    if text.len() < raw.len() {
        text.push('…');
    }
    (text, None)
}

/// The machine id in `/…/machines/{id}/…`.
fn machine_id_in(path: &str) -> Option<&str> {
    let path = path.split('?').next().unwrap_or(path);
    let mut segments = path.split('/');
    segments.by_ref().find(|s| *s == "machines")?;
    segments.next().filter(|s| !s.is_empty())
}

/// The holder named in "… lease currently held by X, …".
fn holder_in(message: &str) -> String {
    message
        .split_once("held by")
        .map(|(_, rest)| rest.trim().split([',', ';']).next().unwrap_or("").trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "another client".to_owned())
}

/// Go's `url.PathEscape`: letters, digits and `-_.~` stay, and so do the
/// sub-delimiters a path segment may hold (`$&+:=@`); every other byte is
/// `%XX`.
pub(crate) fn path_escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~$&+:=@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A random number in `[0, 1)` for jitter. `RandomState` is seeded randomly
/// by std, which is all jitter needs; no RNG dependency.
pub(crate) fn jitter_fraction() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    // Keys differ per `RandomState`; the clock only adds entropy.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}
