//! Where to connect. Parsed strictly because the pieces end up on an `ssh`
//! command line: a host starting with `-` would be read as an option.

use std::fmt;
use std::str::FromStr;

/// `user@host:port`, `user@host` (port 22), `host:port` or `host` (user root).
/// IPv4 addresses and host names only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostSpec {
    pub user: String,
    pub host: String,
    pub port: u16,
}

/// A host spec that could not be parsed; names the input and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a host (expected user@host:port, user@host or host): {reason}")]
pub struct HostSpecError {
    pub input: String,
    pub reason: &'static str,
}

impl FromStr for HostSpec {
    type Err = HostSpecError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| HostSpecError { input: input.to_string(), reason };
        let (user, rest) = match input.split_once('@') {
            Some((user, rest)) => (user, rest),
            None => ("root", input),
        };
        let (host, port) = match rest.split_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| err("the port must be 1-65535"))?),
            None => (rest, 22),
        };
        if !valid_name(user, |c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(err("the user must be letters, digits, `.`, `_` or `-` and not start with `-`"));
        }
        if !valid_name(host, |c| c.is_ascii_alphanumeric() || ".-".contains(c)) {
            return Err(err("the host must be an IPv4 address or a host name (letters, digits, `.`, `-`)"));
        }
        Ok(HostSpec { user: user.to_string(), host: host.to_string(), port })
    }
}

fn valid_name(s: &str, allowed: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && !s.starts_with('-') && s.chars().all(allowed)
}

impl fmt::Display for HostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let full: HostSpec = "deploy@10.0.0.2:2222".parse().unwrap();
        assert_eq!(full, HostSpec { user: "deploy".into(), host: "10.0.0.2".into(), port: 2222 });
        assert_eq!("deploy@example.com".parse::<HostSpec>().unwrap().port, 22);
        let bare: HostSpec = "10.0.0.2".parse().unwrap();
        assert_eq!(bare.to_string(), "root@10.0.0.2:22");
    }

    #[test]
    fn errors_name_the_input() {
        for bad in ["", "root@", "@host", "-oProxyCommand=x", "root@host:0", "root@host:99999", "root@::1", "a b@host"] {
            let err = bad.parse::<HostSpec>().unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }
}
