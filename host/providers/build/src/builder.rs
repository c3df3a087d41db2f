//! Which engine builds, and why: the plan shows the reason, so a reviewer
//! knows whether build secrets are kept out of the image and which cache
//! applies.
//!
//! The order follows what each engine can do safely
//! (`../shared/reference/build-push.md` §3): Docker with BuildKit (the
//! buildx plugin, or built into a 20.10 engine), then buildah, which keeps
//! build secrets out of layers too, then Docker's classic builder, which
//! drops `RUN --mount=type=secret` (flyctl's `runClassicBuild` passes no
//! secrets) and so only builds images that need none.

use std::ffi::OsStr;
use std::fmt;
use std::process::{Command, Stdio};

use crate::{BuildError, BuildSpec};

/// The engines found on this machine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Engines {
    /// A Docker daemon that answered, and its client.
    pub docker: Option<Docker>,
    /// `buildah --version` ran.
    pub buildah: bool,
}

/// A Docker client whose daemon answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Docker {
    /// The client's version, as `docker version` prints it (`20.10.24`).
    pub client_version: String,
    /// `docker buildx version` ran: BuildKit through the plugin.
    pub buildx: bool,
}

impl Engines {
    /// What this machine has, asked the way a user would: `docker version`
    /// (which fails when no daemon answers), `docker buildx version`,
    /// `buildah --version`.
    pub fn detect() -> Engines {
        Engines::detect_on(std::env::var_os("PATH").as_deref().unwrap_or_default())
    }

    /// [`Engines::detect`] with the programs found on `path`.
    pub fn detect_on(path: &OsStr) -> Engines {
        let run = |program: &str, args: &[&str]| {
            let out = Command::new(program).args(args).env("PATH", path).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        // Asked at once: each is a process start, and `docker version` a daemon round trip.
        std::thread::scope(|threads| {
            let buildx = threads.spawn(|| run("docker", &["buildx", "version"]).is_some());
            let buildah = threads.spawn(|| run("buildah", &["--version"]).is_some());
            let docker = run("docker", &["version", "--format", "{{.Client.Version}} {{.Server.Version}}"])
                .and_then(|versions| versions.split_whitespace().next().map(str::to_string));
            let buildx = buildx.join().unwrap_or(false);
            Engines { docker: docker.map(|client_version| Docker { client_version, buildx }), buildah: buildah.join().unwrap_or(false) }
        })
    }
}

impl Docker {
    /// Docker CLIs before 23 carry BuildKit themselves (`DOCKER_BUILDKIT=1`);
    /// from 23 on it is the buildx plugin or nothing: with
    /// `DOCKER_BUILDKIT=1` and no plugin the CLI fails ("BuildKit is
    /// enabled but the buildx component is missing or broken").
    fn builtin_buildkit(&self) -> bool {
        self.client_version.split('.').next().and_then(|major| major.parse::<u32>().ok()).is_some_and(|major| major < 23)
    }
}

/// An engine, and how ferry drives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builder {
    /// `docker buildx build --load`: BuildKit through the plugin.
    Buildx,
    /// `DOCKER_BUILDKIT=1 docker build` on a CLI that has BuildKit built in.
    DockerBuildKit,
    /// `DOCKER_BUILDKIT=0 docker build`: no build secrets.
    DockerClassic,
    /// `buildah bud`, without a daemon.
    Buildah,
}

impl Builder {
    /// Whether it keeps a build secret out of every layer and the history
    /// (mounted into the `RUN` that asks for it, then gone).
    pub fn takes_secrets(self) -> bool {
        match self {
            Builder::Buildx | Builder::DockerBuildKit | Builder::Buildah => true,
            Builder::DockerClassic => false,
        }
    }
}

impl fmt::Display for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Builder::Buildx => "docker buildx (BuildKit)",
            Builder::DockerBuildKit => "docker build (BuildKit)",
            Builder::DockerClassic => "docker build (classic builder)",
            Builder::Buildah => "buildah",
        })
    }
}

/// The engine chosen, with the sentence the plan shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub builder: Builder,
    pub reason: String,
}

/// Picks the engine for `spec` from what this machine has.
pub fn choose(engines: &Engines, spec: &BuildSpec) -> Result<Choice, BuildError> {
    let choice = |builder, reason: String| Ok(Choice { builder, reason });
    match &engines.docker {
        Some(docker) if docker.buildx => choice(Builder::Buildx, format!("Docker {} with the buildx plugin: BuildKit", docker.client_version)),
        Some(docker) if docker.builtin_buildkit() => {
            choice(Builder::DockerBuildKit, format!("Docker {}, whose engine has BuildKit built in", docker.client_version))
        }
        Some(docker) => match beyond_classic(spec) {
            None => choice(
                Builder::DockerClassic,
                format!(
                    "Docker {} without the buildx plugin: its classic builder (the build has no secrets, which it could not keep out of the image; \
                     it reads no layer cache from a registry)",
                    docker.client_version
                ),
            ),
            Some(needs) if engines.buildah => {
                choice(Builder::Buildah, format!("buildah: Docker {} has no buildx plugin, and {needs}", docker.client_version))
            }
            Some(needs) => Err(BuildError::Unsupported(format!(
                "Docker {} has no buildx plugin, and {needs}: install it (Debian: docker-buildx; Docker's own packages: docker-buildx-plugin) or buildah",
                docker.client_version
            ))),
        },
        None if engines.buildah => choice(Builder::Buildah, "buildah: no Docker daemon answered here, and buildah needs none".into()),
        None => Err(BuildError::NoEngine("no Docker daemon answered and buildah is not installed: install Docker (Debian: docker.io) or buildah, or give an image built elsewhere with --image".into())),
    }
}

