//! Operation classes, and the grant that says which a step may propose.

use std::fmt;

use ferry_model::Operation;

/// A family of operations, granted to a step as a whole (`actions = ["fly"]`
/// in ferry.toml), the way imports are granted (`grants = ["fly"]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OperationClass {
    /// Approval gates and waits: they change nothing, so every step may
    /// propose them without a grant.
    Control,
    /// Files of the repository's checkout (config edits, whole files).
    Checkout,
    /// The Fly Machines API: apps, machines, volumes, secrets, addresses,
    /// certificates.
    Fly,
    /// DNS record changes, and the propagation and TLS checks around them.
    Dns,
    /// Copies of databases and volumes between the `[data]` sources and
    /// targets, and their verification.
    Data,
    /// A Docker host over SSH: files, packages, images, containers.
    Vm,
}

impl OperationClass {
    /// The classes a workflow can grant (control needs no grant).
    pub const GRANTABLE: [OperationClass; 5] = [OperationClass::Checkout, OperationClass::Fly, OperationClass::Dns, OperationClass::Data, OperationClass::Vm];

    /// The class `op` belongs to: its provider's.
    pub fn of(op: &Operation) -> OperationClass {
        match op {
            Operation::Control(_) => OperationClass::Control,
            Operation::Checkout(_) => OperationClass::Checkout,
            Operation::Fly(_) => OperationClass::Fly,
            Operation::Dns(_) => OperationClass::Dns,
            Operation::Data(_) => OperationClass::Data,
            Operation::Vm(_) => OperationClass::Vm,
        }
    }

    /// The classes a step must be granted to propose `op`: its provider's,
    /// and for an operation that also acts through another provider's
    /// credentials, that one's too (a volume copied out of Fly onto a VM
    /// starts machines with the Fly token).
    pub fn needed(op: &Operation) -> Vec<OperationClass> {
        let mut classes = vec![OperationClass::of(op)];
        if let Operation::Vm(ferry_model::VmOp::FlyVolume(_) | ferry_model::VmOp::FlyPostgres(_)) = op {
            classes.push(OperationClass::Fly);
        }
        classes
    }

    /// The name a workflow writes.
    pub fn name(self) -> &'static str {
        match self {
            OperationClass::Control => "control",
            OperationClass::Checkout => "checkout",
            OperationClass::Fly => "fly",
            OperationClass::Dns => "dns",
            OperationClass::Data => "data",
            OperationClass::Vm => "vm",
        }
    }

    /// A grantable class by name (`control` is not one: it needs no grant).
    pub fn parse(name: &str) -> Option<OperationClass> {
        OperationClass::GRANTABLE.into_iter().find(|c| c.name() == name)
    }
}

/// The operation classes one step may propose. Empty (the default for a
/// custom step) still allows approvals and waits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct OperationGrant(Vec<OperationClass>);

impl OperationGrant {
    pub fn new(classes: impl IntoIterator<Item = OperationClass>) -> Self {
        let mut v: Vec<OperationClass> = classes.into_iter().filter(|c| *c != OperationClass::Control).collect();
        v.sort();
        v.dedup();
        OperationGrant(v)
    }

    /// Parses names such as `["fly", "dns"]`; the error names the unknown
    /// one and every valid one.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        names
            .iter()
            .map(|n| {
                OperationClass::parse(n.as_ref()).ok_or_else(|| {
                    let valid: Vec<&str> = OperationClass::GRANTABLE.iter().map(|c| c.name()).collect();
                    format!("unknown operation class `{}` in `actions` (valid: {}; approvals and waits need no grant)", n.as_ref(), valid.join(", "))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(OperationGrant::new)
    }

    /// Whether a step with this grant may propose operations of `class`.
    pub fn allows(&self, class: OperationClass) -> bool {
        class == OperationClass::Control || self.0.contains(&class)
    }

    pub fn iter(&self) -> impl Iterator<Item = OperationClass> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for OperationGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("approvals and waits only");
        }
        let names: Vec<&str> = self.0.iter().map(|c| c.name()).collect();
        f.write_str(&names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_errors_naming_the_valid_ones() {
        let err = OperationGrant::parse(&["fly", "shell"]).unwrap_err();
        assert!(err.contains("`shell`") && err.contains("valid: checkout, fly, dns, data, vm"), "{err}");
        assert!(OperationGrant::parse(&["control"]).is_err(), "control needs no grant, so it is not a name");
    }

    #[test]
    fn control_is_always_allowed_and_nothing_else_by_default() {
        let none = OperationGrant::default();
        assert!(none.allows(OperationClass::Control));
        for class in OperationClass::GRANTABLE {
            assert!(!none.allows(class), "{class:?}");
        }
        let fly = OperationGrant::parse(&["fly", "fly"]).unwrap();
        assert!(fly.allows(OperationClass::Fly) && !fly.allows(OperationClass::Vm));
        assert_eq!(fly.to_string(), "fly");
        assert_eq!(none.to_string(), "approvals and waits only");
    }
}
