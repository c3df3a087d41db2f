use std::fmt;
use std::str::FromStr;

use postgres::config::{Host, SslMode};

use crate::PgError;

/// A PostgreSQL connection URL, treated as a secret.
///
/// Why a wrapper: the URL carries the password, and ferry's plans, logs and
/// errors are shown to people and CI. `Debug` is redacted, there is no
/// `Display`/`Serialize`, and [`DbUrl::describe`] gives a password-free label.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct DbUrl(String);

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbUrl(<redacted>)")
    }
}

impl DbUrl {
    pub fn new(url: String) -> DbUrl {
        DbUrl(url)
    }

    /// The parsed form; parse errors never echo the URL.
    pub(crate) fn config(&self) -> Result<postgres::Config, PgError> {
        postgres::Config::from_str(&self.0).map_err(|e| PgError::InvalidUrl(self.redact(&e.to_string())))
    }

    /// The database the URL names (libpq's default: the user name).
    pub fn database_name(&self) -> String {
        match self.config() {
            Ok(c) => database_of(&c),
            Err(_) => String::new(),
        }
    }

    /// `user@host:port/db`, for messages: everything but the password.
    pub fn describe(&self) -> String {
        let Ok(c) = self.config() else {
            return "<invalid database url>".to_string();
        };
        format!("{}@{}:{}/{}", user_of(&c), hosts_of(&c), ports_of(&c), database_of(&c))
    }

    /// Removes this URL and its password (decoded and as written) from `text`,
    /// so tool stderr and server messages are safe to show.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.replace(&self.0, "<redacted-url>");
        for secret in self.password_forms() {
            out = out.replace(&secret, "<redacted>");
        }
        out
    }

    fn password_forms(&self) -> Vec<String> {
        let mut forms = Vec::new();
        if let Some(raw) = raw_password(&self.0) {
            forms.push(raw.to_string());
        }
        if let Ok(Some(p)) = self.config().map(|c| c.get_password().map(<[u8]>::to_vec)) {
            forms.push(String::from_utf8_lossy(&p).into_owned());
        }
        forms.retain(|s| !s.is_empty());
        forms
    }

    /// Refused up front so nothing connects in plain text when TLS was required.
    pub(crate) fn check_tls(&self, config: &postgres::Config) -> Result<(), PgError> {
        match config.get_ssl_mode() {
            SslMode::Require => Err(PgError::TlsUnsupported { target: self.describe() }),
            _ => Ok(()),
        }
    }

    /// `PG*` variables for pg_dump/pg_restore/psql: argv is visible in `ps`,
    /// the environment of another user's process is not.
    pub(crate) fn tool_env(&self) -> Result<Vec<(&'static str, String)>, PgError> {
        let c = self.config()?;
        self.check_tls(&c)?;
        let mut env = vec![
            ("PGHOST", hosts_of(&c)),
            ("PGPORT", ports_of(&c)),
            ("PGUSER", user_of(&c)),
            ("PGDATABASE", database_of(&c)),
            ("PGCONNECT_TIMEOUT", "10".to_string()),
            ("PGAPPNAME", "ferry".to_string()),
        ];
        if let Some(p) = c.get_password() {
            env.push(("PGPASSWORD", String::from_utf8_lossy(p).into_owned()));
        }
        if matches!(c.get_ssl_mode(), SslMode::Disable) {
            env.push(("PGSSLMODE", "disable".to_string()));
        }
        Ok(env)
    }

    /// A libpq conninfo string (`host='..' port='..' ...`), for
    /// `CREATE SUBSCRIPTION`, which takes conninfo rather than a URL.
    pub(crate) fn conninfo(&self) -> Result<String, PgError> {
        let c = self.config()?;
        self.check_tls(&c)?;
        let mut parts = vec![("host", hosts_of(&c)), ("port", ports_of(&c)), ("user", user_of(&c)), ("dbname", database_of(&c))];
        if let Some(p) = c.get_password() {
            parts.push(("password", String::from_utf8_lossy(p).into_owned()));
        }
        let quoted: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={}", conninfo_quote(v))).collect();
        Ok(quoted.join(" "))
    }
}

/// Redacts every URL's secrets from `text`.
pub(crate) fn redact_all(urls: &[&DbUrl], text: &str) -> String {
    urls.iter().fold(text.to_string(), |acc, u| u.redact(&acc))
}

pub(crate) fn conninfo_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The password as written in the URL (possibly percent-encoded).
fn raw_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    Some(userinfo.split_once(':')?.1)
}

fn user_of(c: &postgres::Config) -> String {
    c.get_user().unwrap_or("postgres").to_string()
}

fn database_of(c: &postgres::Config) -> String {
    c.get_dbname().map(str::to_string).unwrap_or_else(|| user_of(c))
}

fn hosts_of(c: &postgres::Config) -> String {
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if hosts.is_empty() { "localhost".to_string() } else { hosts.join(",") }
}

fn ports_of(c: &postgres::Config) -> String {
    let ports: Vec<String> = c.get_ports().iter().map(u16::to_string).collect();
    if ports.is_empty() { "5432".to_string() } else { ports.join(",") }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "postgres://app:s3cr%40t@db.internal:6543/shop";

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", DbUrl::new(URL.into())), "DbUrl(<redacted>)");
    }

    #[test]
    fn describe_has_no_password() {
        let u = DbUrl::new(URL.into());
        assert_eq!(u.describe(), "app@db.internal:6543/shop");
        assert_eq!(u.database_name(), "shop");
    }

    #[test]
    fn redact_removes_both_password_forms() {
        let u = DbUrl::new(URL.into());
        let text = format!("failed {URL} with s3cr@t and s3cr%40t");
        let out = u.redact(&text);
        assert!(!out.contains("s3cr"), "{out}");
    }

    #[test]
    fn conninfo_quotes_values() {
        let u = DbUrl::new("postgres://a:it's@h:1/d".into());
        assert_eq!(u.conninfo().unwrap(), r"host='h' port='1' user='a' dbname='d' password='it\'s'");
    }

    #[test]
    fn sslmode_require_is_refused() {
        let u = DbUrl::new("postgres://a@h/d?sslmode=require".into());
        assert!(matches!(u.tool_env(), Err(PgError::TlsUnsupported { .. })));
    }
}
