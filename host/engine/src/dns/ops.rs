//! DNS and TLS operations of a cutover: record changes made only if the
//! record still holds what the plan saw, the new host's certificate
//! checked before traffic moves, and the change verified on every
//! authoritative server.

use std::time::{Duration, Instant, SystemTime};

use ferry_dns::verify;
use ferry_model::Risk::{Disruptive, Safe};
use ferry_model::{DnsChange, DnsOp, DnsRrset, DnsVerify, TlsCheck};
use serde::{Deserialize, Serialize};

use crate::apply::executor::{ExecError, Ops, Outputs, mismatch};
use crate::dns::{DnsZones, from_model, names, to_model};
use crate::policy::words::*;
use crate::policy::{Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at, restore};

/// How long a TLS handshake with the new host may take.
const TLS_TIMEOUT: Duration = Duration::from_secs(10);
/// How often authoritative servers are asked again while a change spreads.
const VERIFY_POLL: Duration = Duration::from_millis(500);

/// The DNS side of the executor.
#[derive(Debug, Default)]
pub struct DnsOps {
    zones: DnsZones,
}

impl DnsOps {
    pub fn new(zones: DnsZones) -> Self {
        DnsOps { zones }
    }

    fn read(&self, zone: &str, like: &DnsRrset) -> Result<Option<DnsRrset>, ExecError> {
        let provider = self.zones.provider(zone).map_err(ExecError::Config)?;
        let (zone_name, name, rtype) = names(zone, &like.name, &like.rtype).map_err(ExecError::Failed)?;
        let found = provider.read(&zone_name, &name, &rtype)?;
        Ok(found.as_ref().map(to_model))
    }

    fn swap(&self, zone: &str, expected: Option<&DnsRrset>, new: Option<&DnsRrset>) -> Result<(), ExecError> {
        let provider = self.zones.provider(zone).map_err(ExecError::Config)?;
        let zone_name = ferry_dns::Name::new(zone)?;
        let expected = expected.map(from_model).transpose().map_err(ExecError::Failed)?;
        let result = match (new.map(from_model).transpose().map_err(ExecError::Failed)?, &expected) {
            (Some(new), _) => provider.replace(&zone_name, expected.as_ref(), &new),
            (None, Some(old)) => provider.delete(&zone_name, old),
            (None, None) => Ok(()),
        };
        result.map_err(ExecError::from)
    }

    /// Asks every authoritative server until all answer the new record set,
    /// then says until when resolvers may still hold the old one.
    fn verify(&self, v: &DnsVerify) -> Result<Vec<(String, String)>, ExecError> {
        let servers = self.zones.verify_servers(&v.zone).map_err(ExecError::Config)?;
        let expected = from_model(&v.expected).map_err(ExecError::Failed)?;
        let (zone, name, rtype) = names(&v.zone, &v.expected.name, &v.expected.rtype).map_err(ExecError::Failed)?;
        let started = Instant::now();
        let report = loop {
            let report = verify::authoritative(&zone, &name, &rtype, Some(&expected), &servers);
            if report.all_current() || started.elapsed() >= Duration::from_millis(v.timeout_ms) {
                break report;
            }
            std::thread::sleep(VERIFY_POLL);
        };
        if !report.all_current() {
            return Err(ExecError::Failed(format!(
                "not every authoritative server answers the new {} {} after {} s:\n{report}",
                v.expected.name,
                v.expected.rtype,
                v.timeout_ms / 1000
            )));
        }
        let until = verify::stale_until(v.previous_ttl, SystemTime::now());
        Ok(vec![
            ("authoritative".into(), format!("{} of {} servers answer the new value", report.current().len(), servers.len())),
            ("resolvers-may-cache-old-until".into(), humantime::format_rfc3339_seconds(until).to_string()),
        ])
    }
}

impl Ops for DnsOps {
    type Op = DnsOp;
    type Undo = DnsUndo;

    fn prepare(&self, op: &DnsOp) -> Result<Option<DnsUndo>, ExecError> {
        match op {
            DnsOp::Change(c) => Ok(Some(DnsUndo::Previous { previous: self.read(&c.zone, target(c)?)? })),
            DnsOp::TlsCheck(_) | DnsOp::Verify(_) => Ok(None),
        }
    }

    fn execute(&self, op: &DnsOp, _keepalive: &mut dyn FnMut()) -> Result<Outputs, ExecError> {
        match op {
            DnsOp::Change(c) => {
                self.swap(&c.zone, c.expected.as_ref(), c.new.as_ref())?;
                let what = target(c)?;
                Ok(vec![("record".into(), format!("{} {}", what.name, what.rtype))])
            }
            DnsOp::TlsCheck(t) => tls_check(t),
            DnsOp::Verify(v) => self.verify(v),
        }
    }

    fn observe(&self, op: &DnsOp, _started_at_ms: u64) -> Result<bool, ExecError> {
        match op {
            DnsOp::Change(c) => Ok(self.read(&c.zone, target(c)?)? == c.new),
            // Checks are cheap and say something about now: run them again.
            DnsOp::TlsCheck(_) | DnsOp::Verify(_) => Ok(false),
        }
    }

