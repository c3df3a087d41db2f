//! RFC 2136 dynamic updates signed with TSIG: BIND, Knot, PowerDNS (with
//! `dnsupdate=yes`), and any other primary server that speaks them.
//!
//! The compare-and-swap is atomic on the server: the UPDATE message carries
//! the expected RRset as prerequisites (RFC 2136 §2.4.2 "RRset exists
//! (value dependent)", or §2.4.3 "RRset does not exist" when nothing is
//! expected), and the server checks them and applies the change in one
//! step, answering NXRRSET/YXRRSET if they no longer hold. Prerequisites
//! cannot compare TTLs (their TTL field must be zero), so
//! [`DnsProvider::replace`] and [`DnsProvider::delete`] read the RRset
//! first and refuse when anything, TTL included, differs: the one change a
//! concurrent client can slip in unseen is a TTL-only edit between that
//! read and the update.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, Query, ResponseCode, update_message};
use hickory_proto::rr::{DNSClass, Record, RecordType as HickoryType};

use crate::convert;
use crate::error::DnsError;
use crate::lookup::lookup;
use crate::provider::{self, DnsProvider};
use crate::record::{Name, RRset, RecordType};
use crate::transport::{self, Target};
use crate::tsig::TsigKey;

/// How long connecting and each read or write may take by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A primary server that accepts TSIG-signed updates.
///
/// Every message is signed, reads and zone transfers included, so that what
/// the compare-and-swap compares against is authenticated too.
#[derive(Debug, Clone)]
pub struct Rfc2136 {
    server: SocketAddr,
    key: TsigKey,
    timeout: Duration,
}

impl Rfc2136 {
    /// The primary at `server` (TCP), signing with `key`.
    pub fn new(server: SocketAddr, key: TsigKey) -> Rfc2136 {
        Rfc2136 { server, key, timeout: DEFAULT_TIMEOUT }
    }

    /// Sets how long connecting, and each read or write, may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Rfc2136 {
        self.timeout = timeout;
        self
    }

    /// The atomic primitive under [`DnsProvider::replace`] and
    /// [`DnsProvider::delete`], without their TTL pre-check: one UPDATE that
    /// replaces the RRset of `name`/`rtype` with `new` (`None`: removes it)
    /// only if its values are still `expected`'s (`None`: it must not
    /// exist). The server decides; on NXRRSET/YXRRSET this re-reads the
    /// record and returns [`DnsError::Conflict`] with what is there.
    pub fn compare_and_swap(&self, zone: &Name, name: &Name, rtype: &RecordType, expected: Option<&RRset>, new: Option<&RRset>) -> Result<(), DnsError> {
        provider::in_zone(zone, name)?;
        for set in expected.iter().chain(new.iter()) {
            if set.name() != name || set.rtype() != rtype {
                return Err(DnsError::InvalidRRset(format!("{set} is not an RRset of {name} {rtype}")));
            }
        }
        if expected.is_none() && new.is_none() {
            return Err(DnsError::InvalidRRset(format!("{name} {rtype}: nothing expected and nothing to write")));
        }
        let owner = convert::hickory_name(name)?;
        let htype = convert::hickory_type(rtype)?;

        let mut message = Message::query();
        message.metadata.op_code = OpCode::Update;
        message.metadata.recursion_desired = false;
        // RFC 2136 §2.3: the zone section names the zone, type SOA.
        message.add_query(Query::query(convert::hickory_name(zone)?, HickoryType::SOA));
        match expected {
            // §2.4.2: the whole RRset must equal these records (TTL zero).
            Some(set) => {
                for mut record in convert::to_records(set)? {
                    record.ttl = 0;
                    message.add_answer(record);
                }
            }
            // §2.4.3: class NONE, empty RDATA.
            None => {
                let mut record = Record::update0(owner.clone(), 0, htype);
                record.dns_class = DNSClass::NONE;
                message.add_answer(record);
            }
        }
        // §2.5.2: delete the RRset (class ANY, empty RDATA), then §2.5.1 add
        // the new records, so the TTL changes along with the values.
        let mut delete = Record::update0(owner, 0, htype);
        delete.dns_class = DNSClass::ANY;
        message.add_authority(delete);
        if let Some(set) = new {
            for record in convert::to_records(set)? {
                message.add_authority(record);
            }
        }

        let operation = format!("UPDATE {zone} ({name} {rtype})");
        let target = self.target(&operation);
        let response = transport::exchange(&target, message, Some(&self.key))?;
        match response.response_code {
            ResponseCode::NoError => provider::ensure_applied(self, zone, name, rtype, new),
            ResponseCode::NXRRSet | ResponseCode::YXRRSet => Err(DnsError::Conflict {
                name: name.clone(),
                rtype: rtype.clone(),
                expected: expected.cloned().map(Box::new),
                found: self.read(zone, name, rtype)?.map(Box::new),
            }),
            code => Err(target.rcode(code)),
        }
    }

    fn target<'a>(&self, operation: &'a str) -> Target<'a> {
        Target { server: self.server, timeout: self.timeout, operation }
    }
}

impl DnsProvider for Rfc2136 {
    fn read(&self, zone: &Name, name: &Name, rtype: &RecordType) -> Result<Option<RRset>, DnsError> {
        provider::in_zone(zone, name)?;
        lookup(self.server, self.timeout, zone, name, rtype, Some(&self.key))
    }

    fn replace(&self, zone: &Name, expected: Option<&RRset>, new: &RRset) -> Result<(), DnsError> {
        provider::check_change(zone, expected, new)?;
        let found = self.read(zone, new.name(), new.rtype())?;
        provider::ensure_unchanged(new.name(), new.rtype(), expected, found)?;
        self.compare_and_swap(zone, new.name(), new.rtype(), expected, Some(new))
    }

    fn delete(&self, zone: &Name, expected: &RRset) -> Result<(), DnsError> {
        let found = self.read(zone, expected.name(), expected.rtype())?;
        provider::ensure_unchanged(expected.name(), expected.rtype(), Some(expected), found)?;
        self.compare_and_swap(zone, expected.name(), expected.rtype(), Some(expected), None)
    }

    /// An AXFR signed with the key: the server must allow transfers to it
    /// (BIND `allow-transfer { key …; }`, Knot `action: transfer`, PowerDNS
    /// `TSIG-ALLOW-AXFR`).
    fn zone_records(&self, zone: &Name) -> Result<Vec<RRset>, DnsError> {
        let message = update_message::zone_transfer(convert::hickory_name(zone)?, None);
        let operation = format!("AXFR {zone}");
        let records = transport::transfer(&self.target(&operation), message, Some(&self.key))?;
        convert::to_rrsets(records.iter().filter(|r| r.record_type() != HickoryType::SOA))
    }
}
