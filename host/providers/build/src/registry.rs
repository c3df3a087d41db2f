//! Reading a pushed image back from its registry: its manifest's layers and
//! sizes, so the plan can say how big the image is and which layers
//! changed against the image the app runs (`build-push.md` §5).
//!
//! Sizes are the registry's: compressed blobs, `config.size + Σ
//! layers[].size`, what flyctl reports. A layer "changed" when its digest is
//! not among the running image's layers: the bytes differ, which is what a
//! machine has to pull, even if the files inside are the same.
//!
//! Authentication: every request carries Basic credentials, and a `Bearer`
//! challenge is answered with the distribution token flow (the realm is
//! asked for a token with the same credentials). Which one registry.fly.io
//! uses is not documented, so both work; docker-registry's htpasswd mode is
//! Basic.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder};
use serde::Deserialize;

use crate::BuildError;

/// The manifest types ferry reads: an image manifest (Docker v2 schema 2 or
/// OCI), or an index of them, from which the `linux/amd64` entry is read.
const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json";

/// An image's blobs as its manifest lists them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Manifest {
    pub config: Blob,
    pub layers: Vec<Blob>,
}

/// A blob a manifest points at: its digest and compressed size.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
}

impl Manifest {
    /// What a machine pulls: the config and every layer, compressed.
    pub fn size(&self) -> u64 {
        self.config.size + self.layers.iter().map(|l| l.size).sum::<u64>()
    }

    /// This image's layers that `running` does not have, as a set.
    pub fn changed_since(&self, running: &Manifest) -> Vec<&Blob> {
        self.layers.iter().filter(|l| !running.layers.iter().any(|r| r.digest == l.digest)).collect()
    }
}

/// A manifest, or an index of them (for a multi-platform image).
#[derive(Deserialize)]
#[serde(untagged)]
enum Document {
    Image(Manifest),
    Index { manifests: Vec<Entry> },
}

#[derive(Deserialize)]
struct Entry {
    digest: String,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

/// A registry read with one login (whose password `Debug` leaves out).
pub struct Registry {
    client: Client,
    host: String,
    user: String,
    password: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("host", &self.host).field("user", &self.user).finish_non_exhaustive()
    }
}

impl Registry {
    /// `host` (`registry.fly.io`) with `user`/`password`, trusting the
    /// system's roots and, if `SSL_CERT_FILE` is set, the certificates in
    /// it (as OpenSSL and Go do; buildah and Docker trust the same file).
    pub fn new(host: &str, user: &str, password: &str) -> Result<Registry, BuildError> {
        let failed = |why: String| BuildError::Registry { host: host.to_string(), why };
        let mut builder = Client::builder().timeout(Duration::from_secs(60));
        if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
            let pem = std::fs::read(&file).map_err(|e| failed(format!("reading SSL_CERT_FILE {}: {e}", file.to_string_lossy())))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| failed(format!("SSL_CERT_FILE: {e}")))? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| failed(e.to_string()))?;
        Ok(Registry { client, host: host.into(), user: user.into(), password: password.into() })
    }

    /// The manifest of `repository` at `reference` (a tag or a digest),
    /// descending into an index to its `linux/amd64` image.
    pub fn manifest(&self, repository: &str, reference: &str) -> Result<Manifest, BuildError> {
        match serde_json::from_slice(&self.get(repository, &format!("manifests/{reference}"))?) {
            Ok(Document::Image(manifest)) => Ok(manifest),
            Ok(Document::Index { manifests }) => {
                let amd64 = manifests
                    .iter()
                    .find(|m| m.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == "amd64"))
                    .ok_or_else(|| self.failed(format!("{repository}@{reference} is an index without a linux/amd64 image")))?;
                let bytes = self.get(repository, &format!("manifests/{}", amd64.digest))?;
                serde_json::from_slice(&bytes).map_err(|e| self.failed(format!("the manifest {repository}@{}: {e}", amd64.digest)))
            }
            Err(e) => Err(self.failed(format!("the manifest {repository}:{reference}: {e}"))),
        }
    }

    /// The digest of what `repository` serves at `reference` (a tag): the
    /// sha256 of the manifest's bytes, computed here rather than taken from
    /// a header, so the pin names exactly what was served.
    pub fn digest(&self, repository: &str, reference: &str) -> Result<String, BuildError> {
        use sha2::Digest;
        let bytes = self.get(repository, &format!("manifests/{reference}"))?;
        Ok(format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes))))
    }

    fn get(&self, repository: &str, path: &str) -> Result<Vec<u8>, BuildError> {
        let url = format!("https://{}/v2/{repository}/{path}", self.host);
        let request = || self.client.get(&url).header("Accept", ACCEPT);
        let mut response = self.send(request().basic_auth(&self.user, Some(&self.password)))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            if let Some(token) = self.token(&challenge)? {
                response = self.send(request().bearer_auth(token))?;
            }
        }
        match response.status() {
            StatusCode::OK => Ok(response.bytes().map_err(|e| self.failed(format!("{url}: {e}")))?.to_vec()),
            status => Err(self.failed(format!("GET {url} answered {status}"))),
        }
    }

    /// A token for a `Bearer realm="…",service="…",scope="…"` challenge;
    /// `None` for any other (Basic was sent already and refused).
    fn token(&self, challenge: &str) -> Result<Option<String>, BuildError> {
        let Some(params) = challenge.strip_prefix("Bearer ") else { return Ok(None) };
        let params = challenge_params(params);
        let Some(realm) = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v) else { return Ok(None) };
        let query: Vec<(&str, &str)> = params.iter().filter(|(k, _)| k == "service" || k == "scope").map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let response = self.send(self.client.get(realm).query(&query).basic_auth(&self.user, Some(&self.password)))?;
        if !response.status().is_success() {
            return Err(self.failed(format!("the token service {realm} answered {}", response.status())));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let token: Token = response.json().map_err(|e| self.failed(format!("the token service {realm}: {e}")))?;
        Ok(token.token.or(token.access_token))
    }

    fn send(&self, request: RequestBuilder) -> Result<reqwest::blocking::Response, BuildError> {
        request.send().map_err(|e| self.failed(e.to_string()))
    }

    fn failed(&self, why: String) -> BuildError {
        BuildError::Registry { host: self.host.clone(), why }
    }
}

