//! DNS records, and the propagation and TLS checks around a switch (`wit/ops-dns.wit`).
//!
//! What the host says about each operation: its name, its least risk, what
//! it does and what its undo puts back. The records and the variant are the
//! WIT file's own, generated (`super::contract`): a new operation of this
//! provider is written in its WIT file, then here and in its executor, each
//! named by the compiler as a match it is missing from.

pub use super::contract::ferry::step::dns_ops::*;

use serde::{Deserialize, Serialize};

use crate::Risk::{Disruptive, Safe};
use crate::policy::words::*;
use crate::policy::{Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at, restore};

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
