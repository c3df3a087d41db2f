//! `[dns.zones."<zone>"]` in ferry.toml: a zone's provider and the variable holding its credential.

use ferry_dns::Name;
use serde::Deserialize;

/// One zone and the provider that serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneConfig {
    pub zone: String,
    pub provider: ProviderConfig,
    /// Authoritative servers a change is verified against.
    pub verify: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderConfig {
    /// RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS…).
    Rfc2136 { server: String, tsig_key_env: String },
    /// The PowerDNS HTTP API.
    PowerDns { url: String, api_key_env: String, server_id: Option<String> },
    /// The Cloudflare API (v4).
    Cloudflare { url: Option<String>, token_env: String },
}

/// `[dns.zones."<zone>"]` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZone {
    provider: String,
    server: Option<String>,
    tsig_key_env: Option<String>,
    url: Option<String>,
    api_key_env: Option<String>,
    server_id: Option<String>,
    token_env: Option<String>,
    #[serde(default)]
    verify: Vec<String>,
}

impl ZoneConfig {
    pub(crate) fn parse(zone: &str, raw: RawZone) -> Result<Self, String> {
        let at = format!("dns.zones.\"{zone}\"");
        let need = |v: Option<String>, key: &str| v.ok_or_else(|| format!("{at}: provider `{}` needs `{key}`", raw.provider));
        let credential = |v: Option<String>, key: &str| need(v, key).and_then(|v| crate::workflow::credential_var(&at, key, &v));
        let provider = match raw.provider.as_str() {
            "rfc2136" => {
                ProviderConfig::Rfc2136 { server: need(raw.server.clone(), "server")?, tsig_key_env: credential(raw.tsig_key_env.clone(), "tsig_key_env")? }
            }
            "powerdns" => ProviderConfig::PowerDns {
                url: need(raw.url.clone(), "url")?,
                api_key_env: credential(raw.api_key_env.clone(), "api_key_env")?,
                server_id: raw.server_id.clone(),
            },
            "cloudflare" => ProviderConfig::Cloudflare { url: raw.url.clone(), token_env: credential(raw.token_env.clone(), "token_env")? },
            other => return Err(format!("{at}: unknown provider `{other}` (rfc2136, powerdns or cloudflare)")),
        };
        let mut verify = raw.verify;
        if verify.is_empty()
            && let ProviderConfig::Rfc2136 { server, .. } = &provider
        {
            verify.push(server.clone());
        }
        Name::new(zone).map_err(|e| format!("{at}: {e}"))?;
        Ok(ZoneConfig { zone: zone.to_string(), provider, verify })
    }
}
