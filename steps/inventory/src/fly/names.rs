//! Names fly.toml gives that become names somewhere else: the app name is a
//! DNS label (`<app>.fly.dev`), a directory, a container and network name
//! and an nginx upstream on a VM; a volume name is a directory on a VM; a
//! process group name is part of container names; an env name is a line of
//! an env file. A name outside these rules is an error finding, so a hostile
//! fly.toml (`app = "shop;}\nserver { … }"`, `source = "../../.."`) stops at
//! the inventory instead of reaching a host.
//!
//! The rules, and where they come from:
//!
//! - **app**: `^[a-z0-9][a-z0-9-]{0,62}$`. flyctl refuses any other
//!   character (`validateAppName` in `internal/command/launch/plan_builder.go`
//!   of superfly/flyctl: "app name must consist of only lowercase letters,
//!   numbers, and dashes"); the name is the first label of `<app>.fly.dev`,
//!   so at most 63 of them (RFC 1123), and ferry also refuses a leading dash,
//!   which a command line would read as an option.
//! - **volume** (`[mounts] source`): `^[a-zA-Z0-9_]{1,63}$`. flyctl itself
//!   does not check volume names (the Machines API does); the names flyctl
//!   makes are `\w+` (the `VOLUME` scan in `scanner/dockerfile.go`), and
//!   Fly's docs name volumes like `myapp_data`. The 63 is ferry's bound.
//! - **process group**: `^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`. flyctl has no
//!   rule of its own; this is ferry's, so a group name is safe in a
//!   container name, a label and a path.
//! - **env name**: not empty, no `=`, no control character: what no
//!   environment variable can hold (the VM target checks the stricter POSIX
//!   grammar when it writes an env file).

/// The longest DNS label, and so the longest app name.
const MAX_LABEL: usize = 63;

/// Why `name` cannot be a Fly app name, or `None` when it can.
pub fn app_problem(name: &str) -> Option<String> {
    let ok = (1..=MAX_LABEL).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (!ok).then(|| {
        format!(
            "app name {} is not a Fly app name: lowercase letters, digits and dashes, starting with a letter or digit, at most {MAX_LABEL} characters",
            shown(name)
        )
    })
}

/// Why `name` cannot be a Fly volume name (a `[mounts] source`).
pub fn volume_problem(name: &str) -> Option<String> {
    let ok = (1..=MAX_LABEL).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!ok).then(|| format!("mount source {} is not a Fly volume name: letters, digits and underscores, at most {MAX_LABEL} characters", shown(name)))
}

/// Why `name` cannot be a process group name.
pub fn group_problem(name: &str) -> Option<String> {
    let ok = (1..=MAX_LABEL).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!ok).then(|| {
        format!(
            "process group name {} is not usable: letters, digits, `_` and `-`, starting with a letter or digit, at most {MAX_LABEL} characters (it becomes part of container names)",
            shown(name)
        )
    })
}

/// Why `name` cannot be an environment variable's name.
pub fn env_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty() && !name.contains('=') && !name.chars().any(char::is_control);
    (!ok).then(|| format!("env name {} cannot name an environment variable (empty, or holds `=` or a control character)", shown(name)))
}

/// The name quoted and escaped (`"shop;}\n…"`), so a finding never prints
/// a raw newline or escape sequence.
fn shown(name: &str) -> String {
    format!("{name:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_follow_flyctl_and_dns() {
        for ok in ["shop", "bencher-api", "a", "0x", "shy-glitter-4369", &"a".repeat(63)] {
            assert_eq!(app_problem(ok), None, "{ok}");
        }
        for bad in ["", "Shop", "shop_1", "-shop", "shop.example", "shop;}\nserver { listen 80; root /; autoindex on; }\n#", "../etc", &"a".repeat(64)] {
            let problem = app_problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(!problem.contains('\n'), "the message escapes the name: {problem}");
        }
    }

    #[test]
    fn volume_names_are_words() {
        for ok in ["data", "pg_data", "Models", "shop_data"] {
            assert_eq!(volume_problem(ok), None, "{ok}");
        }
        for bad in ["", "../../../../", "..", "a/b", "my-data", "data ", "/data"] {
            assert!(volume_problem(bad).is_some(), "{bad:?} accepted");
        }
    }

    #[test]
    fn group_and_env_names() {
        for ok in ["web", "worker_2", "app", "oapi", "Sidekiq"] {
            assert_eq!(group_problem(ok), None, "{ok}");
        }
        for bad in ["", "-x", "web;rm", "a b", "../x", "web\n"] {
            assert!(group_problem(bad).is_some(), "{bad:?} accepted");
        }
        for ok in ["PORT", "my.var", "lower_case"] {
            assert_eq!(env_problem(ok), None, "{ok}");
        }
        for bad in ["", "A=B", "A\nB", "A\0"] {
            assert!(env_problem(bad).is_some(), "{bad:?} accepted");
        }
    }
}
