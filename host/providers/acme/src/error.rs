use std::time::Duration;

/// Why a certificate was not issued. Each names the name, server or record
/// involved, so the journal line says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("ACME directory {url}: {message}")]
    Directory { url: String, message: String },
    #[error("ACME server {url} refused the order for {names}: {message}")]
    Order { url: String, names: String, message: String },
    #[error("the ACME server offers no {kind} challenge for {name} (configure the other challenge for this target)")]
    NoChallenge { name: String, kind: &'static str },
    #[error("publishing the {kind} challenge for {name}: {message}")]
    Publish { name: String, kind: &'static str, message: String },
    #[error("the ACME server did not validate {names}: {message}")]
    Invalid { names: String, message: String },
    #[error("the ACME server did not finish the order for {names} within {}s", waited.as_secs())]
    Timeout { names: String, waited: Duration },
    #[error("the issued certificate could not be read: {0}")]
    Certificate(String),
    #[error("the ACME client could not start: {0}")]
    Runtime(String),
}
