//! Wire types: exit codes from events, lossless configs, config comparison.

use std::time::Duration;

use ferry_fly::{Check, Event, LAUNCH_ID_METADATA_KEY, LaunchInput, Machine, MachineConfig, Service, StopInput, last_exit_after_start};
use serde_json::{Value, json};

fn events(value: Value) -> Vec<Event> {
    serde_json::from_value(value).unwrap()
}

#[test]
fn exit_code_reads_the_monitor_event_shape() {
    let events = events(json!([
        {"type": "exit", "timestamp": 3000, "request": {"MonitorEvent": {"exit_event": {"exit_code": 2}}, "exit_event": {"exit_code": 9}}},
        {"type": "start", "timestamp": 2000},
        {"type": "launch", "timestamp": 1000}
    ]));
    assert_eq!(last_exit_after_start(&events).and_then(Event::exit_code), Some(2), "MonitorEvent wins");
}

#[test]
fn exit_code_falls_back_to_the_request_exit_event() {
    let events = events(json!([
        {"type": "exit", "timestamp": 3000, "request": {"exit_event": {"exit_code": 127, "requested_stop": false}}},
        {"type": "start", "timestamp": 2000}
    ]));
    let exit = last_exit_after_start(&events).unwrap();
    assert_eq!(exit.exit_code(), Some(127));
    assert!(!exit.requested_stop());
    // omitempty in fly-go: an exit event without exit_code exited 0.
    let clean = events_with_exit(json!({"exit_event": {"requested_stop": true}}));
    assert_eq!(last_exit_after_start(&clean).and_then(Event::exit_code), Some(0));
    assert!(last_exit_after_start(&clean).unwrap().requested_stop());
}

fn events_with_exit(request: Value) -> Vec<Event> {
    events(json!([{"type": "exit", "timestamp": 2, "request": request}, {"type": "start", "timestamp": 1}]))
}

#[test]
fn exit_code_only_counts_the_last_exit_after_the_last_start() {
    // An earlier run exited 1; the current run has not exited.
    let running = events(json!([
        {"type": "start", "timestamp": 3000},
        {"type": "exit", "timestamp": 2000, "request": {"exit_event": {"exit_code": 1}}},
        {"type": "start", "timestamp": 1000}
    ]));
    assert!(last_exit_after_start(&running).is_none());
    // Out-of-order events are ordered by timestamp.
    let shuffled = events(json!([
        {"type": "start", "timestamp": 1000},
        {"type": "exit", "timestamp": 4000, "request": {"exit_event": {"exit_code": 5}}},
        {"type": "exit", "timestamp": 3000, "request": {"exit_event": {"exit_code": 4}}},
        {"type": "start", "timestamp": 2000}
    ]));
    assert_eq!(last_exit_after_start(&shuffled).and_then(Event::exit_code), Some(5));
    // No start at all: nothing to report, like fly-go.
    let no_start = events(json!([{"type": "exit", "timestamp": 1, "request": {"exit_event": {"exit_code": 3}}}]));
    assert!(last_exit_after_start(&no_start).is_none());
    let machine: Machine = serde_json::from_value(json!({"id": "m", "events": [
        {"type": "exit", "timestamp": 2, "request": {"exit_event": {"exit_code": 42}}},
        {"type": "start", "timestamp": 1}
    ]}))
    .unwrap();
    assert_eq!(machine.exit_code(), Some(42));
}

