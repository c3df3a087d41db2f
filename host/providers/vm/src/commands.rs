//! The shell commands ferry runs on a host for files, directories,
//! packages and probes, as pure functions of their arguments (as Kamal's
//! `commands/` are): what runs is readable here and asserted as text in the
//! tests below, and the executor only sends them. Every argument a plan or a
//! config gives is quoted; nothing here runs anything.

use ferry_ssh::shell_quote;

/// How many replaced copies of a file [`backup`] keeps beside it.
pub const BACKUPS_KEPT: usize = 5;

fn quoted(paths: &[String]) -> String {
    paths.iter().map(|p| shell_quote(p)).collect::<Vec<_>>().join(" ")
}

/// The directory holding `path`, quoted.
fn quoted_parent(path: &str) -> String {
    shell_quote(std::path::Path::new(path).parent().and_then(|p| p.to_str()).unwrap_or("/"))
}

/// Builds from a build context arriving as a tar on stdin: unpacked into a
/// directory of its own (removed however the build ends), where the host's
/// `docker build` reads it as it reads a checkout, `.dockerignore`
/// included (a tar given to `docker build -` keeps every file). An
/// `ignorefile` (a path inside the context) becomes that `.dockerignore`.
/// `docker` is the host's configured Docker command, `build_args` the
/// build's words, ending with the context (`.`).
pub fn build_from_stdin(docker: &str, build_args: &[String], ignorefile: Option<&str>) -> String {
    let ignore = ignorefile.map(|file| format!("cp -- {} .dockerignore && ", shell_quote(file))).unwrap_or_default();
    format!("ctx=$(mktemp -d) && trap 'rm -rf \"$ctx\"' EXIT && cd \"$ctx\" && tar -x --no-same-owner && {ignore}{{ {docker} {}; }}", quoted(build_args))
}

/// Installs Debian packages quietly; through `sudo` unless the login is root.
pub fn install_packages(packages: &[String], as_root: bool) -> String {
    let sudo = if as_root { "" } else { "sudo " };
    format!("{sudo}apt-get update -qq && {sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {} >/dev/null", quoted(packages))
}

pub fn make_dirs(paths: &[String]) -> String {
    format!("mkdir -p {}", quoted(paths))
}

/// The directory a file is about to be written to.
pub fn make_parent(path: &str) -> String {
    format!("mkdir -p {}", quoted_parent(path))
}

/// Removes each directory that is still empty, in the order given (deepest
/// first, from the caller); one that got files stays.
pub fn remove_empty_dirs(paths: &[String]) -> String {
    format!("for d in {}; do rmdir \"$d\" 2>/dev/null || true; done", quoted(paths))
}

/// Prints each of `paths` that does not exist, one per line.
pub fn missing(paths: &[String]) -> String {
    format!("for p in {}; do [ -e \"$p\" ] || echo \"$p\"; done", quoted(paths))
}

pub fn remove_file(path: &str) -> String {
    format!("rm -f {}", shell_quote(path))
}

/// Prints `empty` when the directory is missing or holds nothing.
pub fn is_empty_dir(path: &str) -> String {
    format!("if [ -z \"$(ls -A {0} 2>/dev/null)\" ]; then echo empty; fi", shell_quote(path))
}

/// Deletes files and directories with everything in them.
pub fn remove_trees(paths: &[String]) -> String {
    format!("rm -rf -- {}", quoted(paths))
}

/// Deletes everything inside the directory, keeping the directory.
pub fn empty_dir(path: &str) -> String {
    format!("[ ! -d {0} ] || find {0} -mindepth 1 -delete", shell_quote(path))
}

/// Appends one `authorized_keys` line (the file and its directory made
/// private first, as sshd's StrictModes wants them).
pub fn authorize_key(file: &str, line: &str) -> String {
    format!("umask 077; mkdir -p \"$(dirname {0})\" && printf '%s\\n' {1} >> {0} && chmod 600 {0}", shell_quote(file), shell_quote(line))
}

/// Removes every `authorized_keys` line whose comment starts with
/// `comment_prefix` (the file's mode and owner kept; a missing file is fine).
pub fn revoke_keys(file: &str, comment_prefix: &str) -> String {
    format!(
        "[ ! -f {0} ] || {{ grep -v -- {1} {0} > {0}.ferry-tmp; cat {0}.ferry-tmp > {0}; rm -f {0}.ferry-tmp; }}",
        shell_quote(file),
        shell_quote(&format!(" {comment_prefix}"))
    )
}

