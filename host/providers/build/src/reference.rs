//! The references a deploy pushes and runs.
//!
//! flyctl pushes `registry.fly.io/<app>:deployment-<ULID>` and deploys that
//! tag, leaving the platform to resolve it (`docker.go` `NewDeploymentTag`).
//! ferry deploys `<tag>@sha256:<digest>` instead — the form flyctl writes
//! for `fly image update` — so an apply runs exactly the bytes that were
//! reviewed even if the tag is pushed again meanwhile.

use crate::BuildError;

/// flyctl's default registry; `FLY_REGISTRY_HOST` overrides it (flyctl's
/// `config.go`).
pub const FLY_REGISTRY: &str = "registry.fly.io";

/// `<registry>/<app>:deployment-<id>`, or `<registry>/<app>:<label>` for
/// `--image-label`.
pub fn deployment_tag(registry: &str, app: &str, label: &str) -> Result<String, BuildError> {
    if app.is_empty() || !app.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(BuildError::Invalid { what: "app name", value: app.into(), why: "is not a Fly app name (lowercase letters, digits and `-`)" });
    }
    if !is_tag(label) {
        return Err(BuildError::Invalid {
            what: "image tag",
            value: label.into(),
            why: "is not a registry tag: up to 128 of letters, digits, `_`, `.` and `-`, not starting with `.` or `-`",
        });
    }
    Ok(format!("{registry}/{app}:{label}"))
}

/// flyctl's label for a deploy's tag: `deployment-` and a new ULID
/// (`docker.go`), so tags sort in the order they were pushed.
pub fn new_deployment_label() -> String {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut random = [0u8; 10];
    // The ULID spec's randomness; without it two builds in a millisecond could collide.
    getrandom::fill(&mut random).expect("the operating system's random source");
    format!("deployment-{}", ulid(millis, random))
}

/// A ULID: 48 bits of milliseconds then 80 random bits, as 26 characters of
/// Crockford's base32 (the spec at github.com/ulid/spec).
fn ulid(millis: u64, random: [u8; 10]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let value = (u128::from(millis & 0xFFFF_FFFF_FFFF) << 80) | random.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    (0..26).rev().map(|i| ALPHABET[((value >> (5 * i)) & 31) as usize] as char).collect()
}

/// The distribution spec's tag grammar: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn is_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') && tag.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// `reference@digest`, refusing a digest that is not `sha256:` and 64 hex
/// digits, and a reference that is pinned already.
pub fn pinned(reference: &str, digest: &str) -> Result<String, BuildError> {
    let hex = digest.strip_prefix("sha256:").unwrap_or_default();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
        return Err(BuildError::Invalid { what: "image digest", value: digest.into(), why: "is not `sha256:` and 64 lowercase hex digits" });
    }
    if reference.contains('@') {
        return Err(BuildError::Invalid { what: "image reference", value: reference.into(), why: "is pinned to a digest already" });
    }
    Ok(format!("{reference}@{digest}"))
}

/// `host/repository:tag@digest` as (host, repository, what to fetch: the
/// digest if pinned, else the tag); `None` without a host or a tag.
pub fn split(reference: &str) -> Option<(&str, &str, &str)> {
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    let (host, path) = name.split_once('/')?;
    let colon = path.rfind(':').filter(|i| !path[*i..].contains('/'));
    let repository = colon.map_or(path, |i| &path[..i]);
    let wanted = digest.or_else(|| colon.map(|i| &path[i + 1..]))?;
    Some((host, repository, wanted))
}

/// The registry password a Fly token makes: the token without its
/// `FlyV1 ` (or `Bearer `) scheme, every comma-separated macaroon kept, as
/// fly-go's `Tokens.Docker()` gives flyctl (`tokens.go`). The user is `x`.
pub fn registry_password(token: &str) -> &str {
    let token = token.trim();
    token.strip_prefix("FlyV1 ").or_else(|| token.strip_prefix("Bearer ")).unwrap_or(token).trim()
}

/// The user flyctl logs in to the Fly registry as (`docker.go`).
pub const REGISTRY_USER: &str = "x";

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn the_deployment_tag_is_flyctls_and_the_deploy_pins_its_digest() {
        let tag = deployment_tag(FLY_REGISTRY, "shop", "deployment-01JDX5M7").unwrap();
        assert_eq!(tag, "registry.fly.io/shop:deployment-01JDX5M7");
        assert_eq!(pinned(&tag, DIGEST).unwrap(), format!("registry.fly.io/shop:deployment-01JDX5M7@{DIGEST}"));
    }

    #[test]
    fn a_reference_splits_into_what_a_registry_is_asked() {
        assert_eq!(split("registry.fly.io/shop:deployment-01J@sha256:ab"), Some(("registry.fly.io", "shop", "sha256:ab")));
        assert_eq!(split("127.0.0.1:5443/team/shop:v2"), Some(("127.0.0.1:5443", "team/shop", "v2")));
        assert_eq!(split("nginx"), None);
        assert_eq!(split("127.0.0.1:5443/shop"), None);
    }

    #[test]
    fn a_new_label_is_a_ulid_and_a_tag() {
        // The spec's example: 1469918176385 ms is `01ARYZ6S41`.
        assert_eq!(&ulid(1_469_918_176_385, [0; 10])[..10], "01ARYZ6S41");
        assert_eq!(ulid(0, [0xFF; 10]), "0000000000ZZZZZZZZZZZZZZZZ");
        let (a, b) = (new_deployment_label(), new_deployment_label());
        assert!(a.starts_with("deployment-") && a.len() == 37 && is_tag(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn what_a_registry_would_refuse_is_refused_here_first() {
        assert!(deployment_tag(FLY_REGISTRY, "Shop", "v1").is_err());
        assert!(deployment_tag(FLY_REGISTRY, "shop", "-v1").is_err());
        assert!(deployment_tag(FLY_REGISTRY, "shop", &"a".repeat(129)).is_err());
        assert!(deployment_tag(FLY_REGISTRY, "shop", &"a".repeat(128)).is_ok());
        assert!(pinned("registry.fly.io/shop:v1", "sha256:abc").is_err());
        assert!(pinned("registry.fly.io/shop:v1", &DIGEST.to_uppercase().replace("SHA256", "sha256")).is_err());
        assert!(pinned(&format!("registry.fly.io/shop@{DIGEST}"), DIGEST).is_err());
    }

    #[test]
    fn the_registry_password_is_the_token_without_its_scheme() {
        assert_eq!(registry_password("FlyV1 fm2_abc,fm1r_def"), "fm2_abc,fm1r_def");
        assert_eq!(registry_password(" Bearer oauth-token\n"), "oauth-token");
        assert_eq!(registry_password("fm2_abc"), "fm2_abc");
    }
}
