//! Shared test fixtures: real DNS servers on loopback, and a fake of the
//! Cloudflare API.

// Each test binary uses a different part of these helpers.
#![allow(dead_code)]

pub mod cloudflare;
pub use ferry_test_support::dns_servers as servers;

use ferry_dns::{Name, RRset, RecordType};

/// `name.example.test.`
pub fn name(label: &str) -> Name {
    Name::new(&format!("{label}.{}", servers::ZONE)).unwrap()
}

/// An RRset in the test zone.
pub fn rrset(label: &str, rtype: RecordType, ttl: u32, values: &[&str]) -> RRset {
    RRset::new(name(label), rtype, ttl, values).unwrap()
}
