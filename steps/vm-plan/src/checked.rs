//! What reaches the host, checked by grammar before it is planned: every
//! value here ends up in a root-owned file (an nginx site, an env file), a
//! host path, a container name or a docker argument. parse-config checks
//! the Fly names already, but the VM planner takes an app-spec from
//! whichever step ran before it, so it checks again, by the rules of the
//! place each value lands in:
//!
//! - names (app, process group, volume) become path segments, container,
//!   network and upstream names: a closed alphabet, no `/`, no `..`, no
//!   leading `-`;
//! - host paths (the target's root and nginx directory, TLS certificate and
//!   key) are interpolated into nginx's config: absolute, normalised, and
//!   only characters no nginx or shell syntax gives meaning to;
//! - every path derived from a name is checked once more to lie under the
//!   target root, after normalising, so a bind mount can never be `/`;
//! - env names and values become `NAME=value` lines of a Docker env file,
//!   which has no quoting: one line per variable, so a line break in a
//!   value would add a variable.

/// A value that must not reach the host, and the key it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The app-spec key, as fly.toml spells it (`env.GREETING`, `mounts.source`).
    pub key: String,
    pub message: String,
}

impl Refused {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Refused { key: key.into(), message: message.into() }
    }
}

/// The longest name ferry puts in a path or a container name.
const MAX_NAME: usize = 63;

/// The value quoted and escaped, so a message never prints a raw newline.
fn shown(value: &str) -> String {
    format!("{value:?}")
}

/// An app name: `^[a-z0-9][a-z0-9-]{0,62}$` (Fly's rule; see parse-config's
/// `names` module), so it is one path segment, a container and network
/// name, and an nginx upstream.
pub fn app_name(name: &str) -> Result<(), Refused> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then_some(()).ok_or_else(|| {
        Refused::new("app", format!("app name {} cannot name files, containers and the nginx site on the host: use lowercase letters, digits and dashes (at most {MAX_NAME}, not starting with a dash)", shown(name)))
    })
}

/// A process group name: part of container names and a label value.
pub fn group_name(name: &str) -> Result<(), Refused> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then_some(()).ok_or_else(|| {
        Refused::new(
            format!("processes.{name}"),
            format!("process group name {} cannot be part of a container name: use letters, digits, `_` and `-`", shown(name)),
        )
    })
}

/// A `[mounts] source`: a Fly volume name, one directory under the app's.
pub fn volume_source(source: &str) -> Result<(), Refused> {
    let ok = (1..=MAX_NAME).contains(&source.len()) && source.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then_some(()).ok_or_else(|| {
        Refused::new(
            "mounts.source",
            format!("mount source {} is not a volume name (letters, digits and underscores): it names a directory on the host", shown(source)),
        )
    })
}

/// A `[mounts] destination`: a path inside the container, the second half
/// of `-v host:container`, where `:` and `,` would start options.
pub fn container_path(path: &str) -> Result<(), Refused> {
    let ok = path.starts_with('/') && !path.contains([':', ',']) && !path.chars().any(|c| c.is_whitespace() || c.is_control()) && normal(path);
    ok.then_some(()).ok_or_else(|| {
        Refused::new(
            "mounts.destination",
            format!("mount destination {} must be an absolute path in the container without `..`, `:`, `,` or whitespace", shown(path)),
        )
    })
}

/// A path on the host given by ferry.toml or a flag (the target's root,
/// nginx's site directory, a TLS certificate or key): absolute, normalised,
/// and made of characters that mean nothing to nginx or a shell
/// (`[A-Za-z0-9._+@/-]`), so it can be written into nginx's config as is.
pub fn host_path(what: &str, path: &str) -> Result<(), String> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._+@/-".contains(c);
    if path.starts_with('/') && path.chars().all(safe) && normal(path) {
        return Ok(());
    }
    Err(format!(
        "{what} {} must be an absolute path on the host without `..`, of letters, digits and `._+@/-` only (no whitespace, quotes, `;`, `{{`, `}}` or `$`)",
        shown(path)
    ))
}

/// Whether `path` has no `.` or `..` segment (empty segments, from `//` or
/// a trailing `/`, are harmless and allowed).
fn normal(path: &str) -> bool {
    path.split('/').all(|segment| segment != "." && segment != "..")
}

/// `path` with `.`, `..` and empty segments resolved lexically, `None`
/// when `..` climbs above `/`.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// Checks that `path`, normalised, is `root` or lies under it: the last
/// guard on every host path made from a name, whatever the name checks let
/// through.
pub fn under_root(root: &str, path: &str) -> Result<(), String> {
    let (Some(root_n), Some(path_n)) = (normalize(root), normalize(path)) else {
        return Err(format!("{} climbs above / on the host", shown(path)));
    };
    let inside = path_n == root_n || path_n.starts_with(&format!("{}/", root_n.trim_end_matches('/')));
    if inside && path_n == path.trim_end_matches('/') {
        return Ok(());
    }
    Err(format!("{} is not a plain path under the target root {root} on the host", shown(path)))
}

