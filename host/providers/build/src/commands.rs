//! The command line of a build, as a pure function of the engine and the
//! spec: what runs is readable here and asserted as text below, and the
//! caller only spawns it. Every value is its own argument (no shell), and a
//! build secret appears only as its name and the variable the engine reads
//! it from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use base64::Engine;
use ferry_ssh::shell_quote;

use crate::{BuildError, BuildSpec, Builder, LayerCache, PLATFORM, SECRET_VAR_PREFIX};

/// A program, the environment it adds, and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub program: &'static str,
    /// Variables set for the engine (never a secret's value).
    pub env: Vec<(&'static str, String)>,
    pub args: Vec<String>,
}

impl fmt::Display for Command {
    /// The command as a person would type it, for logs and the plan.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.env {
            write!(f, "{name}={value} ")?;
        }
        f.write_str(self.program)?;
        for arg in &self.args {
            write!(f, " {}", shell_quote(arg))?;
        }
        Ok(())
    }
}

/// `builder`'s command that builds `spec` into the image `spec.tag`,
/// writing its id to `spec.iidfile`.
pub fn build(builder: Builder, spec: &BuildSpec) -> Result<Command, BuildError> {
    spec.check()?;
    if !builder.takes_secrets() && !spec.secrets.is_empty() {
        return Err(BuildError::Unsupported(format!("{builder} cannot keep build secrets out of the image; choose the builder with builder::choose")));
    }
    if builder == Builder::DockerClassic && spec.ignorefile.is_some() {
        return Err(BuildError::Unsupported(format!("{builder} reads only the context's own .dockerignore; choose the builder with builder::choose")));
    }
    // Docker reads the registry login for the cache from its config directory.
    let config: Vec<String> = match &spec.cache {
        Some(cache) if !spec.no_cache && matches!(builder, Builder::Buildx | Builder::DockerBuildKit) => {
            vec!["--config".into(), cache.auth_dir.display().to_string()]
        }
        Some(_) | None => vec![],
    };
    let (program, env, mut args): (_, Vec<(&str, String)>, Vec<String>) = match builder {
        Builder::Buildx => ("docker", vec![], [config, vec!["buildx".into(), "build".into(), "--load".into()]].concat()),
        Builder::DockerBuildKit => ("docker", vec![("DOCKER_BUILDKIT", "1".into())], [config, vec!["build".into()]].concat()),
        Builder::DockerClassic => ("docker", vec![("DOCKER_BUILDKIT", "0".into())], vec!["build".into()]),
        // `--layers`: cache each step as an image, as Docker does;
        // `--format docker`: the manifest type registry.fly.io serves.
        Builder::Buildah => ("buildah", vec![], vec!["bud".into(), "--layers".into(), "--format".into(), "docker".into()]),
    };
    args.extend(["--platform".into(), PLATFORM.into()]);
    if let Some(dockerfile) = &spec.dockerfile {
        args.extend(["--file".into(), dockerfile.display().to_string()]);
    }
    if let Some(target) = &spec.target {
        args.extend(["--target".into(), target.clone()]);
    }
    for (name, value) in &spec.args {
        args.extend(["--build-arg".into(), format!("{name}={value}")]);
    }
    for name in &spec.secrets {
        args.extend(["--secret".into(), format!("id={name},env={SECRET_VAR_PREFIX}{name}")]);
    }
    for (name, value) in &spec.labels {
        args.extend(["--label".into(), format!("{name}={value}")]);
    }
    if let Some(ignorefile) = &spec.ignorefile {
        match builder {
            Builder::Buildah => args.extend(["--ignorefile".into(), ignorefile.display().to_string()]),
            // BuildKit reads `<Dockerfile>.dockerignore` beside the Dockerfile
            // over the context's own (DD:build/concepts/context.md): the
            // caller gives it that Dockerfile (`dockerfile_beside`).
            Builder::Buildx | Builder::DockerBuildKit => {}
            Builder::DockerClassic => unreachable!("refused above"),
        }
    }
    if spec.no_cache {
        args.push("--no-cache".into());
    } else if let Some(cache) = &spec.cache {
        args.extend(cache_args(builder, cache));
    }
    args.extend(["--iidfile".into(), spec.iidfile.display().to_string(), "--tag".into(), spec.tag.clone()]);
    // `--`: the context is positional, after every option, whatever its name.
    args.extend(["--".into(), spec.context.display().to_string()]);
    Ok(Command { program, env, args })
}

