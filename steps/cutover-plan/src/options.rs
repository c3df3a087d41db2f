//! The cutover's parameters: which records point where, the TTLs, the TLS
//! check, and the safety thresholds.

use ferry_step_sdk::params::{Params, Spec};
use ferry_step_sdk::types::StepError;

/// A record set the cutover wants: its name, type and values (the TTL is
/// [`Options::ttl`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    pub rtype: String,
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub zone: String,
    pub records: Vec<Wanted>,
    /// The TTL records get once switched.
    pub ttl: u32,
    /// The TTL records are lowered to ahead of the switch.
    pub lowered_ttl: u32,
    /// `address:port` of the new host for the TLS check; `None`: no check.
    pub tls_address: Option<String>,
    pub tls_min_days: u32,
    /// A person approves right before the switch.
    pub approve: bool,
    /// Past the share-of-zone thresholds.
    pub force: bool,
    pub max_update_pct: f64,
    pub max_delete_pct: f64,
    pub verify_timeout_ms: u64,
}

/// octoDNS's `MIN_EXISTING_RECORDS`: thresholds apply to zones this big.
pub const MIN_EXISTING: u32 = 10;

pub const PARAMS: &[Spec] = &[
    ("zone", "The zone the records live in, as ferry.toml's [dns.zones] names it.", None),
    ("records", "What to point where: `NAME TYPE VALUE[,VALUE]` entries separated by `;`, e.g. `shop.example.com A 203.0.113.7`.", None),
    ("ttl", "The records' TTL once switched, in seconds.", Some("300")),
    ("lowered-ttl", "The TTL set ahead of the switch (in the prepare phase), in seconds.", Some("60")),
    ("tls-address", "`host:port` of the new host whose certificate is checked; default: the first A/AAAA value, port 443.", None),
    ("tls", "Check the new host's certificate before the switch (true/false).", Some("true")),
    ("tls-min-days", "Days of validity the certificate must have left.", Some("14")),
    ("approve", "Stop for an approval right before the switch (true/false).", Some("false")),
    ("force", "Change more of the zone than the thresholds allow (true/false).", Some("false")),
    ("max-update-pct", "Refuse to update more than this share of the zone's records.", Some("30")),
    ("max-delete-pct", "Refuse to delete more than this share of the zone's records.", Some("30")),
    ("verify-timeout", "How long every authoritative server may take to answer the new records, in seconds.", Some("300")),
];

impl Options {
    pub fn from_params(params: &[(String, String)]) -> Result<Self, StepError> {
        let p = Params(params);
        let get = |name: &str| p.get(name);
        let zone = fqdn(get("zone").ok_or_else(|| invalid("cutover needs `zone`: the zone the records live in"))?);
        let records = parse_records(get("records").ok_or_else(|| invalid("cutover needs `records`, e.g. `shop.example.com A 203.0.113.7`"))?)?;
        for r in &records {
            if !(r.name == zone || r.name.ends_with(&format!(".{zone}"))) {
                return Err(invalid(&format!("{} is not in zone {zone}", r.name)));
            }
        }
        let number = |name: &str, default: u64| p.number(name, default);
        let percent = |name: &str| -> Result<f64, StepError> {
            let v = number(name, 30)?;
            if v > 100 { Err(invalid(&format!("{name} must be 0 to 100"))) } else { Ok(v as f64) }
        };
        let flag = |name: &str, default: bool| p.flag(name, default);
        let ttl = |name: &str, default: u64| number(name, default).and_then(|t| u32::try_from(t).map_err(|_| invalid(&format!("{name} is too large"))));
        let tls_address = match (flag("tls", true)?, get("tls-address")) {
            (false, _) => None,
            (true, Some(a)) => Some(a.to_string()),
            (true, None) => default_tls_address(&records),
        };
        Ok(Options {
            zone,
            records,
            ttl: ttl("ttl", 300)?,
            lowered_ttl: ttl("lowered-ttl", 60)?,
            tls_address,
            tls_min_days: ttl("tls-min-days", 14)?,
            approve: flag("approve", false)?,
            force: flag("force", false)?,
            max_update_pct: percent("max-update-pct")?,
            max_delete_pct: percent("max-delete-pct")?,
            verify_timeout_ms: number("verify-timeout", 300)?.saturating_mul(1000),
        })
    }
}

/// `shop.example.com A 203.0.113.7,203.0.113.8; www.shop.example.com CNAME shop.example.com`
fn parse_records(text: &str) -> Result<Vec<Wanted>, StepError> {
    let mut out: Vec<Wanted> = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let mut words = entry.split_whitespace();
        let (Some(name), Some(rtype), Some(values)) = (words.next(), words.next(), words.next()) else {
            return Err(invalid(&format!("record `{entry}` must be `NAME TYPE VALUE[,VALUE]`")));
        };
        if words.next().is_some() {
            return Err(invalid(&format!("record `{entry}`: separate several values with commas, not spaces")));
        }
        let rtype = rtype.to_ascii_uppercase();
        if !matches!(rtype.as_str(), "A" | "AAAA" | "CNAME") {
            return Err(invalid(&format!("record `{entry}`: a cutover switches A, AAAA or CNAME records, not {rtype}")));
        }
        let mut values: Vec<String> = values.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).collect();
        if rtype == "CNAME" {
            if values.len() != 1 {
                return Err(invalid(&format!("record `{entry}`: a CNAME has exactly one target")));
            }
            values = values.iter().map(|v| fqdn(v)).collect();
        }
        values.sort();
        let wanted = Wanted { name: fqdn(name), rtype, values };
        if out.iter().any(|w| w.name == wanted.name && w.rtype == wanted.rtype) {
            return Err(invalid(&format!("{} {} is listed twice", wanted.name, wanted.rtype)));
        }
        out.push(wanted);
    }
    if out.is_empty() {
        return Err(invalid("`records` lists no record"));
    }
    Ok(out)
}

/// `<ip>:443` (`[<ip>]:443` for AAAA) of the first address record: where
/// the TLS check connects when no `tls-address` is given.
pub fn default_tls_address(records: &[Wanted]) -> Option<String> {
    let r = records.iter().find(|r| r.rtype == "A" || r.rtype == "AAAA")?;
    let ip = r.values.first()?;
    Some(if r.rtype == "AAAA" { format!("[{ip}]:443") } else { format!("{ip}:443") })
}

/// Lowercase with the trailing dot.
pub fn fqdn(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    if lower.ends_with('.') { lower } else { format!("{lower}.") }
}

pub(crate) fn invalid(message: &str) -> StepError {
    ferry_step_sdk::params::invalid(message)
}