/// The file's contents, or nothing when it does not exist.
pub fn read_if_present(path: &str) -> String {
    format!("cat {} 2>/dev/null || true", shell_quote(path))
}

/// The file's contents; fails when it does not exist.
pub fn read(path: &str) -> String {
    format!("cat {}", shell_quote(path))
}

/// The file's sha256 (first word of the output), or nothing when it does not exist.
pub fn sha256_if_present(path: &str) -> String {
    format!("sha256sum {} 2>/dev/null || true", shell_quote(path))
}

/// Copies `path` to `copy` if it exists, printing `kept`, and drops all but
/// the newest [`BACKUPS_KEPT`] copies beside it.
pub fn backup(path: &str, copy: &str) -> String {
    let (p, c) = (shell_quote(path), shell_quote(copy));
    format!("if [ -e {p} ]; then cp -p {p} {c} && echo kept; ls -1 {p}.ferry-prev.* 2>/dev/null | sort | head -n -{BACKUPS_KEPT} | xargs -r rm -f; fi")
}

/// Puts `path` back as [`backup`] kept it, or removes it when there was none.
pub fn put_back(path: &str, copy: Option<&str>) -> String {
    match copy {
        Some(copy) => format!("cp -p {} {}", shell_quote(copy), shell_quote(path)),
        None => remove_file(path),
    }
}

/// Makes a 24-byte random secret from the host's own /dev/urandom, unless
/// the file exists: the value never crosses the network. Written to a
/// temporary file first, so a kill leaves no half secret.
pub fn make_secret(path: &str) -> String {
    let (p, dir) = (shell_quote(path), quoted_parent(path));
    format!("[ -e {p} ] || (umask 077 && mkdir -p {dir} && od -An -N24 -tx1 /dev/urandom | tr -d ' \\n' > {p}.tmp && mv {p}.tmp {p})")
}

/// Creates the lock file with `line` unless it exists (`set -C`: the
/// shell's exclusive create), printing `acquired`; else prints the holder's
/// line.
pub fn try_lock(path: &str, line: &str) -> String {
    let (path, line) = (shell_quote(path), shell_quote(line));
    format!("mkdir -p \"$(dirname {path})\" && if ( set -C; printf '%s\\n' {line} > {path} ) 2>/dev/null; then echo acquired; else cat {path}; fi")
}

/// Exits 0 when `url` answers 2xx or 3xx within two seconds, with curl or,
/// on hosts without it, wget.
pub fn http_probe(url: &str) -> String {
    let u = shell_quote(url);
    format!("if command -v curl >/dev/null; then curl -fsS -o /dev/null -m 2 {u}; else wget -q -O /dev/null -T 2 {u}; fi 2>/dev/null")
}

