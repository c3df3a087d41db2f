//! One DNS exchange over TCP, optionally TSIG-signed, blocking.
//!
//! TCP only: updates and zone transfers need it anyway (an AXFR does not fit
//! a datagram, and a retried UDP update could apply twice), authoritative
//! servers must answer on TCP (RFC 7766 §5), and there is no truncation to
//! handle. A new connection per exchange keeps the code free of connection
//! state; a cutover sends a handful of messages.
//!
//! hickory builds, signs and verifies the messages; this module only frames
//! them (RFC 1035 §4.2.2: a two-octet length, then the message) and maps
//! what comes back to [`DnsError`].

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{Record, RecordType, TSigVerifier};

use crate::error::DnsError;
use crate::tsig::TsigKey;

/// Where a message goes and what it is, for error messages.
#[derive(Debug)]
pub(crate) struct Target<'a> {
    /// The server.
    pub server: SocketAddr,
    /// How long connecting, and each read and write, may take.
    pub timeout: Duration,
    /// What is being asked, e.g. `UPDATE example.com.`.
    pub operation: &'a str,
}

impl Target<'_> {
    fn io(&self, source: std::io::Error) -> DnsError {
        DnsError::Io { server: self.server.to_string(), operation: self.operation.to_owned(), source }
    }

    fn protocol(&self, reason: impl Into<String>) -> DnsError {
        DnsError::Protocol { server: self.server.to_string(), operation: self.operation.to_owned(), reason: reason.into() }
    }

    /// An error for a response code other than NOERROR.
    pub(crate) fn rcode(&self, code: ResponseCode) -> DnsError {
        DnsError::Rcode { server: self.server.to_string(), operation: self.operation.to_owned(), rcode: rcode_name(code) }
    }
}

/// Sends `message` and returns the single response, checked: same id, and
/// when `key` is given, a valid signature (or [`DnsError::TsigRejected`]).
pub(crate) fn exchange(target: &Target<'_>, message: Message, key: Option<&TsigKey>) -> Result<Message, DnsError> {
    let mut session = Session::open(target, message, key)?;
    session.receive()
}

/// Runs a zone transfer (AXFR) and returns its records without the closing
/// SOA. RFC 5936 §2.2: the answer is one or more messages whose records
/// start and end with the zone's SOA.
pub(crate) fn transfer(target: &Target<'_>, message: Message, key: Option<&TsigKey>) -> Result<Vec<Record>, DnsError> {
    let mut session = Session::open(target, message, key)?;
    let mut records: Vec<Record> = Vec::new();
    loop {
        let response = session.receive()?;
        if response.response_code != ResponseCode::NoError {
            return Err(target.rcode(response.response_code));
        }
        if response.answers.is_empty() {
            return Err(target.protocol("an empty zone transfer message"));
        }
        for record in response.answers {
            let is_soa = record.record_type() == RecordType::SOA;
            if records.is_empty() && !is_soa {
                return Err(target.protocol("the zone transfer does not start with the SOA"));
            }
            if is_soa && !records.is_empty() {
                return Ok(records);
            }
            records.push(record);
        }
    }
}

/// An open connection with the request sent.
struct Session<'a> {
    target: &'a Target<'a>,
    stream: TcpStream,
    id: u16,
    /// Checks each response's MAC, chained to the request's (RFC 8945 §5.3.1).
    verifier: Option<(TSigVerifier, &'a TsigKey)>,
}

impl<'a> Session<'a> {
    fn open(target: &'a Target<'a>, mut message: Message, key: Option<&'a TsigKey>) -> Result<Self, DnsError> {
        let verifier = match key {
            Some(key) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|_| target.protocol("the system clock is before 1970"))?.as_secs();
                let verifier = message
                    .finalize(&key.signer()?, now)
                    .map_err(|e| target.protocol(format!("cannot sign the request: {e}")))?
                    .ok_or_else(|| target.protocol("hickory returned no TSIG verifier"))?;
                Some((verifier, key))
            }
            None => None,
        };
        let bytes = message.to_vec().map_err(|e| target.protocol(format!("cannot encode the request: {e}")))?;
        let len = u16::try_from(bytes.len()).map_err(|_| target.protocol("the request is over 64 KiB"))?;
        let stream = TcpStream::connect_timeout(&target.server, target.timeout).map_err(|e| target.io(e))?;
        stream.set_read_timeout(Some(target.timeout)).map_err(|e| target.io(e))?;
        stream.set_write_timeout(Some(target.timeout)).map_err(|e| target.io(e))?;
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&bytes);
        (&stream).write_all(&framed).map_err(|e| target.io(e))?;
        Ok(Session { target, stream, id: message.id, verifier })
    }

    /// Reads and checks the next response message.
    fn receive(&mut self) -> Result<Message, DnsError> {
        let target = self.target;
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len).map_err(|e| target.io(e))?;
        let mut bytes = vec![0u8; usize::from(u16::from_be_bytes(len))];
        self.stream.read_exact(&mut bytes).map_err(|e| target.io(e))?;
        let message = Message::from_vec(&bytes).map_err(|e| target.protocol(format!("cannot decode the response: {e}")))?;
        if message.id != self.id {
            return Err(target.protocol(format!("the response has id {}, the request had {}", message.id, self.id)));
        }
        let Some((verifier, key)) = &mut self.verifier else {
            return Ok(message);
        };
        let rejected = |reason: String| DnsError::TsigRejected { server: target.server.to_string(), key: key.name().clone(), reason };
        match message.signature() {
            // BADKEY/BADSIG answers are unsigned (RFC 8945 §5.3.2), so the
            // error has to be read before verifying.
            Some(sig) if sig.data.error.is_some() => Err(rejected(sig.data.error.map(tsig_error_name).unwrap_or_default())),
            // PowerDNS answers a request signed with an unknown or wrong key
            // with a bare REFUSED or NOTAUTH, without any TSIG record.
            None if matches!(message.response_code, ResponseCode::Refused | ResponseCode::NotAuth) => {
                Err(rejected(format!("{} without a TSIG signature", rcode_name(message.response_code))))
            }
            None => Err(target.protocol("the response to a signed request is not signed")),
            Some(_) => {
                verifier.verify(&bytes).map_err(|e| target.protocol(format!("the response's TSIG signature does not verify: {e}")))?;
                Ok(message)
            }
        }
    }
}

/// The mnemonic dig and the RFCs use, e.g. `NXRRSET`.
fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".to_owned(),
        ResponseCode::FormErr => "FORMERR".to_owned(),
        ResponseCode::ServFail => "SERVFAIL".to_owned(),
        ResponseCode::NXDomain => "NXDOMAIN".to_owned(),
        ResponseCode::NotImp => "NOTIMP".to_owned(),
        ResponseCode::Refused => "REFUSED".to_owned(),
        ResponseCode::YXDomain => "YXDOMAIN".to_owned(),
        ResponseCode::YXRRSet => "YXRRSET".to_owned(),
        ResponseCode::NXRRSet => "NXRRSET".to_owned(),
        ResponseCode::NotAuth => "NOTAUTH".to_owned(),
        ResponseCode::NotZone => "NOTZONE".to_owned(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

fn tsig_error_name(error: TsigError) -> String {
    match error {
        TsigError::BadSig => "BADSIG".to_owned(),
        TsigError::BadKey => "BADKEY".to_owned(),
        TsigError::BadTime => "BADTIME".to_owned(),
        TsigError::BadTrunc => "BADTRUNC".to_owned(),
        TsigError::Unknown(code) => format!("TSIG error {code}"),
    }
}