/// `realm="https://…",service="x",scope="repository:a:pull"` as pairs.
fn challenge_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').unwrap_or((quoted, "")),
            None => after.split_once(',').unwrap_or((after, "")),
        };
        out.push((key.trim().to_string(), value.to_string()));
        rest = next.trim_start_matches(',').trim();
    }
    out
}

/// Bytes as a person reads them: `12.3 MB` (decimal, as flyctl's
/// `humanize.Bytes` prints image sizes).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(digest: &str, size: u64) -> Blob {
        Blob { digest: digest.into(), size }
    }

    #[test]
    fn size_is_the_compressed_blobs_and_a_change_is_a_new_layer_digest() {
        let running = Manifest { config: blob("sha256:c1", 500), layers: vec![blob("sha256:base", 30_000_000), blob("sha256:app1", 2_000_000)] };
        let new = Manifest { config: blob("sha256:c2", 520), layers: vec![blob("sha256:base", 30_000_000), blob("sha256:app2", 2_100_000)] };
        assert_eq!(new.size(), 32_100_520);
        assert_eq!(new.changed_since(&running), [&blob("sha256:app2", 2_100_000)]);
        assert!(running.changed_since(&running).is_empty());
    }

    #[test]
    fn an_index_and_a_manifest_parse_as_registries_serve_them() {
        let image: Document = serde_json::from_str(
            r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
                "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2"},
                "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:e692"}]}"#,
        )
        .unwrap();
        assert!(matches!(image, Document::Image(m) if m.size() == 39_677));
        let index: Document = serde_json::from_str(
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
                {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:arm","size":1,"platform":{"architecture":"arm64","os":"linux"}},
                {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:amd","size":1,"platform":{"architecture":"amd64","os":"linux"}}]}"#,
        )
        .unwrap();
        assert!(matches!(index, Document::Index { manifests } if manifests.len() == 2));
    }

    #[test]
    fn a_bearer_challenge_is_read_as_docker_reads_it() {
        let params = challenge_params(r#"realm="https://auth.example/token",service="registry.example",scope="repository:shop:pull,push""#);
        assert_eq!(
            params,
            [
                ("realm".to_string(), "https://auth.example/token".to_string()),
                ("service".to_string(), "registry.example".to_string()),
                ("scope".to_string(), "repository:shop:pull,push".to_string()),
            ]
        );
    }

    #[test]
    fn sizes_read_as_flyctl_prints_them() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(32_100_520), "32.1 MB");
        assert_eq!(human_size(1_500_000_000), "1.5 GB");
    }
}