/// The flags that read the layer cache from the registry and write it back.
fn cache_args(builder: Builder, cache: &LayerCache) -> Vec<String> {
    let mut args = Vec::new();
    match builder {
        // One image per cached step, in the app's repository (buildah ≥ 1.27).
        Builder::Buildah => {
            args.extend(["--cache-from".into(), cache.repository.clone(), "--cache-to".into(), cache.repository.clone()]);
            args.extend(["--authfile".into(), cache.auth_dir.join("config.json").display().to_string()]);
        }
        // The cache travels inside the pushed image (the only export
        // Docker's own driver has), and is read from the image the app runs.
        Builder::Buildx => args.extend(["--cache-to".into(), "type=inline".into()]),
        Builder::DockerBuildKit => args.extend(["--build-arg".into(), "BUILDKIT_INLINE_CACHE=1".into()]),
        // It reads a cache only from images already on the engine.
        Builder::DockerClassic => return args,
    }
    if let (Builder::Buildx | Builder::DockerBuildKit, Some(from)) = (builder, &cache.from) {
        args.extend(["--cache-from".into(), from.clone()]);
    }
    args
}

/// A Cloud Native Buildpacks build (fly.toml's `[build] builder` and
/// `buildpacks`), published straight to the registry as flyctl's buildpacks
/// builder does (the `pack` CLI here, its Go library there).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackSpec {
    pub builder: String,
    pub buildpacks: Vec<String>,
    pub context: PathBuf,
    /// `[build.args]` and `--build-arg`: flyctl gives them to buildpacks as
    /// build-time environment (`buildpacks_builder.go`).
    pub env: BTreeMap<String, String>,
    pub tag: String,
    /// `--no-cache`: pack's `--clear-cache`.
    pub no_cache: bool,
    /// The login `pack` reads (`DOCKER_CONFIG`), as for a push.
    pub auth_dir: PathBuf,
}

/// `pack build`'s command for `spec`: published to `spec.tag`'s registry,
/// for `linux/amd64`, its layer cache kept beside the image in the app's
/// repository (flyctl's `<registry>/<app>:cache`).
pub fn pack(spec: &PackSpec) -> Result<Command, BuildError> {
    for name in spec.env.keys() {
        if name.is_empty() || name.contains('=') {
            return Err(BuildError::Invalid { what: "build arg", value: name.clone(), why: "is not an environment variable's name" });
        }
    }
    let repository = spec.tag.rsplit_once(':').map(|(repository, _)| repository).unwrap_or(&spec.tag);
    let mut args: Vec<String> = vec!["build".into(), spec.tag.clone(), "--builder".into(), spec.builder.clone()];
    for buildpack in &spec.buildpacks {
        args.extend(["--buildpack".into(), buildpack.clone()]);
    }
    for (name, value) in &spec.env {
        args.extend(["--env".into(), format!("{name}={value}")]);
    }
    args.extend(["--path".into(), spec.context.display().to_string(), "--platform".into(), PLATFORM.into()]);
    args.extend(["--cache-image".into(), format!("{repository}:cache"), "--publish".into()]);
    if spec.no_cache {
        args.push("--clear-cache".into());
    }
    Ok(Command { program: "pack", env: vec![("DOCKER_CONFIG", spec.auth_dir.display().to_string())], args })
}

/// A push of a built image to its registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushSpec {
    /// The image as built, named for its registry (`registry.fly.io/<app>:<tag>`).
    pub tag: String,
    /// A directory holding the login as Docker's `config.json`
    /// ([`auth_config`]), made for this push and removed after it: the
    /// password is never an argument, so no process listing shows it.
    pub auth_dir: PathBuf,
    /// A directory holding the registry's CA as `ca.crt`, when the system's
    /// roots do not cover it (buildah only: Docker trusts what its daemon
    /// trusts, `/etc/docker/certs.d`).
    pub cert_dir: Option<PathBuf>,
    /// Where buildah writes the digest of the manifest it pushed.
    pub digestfile: PathBuf,
}

/// `builder`'s command that pushes `spec.tag`. buildah writes the digest to
/// `spec.digestfile`; Docker prints it ([`pushed_digest`]).
pub fn push(builder: Builder, spec: &PushSpec) -> Command {
    let auth = spec.auth_dir.join("config.json").display().to_string();
    match builder {
        Builder::Buildx | Builder::DockerBuildKit | Builder::DockerClassic => {
            Command { program: "docker", env: vec![], args: vec!["--config".into(), spec.auth_dir.display().to_string(), "push".into(), spec.tag.clone()] }
        }
        Builder::Buildah => {
            let mut args = vec!["push".into(), "--authfile".into(), auth];
            if let Some(dir) = &spec.cert_dir {
                args.extend(["--cert-dir".into(), dir.display().to_string()]);
            }
            // v2s2: the Docker manifest the build made (`--format docker`), kept as is.
            args.extend(["--format".into(), "v2s2".into(), "--digestfile".into(), spec.digestfile.display().to_string()]);
            args.extend(["--".into(), spec.tag.clone(), format!("docker://{}", spec.tag)]);
            Command { program: "buildah", env: vec![], args }
        }
    }
}

