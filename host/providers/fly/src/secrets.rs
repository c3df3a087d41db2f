//! App secrets. Only names and digests are ever read; values only travel
//! in the body of a bulk update and are never logged.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::Request;
use crate::types::{Secret, SecretsUpdate};

impl FlyClient {
    /// Names and digests of the app's secrets (`GET /v1/apps/{app}/secrets`,
    /// without `show_secrets`).
    pub fn list_secrets(&self, app: &str) -> Result<Vec<Secret>, FlyError> {
        self.list_secrets_at(app, None)
    }

    /// The same, read at secrets version `version` or later (`?version=`, as
    /// flyctl's `appsecrets.List` passes the version its last set returned):
    /// right after a set, a read without it may still show the old secrets.
    pub fn list_secrets_at(&self, app: &str, version: Option<u64>) -> Result<Vec<Secret>, FlyError> {
        #[derive(Deserialize)]
        struct Listing {
            #[serde(default, deserialize_with = "crate::types::null_default")]
            secrets: Vec<Secret>,
        }
        let mut request = Request::flaps(Method::GET, &["apps", app, "secrets"]);
        if let Some(version) = version {
            request = request.query("version", version.to_string());
        }
        let listing: Listing = self.http().send(&request)?.json()?;
        Ok(listing.secrets)
    }

    /// Sets and unsets secrets in one call: `Some(value)` sets, `None`
    /// unsets (`POST /v1/apps/{app}/secrets {values}`). Running machines
    /// only see the change once updated; new machines can require it with
    /// [`crate::LaunchInput::min_secrets_version`] set to the returned
    /// version.
    pub fn update_secrets(&self, app: &str, changes: &BTreeMap<String, Option<String>>) -> Result<SecretsUpdate, FlyError> {
        #[derive(Serialize)]
        struct Body<'a> {
            values: &'a BTreeMap<String, Option<String>>,
        }
        let request = Request::flaps(Method::POST, &["apps", app, "secrets"]).json(&Body { values: changes });
        self.http().send(&request)?.json()
    }
}