/// What in `spec` Docker's classic builder cannot do, as the end of a
/// sentence; `None` when it can build it.
fn beyond_classic(spec: &BuildSpec) -> Option<String> {
    let mut needs = Vec::new();
    if !spec.secrets.is_empty() {
        needs.push(format!("only BuildKit or buildah keep the build secrets ({}) out of the image", spec.secrets.join(", ")));
    }
    if let Some(file) = &spec.ignorefile {
        needs.push(format!("only BuildKit or buildah read the ignorefile {} (the classic builder reads the context's .dockerignore only)", file.display()));
    }
    (!needs.is_empty()).then(|| needs.join(", and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker(version: &str, buildx: bool) -> Option<Docker> {
        Some(Docker { client_version: version.into(), buildx })
    }

    fn spec(secrets: &[&str]) -> BuildSpec {
        BuildSpec { secrets: secrets.iter().map(|s| s.to_string()).collect(), ..BuildSpec::default() }
    }

    #[test]
    fn buildkit_first_wherever_docker_has_it() {
        let with_plugin = Engines { docker: docker("28.2.2", true), buildah: true };
        assert_eq!(choose(&with_plugin, &spec(&["NPM_TOKEN"])).unwrap().builder, Builder::Buildx);
        let debian = Engines { docker: docker("20.10.24+dfsg1", false), buildah: false };
        let choice = choose(&debian, &spec(&["NPM_TOKEN"])).unwrap();
        assert_eq!(choice.builder, Builder::DockerBuildKit);
        assert_eq!(choice.reason, "Docker 20.10.24+dfsg1, whose engine has BuildKit built in");
    }

    #[test]
    fn a_build_with_secrets_never_reaches_the_classic_builder() {
        let no_plugin = Engines { docker: docker("28.2.2", false), buildah: false };
        assert_eq!(choose(&no_plugin, &spec(&[])).unwrap().builder, Builder::DockerClassic);
        let err = choose(&no_plugin, &spec(&["NPM_TOKEN"])).unwrap_err().to_string();
        assert!(
            err.starts_with("Docker 28.2.2 has no buildx plugin, and only BuildKit or buildah keep the build secrets (NPM_TOKEN) out of the image: install it"),
            "{err}"
        );
        let ignoring = BuildSpec { ignorefile: Some("/src/shop/.ci-ignore".into()), ..spec(&[]) };
        let err = choose(&no_plugin, &ignoring).unwrap_err().to_string();
        assert!(err.contains("only BuildKit or buildah read the ignorefile /src/shop/.ci-ignore"), "{err}");
        let with_buildah = Engines { buildah: true, ..no_plugin };
        let choice = choose(&with_buildah, &spec(&["NPM_TOKEN"])).unwrap();
        assert_eq!(choice.builder, Builder::Buildah);
        assert!(choice.reason.contains("keep the build secrets (NPM_TOKEN) out of the image"), "{}", choice.reason);
        assert!(!Builder::DockerClassic.takes_secrets());
    }

    /// `docker` and `buildah` stand-ins on a PATH of their own: what each
    /// answer of the real CLIs means.
    fn path_with(docker: &str, buildah: bool) -> (tempfile::TempDir, std::ffi::OsString) {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| ferry_test_support::write_executable(&dir.path().join(name), &format!("#!/bin/sh\n{body}\n"));
        write("docker", docker);
        if buildah {
            write("buildah", "echo 'buildah version 1.28.2 (image-spec 1.1.0-rc2, runtime-spec 1.0.2-dev)'");
        }
        // Only the stand-ins: `[` and `echo` are the shell's own.
        let path = dir.path().as_os_str().to_owned();
        (dir, path)
    }

    #[test]
    fn detection_reads_what_the_clis_answer() {
        // Debian's 20.10: the daemon answers, no buildx subcommand.
        let (_dir, path) = path_with(r#"[ "$1" = version ] && { echo "20.10.24+dfsg1 20.10.24+dfsg1"; exit 0; }; exit 1"#, false);
        let found = Engines::detect_on(&path);
        assert_eq!(found, Engines { docker: Some(Docker { client_version: "20.10.24+dfsg1".into(), buildx: false }), buildah: false });
        // The client prints its version and fails: no daemon answered.
        let (_dir, path) = path_with(r#"[ "$1" = version ] && { echo "28.2.2 "; exit 1; }; exit 0"#, true);
        assert_eq!(Engines::detect_on(&path), Engines { docker: None, buildah: true });
        let (_dir, path) = path_with(r#"[ "$1" = version ] && echo "28.2.2 28.2.2"; exit 0"#, false);
        assert!(Engines::detect_on(&path).docker.is_some_and(|d| d.buildx));
    }

    #[test]
    fn this_machine_has_buildah() {
        // scripts/install-deps --test installs it for the real builds.
        assert!(Engines::detect().buildah, "buildah --version failed: run scripts/install-deps --test");
    }

    #[test]
    fn without_a_daemon_buildah_or_a_named_install() {
        assert_eq!(choose(&Engines { docker: None, buildah: true }, &spec(&[])).unwrap().builder, Builder::Buildah);
        let err = choose(&Engines::default(), &spec(&[])).unwrap_err().to_string();
        assert!(err.contains("install Docker (Debian: docker.io) or buildah, or give an image built elsewhere with --image"), "{err}");
    }
}