fn full_config() -> Value {
    json!({
        "image": "registry.fly.io/web@sha256:abc",
        "env": {"PRIMARY_REGION": "ams", "FLY_PROCESS_GROUP": "app"},
        "init": {"cmd": ["bin/server"], "tty": false, "future_init_flag": true},
        "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256, "persist_rootfs": "never"},
        "metadata": {"fly_platform_version": "v2", "fly_process_group": "app", "fly_release_id": "r1"},
        "mounts": [{"volume": "vol_1", "path": "/data", "name": "data", "encrypted": true}],
        "services": [{
            "protocol": "tcp", "internal_port": 8080, "autostop": "suspend", "autostart": true,
            "ports": [{"port": 443, "handlers": ["tls", "http"], "tls_options": {"alpn": ["h2"]}}],
            "checks": [{"type": "http", "port": 8080, "interval": "15s", "path": "/health", "headers": [{"name": "X", "values": ["1"]}]}],
            "concurrency": {"type": "requests", "soft_limit": 20, "hard_limit": 25},
            "force_instance_key": null,
            "brand_new_service_knob": {"x": 1}
        }],
        "checks": {"alive": {"type": "tcp", "port": 8080, "grace_period": "5s", "kind": "readiness"}},
        "restart": {"policy": "on-failure", "max_retries": 10},
        "auto_destroy": false,
        "files": [{"guest_path": "/etc/app.toml", "secret_name": "APP_TOML"}],
        "containers": [{"name": "sidecar", "image": "nginx"}],
        "stop_config": {"signal": "SIGTERM", "timeout": "30s"},
        "totally_unknown_top_level": [1, {"deep": "value"}]
    })
}

#[test]
fn machine_config_round_trips_losslessly() {
    let machine = json!({"id": "m1", "state": "started", "config": full_config()});
    let machine: Machine = serde_json::from_value(machine).unwrap();
    let config = machine.config.clone().unwrap();
    assert_eq!(serde_json::to_value(&config).unwrap(), full_config());
    // Through a launch input (how a saved config is re-applied on rollback).
    let input = LaunchInput { config, ..LaunchInput::default() };
    assert_eq!(serde_json::to_value(&input).unwrap()["config"], full_config());
    assert_eq!(serde_json::to_value(&input).unwrap().as_object().unwrap().len(), 1, "unset fields are omitted");
}

#[test]
fn typed_views_read_and_write_without_losing_fields() {
    let mut config: MachineConfig = serde_json::from_value(full_config()).unwrap();
    assert_eq!(config.image(), Some("registry.fly.io/web@sha256:abc"));
    assert_eq!(config.env()["PRIMARY_REGION"], "ams");
    assert_eq!(config.metadata_value("fly_release_id"), Some("r1"));
    assert_eq!(config.process_group(), Some("app"));
    assert_eq!(config.guest().unwrap().unwrap().memory_mb, Some(256));
    assert_eq!(config.init().unwrap().unwrap().cmd, Some(vec!["bin/server".to_owned()]));
    assert_eq!(config.restart().unwrap().unwrap().policy.as_deref(), Some("on-failure"));
    assert_eq!(config.mounts().unwrap()[0].path.as_deref(), Some("/data"));
    assert!(!config.auto_destroy());
    assert_eq!(config.checks().unwrap()["alive"].grace_period.as_deref(), Some("5s"));
    assert_eq!(config.configured_check_count(), 2);

    let mut services = config.services().unwrap();
    assert_eq!(services[0].internal_port, Some(8080));
    assert_eq!(services[0].checks[0].path.as_deref(), Some("/health"));
    services[0].internal_port = Some(9090);
    services.push(Service { protocol: Some("udp".into()), internal_port: Some(53), ..Service::default() });
    config.set_services(&services);
    config.set_image("registry.fly.io/web@sha256:def");
    config.set_env("NEW", "1");
    config.set_metadata(LAUNCH_ID_METADATA_KEY, "launch-1");
    config.remove_metadata("fly_release_id");
    config.set_auto_destroy(true);

    let value = serde_json::to_value(&config).unwrap();
    assert_eq!(value["services"][0]["internal_port"], 9090);
    assert_eq!(value["services"][0]["brand_new_service_knob"], json!({"x": 1}), "unknown service field kept");
    assert_eq!(value["services"][0]["checks"][0]["headers"], json!([{"name": "X", "values": ["1"]}]));
    assert_eq!(value["services"][0]["ports"][0]["tls_options"], json!({"alpn": ["h2"]}));
    assert_eq!(value["services"][1], json!({"protocol": "udp", "internal_port": 53}));
    assert_eq!(value["totally_unknown_top_level"], full_config()["totally_unknown_top_level"]);
    assert_eq!(value["containers"], full_config()["containers"]);
    assert_eq!(value["env"]["NEW"], "1");
    assert_eq!(value["metadata"].get("fly_release_id"), None);
    assert_eq!(value["auto_destroy"], true);
}

