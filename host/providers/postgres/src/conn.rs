//! Connections and error mapping shared by every module.

use std::time::Duration;

use postgres::{Client, NoTls};

use crate::{DbUrl, PgError};

/// A connected session to one database, remembering its URL so every error
/// can be labelled (`describe`) and redacted.
pub(crate) struct Session<'a> {
    pub client: Client,
    pub url: &'a DbUrl,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("target", &self.url.describe()).finish()
    }
}

/// Connects (plain text, 10 s timeout) and turns off
/// `default_transaction_read_only` for this session only: ferry must still run
/// DDL (e.g. drop its publication) on a source it has frozen.
pub(crate) fn connect(url: &DbUrl) -> Result<Session<'_>, PgError> {
    let mut config = url.config()?;
    url.check_tls(&config)?;
    config.connect_timeout(Duration::from_secs(10)).application_name("ferry");
    let client = config.connect(NoTls).map_err(|e| PgError::Connect { target: url.describe(), message: url.redact(&message(&e)) })?;
    let mut session = Session { client, url };
    session.batch("SET SESSION default_transaction_read_only = off", "set session")?;
    Ok(session)
}

impl Session<'_> {
    /// Maps a driver error into a redacted [`PgError::Query`].
    pub fn err(&self, context: &str, e: postgres::Error) -> PgError {
        query_error(self.url, context, &e)
    }

    pub fn batch(&mut self, sql: &str, context: &str) -> Result<(), PgError> {
        let r = self.client.batch_execute(sql);
        r.map_err(|e| self.err(context, e))
    }

    pub fn rows(&mut self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)], context: &str) -> Result<Vec<postgres::Row>, PgError> {
        let r = self.client.query(sql, params);
        r.map_err(|e| self.err(context, e))
    }

    pub fn one(&mut self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)], context: &str) -> Result<postgres::Row, PgError> {
        let r = self.client.query_one(sql, params);
        r.map_err(|e| self.err(context, e))
    }
}

pub(crate) fn query_error(url: &DbUrl, context: &str, e: &postgres::Error) -> PgError {
    PgError::Query { target: url.describe(), context: context.to_string(), message: url.redact(&message(e)), code: e.code().map(|c| c.code().to_string()) }
}

/// The driver's message with its cause chain (its Display alone says "db error").
fn message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.to_string();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
