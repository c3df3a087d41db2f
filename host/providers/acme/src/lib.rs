//! Issues a host's TLS certificate with ACME (RFC 8555), so an app moved off
//! Fly serves HTTPS without anyone running certbot by hand.
//!
//! Two ways to prove control of a name, chosen by when they run:
//! - **DNS-01 before the switch** ([`DnsChallenge`]): a TXT record at
//!   `_acme-challenge.<name>` through the zone's configured DNS provider, the
//!   same compare-and-swap writes a cutover uses. The certificate exists
//!   while DNS still points at Fly, so HTTPS works the moment it moves.
//! - **HTTP-01 after it** ([`HttpChallenge`]): the key authorization as a
//!   file under the site's webroot, which nginx serves on port 80.
//!
//! Every change a challenge makes is undone when the order ends, issued or
//! not. Like the rest of ferry's executor the API is blocking; the ACME
//! client (instant-acme) runs on a runtime of its own, and the blocking
//! challenge writes run outside it.

mod certificate;
mod challenge;
mod directory;
mod error;
mod issue;

pub use certificate::{Certificate, Summary, summary};
pub use challenge::{Challenge, DnsChallenge, HttpChallenge, Webroot};
pub use directory::{Directory, Roots};
pub use error::AcmeError;
pub use issue::issue;
