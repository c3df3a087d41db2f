//! The record model: owner names, record types and RRsets.
//!
//! Every provider speaks a different dialect (Cloudflare drops the trailing
//! dot and splits an RRset into one record per value, PowerDNS and the wire
//! keep the dot, TXT data is quoted by some and not by others). Comparing
//! what a plan saw with what a server holds only works if both sides are in
//! one canonical form, so everything is normalised here, once, on the way in:
//! names are lowercase FQDNs with a trailing dot, and values are in zone-file
//! presentation format with a single spelling per value (addresses in their
//! canonical text form, target names as canonical names, TXT as quoted
//! character-strings with `\DDD` escapes). An [`RRset`]'s values are sorted
//! and deduplicated, because DNS has no order within an RRset.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DnsError;

/// RFC 2181 §8: TTLs are 31-bit; larger values are treated as zero.
const MAX_TTL: u32 = 0x7fff_ffff;
/// RFC 1035 §2.3.4.
const MAX_LABEL: usize = 63;
/// RFC 1035 §2.3.4 (255 octets on the wire = 253 characters plus the root dot).
const MAX_NAME: usize = 254;
/// One TXT character-string holds at most 255 octets (RFC 1035 §3.3).
const MAX_CHARACTER_STRING: usize = 255;

/// A domain name: lowercase, fully qualified (trailing dot).
///
/// Labels may hold letters, digits, `-` and `_` (service labels such as
/// `_acme-challenge`), and the first label may be `*`. Escaped or binary
/// labels are refused: no name ferry manages needs them, and accepting them
/// would mean a second spelling of the same name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// Parses and normalises a name; a missing trailing dot is added.
    pub fn new(name: &str) -> Result<Name, DnsError> {
        let invalid = |reason: &str| DnsError::InvalidName { name: name.to_owned(), reason: reason.to_owned() };
        let trimmed = name.trim();
        if trimmed == "." {
            return Ok(Name(".".to_owned()));
        }
        let bare = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if bare.is_empty() {
            return Err(invalid("empty name"));
        }
        if bare.len() + 1 > MAX_NAME {
            return Err(invalid("longer than 253 characters"));
        }
        for (i, label) in bare.split('.').enumerate() {
            if label.is_empty() {
                return Err(invalid("empty label"));
            }
            if label.len() > MAX_LABEL {
                return Err(invalid("a label is longer than 63 characters"));
            }
            let wildcard = i == 0 && label == "*";
            if !wildcard && !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(invalid("labels may only hold letters, digits, '-' and '_' (and a leading '*')"));
            }
        }
        Ok(Name(format!("{}.", bare.to_ascii_lowercase())))
    }

    /// The name with its trailing dot, e.g. `app.example.com.`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without the trailing dot, as Cloudflare writes names.
    pub fn without_dot(&self) -> &str {
        self.0.strip_suffix('.').filter(|s| !s.is_empty()).unwrap_or(&self.0)
    }

    /// Whether this name is `zone` itself or below it.
    pub fn is_in_zone(&self, zone: &Name) -> bool {
        zone.0 == "." || self.0 == zone.0 || self.0.ends_with(&format!(".{}", zone.0))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Name {
    type Err = DnsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::new(s)
    }
}

impl TryFrom<String> for Name {
    type Error = DnsError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Name::new(&s)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0
    }
}

/// A record type.
///
/// The types a cutover changes get their own variant and a canonical value
/// form; anything else a zone holds (SOA, SRV, CAA, DNSSEC types…) is kept
/// as [`RecordType::Other`] with its mnemonic, so that zone listings can
/// still be counted and shown.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    AAAA,
    /// Alias to another name; the RRset has exactly one value.
    CNAME,
    /// Text: one or more character-strings per value.
    TXT,
    /// Mail exchanger: `preference exchange`.
    MX,
    /// Delegation or zone apex name server.
    NS,
    /// Any other type, by its uppercase mnemonic (e.g. `SOA`, `SRV`).
    Other(String),
}

