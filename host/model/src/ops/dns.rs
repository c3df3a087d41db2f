//! DNS records, and the propagation and TLS checks around a switch (`wit/ops-dns.wit`).
//!
//! The records, the variant, and what the host says about each operation:
//! its name, its least risk, what it does and what its undo puts back. A
//! new operation of this provider is added here, in its WIT file and in its
//! executor; the compiler names each match it is missing from.

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

use crate::Risk::{Disruptive, Safe};
use crate::policy::words::*;
use crate::policy::{Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at, restore};

/// A DNS record set: every value of one name and type, with its TTL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct DnsRrset {
    pub name: String,
    pub rtype: String,
    pub ttl: u32,
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct DnsChange {
    pub zone: String,
    pub expected: Option<DnsRrset>,
    pub new: Option<DnsRrset>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct TlsCheck {
    pub address: String,
    #[component(name = "server-name")]
    pub server_name: String,
    #[component(name = "min-days-left")]
    pub min_days_left: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct DnsVerify {
    pub zone: String,
    pub expected: DnsRrset,
    #[component(name = "previous-ttl")]
    pub previous_ttl: u32,
    #[component(name = "timeout-ms")]
    pub timeout_ms: u64,
}

/// What the host does through this provider (`dns-op` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(variant)]
#[serde(rename_all = "kebab-case")]
pub enum DnsOp {
    #[component(name = "change")]
    Change(DnsChange),
    #[component(name = "tls-check")]
    TlsCheck(TlsCheck),
    #[component(name = "verify")]
    Verify(DnsVerify),
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
