//! The interface ferry's executor uses to change DNS, and the
//! compare-and-swap rules every provider follows.

use std::fmt;

use crate::error::DnsError;
use crate::record::{Name, RRset, RecordType};

/// A place where a zone's records can be read and changed.
///
/// Every change is a compare-and-swap: it names what the plan saw
/// (`expected`) and goes through only if the provider still holds exactly
/// that, values and TTL. Otherwise it fails with [`DnsError::Conflict`],
/// naming what is there now, and changes nothing. After writing, each
/// provider reads the record back and fails with [`DnsError::NotApplied`]
/// if it does not hold what was written. How atomic the check is depends on
/// the protocol; each implementation documents its remaining window.
pub trait DnsProvider: fmt::Debug {
    /// The RRset of `name` and `rtype` in `zone`, if there is one.
    fn read(&self, zone: &Name, name: &Name, rtype: &RecordType) -> Result<Option<RRset>, DnsError>;

    /// Sets `new`'s name and type to exactly `new`, if the RRset still is
    /// `expected` (`None`: it must not exist).
    fn replace(&self, zone: &Name, expected: Option<&RRset>, new: &RRset) -> Result<(), DnsError>;

    /// Removes the RRset, if it still is `expected`.
    fn delete(&self, zone: &Name, expected: &RRset) -> Result<(), DnsError>;

    /// Every RRset of the zone except the SOA (which changes with every
    /// update and no plan manages), so callers can see what share of the
    /// zone a change touches.
    fn zone_records(&self, zone: &Name) -> Result<Vec<RRset>, DnsError>;
}

/// Checks that a change is well formed: both sides in the zone and about
/// the same name and type.
pub(crate) fn check_change(zone: &Name, expected: Option<&RRset>, new: &RRset) -> Result<(), DnsError> {
    in_zone(zone, new.name())?;
    if let Some(expected) = expected
        && (expected.name() != new.name() || expected.rtype() != new.rtype())
    {
        return Err(DnsError::InvalidRRset(format!(
            "a replace must keep the name and type: expected is {} {}, new is {} {}",
            expected.name(),
            expected.rtype(),
            new.name(),
            new.rtype()
        )));
    }
    Ok(())
}

/// Refuses a name outside the zone before anything is sent.
pub(crate) fn in_zone(zone: &Name, name: &Name) -> Result<(), DnsError> {
    if name.is_in_zone(zone) { Ok(()) } else { Err(DnsError::OutOfZone { name: name.clone(), zone: zone.clone() }) }
}

/// The compare of compare-and-swap: exact equality, TTL included.
pub(crate) fn ensure_unchanged(name: &Name, rtype: &RecordType, expected: Option<&RRset>, found: Option<RRset>) -> Result<(), DnsError> {
    if found.as_ref() == expected {
        Ok(())
    } else {
        Err(DnsError::Conflict { name: name.clone(), rtype: rtype.clone(), expected: expected.cloned().map(Box::new), found: found.map(Box::new) })
    }
}

/// Reads the record back after a write and checks it holds `wanted`.
pub(crate) fn ensure_applied<P: DnsProvider + ?Sized>(
    provider: &P,
    zone: &Name,
    name: &Name,
    rtype: &RecordType,
    wanted: Option<&RRset>,
) -> Result<(), DnsError> {
    let found = provider.read(zone, name, rtype)?;
    if found.as_ref() == wanted {
        Ok(())
    } else {
        Err(DnsError::NotApplied { name: name.clone(), rtype: rtype.clone(), wanted: wanted.cloned().map(Box::new), found: found.map(Box::new) })
    }
}