impl RecordType {
    /// The mnemonic, e.g. `AAAA`.
    pub fn as_str(&self) -> &str {
        match self {
            RecordType::A => "A",
            RecordType::AAAA => "AAAA",
            RecordType::CNAME => "CNAME",
            RecordType::TXT => "TXT",
            RecordType::MX => "MX",
            RecordType::NS => "NS",
            RecordType::Other(other) => other,
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordType {
    type Err = DnsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        Ok(match upper.as_str() {
            "A" => RecordType::A,
            "AAAA" => RecordType::AAAA,
            "CNAME" => RecordType::CNAME,
            "TXT" => RecordType::TXT,
            "MX" => RecordType::MX,
            "NS" => RecordType::NS,
            _ if !upper.is_empty() && upper.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => RecordType::Other(upper),
            _ => {
                return Err(DnsError::InvalidRRset(format!("`{s}` is not a record type")));
            }
        })
    }
}

impl TryFrom<String> for RecordType {
    type Error = DnsError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RecordType> for String {
    fn from(rtype: RecordType) -> String {
        rtype.as_str().to_owned()
    }
}

/// All records of one name and type: the unit DNS changes atomically and
/// the unit a plan's compare-and-swap is about.
///
/// Invariants (checked by [`RRset::new`]): the values are canonical, sorted,
/// deduplicated and non-empty; a CNAME has exactly one value; the TTL fits
/// in 31 bits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawRRset")]
pub struct RRset {
    name: Name,
    #[serde(rename = "type")]
    rtype: RecordType,
    ttl: u32,
    values: Vec<String>,
}

/// The unchecked serde form of an [`RRset`], validated through [`RRset::new`].
#[derive(Deserialize)]
struct RawRRset {
    name: Name,
    #[serde(rename = "type")]
    rtype: RecordType,
    ttl: u32,
    values: Vec<String>,
}

impl TryFrom<RawRRset> for RRset {
    type Error = DnsError;
    fn try_from(raw: RawRRset) -> Result<Self, Self::Error> {
        RRset::new(raw.name, raw.rtype, raw.ttl, raw.values)
    }
}

impl RRset {
    /// Builds an RRset from values in presentation format (`192.0.2.1`,
    /// `10 mail.example.com.`, `"v=spf1 -all"`), normalising each.
    pub fn new<I, S>(name: Name, rtype: RecordType, ttl: u32, values: I) -> Result<RRset, DnsError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if ttl > MAX_TTL {
            return Err(DnsError::InvalidRRset(format!("{name} {rtype}: TTL {ttl} is larger than 2147483647 (RFC 2181 §8)")));
        }
        let mut canonical = values.into_iter().map(|v| canonical_value(&rtype, v.as_ref())).collect::<Result<Vec<_>, _>>()?;
        canonical.sort();
        canonical.dedup();
        if canonical.is_empty() {
            return Err(DnsError::InvalidRRset(format!("{name} {rtype}: an RRset needs at least one value")));
        }
        if rtype == RecordType::CNAME && canonical.len() > 1 {
            return Err(DnsError::InvalidRRset(format!("{name} CNAME: a name can hold only one CNAME (RFC 2181 §10.1)")));
        }
        Ok(RRset { name, rtype, ttl, values: canonical })
    }

    /// The owner name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The record type.
    pub fn rtype(&self) -> &RecordType {
        &self.rtype
    }

    /// The TTL in seconds.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// The canonical values, sorted.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// The same values with another TTL: the first step of a cutover
    /// (lower the TTL one old-TTL ahead of the switch).
    pub fn with_ttl(&self, ttl: u32) -> Result<RRset, DnsError> {
        RRset::new(self.name.clone(), self.rtype.clone(), ttl, &self.values)
    }

    /// Whether both hold the same name, type and values, whatever the TTLs.
    pub fn same_values(&self, other: &RRset) -> bool {
        self.name == other.name && self.rtype == other.rtype && self.values == other.values
    }

    /// Zone-file lines, one per value: `app.example.com. 300 IN A 192.0.2.1`.
    pub fn to_zone_lines(&self) -> String {
        self.values.iter().map(|v| format!("{} {} IN {} {v}\n", self.name, self.ttl, self.rtype)).collect()
    }

    /// Parses zone-file lines (`name ttl [IN] type value…`) that all belong
    /// to one RRset, the inverse of [`RRset::to_zone_lines`]. Blank lines
    /// and `;` comments are skipped; names must be fully qualified, as there
    /// is no `$ORIGIN`.
    pub fn parse_zone_lines(text: &str) -> Result<RRset, DnsError> {
        let mut head: Option<(Name, u32, RecordType)> = None;
        let mut values = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(';') {
                continue;
            }
            let bad = |reason: &str| DnsError::InvalidRRset(format!("`{line}`: {reason}"));
            let mut fields = line.splitn(3, char::is_whitespace);
            let (Some(name), Some(ttl), Some(rest)) = (fields.next(), fields.next(), fields.next()) else {
                return Err(bad("expected `name ttl [IN] type value`"));
            };
            if !name.ends_with('.') {
                return Err(bad("the owner name must be fully qualified (end with '.')"));
            }
            let name = Name::new(name)?;
            let ttl: u32 = ttl.parse().map_err(|_| bad("the TTL is not a number"))?;
            let rest = rest.trim_start();
            let rest = match rest.split_once(char::is_whitespace) {
                Some((class, more)) if class.eq_ignore_ascii_case("IN") => more.trim_start(),
                _ => rest,
            };
            let (rtype, value) = rest.split_once(char::is_whitespace).ok_or_else(|| bad("missing the record type or value"))?;
            let rtype: RecordType = rtype.parse()?;
            let line_head = (name, ttl, rtype);
            match &head {
                None => head = Some(line_head),
                Some(first) if *first == line_head => {}
                Some(_) => return Err(bad("every line must have the same name, TTL and type")),
            }
            values.push(value.trim().to_owned());
        }
        let (name, ttl, rtype) = head.ok_or_else(|| DnsError::InvalidRRset("no records given".to_owned()))?;
        RRset::new(name, rtype, ttl, values)
    }
}

/// One line for plans and error messages:
/// `app.example.com. 300 A 192.0.2.1, 192.0.2.2`.
impl fmt::Display for RRset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}", self.name, self.ttl, self.rtype, self.values.join(", "))
    }
}

