//! One question to one authoritative server: what is the RRset of this
//! name and type? Used by [`crate::Rfc2136`] (signed, on the primary) and
//! by [`crate::verify`] (unsigned, on every authoritative server).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};

use crate::convert;
use crate::error::DnsError;
use crate::record::{Name, RRset, RecordType};
use crate::transport::{self, Target};
use crate::tsig::TsigKey;

/// Asks `server` for `name`/`rtype` (no recursion) and returns the RRset,
/// or `None` for NXDOMAIN and NODATA. An answer without the AA bit is an
/// error: the server does not serve `zone`, so its answer says nothing
/// about what the zone holds.
pub(crate) fn lookup(
    server: SocketAddr,
    timeout: Duration,
    zone: &Name,
    name: &Name,
    rtype: &RecordType,
    key: Option<&TsigKey>,
) -> Result<Option<RRset>, DnsError> {
    let owner = convert::hickory_name(name)?;
    let htype = convert::hickory_type(rtype)?;
    let mut message = Message::query();
    message.metadata.recursion_desired = false;
    message.add_query(Query::query(owner.clone(), htype));

    let operation = format!("QUERY {name} {rtype}");
    let target = Target { server, timeout, operation: &operation };
    let response = transport::exchange(&target, message, key)?;
    match response.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        code => return Err(target.rcode(code)),
    }
    if !response.authoritative {
        return Err(DnsError::Protocol {
            server: server.to_string(),
            operation,
            reason: format!("the answer is not authoritative: the server does not serve {zone}"),
        });
    }
    // Only the RRset itself: a CNAME at the name (and what it points to)
    // comes back too when asking for another type.
    let records = response.answers.iter().filter(|r| r.name == owner && r.record_type() == htype);
    Ok(convert::to_rrsets(records)?.into_iter().next())
}
