//! Between the record model and hickory's wire types.
//!
//! Kept apart so that hickory never shows in the public API: its types
//! change between 0.x releases, and the model's canonical form (see
//! [`crate::record`]) is what plans and journals store.

use std::str::FromStr;

use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, Name as HickoryName, RData, Record, RecordType as HickoryType};

use crate::error::DnsError;
use crate::record::{self, Name, RRset, RecordType};

/// A model name as a hickory (fully qualified) name.
pub(crate) fn hickory_name(name: &Name) -> Result<HickoryName, DnsError> {
    HickoryName::from_ascii(name.as_str()).map_err(|e| DnsError::InvalidName { name: name.to_string(), reason: e.to_string() })
}

/// A model record type as hickory's.
pub(crate) fn hickory_type(rtype: &RecordType) -> Result<HickoryType, DnsError> {
    HickoryType::from_str(rtype.as_str()).map_err(|_| DnsError::InvalidRRset(format!("unknown record type {rtype}")))
}

/// The wire records of an RRset, class IN.
pub(crate) fn to_records(set: &RRset) -> Result<Vec<Record>, DnsError> {
    let name = hickory_name(set.name())?;
    let rtype = hickory_type(set.rtype())?;
    set.values()
        .iter()
        .map(|value| {
            let invalid = |reason: String| DnsError::InvalidValue { rtype: set.rtype().to_string(), value: value.clone(), reason };
            // TXT is built from our own parse: hickory's text parser does
            // not undo `\DDD` escapes.
            let rdata = if *set.rtype() == RecordType::TXT {
                let strings = record::txt_strings(value).map_err(invalid)?;
                RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
            } else {
                RData::try_from_str(rtype, value).map_err(|e| invalid(e.to_string()))?
            };
            Ok(Record::from_rdata(name.clone(), set.ttl(), rdata))
        })
        .collect()
}

/// Groups wire records (class IN) into RRsets (see [`record::group`]).
pub(crate) fn to_rrsets<'a>(records: impl IntoIterator<Item = &'a Record>) -> Result<Vec<RRset>, DnsError> {
    let mut rows = Vec::new();
    for record in records.into_iter().filter(|r| r.dns_class == DNSClass::IN) {
        let value = match &record.data {
            RData::TXT(txt) => record::format_txt(&txt.txt_data),
            other => other.to_string(),
        };
        rows.push((Name::new(&record.name.to_ascii())?, record.record_type().to_string().parse()?, record.ttl, value));
    }
    record::group(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_wire_records() {
        let cases = [
            (RecordType::A, vec!["192.0.2.1", "192.0.2.2"]),
            (RecordType::AAAA, vec!["2001:db8::1"]),
            (RecordType::CNAME, vec!["target.example.com."]),
            (RecordType::MX, vec!["10 mail.example.com.", "20 backup.example.com."]),
            (RecordType::NS, vec!["ns1.example.com."]),
            (RecordType::TXT, vec!["\"v=spf1 -all\"", "\"a b\" \"caf\\195\\169 \\\"q\\\"\""]),
        ];
        for (rtype, values) in cases {
            let set = RRset::new(Name::new("x.example.com").unwrap(), rtype, 120, values).unwrap();
            let records = to_records(&set).unwrap();
            assert_eq!(records.len(), set.values().len());
            assert_eq!(to_rrsets(&records).unwrap(), vec![set]);
        }
    }
}