/// An env-file key: `^[A-Za-z_][A-Za-z0-9_]*$`, the POSIX shell's names
/// (Docker's env file refuses whitespace in a name and splits at the first
/// `=`; a line starting with `#` is a comment).
pub fn env_name(key: &str, name: &str) -> Result<(), Refused> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then_some(()).ok_or_else(|| {
        Refused::new(
            key,
            format!("{} is not an environment variable name an env file can hold: use letters, digits and `_`, not starting with a digit", shown(name)),
        )
    })
}

/// An env-file value: anything but a line break or NUL, since Docker reads
/// one `NAME=value` per line, without quoting or escapes.
pub fn env_value(key: &str, value: &str) -> Result<(), Refused> {
    match value.chars().find(|c| matches!(c, '\n' | '\r' | '\0')) {
        None => Ok(()),
        Some(c) => Err(Refused::new(
            key,
            format!(
                "the value holds a {}: Docker's env file has one variable per line and no quoting, so it would end the line there (and could add a variable). Put a multi-line value in a secret file instead",
                if c == '\0' { "NUL byte" } else { "line break" }
            ),
        )),
    }
}

/// A `server_name`: an RFC 1123 hostname (labels of letters, digits and
/// inner dashes, at most 63 each, 253 in all), with an optional leading
/// `*.` for a wildcard.
pub fn hostname(name: &str) -> Result<(), String> {
    let bare = name.strip_prefix("*.").unwrap_or(name);
    let label = |l: &str| (1..=63).contains(&l.len()) && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !bare.is_empty() && name.len() <= 253 && bare.split('.').all(label) {
        return Ok(());
    }
    Err(format!("hostname {} is not a hostname (RFC 1123 labels of letters, digits and inner dashes; `*.` may lead)", shown(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(app_name("shop").is_ok() && app_name("my-app-2").is_ok());
        for bad in ["", "-x", "Shop", "a_b", "shop;}\nserver {", "../x", "a/b", &"a".repeat(64)] {
            assert!(app_name(bad).is_err(), "{bad:?}");
        }
        assert!(group_name("web").is_ok() && group_name("worker_2").is_ok());
        assert!(group_name("-d").is_err() && group_name("a b").is_err() && group_name("x/y").is_err());
        assert!(volume_source("shop_data").is_ok());
        for bad in ["", "..", "../../../../", "a/b", "a-b", "/"] {
            assert!(volume_source(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn container_paths() {
        assert!(container_path("/data").is_ok() && container_path("/var/lib/litefs").is_ok());
        for bad in ["data", "/a/../b", "/data:/etc", "/data,ro", "/a b", "/data\n", ""] {
            assert!(container_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn host_paths() {
        for ok in ["/srv", "/etc/letsencrypt/live/shop.example.com/fullchain.pem", "/etc/ssl/shop+1@x.key"] {
            assert!(host_path("path", ok).is_ok(), "{ok}");
        }
        for bad in ["relative.pem", "/etc/ssl/a b.pem", "/x;}", "/x{", "/x'y", "/x\"y", "/$HOME/k", "/etc/../shadow", "/a/./b", "/x\n", ""] {
            assert!(host_path("path", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_stay_under_the_root() {
        assert!(under_root("/srv", "/srv/shop/volumes/data").is_ok());
        assert!(under_root("/srv/", "/srv/shop").is_ok());
        for bad in ["/srv/shop/volumes/../../../../", "/srv/../etc", "/srvx/shop", "/", "/etc/passwd", "/srv/a/../../x"] {
            assert!(under_root("/srv", bad).is_err(), "{bad:?}");
        }
        assert_eq!(normalize("/srv/shop/volumes/../../../../"), None);
        assert_eq!(normalize("/a/./b//c/..").as_deref(), Some("/a/b"));
    }

    #[test]
    fn env_names_and_values() {
        assert!(env_name("env.A", "DATABASE_URL").is_ok() && env_name("env.A", "_x1").is_ok());
        for bad in ["", "1A", "A-B", "A B", "A=B", "#A", "A\n"] {
            assert!(env_name("env", bad).is_err(), "{bad:?}");
        }
        assert!(env_value("env.A", "hi there = \"quoted\" 'x' $y").is_ok());
        for bad in ["hi\nDATABASE_URL=postgres://x", "a\rb", "a\0b"] {
            let refused = env_value("env.GREETING", bad).unwrap_err();
            assert_eq!(refused.key, "env.GREETING");
            assert!(!refused.message.contains("postgres"), "the value is not repeated: {}", refused.message);
        }
    }

    #[test]
    fn hostnames() {
        for ok in ["shop.example.com", "*.example.com", "localhost", "xn--bcher-kva.example", "a1.b-2.c"] {
            assert!(hostname(ok).is_ok(), "{ok}");
        }
        for bad in ["", "*.", "a..b", "-a.com", "a-.com", "a b", "x;", "shop.example.com;\nserver", "*.*.a", "a.*.b", "_", &format!("{}.com", "a".repeat(64))] {
            assert!(hostname(bad).is_err(), "{bad:?}");
        }
    }
}
