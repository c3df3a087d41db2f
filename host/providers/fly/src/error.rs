//! Errors callers can branch on.
//!
//! Every message names the request (method and path), the HTTP status, the
//! API's own `error` text and the `fly-request-id` (what Fly support asks
//! for). The token never appears: messages from the server are passed
//! through [`crate::auth::Token::redact`].

use std::fmt;
use std::time::Duration;

use crate::types::CheckStatus;

/// Which request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// HTTP method.
    pub method: String,
    /// The host tried (`https://api.machines.dev`), so an error says which
    /// endpoint (a `FLY_*_BASE_URL` override, a proxy) answered or did not.
    pub host: String,
    /// Path and query, e.g. `/v1/apps/web/machines/abc/wait?state=started`.
    pub path: String,
    /// The response's `fly-request-id`, when there was a response.
    pub request_id: Option<String>,
}

impl fmt::Display for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} on {}", self.method, self.path, self.host)?;
        if let Some(id) = &self.request_id {
            write!(f, " (fly-request-id {id})")?;
        }
        Ok(())
    }
}

/// A failed Fly API call.
#[derive(Debug, thiserror::Error)]
pub enum FlyError {
    /// 404: the app, machine, volume… does not exist (or not yet: see
    /// [`crate::Config::not_found_window`]).
    #[error("{ctx}: 404 not found: {message}")]
    NotFound {
        /// The request.
        ctx: RequestContext,
        /// The API's error text.
        message: String,
    },
    /// Someone else holds the machine's lease. flyctl treats this as
    /// unrecoverable (plan.go L272-274): retrying only races the holder.
    #[error(
        "machine {machine_id}: lease currently held by {holder}: {message}; if no other deploy is \
         running, wait for it to expire or clear it with `fly machine leases clear {machine_id}`"
    )]
    LeaseHeld {
        /// The leased machine.
        machine_id: String,
        /// Who holds it, as far as the API said (owner, description, expiry).
        holder: String,
        /// The API's error text.
        message: String,
    },
    /// 401: the token is missing, expired or malformed.
    #[error("{ctx}: 401 unauthorized: {message}; check that FLY_API_TOKEN holds a valid, unexpired token")]
    Unauthorized {
        /// The request.
        ctx: RequestContext,
        /// The API's error text.
        message: String,
    },
    /// 403: the token is valid but not allowed to do this.
    #[error(
        "{ctx}: 403 forbidden: {message}; the token may be a deploy token scoped to another app \
         (`fly tokens create deploy -a <app>`), or lack this permission (deploy tokens cannot create apps and often cannot read logs)"
    )]
    Forbidden {
        /// The request.
        ctx: RequestContext,
        /// The API's error text.
        message: String,
    },
    /// A 408 from the API, or a client-side deadline (a wait that did not
    /// reach its state in time).
    #[error("{}", timeout_message(.ctx.as_ref(), .message))]
    Timeout {
        /// The request that returned 408; `None` for a client-side deadline.
        ctx: Option<RequestContext>,
        /// What timed out, and what was seen last.
        message: String,
    },
    /// Any other non-2xx answer.
    #[error("{ctx}: {status} {message}{}", code_suffix(.code.as_deref()))]
    Api {
        /// The request.
        ctx: RequestContext,
        /// HTTP status.
        status: u16,
        /// The API's error text.
        message: String,
        /// The API's machine-readable `status` code (`insufficient_capacity`,
        /// `volume_placement_capacity`, `name_taken`…) when it sent one.
        code: Option<String>,
    },
    /// No usable response: connection refused or reset, TLS, client timeout.
    #[error("{ctx}: {message}")]
    Transport {
        /// The request.
        ctx: RequestContext,
        /// The error chain.
        message: String,
        /// Whether the request may have reached the server (false only for
        /// connection failures), i.e. whether a mutation might have happened.
        maybe_sent: bool,
    },
    /// A 2xx response whose body was not what the API documents.
    #[error("{ctx}: unexpected response: {message}")]
    Decode {
        /// The request.
        ctx: RequestContext,
        /// What was wrong.
        message: String,
    },
    /// Invalid client configuration (a bad base URL, an unusable token).
    #[error("fly client configuration: {0}")]
    Config(String),
}

fn timeout_message(ctx: Option<&RequestContext>, message: &str) -> String {
    match ctx {
        Some(ctx) => format!("{ctx}: 408 timeout: {message}"),
        None => format!("timed out: {message}"),
    }
}

fn code_suffix(code: Option<&str>) -> String {
    code.map(|c| format!(" [{c}]")).unwrap_or_default()
}

