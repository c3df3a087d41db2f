//! Errors callers can branch on.
//!
//! The executor must tell apart "someone else changed the record" (stop and
//! re-plan: [`DnsError::Conflict`]), "our credentials are wrong" (fix the
//! secret: [`DnsError::TsigRejected`], [`DnsError::Unauthorized`]) and
//! everything else. No message ever contains a TSIG secret or an API token:
//! secrets are not formatted anywhere, and text an API sends back is passed
//! through [`crate::Secret::redact`] first.

use crate::record::{Name, RRset, RecordType};

/// What went wrong talking to a DNS provider.
///
/// RRsets inside are boxed to keep `Result<_, DnsError>` small.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A name that is not a valid domain name.
    #[error("invalid DNS name `{name}`: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// A record value that does not parse for its type.
    #[error("invalid {rtype} value `{value}`: {reason}")]
    InvalidValue {
        /// The record type.
        rtype: String,
        /// The value as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// An RRset (or a change) that breaks a rule of the model.
    #[error("invalid RRset: {0}")]
    InvalidRRset(String),
    /// A TSIG key that cannot be used (the secret is never shown).
    #[error("invalid TSIG key `{name}`: {reason}")]
    InvalidKey {
        /// The key name.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// The record is not inside the zone it is supposed to be changed in.
    #[error("{name} is not in zone {zone}")]
    OutOfZone {
        /// The record's name.
        name: Name,
        /// The zone.
        zone: Name,
    },
    /// The record no longer holds what the plan saw; nothing was changed.
    #[error(
        "{name} {rtype} changed since it was read: expected {}, found {}; nothing was changed \
         (re-plan to see the current state)",
        show(.expected.as_deref()),
        show(.found.as_deref())
    )]
    Conflict {
        /// The record's name.
        name: Name,
        /// The record's type.
        rtype: RecordType,
        /// What the caller expected (`None`: no such RRset).
        expected: Option<Box<RRset>>,
        /// What the provider holds now (`None`: no such RRset).
        found: Option<Box<RRset>>,
    },
    /// The provider accepted the change, but reading the record back shows
    /// something else: another client wrote at the same moment, or the
    /// server silently dropped part of the update (RFC 2136 §3.4.2.2
    /// ignores an A record added next to a CNAME, for example).
    #[error(
        "{name} {rtype}: the change was accepted but the record now holds {} instead of {}; \
         another client may have written at the same time, or the server ignored part of the \
         change: check the zone before going on",
        show(.found.as_deref()),
        show(.wanted.as_deref())
    )]
    NotApplied {
        /// The record's name.
        name: Name,
        /// The record's type.
        rtype: RecordType,
        /// What was written (`None`: a delete).
        wanted: Option<Box<RRset>>,
        /// What was read back.
        found: Option<Box<RRset>>,
    },
    /// The server did not accept the TSIG key (BADKEY, BADSIG, BADTIME, or
    /// an unsigned refusal of a signed request).
    #[error("{server}: the server rejected the TSIG key `{key}` ({reason}): check the key name and secret{}", hint(.reason))]
    TsigRejected {
        /// The server's address.
        server: String,
        /// The key name.
        key: Name,
        /// The TSIG error or response code.
        reason: String,
    },
    /// The server answered an error response code.
    #[error("{server}: {operation}: {rcode}{}", rcode_hint(.rcode))]
    Rcode {
        /// The server's address.
        server: String,
        /// What was asked, e.g. `UPDATE example.com.`.
        operation: String,
        /// The response code, e.g. `REFUSED`.
        rcode: String,
    },
    /// The server could not be reached or the connection broke.
    #[error("{server}: {operation}: {source}")]
    Io {
        /// The server's address.
        server: String,
        /// What was asked.
        operation: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The server's answer does not make sense (bad encoding, wrong id, a
    /// response signature that does not verify, a non-authoritative answer).
    #[error("{server}: {operation}: {reason}")]
    Protocol {
        /// The server's address.
        server: String,
        /// What was asked.
        operation: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// The provider does not know the zone (or the credentials cannot see it).
    #[error("{provider}: zone {zone} not found (or not visible with these credentials)")]
    ZoneNotFound {
        /// `powerdns` or `cloudflare`.
        provider: &'static str,
        /// The zone.
        zone: Name,
    },
    /// HTTP 401/403: the API token or key was refused.
    #[error("{provider}: {request}: HTTP {status}: {message}; check the API {credential}")]
    Unauthorized {
        /// `powerdns` or `cloudflare`.
        provider: &'static str,
        /// Method and path.
        request: String,
        /// The HTTP status.
        status: u16,
        /// The API's error text.
        message: String,
        /// Which credential to check (`X-API-Key`, `token`).
        credential: &'static str,
    },
    /// Any other API error, with the provider's own error code when it has one.
    #[error("{provider}: {request}: HTTP {status}: {message}")]
    Api {
        /// `powerdns` or `cloudflare`.
        provider: &'static str,
        /// Method and path.
        request: String,
        /// The HTTP status.
        status: u16,
        /// The first error code the API gave (Cloudflare's `errors[].code`).
        code: Option<i64>,
        /// The API's error text (all of its errors, with their codes).
        message: String,
    },
    /// The HTTP request could not be made or its answer could not be read.
    #[error("{provider}: {request}: {reason}")]
    Http {
        /// `powerdns` or `cloudflare`.
        provider: &'static str,
        /// Method and path.
        request: String,
        /// What failed.
        reason: String,
    },
    /// The provider cannot represent this record type through its API.
    #[error("{provider} records of type {rtype} are not supported by ferry")]
    Unsupported {
        /// The provider.
        provider: &'static str,
        /// The type.
        rtype: RecordType,
    },
}

impl DnsError {
    /// Whether the same request may well succeed if tried again later: a
    /// provider API that was overloaded or down (429, 5xx, no answer), or a
    /// server that answered SERVFAIL. A server that cannot be reached at
    /// all is not counted: it is as often a wrong address in ferry.toml.
    pub fn is_transient(&self) -> bool {
        match self {
            DnsError::Api { status, .. } => *status == 429 || *status >= 500,
            DnsError::Http { .. } => true,
            DnsError::Rcode { rcode, .. } => rcode == "SERVFAIL",
            DnsError::InvalidName { .. }
            | DnsError::InvalidValue { .. }
            | DnsError::InvalidRRset(_)
            | DnsError::InvalidKey { .. }
            | DnsError::OutOfZone { .. }
            | DnsError::Conflict { .. }
            | DnsError::NotApplied { .. }
            | DnsError::TsigRejected { .. }
            | DnsError::Io { .. }
            | DnsError::Protocol { .. }
            | DnsError::ZoneNotFound { .. }
            | DnsError::Unauthorized { .. }
            | DnsError::Unsupported { .. } => false,
        }
    }
}

fn show(set: Option<&RRset>) -> String {
    match set {
        Some(set) => format!("`{set}`"),
        None => "no such record".to_owned(),
    }
}

fn hint(reason: &str) -> &'static str {
    if reason.contains("BADTIME") { ", and that this machine's clock is within 5 minutes of the server's" } else { "" }
}

fn rcode_hint(rcode: &str) -> &'static str {
    match rcode {
        "REFUSED" => {
            " (the server does not serve the zone as primary, or this key may not do that: check \
             its update and transfer policy)"
        }
        "NOTAUTH" => " (the server is not authoritative for the zone)",
        "NOTZONE" => " (the name is outside the zone)",
        "NOTIMP" => " (the server does not accept dynamic updates)",
        _ => "",
    }
}
