//! Apps: `GET/POST/DELETE /v1/apps…` (fly-go `flaps_apps.go`).

use reqwest::Method;
use serde::Serialize;

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::Request;
use crate::types::App;

/// What to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateApp {
    /// App name (unique across all of Fly.io, not just the org).
    pub name: String,
    /// Organization slug.
    pub org_slug: String,
    /// 6PN network; the org's default when unset.
    pub network: Option<String>,
    /// App role id.
    pub app_role_id: Option<String>,
}

impl FlyClient {
    /// The app, or `None` when it does not exist.
    pub fn get_app(&self, app: &str) -> Result<Option<App>, FlyError> {
        match self
            .http()
            .send(&Request::flaps(Method::GET, &["apps", app]))
        {
            Ok(response) => response.json().map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates an app and waits for it to be usable (`?wait=true`, as fly-go
    /// does). Not retried: a retry after a lost answer would fail with
    /// `name_taken` on our own app. Deploy tokens cannot create apps (403).
    pub fn create_app(&self, input: &CreateApp) -> Result<App, FlyError> {
        /// fly-go sends `name`; the 2024 OpenAPI spec documents `app_name`.
        /// Both are sent so either server version accepts the request.
        #[derive(Serialize)]
        struct Wire<'a> {
            app_name: &'a str,
            name: &'a str,
            org_slug: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            network: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            app_role_id: Option<&'a str>,
        }
        let body = Wire {
            app_name: &input.name,
            name: &input.name,
            org_slug: &input.org_slug,
            network: input.network.as_deref(),
            app_role_id: input.app_role_id.as_deref(),
        };
        let request = Request::flaps(Method::POST, &["apps"])
            .query("wait", "true")
            .json(&body);
        self.http().send(&request)?.json()
    }

    /// Deletes an app with all its machines and volumes.
    pub fn delete_app(&self, app: &str) -> Result<(), FlyError> {
        self.http()
            .send(&Request::flaps(Method::DELETE, &["apps", app]))
            .map(drop)
    }
}