impl FlyError {
    /// The HTTP status of the failed response, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FlyError::NotFound { .. } => Some(404),
            FlyError::Unauthorized { .. } => Some(401),
            FlyError::Forbidden { .. } => Some(403),
            FlyError::Timeout { ctx: Some(_), .. } => Some(408),
            FlyError::Api { status, .. } => Some(*status),
            FlyError::LeaseHeld { .. } | FlyError::Timeout { ctx: None, .. } | FlyError::Transport { .. } | FlyError::Decode { .. } | FlyError::Config(_) => {
                None
            }
        }
    }

    /// Whether the same request may well succeed if tried again later: the
    /// API was overloaded or down (429, 5xx), or the connection to it
    /// failed or timed out. Everything else (a 4xx, a lease someone holds,
    /// an answer ferry cannot read) needs a person or a new plan.
    pub fn is_transient(&self) -> bool {
        match self {
            FlyError::Api { status, .. } => *status == 429 || *status >= 500,
            FlyError::Timeout { .. } | FlyError::Transport { .. } => true,
            FlyError::NotFound { .. }
            | FlyError::LeaseHeld { .. }
            | FlyError::Unauthorized { .. }
            | FlyError::Forbidden { .. }
            | FlyError::Decode { .. }
            | FlyError::Config(_) => false,
        }
    }

    /// The `fly-request-id` of the failed response, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            FlyError::NotFound { ctx, .. }
            | FlyError::Unauthorized { ctx, .. }
            | FlyError::Forbidden { ctx, .. }
            | FlyError::Api { ctx, .. }
            | FlyError::Transport { ctx, .. }
            | FlyError::Decode { ctx, .. }
            | FlyError::Timeout { ctx: Some(ctx), .. } => ctx.request_id.as_deref(),
            FlyError::LeaseHeld { .. } | FlyError::Timeout { ctx: None, .. } | FlyError::Config(_) => None,
        }
    }

    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, FlyError::NotFound { .. })
    }

    /// Whether a *mutation* that failed this way may still have been applied
    /// by the server: a 408 or 5xx from the proxy, or a transport error after
    /// the request left. A create that failed like this must be looked up
    /// before it is retried. A 429 is not ambiguous: it was not applied.
    pub(crate) fn is_ambiguous(&self) -> bool {
        match self {
            FlyError::Timeout { ctx: Some(_), .. } => true,
            FlyError::Api { status, .. } => *status >= 500,
            FlyError::Transport { maybe_sent, .. } => *maybe_sent,
            FlyError::NotFound { .. }
            | FlyError::LeaseHeld { .. }
            | FlyError::Unauthorized { .. }
            | FlyError::Forbidden { .. }
            | FlyError::Timeout { ctx: None, .. }
            | FlyError::Decode { .. }
            | FlyError::Config(_) => false,
        }
    }
}

/// Why [`crate::FlyClient::wait_healthy`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The machine stopped, failed, was destroyed or restarted while we
    /// waited: reported at once instead of waiting out the timeout
    /// (flyctl#2653).
    #[error("machine {machine_id} crashed while waiting for health checks: state {state}{}", exit_suffix(*.exit_code))]
    Crashed {
        /// The machine.
        machine_id: String,
        /// Its state when the crash was seen.
        state: String,
        /// The exit code of the exit that ended it, when events report one.
        exit_code: Option<i64>,
    },
    /// The deadline passed with checks still failing (or not yet reported).
    #[error("{}", unhealthy_message(.machine_id, *.waited, .state, .failing, *.configured, *.reported))]
    Timeout {
        /// The machine.
        machine_id: String,
        /// How long we waited.
        waited: Duration,
        /// Its state at the deadline.
        state: String,
        /// Checks not passing at the deadline, with their output.
        failing: Vec<CheckStatus>,
        /// Checks configured in the machine config.
        configured: usize,
        /// Checks the API reported a status for.
        reported: usize,
    },
    /// Polling the machine failed (boxed: `FlyError` is large).
    #[error(transparent)]
    Api(Box<FlyError>),
}

impl From<FlyError> for HealthError {
    fn from(error: FlyError) -> Self {
        HealthError::Api(Box::new(error))
    }
}

fn exit_suffix(code: Option<i64>) -> String {
    code.map(|c| format!(", exit code {c}")).unwrap_or_default()
}

fn unhealthy_message(id: &str, waited: Duration, state: &str, failing: &[CheckStatus], configured: usize, reported: usize) -> String {
    let mut msg = format!("machine {id} not healthy after {:.1}s (state {state}, {configured} checks configured, {reported} reported)", waited.as_secs_f64());
    if reported < configured {
        msg.push_str(&format!("; {} checks have not reported yet", configured - reported));
    }
    for check in failing {
        let output = check.output.trim();
        msg.push_str(&format!("; check {} is {}", check.name, check.status));
        if !output.is_empty() {
            msg.push_str(&format!(": {output}"));
        }
    }
    msg
}