#[test]
fn same_as_ignores_flyctl_version_and_empty_values() {
    let base: MachineConfig = serde_json::from_value(full_config()).unwrap();

    let mut stamped = full_config();
    stamped["metadata"]["fly_flyctl_version"] = json!("0.3.1");
    stamped["metadata"][LAUNCH_ID_METADATA_KEY] = json!("launch-9");
    assert!(base.same_as(&serde_json::from_value(stamped).unwrap()));

    let mut padded = full_config();
    padded["dns"] = json!({});
    padded["standbys"] = json!([]);
    padded["schedule"] = Value::Null;
    padded["init"]["entrypoint"] = json!([]);
    padded["services"][0]["checks"][0]["headers"][0]["values"] = json!(["1"]);
    padded["guest"]["kernel_args"] = Value::Null;
    let padded: MachineConfig = serde_json::from_value(padded).unwrap();
    assert!(base.same_as(&padded));
    assert!(padded.same_as(&base));

    let mut empty = MachineConfig::new();
    assert!(empty.same_as(&serde_json::from_value(json!({"env": {}, "metadata": {"fly_flyctl_version": "1"}})).unwrap()));
    empty.set_image("x");
    assert!(!empty.same_as(&MachineConfig::new()));

    for change in [
        json!({"image": "registry.fly.io/web@sha256:other"}),
        json!({"env": {"PRIMARY_REGION": "fra", "FLY_PROCESS_GROUP": "app"}}),
        json!({"auto_destroy": true}),
        json!({"restart": {"policy": "always"}}),
    ] {
        let mut changed = full_config();
        for (k, v) in change.as_object().unwrap() {
            changed[k] = v.clone();
        }
        assert!(!base.same_as(&serde_json::from_value(changed).unwrap()), "{change}");
    }
    let mut other_meta = full_config();
    other_meta["metadata"]["fly_release_id"] = json!("r2");
    assert!(!base.same_as(&serde_json::from_value(other_meta).unwrap()));
}

#[test]
fn request_bodies_use_the_api_shapes() {
    let stop = StopInput { signal: Some("SIGINT".into()), timeout: Some(Duration::from_secs(10)) };
    assert_eq!(serde_json::to_value(&stop).unwrap(), json!({"signal": "SIGINT", "timeout": "10s"}));
    // fly-go's `Duration.MarshalJSON` sends `time.Duration.String()`, as flyctl does.
    let quick = StopInput { signal: None, timeout: Some(Duration::from_millis(1500)) };
    assert_eq!(serde_json::to_value(&quick).unwrap(), json!({"timeout": "1.5s"}));
    let long = StopInput { signal: None, timeout: Some(Duration::from_secs(90)) };
    assert_eq!(serde_json::to_value(&long).unwrap(), json!({"timeout": "1m30s"}));

    let mut config = MachineConfig::new();
    config.set_checks(&[("web".to_owned(), Check { kind: Some("http".into()), port: Some(80), ..Check::default() })].into());
    let input = LaunchInput {
        config,
        region: Some("ams".into()),
        name: Some("web-1".into()),
        skip_launch: true,
        skip_service_registration: true,
        min_secrets_version: Some(7),
        lease_ttl: Some(300),
        ..LaunchInput::default()
    };
    assert_eq!(
        serde_json::to_value(&input).unwrap(),
        json!({"config": {"checks": {"web": {"type": "http", "port": 80}}}, "region": "ams", "name": "web-1",
               "skip_launch": true, "skip_service_registration": true, "min_secrets_version": 7, "lease_ttl": 300})
    );
}

#[test]
fn sparse_and_null_fields_decode() {
    let machine: Machine = serde_json::from_value(json!({
        "id": "m1", "state": null, "events": null, "checks": null, "private_ip": null,
        "host_status": "unreachable", "incomplete_config": {"image": "img"}
    }))
    .unwrap();
    assert_eq!(machine.state, "");
    assert!(machine.events.is_empty());
    assert!(!machine.host_is_ok());
    assert_eq!(machine.config().unwrap().image(), Some("img"));
}