/// Exits 0 when something accepts a TCP connection at `ip:port` within two seconds.
pub fn tcp_probe(ip: &str, port: u16) -> String {
    let target = shell_quote(&format!("exec 3<>/dev/tcp/{ip}/{port}"));
    format!("timeout 2 bash -c {target} 2>/dev/null")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_build_unpacks_its_context_where_docker_reads_the_dockerignore() {
        let args: Vec<String> = ["build", "-q", "-t", "ferry-shop:release-2", "-f", "deploy/Docker file", "--", "."].map(String::from).to_vec();
        assert_eq!(
            build_from_stdin("sudo docker", &args, None),
            "ctx=$(mktemp -d) && trap 'rm -rf \"$ctx\"' EXIT && cd \"$ctx\" && tar -x --no-same-owner && \
             { sudo docker build -q -t ferry-shop:release-2 -f 'deploy/Docker file' -- .; }"
        );
        assert!(
            build_from_stdin("docker", &args, Some("deploy/ci ignore"))
                .contains(" tar -x --no-same-owner && cp -- 'deploy/ci ignore' .dockerignore && { docker build ")
        );
    }

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_one_time_key_is_appended_and_revoked_by_its_comment() {
        assert_eq!(
            authorize_key(".ssh/authorized_keys", "restrict ssh-ed25519 AAAA ferry-copy-1"),
            "umask 077; mkdir -p \"$(dirname .ssh/authorized_keys)\" && printf '%s\\n' 'restrict ssh-ed25519 AAAA ferry-copy-1' >> .ssh/authorized_keys && chmod 600 .ssh/authorized_keys"
        );
        assert_eq!(
            revoke_keys(".ssh/authorized_keys", "ferry-copy-"),
            "[ ! -f .ssh/authorized_keys ] || { grep -v -- ' ferry-copy-' .ssh/authorized_keys > .ssh/authorized_keys.ferry-tmp; \
             cat .ssh/authorized_keys.ferry-tmp > .ssh/authorized_keys; rm -f .ssh/authorized_keys.ferry-tmp; }"
        );
        assert_eq!(empty_dir("/srv/shop/volumes/data"), "[ ! -d /srv/shop/volumes/data ] || find /srv/shop/volumes/data -mindepth 1 -delete");
    }

    #[test]
    fn packages_go_through_sudo_unless_root() {
        assert_eq!(
            install_packages(&paths(&["nginx", "docker.io"]), false),
            "sudo apt-get update -qq && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx docker.io >/dev/null"
        );
        assert_eq!(
            install_packages(&paths(&["nginx"]), true),
            "apt-get update -qq && env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null"
        );
    }

    #[test]
    fn directories_are_made_and_removed_only_when_empty() {
        assert_eq!(make_dirs(&paths(&["/srv/shop", "/srv/shop/data dir"])), "mkdir -p /srv/shop '/srv/shop/data dir'");
        assert_eq!(make_parent("/etc/nginx/conf.d/shop.conf"), "mkdir -p /etc/nginx/conf.d");
        assert_eq!(remove_empty_dirs(&paths(&["/srv/shop/data", "/srv/shop"])), "for d in /srv/shop/data /srv/shop; do rmdir \"$d\" 2>/dev/null || true; done");
        assert_eq!(missing(&paths(&["/srv/a"])), "for p in /srv/a; do [ -e \"$p\" ] || echo \"$p\"; done");
    }

    #[test]
    fn files_are_read_kept_and_put_back() {
        assert_eq!(read_if_present("/srv/.ferry.lock"), "cat /srv/.ferry.lock 2>/dev/null || true");
        assert_eq!(sha256_if_present("/srv/shop/.env"), "sha256sum /srv/shop/.env 2>/dev/null || true");
        assert_eq!(
            backup("/srv/shop/.env", "/srv/shop/.env.ferry-prev.17"),
            "if [ -e /srv/shop/.env ]; then cp -p /srv/shop/.env /srv/shop/.env.ferry-prev.17 && echo kept; \
             ls -1 /srv/shop/.env.ferry-prev.* 2>/dev/null | sort | head -n -5 | xargs -r rm -f; fi"
        );
        assert_eq!(put_back("/srv/shop/.env", Some("/srv/shop/.env.ferry-prev.17")), "cp -p /srv/shop/.env.ferry-prev.17 /srv/shop/.env");
        assert_eq!(put_back("/srv/shop/.env", None), "rm -f /srv/shop/.env");
    }

    #[test]
    fn a_secret_is_made_on_the_host_and_never_half_written() {
        assert_eq!(
            make_secret("/srv/shop/secrets/db"),
            "[ -e /srv/shop/secrets/db ] || (umask 077 && mkdir -p /srv/shop/secrets && od -An -N24 -tx1 /dev/urandom | tr -d ' \\n' \
             > /srv/shop/secrets/db.tmp && mv /srv/shop/secrets/db.tmp /srv/shop/secrets/db)"
        );
    }

    #[test]
    fn the_lock_is_an_exclusive_create_that_names_its_holder_otherwise() {
        assert_eq!(
            try_lock("/srv/.ferry.lock", r#"{"owner":"ci"}"#),
            "mkdir -p \"$(dirname /srv/.ferry.lock)\" && if ( set -C; printf '%s\\n' '{\"owner\":\"ci\"}' > /srv/.ferry.lock ) 2>/dev/null; \
             then echo acquired; else cat /srv/.ferry.lock; fi"
        );
    }

    #[test]
    fn probes_quote_what_a_plan_gives() {
        assert_eq!(
            http_probe("http://127.0.0.1:8080/up?x=1"),
            "if command -v curl >/dev/null; then curl -fsS -o /dev/null -m 2 'http://127.0.0.1:8080/up?x=1'; \
             else wget -q -O /dev/null -T 2 'http://127.0.0.1:8080/up?x=1'; fi 2>/dev/null"
        );
        assert_eq!(tcp_probe("172.18.0.2", 5432), "timeout 2 bash -c 'exec 3<>/dev/tcp/172.18.0.2/5432' 2>/dev/null");
    }

    #[test]
    fn a_hostile_path_stays_one_argument() {
        assert_eq!(remove_file("/srv/x; rm -rf /"), "rm -f '/srv/x; rm -rf /'");
        assert_eq!(read("/srv/$(id)"), "cat '/srv/$(id)'");
    }
}