    fn restore(&self, op: &DnsOp, undo: Option<&DnsUndo>) -> Result<(), ExecError> {
        match (op, undo) {
            (DnsOp::Change(c), Some(DnsUndo::Previous { previous })) => {
                let now = self.read(&c.zone, target(c)?)?;
                if &now == previous {
                    return Ok(());
                }
                // Put back exactly what was there, but only over what the
                // change wrote: a later edit by someone else is kept.
                self.swap(&c.zone, c.new.as_ref(), previous.as_ref())
            }
            (DnsOp::Change(_), None) => Err(mismatch(op, &undo)),
            // Checks: nothing to put back.
            (DnsOp::TlsCheck(_) | DnsOp::Verify(_), _) => Ok(()),
        }
    }
}

/// The change's record: what it writes, or what it removes.
fn target(c: &DnsChange) -> Result<&DnsRrset, ExecError> {
    c.new.as_ref().or(c.expected.as_ref()).ok_or_else(|| ExecError::Failed("a DNS change with neither an old nor a new record".into()))
}

/// The certificate `t.address` serves for `t.server_name`: names, expiry,
/// trust (system roots, or the bundle in `FERRY_TLS_CA_FILE`).
fn tls_check(t: &TlsCheck) -> Result<Vec<(String, String)>, ExecError> {
    let address = std::net::ToSocketAddrs::to_socket_addrs(&t.address)
        .map_err(|e| ExecError::Failed(format!("TLS check: `{}`: {e}", t.address)))?
        .next()
        .ok_or_else(|| ExecError::Failed(format!("TLS check: `{}` resolves to no address", t.address)))?;
    let roots = match std::env::var_os("FERRY_TLS_CA_FILE") {
        Some(path) => ferry_tls::Roots::Pem(std::fs::read(&path).map_err(|e| ExecError::Config(format!("FERRY_TLS_CA_FILE {}: {e}", path.to_string_lossy())))?),
        None => ferry_tls::Roots::System,
    };
    let target = ferry_tls::Target { address, server_name: t.server_name.clone(), timeout: TLS_TIMEOUT, roots };
    let report = ferry_tls::check(&target).map_err(|e| ExecError::Failed(format!("TLS check: {e}")))?;
    let problems = report.problems(t.min_days_left);
    if !problems.is_empty() {
        return Err(ExecError::Failed(format!("{} at {}: {}", t.server_name, t.address, problems.join("; "))));
    }
    Ok(vec![("names".into(), report.names.join(", ")), ("days-left".into(), report.days_left.to_string())])
}

/// What a DNS change replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum DnsUndo {
    /// The record set a change replaced (`None`: it did not exist).
    Previous { previous: Option<DnsRrset> },
}

impl OperationPolicy for DnsOp {
    fn name(&self) -> &'static str {
        match self {
            DnsOp::Change(_) => "dns-change",
            DnsOp::TlsCheck(_) => "tls-check",
            DnsOp::Verify(_) => "dns-verify",
        }
    }

    fn floor(&self) -> Floor {
        match self {
            DnsOp::Change(change) => match (&change.expected, &change.new) {
                (Some(old), Some(new)) if old.name == new.name && old.rtype == new.rtype && old.values == new.values => {
                    at(Safe, "only the TTL changes: every answer stays the same")
                }
                _ => at(Disruptive, "moves a name's traffic; resolvers cache the old answer, so even the undo takes a TTL to land"),
            },
            DnsOp::TlsCheck(_) => at(Safe, "a TLS handshake: reads a certificate"),
            DnsOp::Verify(_) => at(Safe, "DNS queries: reads answers"),
        }
    }

    fn restore(&self) -> Restore {
        match self {
            DnsOp::Change(_) => restore(
                "puts the previous records back (if they still hold what this plan set)",
                at(Disruptive, "moves a name's traffic back; resolvers take a TTL to follow"),
            ),
            DnsOp::TlsCheck(_) | DnsOp::Verify(_) => NOTHING_TO_PUT_BACK,
        }
    }

    fn describe(&self) -> String {
        match self {
            DnsOp::Change(c) => {
                let record = c.new.as_ref().or(c.expected.as_ref()).map_or_else(|| "no record".to_string(), |r| format!("{} {}", r.name, r.rtype));
                format!("in zone {}: {record}: {} -> {} (only if it still holds the old answer)", c.zone, rrset(c.expected.as_ref()), rrset(c.new.as_ref()))
            }
            DnsOp::TlsCheck(t) => {
                format!("connect to {} and check it serves a certificate for {} valid {} more day(s)", t.address, t.server_name, t.min_days_left)
            }
            DnsOp::Verify(v) => format!(
                "query zone {}'s authoritative servers until they answer {} {} {} (up to {})",
                v.zone,
                v.expected.name,
                v.expected.rtype,
                list(&v.expected.values),
                duration(v.timeout_ms)
            ),
        }
    }
}
