//! Hostile guests, each a real component: the host stops them, says which
//! step and why, and keeps running.

use std::time::{Duration, Instant};

use ferry_model::StepError;
use ferry_runtime::{Limits, Runtime, RuntimeError};
use ferry_test_guests as guests;

use crate::support::{checkout, host, load, request, runtime};

fn limits() -> Limits {
    Limits { deadline: Duration::from_secs(2), ..Limits::default() }
}

/// After any failure, the same runtime still plans a well-behaved step.
fn still_works(rt: &Runtime) {
    let co = checkout(&[("fly.toml", "app = 'still-ok'\n")]);
    let plan = rt.plan(crate::support::parse_config(), &host(co.path()), &request(&[])).unwrap().unwrap();
    assert_eq!(plan.app.unwrap().app.as_deref(), Some("still-ok"));
}

fn grants(names: &[&str]) -> ferry_runtime::Grants {
    ferry_runtime::Grants::parse(names).unwrap()
}

#[test]
fn an_infinite_loop_is_stopped_by_the_deadline() {
    let rt = runtime();
    let deadline = Duration::from_millis(300);
    let step = load(rt, "spin", guests::SPIN, &["log"], Limits { deadline, ..Limits::default() });
    let co = checkout(&[]);
    let started = Instant::now();
    let err = rt.plan(&step, &host(co.path()), &request(&[])).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, RuntimeError::Timeout { ref step, .. } if step == "spin"), "{err:?}");
    assert!(took >= deadline, "stopped after {took:?}, before its deadline");
    assert!(took < deadline + Duration::from_secs(2), "took {took:?} to stop a {deadline:?} deadline");
    assert_eq!(err.to_string(), "step `spin` ran past its 0.3s deadline and was stopped");
    still_works(rt);
}

#[test]
fn a_memory_bomb_hits_the_cap() {
    let rt = runtime();
    let cap = 32 << 20;
    let step = load(rt, "membomb", guests::MEMBOMB, &["log"], Limits { memory_bytes: cap, ..limits() });
    let co = checkout(&[]);
    let err = rt.plan(&step, &host(co.path()), &request(&[])).unwrap_err();
    match &err {
        RuntimeError::MemoryLimit { step, cap: c, requested } => {
            assert_eq!(step, "membomb");
            assert_eq!(*c, cap);
            assert!(*requested > cap);
        }
        other => panic!("expected a memory-cap error, got {other:?}"),
    }
    assert!(err.to_string().contains("memory cap of 32 MiB"), "{err}");
    still_works(rt);
}

#[test]
fn a_panic_surfaces_its_message_and_the_step_name() {
    let rt = runtime();
    let step = load(rt, "panics", guests::PANICS, &["log"], limits());
    let co = checkout(&[]);
    for _ in 0..2 {
        // A fresh store per call: the second call panics the same way instead
        // of finding a poisoned instance.
        let err = rt.plan(&step, &host(co.path()), &request(&[])).unwrap_err();
        let RuntimeError::Panic { step, message } = &err else { panic!("expected a panic, got {err:?}") };
        assert_eq!(step, "panics");
        assert!(message.starts_with("no process group to plan for in phase deploy: None (at "), "{message}");
        assert!(message.contains("panics/src/lib.rs:"), "{message}");
    }
    still_works(rt);
}

#[test]
fn an_import_outside_the_grant_is_refused_before_instantiation() {
    let rt = runtime();
    let bytes = ferry_test_guests::bytes(guests::WANTS_FLY);
    let err = rt.load("wants-fly", &bytes, grants(&["log"]), limits()).unwrap_err();
    match &err {
        RuntimeError::ImportNotGranted { step, import, granted } => {
            assert_eq!(step, "wants-fly");
            assert_eq!(import, "ferry:step/fly@0.1.0");
            assert_eq!(granted, "log");
        }
        other => panic!("expected a refused import, got {other:?}"),
    }
    assert!(err.to_string().contains("it was not run"), "{err}");
    still_works(rt);
}

