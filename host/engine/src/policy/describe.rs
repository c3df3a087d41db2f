//! What the host will do for an operation, in the words a reviewer reads.
//!
//! Built from the operation's fields only, never from the step's summary:
//! the app, machines, image, paths (with `..` resolved), modes, commands,
//! mounts, secret *names*, records and databases. Plain text; each renderer
//! escapes it for its medium, since every value in it came from a step.
//! Each provider's words are beside its operations, in [`crate::ops`].

use ferry_model::{Operation, Undo};

use super::OperationPolicy;

/// What running `op` does.
pub fn describe(op: &Operation) -> String {
    op.describe()
}

/// How `undo` reverses an action whose operation is `op`. For
/// [`Undo::None`] only "nothing": the step's reason is its own words, for
/// the renderers to label as such.
pub fn describe_undo(op: &Operation, undo: &Undo) -> String {
    match undo {
        Undo::Run(undo_op) => format!("runs: {}", describe(undo_op)),
        Undo::RestorePrevious => op.restore().does.to_string(),
        Undo::None(_) => "nothing undoes it".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::words::{duration, mount};
    use ferry_model::vm::{VmContainer, VmEnvFile, VmFile};
    use ferry_model::vm::{VmFileValue, VmPort};
    use ferry_model::{ControlOp, FlyOp, VmOp};
    use ferry_model::{FlyMachine, FlyMachines};
    use ferry_model::{FlySecrets, FlyWait};

    #[test]
    fn a_bind_mount_shows_where_it_really_points() {
        let c = VmContainer {
            volumes: vec![("/srv/ferry/shop/volumes/../../../../".into(), "/data".into())],
            ..VmContainer::new("test", "shop-app-1", "ferry-shop:release-1")
        };
        let text = describe(&Operation::Vm(VmOp::Run(c)));
        assert!(text.contains("bind-mounts host path /srv/ferry/shop/volumes/../../../../ (that is /) at /data, read-write"), "{text}");
    }

    #[test]
    fn a_mount_reads_as_docker_reads_it() {
        assert_eq!(mount("/srv/a", "/data:ro"), "bind-mounts host path /srv/a at /data, read-only");
        assert_eq!(mount("pgdata", "/var/lib/postgresql"), "mounts Docker volume pgdata at /var/lib/postgresql, read-write");
        assert!(mount("/", "/a:/b:ro").contains("not a mount Docker reads"));
    }

    #[test]
    fn secrets_are_named_never_valued() {
        let op = Operation::Fly(FlyOp::SetSecrets(FlySecrets { app: "other-app".into(), names: vec!["DATABASE_URL".into(), "STRIPE_KEY".into()] }));
        assert_eq!(
            describe(&op),
            "set secret(s) DATABASE_URL, STRIPE_KEY on Fly app other-app, each from this run's FERRY_SECRET_<NAME>, replacing any value of that name"
        );
        let env = Operation::Vm(VmOp::EnvFile(VmEnvFile {
            target: "t".into(),
            path: "/var/www/html/env".into(),
            env: vec![("PORT".into(), "8080".into())],
            secrets: vec!["API_KEY".into()],
            from_files: vec![VmFileValue { name: "PGPASSWORD".into(), path: "/srv/pg/password".into(), template: "{file}".into() }],
        }));
        let text = describe(&env);
        assert!(text.contains("/var/www/html/env") && text.contains("API_KEY") && text.contains("PGPASSWORD made from host file /srv/pg/password"), "{text}");
        assert!(!text.contains("8080"), "plain values are named, not shown: {text}");
    }

    #[test]
    fn a_vm_file_shows_its_mode_and_command() {
        let f = VmFile { target: "t".into(), path: "/etc/nginx/sites-enabled/x".into(), contents: "abc".into(), mode: 0o4755, reload: true };
        assert_eq!(
            describe(&Operation::Vm(VmOp::WriteFile(f))),
            "write /etc/nginx/sites-enabled/x on host t (mode 4755, 3 bytes), then test and reload nginx (the target's `nginx_reload` in ferry.toml)"
        );
    }

    #[test]
    fn machines_show_image_command_and_mounts() {
        let config = r#"{"image":"registry.fly.io/shop:v2","init":{"cmd":["bin/web"]},"mounts":[{"volume":"vol_1","path":"/data"}]}"#;
        let m = FlyMachines {
            app: "shop".into(),
            machines: vec![FlyMachine {
                id: Some("1853e92c".into()),
                launch_id: None,
                name: None,
                region: "ams".into(),
                group: "web".into(),
                config: config.into(),
                skip_launch: false,
                skip_service_registration: false,
            }],
            wait: FlyWait { health: true, timeout_ms: 300_000, smoke_check_ms: 10_000, retries: 0 },
        };
        assert_eq!(
            describe(&Operation::Fly(FlyOp::UpdateMachines(m))),
            "replace the config of 1 machine: 1853e92c (group web, ams) [image registry.fly.io/shop:v2, command bin/web, mounts vol_1 at /data] \
             in Fly app shop (each restarts); then wait until they are healthy (up to 5 min)"
        );
    }

    #[test]
    fn an_undo_run_is_described_like_an_action() {
        let op = Operation::Control(ControlOp::WaitMs(1));
        let undo = Undo::Run(Operation::Fly(FlyOp::DestroyApp("shop".into())));
        assert_eq!(describe_undo(&op, &undo), "runs: DELETE Fly app shop with all its machines, volumes, secrets and addresses");
        assert_eq!(describe_undo(&op, &Undo::None("x".into())), "nothing undoes it");
        let reload =
            Operation::Vm(VmOp::WriteFile(VmFile { target: "t".into(), path: "/etc/nginx/x".into(), contents: String::new(), mode: 0o644, reload: true }));
        assert_eq!(describe_undo(&reload, &Undo::RestorePrevious), "puts the file back as it was (or removes it), then reloads nginx");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(90_000), "90 s");
        assert_eq!(duration(300_000), "5 min");
        assert_eq!(duration(9_000_000), "2 h 30 min");
        assert_eq!(duration(u64::MAX), "213503982334 d");
    }

    #[test]
    fn ports_say_when_they_are_reachable_from_elsewhere() {
        let c = VmContainer { ports: vec![VmPort { host_ip: "0.0.0.0".into(), host_port: 80, container_port: 8080 }], ..VmContainer::new("t", "n", "i") };
        assert!(describe(&Operation::Vm(VmOp::Run(c))).contains("publishes 0.0.0.0:80 -> 8080 (reachable from other machines)"));
    }
}
