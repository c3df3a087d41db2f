//! The host side of every import a step can be granted. Each module links
//! one `ferry:step` interface; the grant check in `grants.rs` decides which
//! ones a given component may use.

pub mod checkout;
pub mod data;
pub mod dns;
pub mod fly;
mod log;
pub mod vm;

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::Linker;

use crate::Capability;
use crate::call::CallState;

/// What the host hands to the imports of one call.
#[derive(Clone)]
pub struct HostContext {
    /// The checkout a step may read; `None` makes every read fail.
    pub checkout: Option<PathBuf>,
    /// Read-only Fly queries.
    pub fly: Arc<dyn fly::FlyReader>,
    /// Read-only DNS queries.
    pub dns: Arc<dyn dns::DnsReader>,
    /// Read-only facts about `[data]` databases and volumes.
    pub data: Arc<dyn data::DataReader>,
    /// Read-only facts about `[targets.vm]` hosts.
    pub vm: Arc<dyn vm::VmReader>,
}

impl std::fmt::Debug for HostContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostContext").field("checkout", &self.checkout).finish_non_exhaustive()
    }
}

impl HostContext {
    /// A context for a checkout, with no Fly access configured.
    pub fn for_checkout(checkout: impl Into<PathBuf>) -> Self {
        HostContext {
            checkout: Some(checkout.into()),
            fly: Arc::new(fly::Unconfigured),
            dns: Arc::new(dns::Unconfigured),
            data: Arc::new(data::Unconfigured),
            vm: Arc::new(vm::Unconfigured),
        }
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    // The type-only interfaces steps use; they have nothing to grant.
    for interface in crate::grants::TYPE_ONLY_INTERFACES {
        linker.instance(&format!("ferry:step/{interface}@{}", crate::engine::WIT_VERSION))?;
    }
    log::add_to_linker(&mut linker.instance(&Capability::Log.interface())?)?;
    clock(&mut linker.instance(&Capability::Clock.interface())?)?;
    checkout::add_to_linker(&mut linker.instance(&Capability::Checkout.interface())?)?;
    fly::add_to_linker(&mut linker.instance(&Capability::Fly.interface())?)?;
    dns::add_to_linker(&mut linker.instance(&Capability::Dns.interface())?)?;
    data::add_to_linker(&mut linker.instance(&Capability::Data.interface())?)?;
    vm::add_to_linker(&mut linker.instance(&Capability::Vm.interface())?)?;
    Ok(())
}

fn clock(linker: &mut wasmtime::component::LinkerInstance<'_, CallState>) -> wasmtime::Result<()> {
    linker.func_wrap("now-unix-ms", |_store, (): ()| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Ok((u64::try_from(now.as_millis()).unwrap_or(u64::MAX),))
    })
}
