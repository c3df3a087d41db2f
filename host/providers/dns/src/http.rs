//! What the HTTP providers share: the client, and sending a request so that
//! no failure can carry the credential into an error message.

use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder};

use crate::error::DnsError;
use crate::secret::Secret;

/// A DNS API call that takes longer than this is stuck; the executor
/// reports it rather than hanging the cutover.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The blocking client both HTTP providers use.
pub(crate) fn client(provider: &'static str) -> Result<Client, DnsError> {
    Client::builder().timeout(TIMEOUT).user_agent(concat!("ferry-dns/", env!("CARGO_PKG_VERSION"))).build().map_err(|e| DnsError::Http {
        provider,
        request: "building the HTTP client".to_owned(),
        reason: e.to_string(),
    })
}

/// A response: the status and the body text, already redacted.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends the request; `request` (method and path) names it in errors. Any
/// occurrence of `secret` in the transport error or the body is replaced.
pub(crate) fn send(provider: &'static str, request: &str, builder: RequestBuilder, secret: &Secret) -> Result<Reply, DnsError> {
    let failed = |reason: String| DnsError::Http { provider, request: request.to_owned(), reason: secret.redact(&reason) };
    let response = builder.send().map_err(|e| failed(describe(&e)))?;
    let status = response.status().as_u16();
    let body = response.text().map_err(|e| failed(describe(&e)))?;
    Ok(Reply { status, body: secret.redact(&body) })
}

/// The error with its causes: reqwest's own text ("error sending request")
/// hides the useful part ("connection refused").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
