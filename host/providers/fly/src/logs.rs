//! App logs by polling `GET {api}/api/v1/apps/{app}/logs` (flyctl's
//! fallback when NATS streaming is unavailable), used to show the last
//! lines of a machine that failed. Deploy tokens often may not read logs:
//! expect [`crate::FlyError::Forbidden`] and carry on without them.

use std::collections::VecDeque;

use reqwest::Method;
use serde::{Deserialize, Deserializer};

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::{Base, Request};
use crate::types::null_default;

/// At most this many pages are read by [`FlyClient::last_log_lines`], so a
/// chatty app cannot keep it paging forever.
const MAX_LOG_PAGES: usize = 20;

/// One log line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogEntry {
    /// RFC 3339 time.
    pub timestamp: String,
    /// The line.
    pub message: String,
    /// `info`, `error`…
    pub level: String,
    /// Machine id.
    pub instance: String,
    /// Region.
    pub region: String,
}

impl<'de> Deserialize<'de> for LogEntry {
    /// Reads `{timestamp, message, level, instance, region}`, taking
    /// `instance`/`region` from `meta` when only the older shape has them.
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        struct Meta {
            #[serde(default, deserialize_with = "null_default")]
            instance: String,
            #[serde(default, deserialize_with = "null_default")]
            region: String,
        }
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default, deserialize_with = "null_default")]
            timestamp: String,
            #[serde(default, deserialize_with = "null_default")]
            message: String,
            #[serde(default, deserialize_with = "null_default")]
            level: String,
            #[serde(default, deserialize_with = "null_default")]
            instance: String,
            #[serde(default, deserialize_with = "null_default")]
            region: String,
            #[serde(default, deserialize_with = "null_default")]
            meta: Meta,
        }
        let w = Wire::deserialize(de)?;
        Ok(LogEntry {
            timestamp: w.timestamp,
            message: w.message,
            level: w.level,
            instance: if w.instance.is_empty() { w.meta.instance } else { w.instance },
            region: if w.region.is_empty() { w.meta.region } else { w.region },
        })
    }
}

/// One page of logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogPage {
    /// The lines, oldest first.
    pub entries: Vec<LogEntry>,
    /// Pass back to get the next page.
    pub next_token: Option<String>,
}

impl FlyClient {
    /// One page of the app's logs, optionally of one machine, continuing
    /// after `next_token`.
    pub fn app_logs(&self, app: &str, machine_id: Option<&str>, next_token: Option<&str>) -> Result<LogPage, FlyError> {
        #[derive(Deserialize)]
        struct Item {
            attributes: LogEntry,
        }
        #[derive(Deserialize, Default)]
        struct Meta {
            #[serde(default)]
            next_token: Option<String>,
        }
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default, deserialize_with = "null_default")]
            data: Vec<Item>,
            #[serde(default, deserialize_with = "null_default")]
            meta: Meta,
        }
        let mut request = Request::new(Method::GET, Base::Api, &["api", "v1", "apps", app, "logs"]);
        if let Some(id) = machine_id {
            request = request.query("instance", id);
        }
        // flyctl always sends next_token, empty on the first call.
        let request = request.query("next_token", next_token.unwrap_or(""));
        let wire: Wire = self.http().send(&request)?.json()?;
        Ok(LogPage { entries: wire.data.into_iter().map(|i| i.attributes).collect(), next_token: wire.meta.next_token.filter(|t| !t.is_empty()) })
    }

    /// The last `n` lines the log API has for a machine, oldest first (what
    /// flyctl prints when a release command fails). Pages until the API
    /// has nothing newer, at most 20 pages.
    pub fn last_log_lines(&self, app: &str, machine_id: &str, n: usize) -> Result<Vec<LogEntry>, FlyError> {
        let mut lines = VecDeque::with_capacity(n);
        let mut token: Option<String> = None;
        for _ in 0..MAX_LOG_PAGES {
            let page = self.app_logs(app, Some(machine_id), token.as_deref())?;
            if page.entries.is_empty() {
                break;
            }
            for entry in page.entries {
                if lines.len() == n {
                    lines.pop_front();
                }
                if n > 0 {
                    lines.push_back(entry);
                }
            }
            if page.next_token.is_none() || page.next_token == token {
                break;
            }
            token = page.next_token;
        }
        Ok(lines.into())
    }
}
