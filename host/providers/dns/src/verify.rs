//! Did the change reach every authoritative server, and until when may
//! resolvers still serve the old value?
//!
//! A provider accepting a change means its primary has it; secondaries
//! (NOTIFY + IXFR/AXFR) and anycast edges follow later, and a resolver may
//! ask any of them. So each authoritative server is asked directly, without
//! recursion, and the report says which ones already answer the new RRset.
//! Queries go over TCP (every authoritative server must answer on TCP, RFC
//! 7766) and are not signed: public authoritative servers know no key.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use crate::error::DnsError;
use crate::lookup::lookup;
use crate::record::{Name, RRset, RecordType};

/// How long one server may take to answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// What one server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// It serves the expected values (or, when nothing is expected, no
    /// such RRset); `ttl` is the TTL it serves them with.
    Current {
        /// The served TTL (`None` when the RRset is expected to be gone).
        ttl: Option<u32>,
    },
    /// It serves something else: most likely the old values, from a
    /// secondary that has not transferred the change yet.
    Stale {
        /// What it serves (`None`: no such RRset).
        found: Option<RRset>,
    },
    /// It could not be asked, or is not authoritative for the zone.
    Failed {
        /// Why.
        reason: String,
    },
}

/// One server's line in the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerReport {
    /// The server asked.
    pub server: SocketAddr,
    /// Its SOA serial for the zone, which tells a lagging secondary apart
    /// from one that has the change but serves something else.
    pub serial: Option<u32>,
    /// Its answer.
    pub answer: Answer,
}

/// The answers of every authoritative server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The name asked for.
    pub name: Name,
    /// The type asked for.
    pub rtype: RecordType,
    /// What was expected (`None`: that the RRset is gone).
    pub expected: Option<RRset>,
    /// One entry per server, in the order given.
    pub servers: Vec<ServerReport>,
}

impl Report {
    /// Whether every server serves the expected state.
    pub fn all_current(&self) -> bool {
        self.servers.iter().all(|s| matches!(s.answer, Answer::Current { .. }))
    }

    /// The servers that serve the expected state.
    pub fn current(&self) -> Vec<SocketAddr> {
        self.servers.iter().filter(|s| matches!(s.answer, Answer::Current { .. })).map(|s| s.server).collect()
    }

    /// The servers that do not (stale or failed).
    pub fn lagging(&self) -> Vec<SocketAddr> {
        self.servers.iter().filter(|s| !matches!(s.answer, Answer::Current { .. })).map(|s| s.server).collect()
    }
}

/// One line per server, for the step's output.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.servers {
            let serial = s.serial.map(|n| format!(", serial {n}")).unwrap_or_default();
            match &s.answer {
                Answer::Current { ttl: Some(ttl) } => writeln!(f, "{}: serves the new {} {} with TTL {ttl}{serial}", s.server, self.name, self.rtype)?,
                Answer::Current { ttl: None } => writeln!(f, "{}: no longer serves {} {}{serial}", s.server, self.name, self.rtype)?,
                Answer::Stale { found: Some(found) } => writeln!(f, "{}: still serves `{found}`{serial}", s.server)?,
                Answer::Stale { found: None } => writeln!(f, "{}: serves no {} {} yet{serial}", s.server, self.name, self.rtype)?,
                Answer::Failed { reason } => writeln!(f, "{}: could not check: {reason}", s.server)?,
            }
        }
        Ok(())
    }
}

/// Asks every server in `servers` (addresses of the zone's authoritative
/// servers: its NS, or the provider's published name servers) for
/// `name`/`rtype`, in parallel, and compares the answers with `expected`
/// (`None`: the RRset should be gone).
pub fn authoritative(zone: &Name, name: &Name, rtype: &RecordType, expected: Option<&RRset>, servers: &[SocketAddr]) -> Report {
    let soa = RecordType::Other("SOA".to_owned());
    let ask = |server: SocketAddr| -> ServerReport {
        let serial = lookup(server, QUERY_TIMEOUT, zone, zone, &soa, None).ok().flatten().and_then(|set| serial_of(&set));
        let answer = match lookup(server, QUERY_TIMEOUT, zone, name, rtype, None) {
            Ok(found) => judge(expected, found),
            Err(error) => Answer::Failed { reason: reason(&error) },
        };
        ServerReport { server, serial, answer }
    };
    let reports = std::thread::scope(|scope| {
        let handles: Vec<_> = servers.iter().map(|&s| scope.spawn(move || ask(s))).collect();
        handles
            .into_iter()
            .zip(servers)
            .map(|(handle, &server)| {
                handle.join().unwrap_or(ServerReport { server, serial: None, answer: Answer::Failed { reason: "the query thread panicked".to_owned() } })
            })
            .collect()
    });
    Report { name: name.clone(), rtype: rtype.clone(), expected: expected.cloned(), servers: reports }
}

/// Until when a resolver may still answer with the value that was replaced:
/// its TTL after the moment the last authoritative server stopped serving
/// it. Pass that moment as `changed_at` (when [`Report::all_current`] first
/// held), not when the primary accepted the change: until then a resolver
/// can still fetch the old value from a lagging server. If the name did not
/// exist before, pass the zone's negative TTL (the SOA's minimum field,
/// RFC 2308): NXDOMAIN answers are cached too. Some resolvers keep records
/// longer than their TTL (8.7% in one study, Bhowmick et al. 2023), so keep
/// the old endpoint answering well past this time.
pub fn stale_until(old_ttl: u32, changed_at: SystemTime) -> SystemTime {
    changed_at + Duration::from_secs(u64::from(old_ttl))
}

fn judge(expected: Option<&RRset>, found: Option<RRset>) -> Answer {
    match (expected, found) {
        (None, None) => Answer::Current { ttl: None },
        (Some(expected), Some(found)) if found.same_values(expected) => Answer::Current { ttl: Some(found.ttl()) },
        (_, found) => Answer::Stale { found },
    }
}

/// The serial is the SOA's third field (`mname rname serial refresh …`).
fn serial_of(soa: &RRset) -> Option<u32> {
    soa.values().first()?.split_whitespace().nth(2)?.parse().ok()
}

/// The error without the server address, which the report already shows.
fn reason(error: &DnsError) -> String {
    match error {
        DnsError::Io { source, .. } => source.to_string(),
        DnsError::Protocol { reason, .. } => reason.clone(),
        DnsError::Rcode { rcode, .. } => format!("answered {rcode}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_values_may_be_cached_for_one_old_ttl() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(stale_until(300, t), SystemTime::UNIX_EPOCH + Duration::from_secs(1_300));
        assert_eq!(stale_until(0, t), t);
    }
}
