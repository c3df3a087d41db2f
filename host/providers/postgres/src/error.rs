use std::time::Duration;

use crate::logical::ReplicationStatus;

/// Everything that can go wrong talking to PostgreSQL.
///
/// Every string in here has been passed through [`crate::DbUrl::redact`], so an
/// error can be logged or shown in a plan without leaking a password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL could not be parsed; the URL itself is deliberately not repeated.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// Refused instead of silently connecting in plain text.
    #[error("{target}: sslmode=require is not supported yet (ferry connects without TLS for now)")]
    TlsUnsupported { target: String },
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("{target}: {context}: {message}")]
    Query {
        target: String,
        context: String,
        message: String,
        /// SQLSTATE, when the server sent one (e.g. `25006` read-only transaction).
        code: Option<String>,
    },
    /// A PostgreSQL client tool exited non-zero; `stderr` holds its last lines.
    #[error("{tool} failed ({status}): {stderr}")]
    Tool { tool: String, status: String, stderr: String },
    #[error("{tool} not found: install the PostgreSQL client tools")]
    ToolMissing { tool: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Names ferry interpolates (publication, subscription) must be `[a-z0-9_]+`.
    #[error("invalid name {0:?}: use 1-63 characters of [a-z0-9_]")]
    InvalidName(String),
    #[error("invalid table name {0:?}")]
    InvalidTable(String),
    /// The copy's precondition: ferry never restores over existing data.
    #[error("{target} is not empty: it already holds tables, sequences or large objects")]
    TargetNotEmpty { target: String },
    #[error("{target}: {what} not found")]
    NotFound { target: String, what: String },
    #[error("timed out after {waited:?} waiting for {what} (last status: {last:?})")]
    Timeout { what: String, waited: Duration, last: Option<ReplicationStatus> },
}

impl PgError {
    /// The SQLSTATE of a server error, so callers can tell e.g. read-only apart.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            PgError::Query { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Whether the server said the statement may succeed if run again:
    /// SQLSTATE class 08 (the connection broke), 40001 and 40P01 (a
    /// serialization failure or deadlock), class 53 (out of resources) and
    /// 57P01-57P03 (the server is shutting down or starting). A server that
    /// refuses the connection is not counted: it is as often a wrong URL.
    pub fn is_transient(&self) -> bool {
        self.sqlstate().is_some_and(|code| code.starts_with("08") || code.starts_with("53") || matches!(code, "40001" | "40P01" | "57P01" | "57P02" | "57P03"))
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> PgError {
        PgError::Io { context: context.into(), source }
    }
}
