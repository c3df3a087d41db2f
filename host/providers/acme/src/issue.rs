//! One order, from a new account to the issued chain.

use std::time::Duration;

use instant_acme::{Account, AuthorizationStatus, Identifier, NewAccount, NewOrder, Order, OrderStatus, RetryPolicy};

use crate::certificate::Certificate;
use crate::challenge::{Challenge, Pending};
use crate::directory::{Directory, Roots};
use crate::error::AcmeError;

/// How long the CA may take to validate every authorization.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(120);
/// How long it may take to sign once the order is ready.
const ISSUE_TIMEOUT: Duration = Duration::from_secs(60);

/// Issues a certificate for `names` (the first is the subject; wildcards
/// need DNS-01) from `directory`, proving control with `challenge`.
///
/// Each issuance registers a new account: ferry keeps no ACME account key
/// between runs, so there is no long-lived credential to store or leak. Let's
/// Encrypt allows 10 new accounts per address per 3 hours, far above one
/// order per deploy. Whatever the challenge published is withdrawn before
/// this returns, whether the order succeeded or not.
pub fn issue(directory: &Directory, names: &[String], challenge: &Challenge<'_>) -> Result<Certificate, AcmeError> {
    let joined = names.join(", ");
    // The ACME client builds its TLS config with the process-wide provider,
    // which nothing sets while both ring and aws-lc-rs are linked.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| AcmeError::Runtime(e.to_string()))?;

    let (mut order, pending) = runtime.block_on(open(directory, names, challenge))?;
    // Outside the runtime: the DNS providers' HTTP clients block.
    let published = challenge.publish(&pending)?;
    let issued = runtime.block_on(complete(&mut order, challenge, &joined));
    let withdrawn = published.withdraw();
    let issued = issued?;
    if let Err(message) = withdrawn {
        // The certificate is good; a challenge record left behind is
        // harmless to it but worth a line: it names what to delete.
        tracing::warn!("issued {joined}, but could not withdraw its challenge: {message}");
    }
    Ok(issued)
}

fn order_error(directory: &Directory, names: &str) -> impl Fn(instant_acme::Error) -> AcmeError {
    let url = directory.url.clone();
    let names = names.to_owned();
    move |e| AcmeError::Order { url: url.clone(), names: names.clone(), message: e.to_string() }
}

/// Registers an account, opens the order and lists what must be proven.
async fn open(directory: &Directory, names: &[String], challenge: &Challenge<'_>) -> Result<(Order, Vec<Pending>), AcmeError> {
    let joined = names.join(", ");
    let directory_error = |message: String| AcmeError::Directory { url: directory.url.clone(), message };
    let builder = match &directory.roots {
        Roots::System => Account::builder(),
        Roots::Pem(path) => Account::builder_with_root(path),
    }
    .map_err(|e| directory_error(e.to_string()))?;
    let contact: Vec<&str> = directory.contact.iter().map(String::as_str).collect();
    let new_account = NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
    let (account, _credentials) = builder.create(&new_account, directory.url.clone(), None).await.map_err(|e| directory_error(e.to_string()))?;

    let identifiers: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await.map_err(order_error(directory, &joined))?;
    let mut pending = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.map_err(order_error(directory, &joined))?;
        if authorization.status == AuthorizationStatus::Valid {
            continue;
        }
        let name = authorization.identifier().to_string();
        let base = match authorization.identifier().identifier {
            Identifier::Dns(dns) => dns.clone(),
            other => return Err(AcmeError::NoChallenge { name: format!("{other:?}"), kind: challenge.kind_name() }),
        };
        let handle = authorization.challenge(challenge.kind()).ok_or(AcmeError::NoChallenge { name: name.clone(), kind: challenge.kind_name() })?;
        // RFC 8555 §8.3: base64url. It becomes a file name under the
        // webroot, so anything else is refused rather than followed.
        if handle.token.is_empty() || !handle.token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(AcmeError::Order {
                url: directory.url.clone(),
                names: joined,
                message: format!("challenge token {:?} is not base64url", handle.token),
            });
        }
        let key_authorization = handle.key_authorization();
        pending.push(Pending {
            name,
            base,
            token: handle.token.clone(),
            key_authorization: key_authorization.as_str().to_owned(),
            dns_value: key_authorization.dns_value(),
        });
    }
    Ok((order, pending))
}

/// Tells the CA to look, waits for it, and collects the chain.
async fn complete(order: &mut Order, challenge: &Challenge<'_>, names: &str) -> Result<Certificate, AcmeError> {
    let invalid = |message: String| AcmeError::Invalid { names: names.to_owned(), message };
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.map_err(|e| invalid(e.to_string()))?;
        if authorization.status != AuthorizationStatus::Pending {
            continue;
        }
        let name = authorization.identifier().to_string();
        let mut handle = authorization.challenge(challenge.kind()).ok_or(AcmeError::NoChallenge { name, kind: challenge.kind_name() })?;
        handle.set_ready().await.map_err(|e| invalid(e.to_string()))?;
    }
    match order.poll_ready(&RetryPolicy::new().timeout(VALIDATION_TIMEOUT)).await {
        Ok(OrderStatus::Ready) => {}
        Ok(status) => return Err(invalid(format!("the order is {status:?}: {}", problems(order).await))),
        Err(instant_acme::Error::Timeout(_)) => return Err(AcmeError::Timeout { names: names.to_owned(), waited: VALIDATION_TIMEOUT }),
        Err(e) => return Err(invalid(e.to_string())),
    }
    let key_pem = order.finalize().await.map_err(|e| invalid(e.to_string()))?;
    let chain_pem = match order.poll_certificate(&RetryPolicy::new().timeout(ISSUE_TIMEOUT)).await {
        Ok(chain) => chain,
        Err(instant_acme::Error::Timeout(_)) => return Err(AcmeError::Timeout { names: names.to_owned(), waited: ISSUE_TIMEOUT }),
        Err(e) => return Err(invalid(e.to_string())),
    };
    Certificate::new(chain_pem, key_pem)
}

/// The CA's reasons for refusing, per authorization: what the user fixes.
async fn problems(order: &mut Order) -> String {
    let mut reasons = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(Ok(authorization)) = authorizations.next().await {
        let name = authorization.identifier().to_string();
        for challenge in &authorization.challenges {
            if let Some(error) = &challenge.error {
                reasons.push(format!("{name}: {}", error.detail.as_deref().unwrap_or("no detail")));
            }
        }
    }
    if reasons.is_empty() { "no reason given".to_owned() } else { reasons.join("; ") }
}