/// Groups `(name, type, ttl, value)` records into RRsets, in the order
/// their names and types first appear. If the records of one RRset disagree
/// on the TTL (RFC 2181 §5.2 forbids it, but it happens), the smallest one
/// is kept: it is the one a resolver will honour first.
pub(crate) fn group(records: impl IntoIterator<Item = (Name, RecordType, u32, String)>) -> Result<Vec<RRset>, DnsError> {
    let mut groups: Vec<(Name, RecordType, u32, Vec<String>)> = Vec::new();
    for (name, rtype, ttl, value) in records {
        match groups.iter_mut().find(|(n, t, _, _)| *n == name && *t == rtype) {
            Some((_, _, group_ttl, values)) => {
                *group_ttl = (*group_ttl).min(ttl);
                values.push(value);
            }
            None => groups.push((name, rtype, ttl, vec![value])),
        }
    }
    groups.into_iter().map(|(name, rtype, ttl, values)| RRset::new(name, rtype, ttl, values)).collect()
}

/// Normalises one value of `rtype` to its canonical presentation form.
pub(crate) fn canonical_value(rtype: &RecordType, value: &str) -> Result<String, DnsError> {
    let value = value.trim();
    let invalid = |reason: String| DnsError::InvalidValue { rtype: rtype.to_string(), value: value.to_owned(), reason };
    match rtype {
        RecordType::A => Ipv4Addr::from_str(value).map(|a| a.to_string()).map_err(|e| invalid(e.to_string())),
        RecordType::AAAA => Ipv6Addr::from_str(value).map(|a| a.to_string()).map_err(|e| invalid(e.to_string())),
        RecordType::CNAME | RecordType::NS => Name::new(value).map(String::from).map_err(|e| invalid(e.to_string())),
        RecordType::MX => {
            let (preference, exchange) = value.split_once(char::is_whitespace).ok_or_else(|| invalid("expected `preference exchange`".to_owned()))?;
            let preference: u16 = preference.parse().map_err(|_| invalid("the preference is not a number from 0 to 65535".to_owned()))?;
            let exchange = Name::new(exchange).map_err(|e| invalid(e.to_string()))?;
            Ok(format!("{preference} {exchange}"))
        }
        RecordType::TXT => Ok(format_txt(&txt_strings(value).map_err(invalid)?)),
        RecordType::Other(_) if value.is_empty() => Err(invalid("empty value".to_owned())),
        RecordType::Other(_) => Ok(value.split_whitespace().collect::<Vec<_>>().join(" ")),
    }
}

