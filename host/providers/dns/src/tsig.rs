//! TSIG keys (RFC 8945) for signing RFC 2136 updates, queries and zone
//! transfers.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hickory_proto::rr::TSigner;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm as HickoryAlgorithm;

use crate::convert;
use crate::error::DnsError;
use crate::record::Name;
use crate::secret::Secret;

/// How far our clock may be from the server's. 300 s is what BIND, Knot
/// and nsupdate use (RFC 8945 §10 recommends it).
const FUDGE_SECONDS: u16 = 300;

/// The HMAC algorithms both hickory and the servers implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsigAlgorithm {
    /// `hmac-sha256`, the default of every server (and RFC 8945's MUST).
    HmacSha256,
    /// `hmac-sha384`.
    HmacSha384,
    /// `hmac-sha512`.
    HmacSha512,
}

impl TsigAlgorithm {
    /// The algorithm's name in key files, e.g. `hmac-sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }

    fn to_hickory(self) -> HickoryAlgorithm {
        match self {
            TsigAlgorithm::HmacSha256 => HickoryAlgorithm::HmacSha256,
            TsigAlgorithm::HmacSha384 => HickoryAlgorithm::HmacSha384,
            TsigAlgorithm::HmacSha512 => HickoryAlgorithm::HmacSha512,
        }
    }
}

impl FromStr for TsigAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().trim_end_matches('.').to_ascii_lowercase().as_str() {
            "hmac-sha256" => Ok(TsigAlgorithm::HmacSha256),
            "hmac-sha384" => Ok(TsigAlgorithm::HmacSha384),
            "hmac-sha512" => Ok(TsigAlgorithm::HmacSha512),
            other => Err(format!("unsupported algorithm `{other}` (use hmac-sha256, hmac-sha384 or hmac-sha512)")),
        }
    }
}

/// A shared TSIG key: its name, algorithm and decoded secret. `Debug`
/// shows the name and algorithm only.
#[derive(Clone)]
pub struct TsigKey {
    name: Name,
    algorithm: TsigAlgorithm,
    secret: Vec<u8>,
}

impl TsigKey {
    /// A key from its parts; `secret` is the base64 text that `tsig-keygen`
    /// or `keymgr -t` print.
    pub fn new(name: &str, algorithm: TsigAlgorithm, secret: &Secret) -> Result<TsigKey, DnsError> {
        let invalid = |reason: &str| DnsError::InvalidKey { name: name.to_owned(), reason: reason.to_owned() };
        let key_name = Name::new(name).map_err(|_| invalid("the key name is not a domain name"))?;
        let decoded = STANDARD.decode(secret.expose()).map_err(|_| invalid("the secret is not valid base64"))?;
        if decoded.is_empty() {
            return Err(invalid("the secret is empty"));
        }
        Ok(TsigKey { name: key_name, algorithm, secret: decoded })
    }

    /// Parses nsupdate's `-y` form, `[algorithm:]name:secret` (the
    /// algorithm defaults to hmac-sha256), so one CI secret holds the key.
    pub fn parse(spec: &Secret) -> Result<TsigKey, DnsError> {
        let parts: Vec<&str> = spec.expose().split(':').collect();
        let (algorithm, name, secret) = match parts.as_slice() {
            [name, secret] => (TsigAlgorithm::HmacSha256, *name, *secret),
            [algorithm, name, secret] => {
                let algorithm = algorithm.parse().map_err(|reason| DnsError::InvalidKey { name: (*name).to_owned(), reason })?;
                (algorithm, *name, *secret)
            }
            _ => {
                return Err(DnsError::InvalidKey { name: "?".to_owned(), reason: "expected `[algorithm:]name:secret`".to_owned() });
            }
        };
        TsigKey::new(name, algorithm, &Secret::new(secret))
    }

    /// The key's name, e.g. `ferry-cutover.`.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The HMAC algorithm.
    pub fn algorithm(&self) -> TsigAlgorithm {
        self.algorithm
    }

    /// hickory's signer for this key.
    pub(crate) fn signer(&self) -> Result<TSigner, DnsError> {
        TSigner::new(self.secret.clone(), self.algorithm.to_hickory(), convert::hickory_name(&self.name)?, FUDGE_SECONDS)
            .map_err(|e| DnsError::InvalidKey { name: self.name.to_string(), reason: e.to_string() })
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey").field("name", &self.name).field("algorithm", &self.algorithm).field("secret", &"<redacted>").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ODWuwTkzmMPups5Teskupgy2GwRIr3xEowVb2fT+8Ys=";

    #[test]
    fn parses_nsupdate_form_and_hides_the_secret() {
        let key = TsigKey::parse(&Secret::new(format!("hmac-sha512:ferry:{SECRET}"))).unwrap();
        assert_eq!(key.name().as_str(), "ferry.");
        assert_eq!(key.algorithm(), TsigAlgorithm::HmacSha512);
        let debug = format!("{key:?}");
        assert!(!debug.contains(SECRET) && debug.contains("<redacted>"), "{debug}");
        let key = TsigKey::parse(&Secret::new(format!("ferry:{SECRET}"))).unwrap();
        assert_eq!(key.algorithm(), TsigAlgorithm::HmacSha256);
    }

    #[test]
    fn bad_keys_do_not_echo_the_secret() {
        for spec in ["hmac-md5:k:c2VjcmV0", "hmac-sha256:k:not*base64", "only-one-part"] {
            let err = TsigKey::parse(&Secret::new(spec)).unwrap_err().to_string();
            assert!(!err.contains("c2VjcmV0") && !err.contains("not*base64"), "{err}");
            assert!(err.starts_with("invalid TSIG key"), "{err}");
        }
    }
}
