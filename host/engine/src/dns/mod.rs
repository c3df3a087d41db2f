//! DNS zones a workflow configures (`[dns.zones]` in ferry.toml): how to
//! reach each zone's provider, with the credential named by an environment
//! variable that only the host reads. Steps query zones through
//! [`DnsZones`] as a read-only import; the executor changes them.

use std::net::{SocketAddr, ToSocketAddrs};

use ferry_dns::{Cloudflare, DnsProvider, Name, PowerDns, RRset, RecordType, Rfc2136, Secret, TsigKey};
use ferry_model::DnsRrset;
use ferry_runtime::capabilities::dns::{DnsError, DnsReader};

mod config;
pub mod ops;

pub use config::*;

/// The configured zones, with their providers built lazily (a credential
/// is read from the environment only when a zone is used).
#[derive(Debug, Default)]
pub struct DnsZones {
    zones: Vec<ZoneConfig>,
}

impl DnsZones {
    pub fn new(zones: Vec<ZoneConfig>) -> Self {
        DnsZones { zones }
    }

    pub fn config(&self, zone: &str) -> Result<&ZoneConfig, String> {
        let want = canonical(zone);
        self.zones.iter().find(|z| canonical(&z.zone) == want).ok_or_else(|| format!("zone {zone} is not configured: add it to ferry.toml under [dns.zones]"))
    }

    /// The zone's provider, ready to use.
    pub fn provider(&self, zone: &str) -> Result<Box<dyn DnsProvider>, String> {
        let config = self.config(zone)?;
        let secret = |var: &str| ferry_secrets::var(var).map(|s| Secret::new(s.into_inner())).map_err(|e| format!("zone {zone}: {e}"));
        Ok(match &config.provider {
            ProviderConfig::Rfc2136 { server, tsig_key_env } => {
                let key = TsigKey::parse(&secret(tsig_key_env)?).map_err(|e| format!("zone {zone}: {tsig_key_env}: {e}"))?;
                Box::new(Rfc2136::new(socket(server)?, key))
            }
            ProviderConfig::PowerDns { url, api_key_env, server_id } => {
                let mut p = PowerDns::new(url, secret(api_key_env)?).map_err(|e| e.to_string())?;
                if let Some(id) = server_id {
                    p = p.with_server_id(id);
                }
                Box::new(p)
            }
            ProviderConfig::Cloudflare { url, token_env } => {
                let mut c = Cloudflare::new(secret(token_env)?).map_err(|e| e.to_string())?;
                if let Some(url) = url {
                    c = c.with_base_url(url);
                }
                Box::new(c)
            }
        })
    }

    /// The authoritative servers to verify a change of `zone` against.
    pub fn verify_servers(&self, zone: &str) -> Result<Vec<SocketAddr>, String> {
        self.config(zone)?.verify.iter().map(|s| socket(s)).collect()
    }
}

impl DnsReader for DnsZones {
    fn read_rrset(&self, zone: &str, name: &str, rtype: &str) -> Result<Option<DnsRrset>, DnsError> {
        let provider = self.provider(zone).map_err(DnsError::Unavailable)?;
        let (zone, name, rtype) = names(zone, name, rtype).map_err(DnsError::Failed)?;
        match provider.read(&zone, &name, &rtype) {
            Ok(rrset) => Ok(rrset.as_ref().map(to_model)),
            Err(e) => Err(reader_error(e)),
        }
    }

    fn zone_size(&self, zone: &str) -> Result<u32, DnsError> {
        let provider = self.provider(zone).map_err(DnsError::Unavailable)?;
        let name = Name::new(zone).map_err(|e| DnsError::Failed(e.to_string()))?;
        let records = provider.zone_records(&name).map_err(reader_error)?;
        Ok(u32::try_from(records.len()).unwrap_or(u32::MAX))
    }
}

fn reader_error(e: ferry_dns::DnsError) -> DnsError {
    match e {
        ferry_dns::DnsError::TsigRejected { .. } | ferry_dns::DnsError::Unauthorized { .. } => DnsError::Denied(e.to_string()),
        other => DnsError::Failed(other.to_string()),
    }
}

pub(crate) fn names(zone: &str, name: &str, rtype: &str) -> Result<(Name, Name, RecordType), String> {
    Ok((
        Name::new(zone).map_err(|e| e.to_string())?,
        Name::new(name).map_err(|e| e.to_string())?,
        rtype.parse().map_err(|e: ferry_dns::DnsError| e.to_string())?,
    ))
}

pub(crate) fn to_model(r: &RRset) -> DnsRrset {
    DnsRrset { name: r.name().as_str().to_string(), rtype: r.rtype().as_str().to_string(), ttl: r.ttl(), values: r.values().to_vec() }
}

pub(crate) fn from_model(r: &DnsRrset) -> Result<RRset, String> {
    let name = Name::new(&r.name).map_err(|e| e.to_string())?;
    let rtype: RecordType = r.rtype.parse().map_err(|e: ferry_dns::DnsError| e.to_string())?;
    RRset::new(name, rtype, r.ttl, &r.values).map_err(|e| e.to_string())
}

fn socket(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs().map_err(|e| format!("DNS server `{text}`: {e}"))?.next().ok_or_else(|| format!("DNS server `{text}` resolves to no address"))
}

fn canonical(zone: &str) -> String {
    zone.trim_end_matches('.').to_ascii_lowercase()
}