/// Splits TXT presentation data into its character-strings' octets.
///
/// Accepts quoted strings (`"a b" "c"`) and bare words (`abc`), with the
/// RFC 1035 escapes `\X` and `\DDD`. A string longer than 255 octets is
/// split into 255-octet pieces, as Cloudflare and most tools do: the DNS
/// cannot carry it whole, and consumers (SPF, DKIM) concatenate them.
pub(crate) fn txt_strings(value: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = value.as_bytes();
    let mut strings = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let quoted = bytes[i] == b'"';
        if quoted {
            i += 1;
        }
        let mut current = Vec::new();
        let mut closed = !quoted;
        while i < bytes.len() {
            let b = bytes[i];
            if quoted && b == b'"' {
                closed = true;
                i += 1;
                break;
            }
            if !quoted && b.is_ascii_whitespace() {
                break;
            }
            if !quoted && b == b'"' {
                return Err("a quote inside an unquoted string".to_owned());
            }
            if b == b'\\' {
                let digits = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(u8::is_ascii_digit));
                if let Some(d) = digits {
                    let n = u32::from(d[0] - b'0') * 100 + u32::from(d[1] - b'0') * 10 + u32::from(d[2] - b'0');
                    let octet = u8::try_from(n).map_err(|_| format!("escape \\{n} is over 255"))?;
                    current.push(octet);
                    i += 4;
                } else if let Some(&next) = bytes.get(i + 1) {
                    current.push(next);
                    i += 2;
                } else {
                    return Err("a trailing backslash".to_owned());
                }
                continue;
            }
            current.push(b);
            i += 1;
        }
        if !closed {
            return Err("an unterminated quoted string".to_owned());
        }
        if current.is_empty() {
            strings.push(current);
        } else {
            strings.extend(current.chunks(MAX_CHARACTER_STRING).map(<[u8]>::to_vec));
        }
    }
    if strings.is_empty() {
        return Err("no character-string (use \"\" for an empty TXT)".to_owned());
    }
    Ok(strings)
}

