//! Capabilities: the imports a step may be granted.
//!
//! A component's imports are read from its type before it is instantiated;
//! anything outside its grant refuses the whole step, naming the import.
//! Nothing is granted implicitly except the type-only `types` interface.

use std::fmt;

use crate::RuntimeError;

/// The WIT package every import must come from.
const PACKAGE: &str = "ferry:step";

/// One grantable import of `ferry:step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Log lines to the host (`ferry:step/log`).
    Log,
    /// Wall-clock time (`ferry:step/clock`).
    Clock,
    /// Read files of the checkout (`ferry:step/checkout`).
    Checkout,
    /// Read-only Fly.io queries (`ferry:step/fly`).
    Fly,
    /// Read-only DNS queries of configured zones (`ferry:step/dns`).
    Dns,
    /// Read-only facts about `[data]` databases and volumes (`ferry:step/data`).
    Data,
    /// Read-only facts about `[targets.vm]` hosts (`ferry:step/vm`).
    Vm,
}

impl Capability {
    pub const ALL: [Capability; 7] =
        [Capability::Log, Capability::Clock, Capability::Checkout, Capability::Fly, Capability::Dns, Capability::Data, Capability::Vm];

    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Checkout => "checkout",
            Capability::Fly => "fly",
            Capability::Dns => "dns",
            Capability::Data => "data",
            Capability::Vm => "vm",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The versioned interface name the host defines, e.g. `ferry:step/log@0.1.0`.
    pub(crate) fn interface(self) -> String {
        format!("{PACKAGE}/{}@{}", self.name(), crate::engine::WIT_VERSION)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of capabilities a step is granted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants(Vec<Capability>);

impl Grants {
    pub fn new(caps: impl IntoIterator<Item = Capability>) -> Self {
        let mut v: Vec<Capability> = caps.into_iter().collect();
        v.sort();
        v.dedup();
        Grants(v)
    }

    /// Parses names such as `["log", "checkout"]`; the error names the unknown one.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        names
            .iter()
            .map(|n| {
                Capability::parse(n.as_ref()).ok_or_else(|| {
                    let known: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
                    format!("unknown capability `{}` (known: {})", n.as_ref(), known.join(", "))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Grants::new)
    }

    pub fn contains(&self, cap: Capability) -> bool {
        self.0.contains(&cap)
    }

    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        self.0.iter().copied()
    }

    /// Refuses `import` unless it is a type-only or granted `ferry:step` interface of a
    /// version this host implements (0.1.x).
    pub(crate) fn check_import(&self, step: &str, import: &str) -> Result<(), RuntimeError> {
        let unknown = || RuntimeError::UnknownImport { step: step.into(), import: import.into() };
        let (name, version) = import.split_once('@').unwrap_or((import, ""));
        let interface = name.strip_prefix(PACKAGE).and_then(|r| r.strip_prefix('/')).ok_or_else(unknown)?;
        if !crate::engine::version_compatible(version) {
            return Err(unknown());
        }
        if TYPE_ONLY_INTERFACES.contains(&interface) {
            return Ok(());
        }
        let cap = Capability::parse(interface).ok_or_else(unknown)?;
        if self.contains(cap) { Ok(()) } else { Err(RuntimeError::ImportNotGranted { step: step.into(), import: import.into(), granted: self.to_string() }) }
    }
}

/// The `ferry:step` interfaces that hold only types (the shared records and
/// each provider's operations, `wit/ops-*.wit`): a step imports them as
/// soon as it builds an action, and they have nothing to grant.
pub(crate) const TYPE_ONLY_INTERFACES: [&str; 7] = ["types", "control-ops", "checkout-ops", "fly-ops", "dns-ops", "data-ops", "vm-ops"];

impl fmt::Display for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nothing");
        }
        let names: Vec<&str> = self.0.iter().map(|c| c.name()).collect();
        f.write_str(&names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granted_imports_pass_and_others_are_named() {
        let g = Grants::parse(&["log", "checkout"]).unwrap();
        assert!(g.check_import("s", "ferry:step/log@0.1.0").is_ok());
        assert!(g.check_import("s", "ferry:step/types@0.1.3").is_ok());
        assert!(g.check_import("s", "ferry:step/fly-ops@0.1.0").is_ok(), "operations are types, not the Fly import");
        let err = g.check_import("s", "ferry:step/fly@0.1.0").unwrap_err().to_string();
        assert!(err.contains("`ferry:step/fly@0.1.0`") && err.contains("granted: log, checkout"), "{err}");
        assert!(matches!(g.check_import("s", "wasi:cli/environment@0.2.0"), Err(RuntimeError::UnknownImport { .. })));
        assert!(matches!(g.check_import("s", "ferry:step/log@0.2.0"), Err(RuntimeError::UnknownImport { .. })));
    }

    #[test]
    fn unknown_capability_names_are_rejected() {
        let err = Grants::parse(&["log", "network"]).unwrap_err();
        assert!(err.contains("`network`"), "{err}");
    }
}