#[test]
fn an_import_ferry_does_not_provide_is_refused_by_name() {
    let rt = runtime();
    let bytes = ferry_test_guests::bytes(guests::FOREIGN_IMPORT);
    let err = rt.load("foreign", &bytes, grants(&["log", "clock", "checkout", "fly"]), limits()).unwrap_err();
    assert!(matches!(&err, RuntimeError::UnknownImport { import, .. } if import == "wasi:cli/environment@0.2.0"), "{err:?}");
    still_works(rt);
}

#[test]
fn a_component_imports_only_what_its_code_uses() {
    // Every test guest is generated from the `full` world; `spin` calls no
    // import but the panic hook's `log`, so that is the only function import.
    // The rest hold only types (the records and each provider's
    // operations), which every step's plan names and nothing grants.
    let rt = runtime();
    let step = load(rt, "spin", guests::SPIN, &["log"], limits());
    let mut imports = step.imports().to_vec();
    imports.sort();
    let types_only = ["checkout-ops", "control-ops", "data-ops", "dns-ops", "fly-ops", "types", "vm-ops"];
    let (types, calls): (Vec<&String>, Vec<&String>) = imports.iter().partition(|i| types_only.iter().any(|t| i.as_str() == format!("ferry:step/{t}@0.1.0")));
    assert_eq!(calls, ["ferry:step/log@0.1.0"]);
    assert_eq!(types.len(), types_only.len(), "{imports:?}");
}

#[test]
fn a_granted_query_without_credentials_reaches_the_step_as_an_error() {
    let rt = runtime();
    let step = load(rt, "wants-fly", guests::WANTS_FLY, &["log", "fly"], limits());
    let co = checkout(&[]);
    let answer = rt.plan(&step, &host(co.path()), &request(&[])).unwrap();
    match answer {
        Err(StepError::PreconditionFailed(p)) => assert!(p.message.contains("FLY_API_TOKEN"), "{}", p.message),
        other => panic!("expected the step's own error, got {other:?}"),
    }
}

#[test]
fn bytes_crossing_a_host_call_are_capped() {
    let rt = runtime();
    let step = load(rt, "hostcall-flood", guests::HOSTCALL_FLOOD, &["log"], Limits { hostcall_bytes: 1 << 20, ..limits() });
    let co = checkout(&[]);
    let err = rt.plan(&step, &host(co.path()), &request(&[])).unwrap_err();
    assert!(matches!(&err, RuntimeError::Trap { step, .. } if step == "hostcall-flood"), "{err:?}");
    assert!(err.to_string().to_lowercase().contains("fuel"), "{err}");
    still_works(rt);
}

#[test]
fn reads_stay_inside_the_checkout() {
    let rt = runtime();
    let step = load(rt, "reads-checkout", guests::READS_CHECKOUT, &["log", "clock", "checkout"], limits());
    let co = checkout(&[("fly.toml", "app = 'x'\n"), ("big.bin", &"y".repeat(2000))]);
    std::os::unix::fs::symlink("/etc/hostname", co.path().join("escape")).unwrap();
    let seen = |path: &str, limits: Option<Limits>| {
        let step = match limits {
            Some(l) => load(rt, "reads-checkout", guests::READS_CHECKOUT, &["log", "clock", "checkout"], l),
            None => step.clone(),
        };
        let plan = rt.plan(&step, &host(co.path()), &request(&[("path", path)])).unwrap().unwrap();
        plan.findings.into_iter().map(|f| (f.code, f.message)).collect::<std::collections::HashMap<_, _>>()
    };
    let ok = seen("fly.toml", None);
    assert_eq!(ok["read"], "read 10 bytes");
    assert_eq!(ok["listing"], "big.bin,escape,fly.toml");
    assert_eq!(ok["clock"], "true");
    assert_eq!(seen("../../etc/passwd", None)["read"], "error: ../../etc/passwd is outside the checkout");
    assert_eq!(seen("/etc/passwd", None)["read"], "error: /etc/passwd is outside the checkout");
    assert_eq!(seen("escape", None)["read"], "error: escape is outside the checkout");
    let capped = Limits { file_bytes: 1000, ..limits() };
    assert_eq!(seen("big.bin", Some(capped))["read"], "error: big.bin is larger than the 1000-byte limit for files a step reads");
}
