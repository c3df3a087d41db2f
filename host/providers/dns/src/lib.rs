//! DNS providers for ferry's `cutover` step.
//!
//! A cutover switches an app's records (lower the TTL, point A/AAAA/CNAME
//! at the new host, undo if needed) and must never clobber an edit someone
//! made after the plan was reviewed. So every change here is a
//! compare-and-swap against the RRset the plan saw ([`DnsProvider`]), big
//! changes are refused unless forced ([`safety`]), and the result is checked
//! on every authoritative server ([`verify`]).
//!
//! Providers: [`Rfc2136`] (dynamic updates with TSIG: BIND, Knot,
//! PowerDNS…), [`PowerDns`] (its HTTP API) and [`Cloudflare`] (API v4).
//! All are blocking, like the rest of ferry's executor.

mod cloudflare;
mod convert;
mod error;
mod http;
mod lookup;
mod powerdns;
mod provider;
mod record;
mod rfc2136;
pub mod safety;
mod secret;
mod transport;
mod tsig;
pub mod verify;

pub use cloudflare::Cloudflare;
pub use error::DnsError;
pub use powerdns::PowerDns;
pub use provider::DnsProvider;
pub use record::{Name, RRset, RecordType};
pub use rfc2136::Rfc2136;
pub use secret::Secret;
pub use tsig::{TsigAlgorithm, TsigKey};
