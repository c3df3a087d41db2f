//! The image registry the emulated platform pulls from: a real OCI registry
//! a test started (Debian's `docker-registry`), standing in for
//! `registry.fly.io`.
//!
//! Fly resolves a machine's image when the machine is created or updated:
//! a reference it cannot pull is refused there and then (`failed to launch
//! VM: image not found`), and the machine's `image_ref` carries the digest
//! of the manifest it pulled (fly-go `ImageRef{Registry, Repository, Tag,
//! Digest}`, `machine_types.go`). With a registry linked
//! (`POST /_emulator/registry`), a reference to that registry is resolved
//! the same way, by asking it for the manifest: a tag that was never pushed
//! is refused, a pushed one runs (as a healthy image unless a test
//! registered other behaviour), and a reference pinned `tag@digest` must
//! name a manifest the registry holds. References to other registries keep
//! the emulator's own rule: only images registered through
//! `/_emulator/images` exist.

use axum::http::StatusCode;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::api::error::{ApiError, ApiResult};
use crate::image::ImageRef;

/// The manifest types a pull accepts: Docker's v2 schema 2 (what
/// `buildah --format docker` and `docker push` make) and OCI's, single or
/// multi-platform.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json";

/// A registry the platform pulls from, as `POST /_emulator/registry` sets it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryLink {
    /// The registry's name in image references (`127.0.0.1:5443`).
    pub host: String,
    /// The CA that signed its certificate, in PEM.
    pub ca_pem: String,
    /// The platform's own login to it.
    pub user: String,
    pub password: String,
}

impl RegistryLink {
    /// The `image_ref` of `reference` if it names this registry, its digest
    /// the one of the manifest the registry serves; `Ok(None)` for another
    /// registry's image.
    pub async fn resolve(&self, reference: &str) -> ApiResult<Option<ImageRef>> {
        let parsed = ImageRef::parse(reference);
        if parsed.registry != self.host {
            return Ok(None);
        }
        let pinned = reference.contains('@');
        let wanted = if pinned { parsed.digest.clone() } else { parsed.tag.clone() };
        let not_found = || ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("failed to launch VM: image not found: {reference}"));
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).map_err(|e| unreachable_registry(format!("the registry's CA: {e}")))?)
            .build()
            .map_err(|e| unreachable_registry(format!("a registry client: {e}")))?;
        let url = format!("https://{}/v2/{}/manifests/{wanted}", self.host, parsed.repository);
        let response = client
            .get(&url)
            .basic_auth(&self.user, Some(&self.password))
            .header("Accept", MANIFEST_TYPES)
            .send()
            .await
            .map_err(|e| unreachable_registry(format!("pulling {reference}: {e}")))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(not_found()),
            other => return Err(unreachable_registry(format!("pulling {reference}: the registry answered {other}"))),
        }
        // The digest is that of the manifest's bytes (the distribution
        // spec); the header says the same when the registry sends it.
        let manifest = response.bytes().await.map_err(|e| unreachable_registry(format!("pulling {reference}: {e}")))?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
        if pinned && digest != parsed.digest {
            return Err(not_found());
        }
        Ok(Some(ImageRef { digest, ..parsed }))
    }
}

/// A pull that failed for a reason other than a missing image.
fn unreachable_registry(message: String) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
}
