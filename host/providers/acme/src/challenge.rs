//! Publishing a proof of control and withdrawing it afterwards.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferry_dns::{DnsProvider, Name, RRset, RecordType, verify};

use crate::error::AcmeError;

/// TTL of a challenge TXT record: resolvers should not hold a stale value
/// past the next order.
const CHALLENGE_TTL: u32 = 60;
/// How often the authoritative servers are asked whether a TXT arrived.
const PROPAGATION_POLL: Duration = Duration::from_millis(250);

/// How the CA is shown that we control each name.
#[derive(Debug)]
pub enum Challenge<'a> {
    Dns(DnsChallenge<'a>),
    Http(HttpChallenge<'a>),
}

/// DNS-01: TXT `_acme-challenge.<name>` = base64url(SHA-256(key
/// authorization)) (RFC 8555 §8.4), written through the zone's provider.
#[derive(Debug)]
pub struct DnsChallenge<'a> {
    pub provider: &'a dyn DnsProvider,
    pub zone: Name,
    /// The zone's authoritative servers: every one must answer the record
    /// before the CA is told to look, or it may ask one that lags.
    pub verify: Vec<SocketAddr>,
    /// How long the servers may take to agree.
    pub propagation_timeout: Duration,
}

/// HTTP-01: the key authorization at
/// `http://<name>/.well-known/acme-challenge/<token>` (RFC 8555 §8.3).
#[derive(Debug)]
pub struct HttpChallenge<'a> {
    pub webroot: &'a dyn Webroot,
}

/// A directory served as `http://<name>/` on port 80 (on a VM: over SSH).
pub trait Webroot: std::fmt::Debug {
    /// Writes `contents` at `path`, relative to the webroot.
    fn put(&self, path: &str, contents: &str) -> Result<(), String>;
    /// Removes the file at `path`; a file that is gone already is fine.
    fn remove(&self, path: &str) -> Result<(), String>;
}

/// One authorization's challenge, as the order handed it out.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    /// The name the authorization is for (`*.x` for a wildcard).
    pub name: String,
    /// The name without a wildcard label: where DNS-01 puts its record.
    pub base: String,
    pub token: String,
    pub key_authorization: String,
    pub dns_value: String,
}

/// What a challenge changed, so it can be put back.
pub(crate) enum Published<'a> {
    Dns { challenge: &'a DnsChallenge<'a>, records: Vec<(Option<RRset>, RRset)> },
    Http { challenge: &'a HttpChallenge<'a>, paths: Vec<String> },
}

impl Challenge<'_> {
    pub(crate) fn kind(&self) -> instant_acme::ChallengeType {
        match self {
            Challenge::Dns(_) => instant_acme::ChallengeType::Dns01,
            Challenge::Http(_) => instant_acme::ChallengeType::Http01,
        }
    }

    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Challenge::Dns(_) => "dns-01",
            Challenge::Http(_) => "http-01",
        }
    }

    /// Publishes every pending challenge. On a failure part-way, what was
    /// published already is withdrawn before the error returns.
    pub(crate) fn publish<'a>(&'a self, pending: &[Pending]) -> Result<Published<'a>, AcmeError> {
        match self {
            Challenge::Dns(dns) => dns.publish(pending),
            Challenge::Http(http) => http.publish(pending),
        }
    }
}

impl<'a> DnsChallenge<'a> {
    /// `_acme-challenge.<name>.`: one record per name, holding the values
    /// of every authorization for it (a name and its wildcard share it).
    fn records(&self, pending: &[Pending]) -> Result<BTreeMap<Name, Vec<String>>, AcmeError> {
        let mut records: BTreeMap<Name, Vec<String>> = BTreeMap::new();
        for p in pending {
            let owner = Name::new(&format!("_acme-challenge.{}.", p.base.trim_end_matches('.'))).map_err(|e| AcmeError::Publish {
                name: p.name.clone(),
                kind: "dns-01",
                message: e.to_string(),
            })?;
            if !owner.is_in_zone(&self.zone) {
                return Err(AcmeError::Publish {
                    name: p.name.clone(),
                    kind: "dns-01",
                    message: format!("{owner} is not in the zone {}: configure the zone that holds it under [dns.zones]", self.zone),
                });
            }
            records.entry(owner).or_default().push(format!("\"{}\"", p.dns_value));
        }
        Ok(records)
    }