/// The login a push reads, as Docker's `config.json` (buildah reads the
/// same file): `auths.<registry>.auth` is base64 of `user:password`, what
/// `fly auth docker` writes when there is no docker binary.
pub fn auth_config(registry: &str, user: &str, password: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    serde_json::json!({ "auths": { registry: { "auth": auth } } }).to_string()
}

/// The digest `docker push` prints last (`<tag>: digest: sha256:… size: N`).
pub fn pushed_digest(output: &str) -> Option<&str> {
    output.lines().rev().find_map(|line| line.split_whitespace().skip_while(|w| *w != "digest:").nth(1)).filter(|d| d.starts_with("sha256:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BuildSpec {
        BuildSpec {
            context: "/src/shop".into(),
            dockerfile: Some("/src/shop/deploy/Dockerfile".into()),
            target: Some("release".into()),
            args: [("RUBY_VERSION".to_string(), "3.3 slim".to_string())].into(),
            secrets: vec!["NPM_TOKEN".into()],
            labels: [("GH_SHA".to_string(), "abc123".to_string())].into(),
            no_cache: true,
            tag: "registry.fly.io/shop:deployment-01JD".into(),
            iidfile: "/tmp/ferry-build/iid".into(),
            ignorefile: None,
            cache: None,
        }
    }

    const FLAGS: &str = "--platform linux/amd64 --file /src/shop/deploy/Dockerfile --target release --build-arg 'RUBY_VERSION=3.3 slim' \
        --secret id=NPM_TOKEN,env=FERRY_SECRET_NPM_TOKEN --label GH_SHA=abc123 --no-cache --iidfile /tmp/ferry-build/iid \
        --tag registry.fly.io/shop:deployment-01JD -- /src/shop";

    #[test]
    fn each_engine_gets_the_same_build_in_its_own_words() {
        assert_eq!(build(Builder::Buildx, &spec()).unwrap().to_string(), format!("docker buildx build --load {FLAGS}"));
        assert_eq!(build(Builder::DockerBuildKit, &spec()).unwrap().to_string(), format!("DOCKER_BUILDKIT=1 docker build {FLAGS}"));
        assert_eq!(build(Builder::Buildah, &spec()).unwrap().to_string(), format!("buildah bud --layers --format docker {FLAGS}"));
    }

    /// The cache is read and written with the push's login, in each engine's
    /// own words; `--no-cache` reads none and writes none.
    #[test]
    fn the_layer_cache_lives_in_the_apps_repository() {
        let mut s = spec();
        s.no_cache = false;
        s.secrets.clear();
        s.cache = Some(LayerCache {
            repository: "registry.fly.io/shop".into(),
            from: Some("registry.fly.io/shop:deployment-01JC@sha256:aa".into()),
            auth_dir: "/tmp/ferry-push".into(),
        });
        let tail = |command: Command| command.to_string().split(" --label GH_SHA=abc123 ").nth(1).unwrap().to_string();
        assert_eq!(
            tail(build(Builder::Buildah, &s).unwrap()),
            "--cache-from registry.fly.io/shop --cache-to registry.fly.io/shop --authfile /tmp/ferry-push/config.json \
             --iidfile /tmp/ferry-build/iid --tag registry.fly.io/shop:deployment-01JD -- /src/shop"
        );
        let buildx = build(Builder::Buildx, &s).unwrap();
        assert!(buildx.to_string().starts_with("docker --config /tmp/ferry-push buildx build --load "), "{buildx}");
        assert!(tail(buildx).starts_with("--cache-to type=inline --cache-from registry.fly.io/shop:deployment-01JC@sha256:aa --iidfile"));
        let buildkit = build(Builder::DockerBuildKit, &s).unwrap();
        assert!(buildkit.to_string().starts_with("DOCKER_BUILDKIT=1 docker --config /tmp/ferry-push build "), "{buildkit}");
        assert!(tail(buildkit).starts_with("--build-arg BUILDKIT_INLINE_CACHE=1 --cache-from registry.fly.io/shop:deployment-01JC@sha256:aa --iidfile"));
        assert!(tail(build(Builder::DockerClassic, &s).unwrap()).starts_with("--iidfile"));
        s.no_cache = true;
        for builder in [Builder::Buildah, Builder::Buildx, Builder::DockerBuildKit] {
            let command = build(builder, &s).unwrap().to_string();
            assert!(!command.contains("cache-") && !command.contains("--config") && !command.contains("INLINE"), "{command}");
        }
    }

    #[test]
    fn an_ignorefile_reaches_buildah_and_never_the_classic_builder() {
        let mut s = spec();
        s.secrets.clear();
        s.ignorefile = Some("/src/shop/.ci-ignore".into());
        assert!(build(Builder::Buildah, &s).unwrap().to_string().contains(" --ignorefile /src/shop/.ci-ignore --no-cache "));
        let err = build(Builder::DockerClassic, &s).unwrap_err().to_string();
        assert!(err.contains("reads only the context's own .dockerignore"), "{err}");
    }

    #[test]
    fn a_buildpacks_build_publishes_with_the_pushs_login() {
        let spec = PackSpec {
            builder: "paketobuildpacks/builder:base".into(),
            buildpacks: vec!["gcr.io/paketo-buildpacks/nodejs".into()],
            context: "/src/shop".into(),
            env: [("NODE_ENV".to_string(), "production mode".to_string())].into(),
            tag: "registry.fly.io/shop:deployment-01JD".into(),
            no_cache: true,
            auth_dir: "/tmp/ferry-push".into(),
        };
        assert_eq!(
            pack(&spec).unwrap().to_string(),
            "DOCKER_CONFIG=/tmp/ferry-push pack build registry.fly.io/shop:deployment-01JD --builder paketobuildpacks/builder:base \
             --buildpack gcr.io/paketo-buildpacks/nodejs --env 'NODE_ENV=production mode' --path /src/shop --platform linux/amd64 \
             --cache-image registry.fly.io/shop:cache --publish --clear-cache"
        );
        let bad = PackSpec { env: [("A=B".to_string(), "v".to_string())].into(), ..spec };
        assert!(matches!(pack(&bad), Err(BuildError::Invalid { .. })));
    }

    #[test]
    fn a_value_is_one_argument_whatever_it_holds() {
        let mut s = spec();
        s.args = [("MOTD".to_string(), "$(reboot); echo 'hi'".to_string())].into();
        let command = build(Builder::Buildx, &s).unwrap();
        assert!(command.args.contains(&"MOTD=$(reboot); echo 'hi'".to_string()));
        assert!(command.to_string().contains(r"--build-arg 'MOTD=$(reboot); echo '\''hi'\'''"), "{command}");
    }

    #[test]
    fn a_secret_crosses_by_name_and_never_to_the_classic_builder() {
        let mut s = spec();
        let command = build(Builder::Buildah, &s).unwrap();
        assert!(command.env.is_empty());
        let err = build(Builder::DockerClassic, &s).unwrap_err().to_string();
        assert!(err.starts_with("docker build (classic builder) cannot keep build secrets out of the image"), "{err}");
        s.secrets.clear();
        assert!(build(Builder::DockerClassic, &s).unwrap().to_string().starts_with("DOCKER_BUILDKIT=0 docker build --platform linux/amd64"));
    }

    #[test]
    fn a_push_reads_its_login_from_a_file_never_an_argument() {
        let spec = PushSpec {
            tag: "registry.fly.io/shop:deployment-01JD".into(),
            auth_dir: "/tmp/ferry-push".into(),
            cert_dir: Some("/tmp/ca".into()),
            digestfile: "/tmp/ferry-push/digest".into(),
        };
        assert_eq!(
            push(Builder::Buildah, &spec).to_string(),
            "buildah push --authfile /tmp/ferry-push/config.json --cert-dir /tmp/ca --format v2s2 --digestfile /tmp/ferry-push/digest \
             -- registry.fly.io/shop:deployment-01JD docker://registry.fly.io/shop:deployment-01JD"
        );
        assert_eq!(push(Builder::Buildx, &spec).to_string(), "docker --config /tmp/ferry-push push registry.fly.io/shop:deployment-01JD");
        let config: serde_json::Value = serde_json::from_str(&auth_config("registry.fly.io", "x", "fm2_a,fm2_b")).unwrap();
        assert_eq!(config["auths"]["registry.fly.io"]["auth"], "eDpmbTJfYSxmbTJfYg==");
    }

    #[test]
    fn dockers_push_output_names_the_digest() {
        let out = "The push refers to repository [registry.fly.io/shop]\n5f70bf18a086: Pushed\n\
                   deployment-01JD: digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef size: 528\n";
        assert_eq!(pushed_digest(out), Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
        assert_eq!(pushed_digest("denied: requested access to the resource is denied"), None);
    }

    #[test]
    fn a_name_an_engine_would_split_is_refused() {
        for (field, bad) in [("arg", "A=B"), ("arg", ""), ("secret", "NPM-TOKEN"), ("secret", "1PASSWORD"), ("label", "a b")] {
            let mut s = spec();
            match field {
                "arg" => s.args = [(bad.to_string(), "v".to_string())].into(),
                "secret" => s.secrets = vec![bad.to_string()],
                _ => s.labels = [(bad.to_string(), "v".to_string())].into(),
            }
            let err = build(Builder::Buildx, &s).unwrap_err();
            assert!(matches!(err, BuildError::Invalid { .. }), "{field} {bad:?}: {err}");
        }
    }
}