/// Formats TXT character-strings canonically: each quoted, `"` and `\`
/// escaped, and every octet outside printable ASCII as `\DDD` (so UTF-8
/// text and its escaped spelling compare equal).
pub(crate) fn format_txt<S: AsRef<[u8]>>(strings: &[S]) -> String {
    let mut out = String::new();
    for (i, s) in strings.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('"');
        for &b in s.as_ref() {
            match b {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                0x20..=0x7e => out.push(char::from(b)),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    #[test]
    fn names_are_lowercase_fqdns() {
        assert_eq!(name("App.Example.COM").as_str(), "app.example.com.");
        assert_eq!(name("app.example.com.").without_dot(), "app.example.com");
        assert_eq!(name("*.example.com").as_str(), "*.example.com.");
        assert_eq!(name("_acme-challenge.example.com").as_str(), "_acme-challenge.example.com.");
        assert!(Name::new("a..b").is_err());
        assert!(Name::new("a b.com").is_err());
        assert!(Name::new("a.*.com").is_err());
        assert!(Name::new(&format!("{}.com", "x".repeat(64))).is_err());
        assert!(Name::new("").is_err());
    }

    #[test]
    fn zone_membership_is_by_label() {
        let zone = name("example.com");
        assert!(name("example.com").is_in_zone(&zone));
        assert!(name("a.b.example.com").is_in_zone(&zone));
        assert!(!name("badexample.com").is_in_zone(&zone));
        assert!(!name("example.org").is_in_zone(&zone));
    }

    #[test]
    fn values_are_canonical_sorted_and_deduplicated() {
        let set = RRset::new(name("app.example.com"), RecordType::AAAA, 60, ["2001:DB8:0:0::1", "2001:db8::1", "2001:db8::0:2"]).unwrap();
        assert_eq!(set.values(), ["2001:db8::1", "2001:db8::2"]);
        let mx = RRset::new(name("example.com"), RecordType::MX, 60, ["10   Mail.Example.com"]).unwrap();
        assert_eq!(mx.values(), ["10 mail.example.com."]);
        let cname = RRset::new(name("www.example.com"), RecordType::CNAME, 60, ["App.example.com"]).unwrap();
        assert_eq!(cname.values(), ["app.example.com."]);
        assert!(RRset::new(name("a.example.com"), RecordType::A, 60, ["300.1.1.1"]).is_err());
        assert!(RRset::new(name("a.example.com"), RecordType::A, 60, Vec::<String>::new()).is_err());
        assert!(RRset::new(name("a.example.com"), RecordType::CNAME, 60, ["b.", "c."]).is_err());
        assert!(RRset::new(name("a.example.com"), RecordType::A, u32::MAX, ["192.0.2.1"]).is_err());
    }

    #[test]
    fn txt_spellings_compare_equal() {
        let canonical = |v: &str| canonical_value(&RecordType::TXT, v).unwrap();
        assert_eq!(canonical("hello"), "\"hello\"");
        assert_eq!(canonical("\"hello world\"  \"two\""), "\"hello world\" \"two\"");
        assert_eq!(canonical("\"a\\\"b\\\\c\""), "\"a\\\"b\\\\c\"");
        assert_eq!(canonical("\"caf\u{e9}\""), canonical("\"caf\\195\\169\""));
        assert_eq!(canonical("\"\""), "\"\"");
        let long = "x".repeat(300);
        assert_eq!(canonical(&format!("\"{long}\"")), format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45)));
        assert!(canonical_value(&RecordType::TXT, "\"open").is_err());
        assert!(canonical_value(&RecordType::TXT, "\"\\256\"").is_err());
        assert!(canonical_value(&RecordType::TXT, "").is_err());
    }

    #[test]
    fn zone_lines_round_trip() {
        let set = RRset::parse_zone_lines("; the app\napp.example.com. 300 IN A 192.0.2.2\napp.example.com. 300 A 192.0.2.1\n").unwrap();
        assert_eq!(set.ttl(), 300);
        assert_eq!(set.values(), ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(set.to_zone_lines(), "app.example.com. 300 IN A 192.0.2.1\napp.example.com. 300 IN A 192.0.2.2\n");
        assert_eq!(RRset::parse_zone_lines(&set.to_zone_lines()).unwrap(), set);
        assert_eq!(set.to_string(), "app.example.com. 300 A 192.0.2.1, 192.0.2.2");
        let txt = RRset::parse_zone_lines("t.example.com. 60 IN TXT \"a b\" \"c\"").unwrap();
        assert_eq!(txt.values(), ["\"a b\" \"c\""]);
        assert!(RRset::parse_zone_lines("app 300 IN A 192.0.2.1").is_err());
        assert!(RRset::parse_zone_lines("a.example.com. 300 A 192.0.2.1\na.example.com. 60 A 192.0.2.2").is_err());
    }

    #[test]
    fn serde_validates() {
        let set = RRset::new(name("app.example.com"), RecordType::A, 60, ["192.0.2.1"]).unwrap();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"{"name":"app.example.com.","type":"A","ttl":60,"values":["192.0.2.1"]}"#);
        assert_eq!(serde_json::from_str::<RRset>(&json).unwrap(), set);
        let bad = r#"{"name":"app.example.com.","type":"A","ttl":60,"values":["nope"]}"#;
        assert!(serde_json::from_str::<RRset>(bad).is_err());
    }
}