    fn publish(&'a self, pending: &[Pending]) -> Result<Published<'a>, AcmeError> {
        let mut published = Published::Dns { challenge: self, records: Vec::new() };
        for (owner, values) in self.records(pending)? {
            let fail = |message: String| AcmeError::Publish { name: owner.to_string(), kind: "dns-01", message };
            let step = (|| {
                let before = self.provider.read(&self.zone, &owner, &RecordType::TXT).map_err(|e| fail(e.to_string()))?;
                // Values already there stay: several TXT values at one name
                // are fine, and the CA looks for its own.
                let kept = before.iter().flat_map(|b| b.values().iter().cloned());
                let new = RRset::new(owner.clone(), RecordType::TXT, CHALLENGE_TTL, kept.chain(values.iter().cloned())).map_err(|e| fail(e.to_string()))?;
                self.provider.replace(&self.zone, before.as_ref(), &new).map_err(|e| fail(e.to_string()))?;
                Ok::<_, AcmeError>((before, new))
            })();
            match step {
                Ok(change) => {
                    if let Published::Dns { records, .. } = &mut published {
                        records.push(change);
                    }
                }
                Err(error) => {
                    // Put back what was written before this record failed.
                    let _ = published.withdraw();
                    return Err(error);
                }
            }
        }
        if let Err(error) = published.wait_for_dns() {
            let _ = published.withdraw();
            return Err(error);
        }
        Ok(published)
    }
}

impl<'a> HttpChallenge<'a> {
    fn publish(&'a self, pending: &[Pending]) -> Result<Published<'a>, AcmeError> {
        let mut paths = Vec::new();
        for p in pending {
            let path = format!(".well-known/acme-challenge/{}", p.token);
            if let Err(message) = self.webroot.put(&path, &p.key_authorization) {
                let _ = (Published::Http { challenge: self, paths }).withdraw();
                return Err(AcmeError::Publish { name: p.name.clone(), kind: "http-01", message });
            }
            paths.push(path);
        }
        Ok(Published::Http { challenge: self, paths })
    }
}

impl Published<'_> {
    /// Waits until every authoritative server answers each record as written.
    fn wait_for_dns(&self) -> Result<(), AcmeError> {
        let Published::Dns { challenge, records } = self else { return Ok(()) };
        let deadline = Instant::now() + challenge.propagation_timeout;
        for (_, record) in records {
            loop {
                let report = verify::authoritative(&challenge.zone, record.name(), &RecordType::TXT, Some(record), &challenge.verify);
                if report.all_current() {
                    break;
                }
                if Instant::now() >= deadline {
                    let lagging: Vec<String> = report.lagging().iter().map(ToString::to_string).collect();
                    return Err(AcmeError::Publish {
                        name: record.name().to_string(),
                        kind: "dns-01",
                        message: format!("{} did not answer the challenge record within {}s", lagging.join(", "), challenge.propagation_timeout.as_secs()),
                    });
                }
                std::thread::sleep(PROPAGATION_POLL);
            }
        }
        Ok(())
    }

    /// Removes what was published, in reverse; every record is tried even
    /// when one fails, and the failures are returned together.
    pub(crate) fn withdraw(self) -> Result<(), String> {
        let mut failures = Vec::new();
        match self {
            Published::Dns { challenge, records } => {
                for (before, written) in records.into_iter().rev() {
                    let result = match &before {
                        Some(before) => challenge.provider.replace(&challenge.zone, Some(&written), before),
                        None => challenge.provider.delete(&challenge.zone, &written),
                    };
                    if let Err(e) = result {
                        failures.push(format!("{}: {e}", written.name()));
                    }
                }
            }
            Published::Http { challenge, paths } => {
                for path in paths.into_iter().rev() {
                    if let Err(e) = challenge.webroot.remove(&path) {
                        failures.push(format!("{path}: {e}"));
                    }
                }
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
    }
}
