//! `ferry:step/dns`: read-only DNS queries of the zones the workflow
//! configures. The host answers them through a [`DnsReader`]; a step names
//! a zone, never a server or a credential.

use ferry_model::DnsRrset;
use wasmtime::component::{ComponentType, Lift, LinkerInstance, Lower};

use crate::call::CallState;

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(variant)]
pub enum DnsError {
    #[component(name = "unavailable")]
    Unavailable(String),
    #[component(name = "denied")]
    Denied(String),
    #[component(name = "failed")]
    Failed(String),
}

/// Answers a step's DNS queries.
pub trait DnsReader: Send + Sync {
    fn read_rrset(&self, zone: &str, name: &str, rtype: &str) -> Result<Option<DnsRrset>, DnsError>;
    fn zone_size(&self, zone: &str) -> Result<u32, DnsError>;
}

/// The reader when the workflow configures no DNS zones.
#[derive(Debug, Clone, Copy)]
pub struct Unconfigured;

impl DnsReader for Unconfigured {
    fn read_rrset(&self, zone: &str, _: &str, _: &str) -> Result<Option<DnsRrset>, DnsError> {
        Err(not_configured(zone))
    }
    fn zone_size(&self, zone: &str) -> Result<u32, DnsError> {
        Err(not_configured(zone))
    }
}

fn not_configured(zone: &str) -> DnsError {
    DnsError::Unavailable(format!("zone {zone} is not configured: add it to ferry.toml under [dns.zones]"))
}

pub(super) fn add_to_linker(linker: &mut LinkerInstance<'_, CallState>) -> wasmtime::Result<()> {
    linker.func_wrap("read-rrset", |store, (zone, name, rtype): (String, String, String)| Ok((store.data().host.dns.read_rrset(&zone, &name, &rtype),)))?;
    linker.func_wrap("zone-size", |store, (zone,): (String,)| Ok((store.data().host.dns.zone_size(&zone),)))
}
