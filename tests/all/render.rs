//! Rendered plans and results as they reach a pull request: snapshots, and
//! a 10,000-action plan that must split into valid comments.

use ferry_engine::journal::{Event, Outcome, PhaseRecord, PhaseStatus, UndoData};
use ferry_model::{
    Action, CheckoutOp, ConfigEdit, Finding, FlyMachineRefs, FlyOp, Location, Operation, Plan, Risk, Severity, StepSection, Undo, VmContainer, VmOp,
};
use ferry_render::Format;
use ferry_render::comment::{self, MAX_COMMENT_BYTES, Marker};

fn action(i: usize, risk: Risk) -> Action {
    Action {
        id: format!("edit:env.KEY_{i}"),
        summary: format!("set env.KEY_{i} = \"value {i}\" in fly.toml"),
        risk,
        operation: Operation::Checkout(CheckoutOp::EditConfig(ConfigEdit {
            file: "fly.toml".into(),
            key: format!("env.KEY_{i}"),
            value: Some(format!("\"value {i}\"")),
        })),
        undo: if risk == Risk::Irreversible { Undo::None("the old app is deleted".into()) } else { Undo::RestorePrevious },
        detail: None,
    }
}

/// The example app's inventory, with a plan of two steps around it.
fn plan(actions: Vec<Action>) -> Plan {
    let dir = crate::support::example("hello-fly");
    let rt = crate::support::runtime();
    let app = rt.plan(crate::support::parse_config(), &crate::support::host(&dir), &crate::support::request(&[("live", "false")])).unwrap().unwrap().app;
    let mut plan = Plan::new("prepare");
    plan.app = app;
    plan.steps.push(StepSection { step: "parse-config".into(), version: "0.1.0".into(), actions: vec![], findings: vec![] });
    plan.steps.push(StepSection {
        step: "migrate".into(),
        version: "0.1.0".into(),
        actions,
        findings: vec![Finding {
            code: "no-primary-region".into(),
            severity: Severity::Warning,
            message: "fly.toml sets no <b>primary_region</b> | even here".into(),
            location: Some(Location { file: "fly.toml".into(), line: Some(2), column: Some(1), key: Some("primary_region".into()) }),
        }],
    });
    plan
}

#[test]
fn a_plan_comment_snapshot() {
    let p = plan(vec![action(1, Risk::Safe), action(2, Risk::Disruptive), action(3, Risk::Destructive), action(4, Risk::Irreversible)]);
    let marker = Marker::new("plan", "hello-fly").with("hash", &p.hash()[..12]);
    let parts = comment::comment(
        &marker,
        &ferry_render::plan(&p, Format::Markdown),
        Some("https://github.com/acme/shop/actions/runs/1"),
        &["To apply this plan, comment `/ferry apply`.".into()],
    );
    assert_eq!(parts.len(), 1);
    let body = &parts[0];
    assert!(body.contains("**4 actions to apply.** 1 safe · 1 disruptive · 1 destructive · 1 irreversible"));
    assert!(body.contains("> [!CAUTION]\n> This plan has 1 destructive and 1 irreversible action(s)."));
    assert!(
        body.contains("&lt;b&gt;primary\\_region&lt;/b&gt; \\| even here") || body.contains("&lt;b&gt;primary_region&lt;/b&gt; \\| even here"),
        "untrusted text is escaped: {body}"
    );
    insta::assert_snapshot!("plan_comment", body);
}

#[test]
fn an_apply_comment_snapshot() {
    let p = plan(vec![action(1, Risk::Safe), action(2, Risk::Disruptive), action(3, Risk::Safe)]);
    let mut phase = PhaseRecord { phase: "prepare".into(), plan_hash: p.hash(), plan: p, status: PhaseStatus::RolledBack, started_at_ms: 0, entries: vec![] };
    let undo = UndoData::Checkout(ferry_engine::apply::checkout::CheckoutUndo::ConfigValue { previous: None });
    phase.record("edit:env.KEY_1", 1, Event::Started { undo: undo.clone() });
    phase.record("edit:env.KEY_1", 2, Event::Done { duration_ms: 12, outputs: vec![] });
    phase.record("edit:env.KEY_2", 3, Event::Started { undo });
    phase.record("edit:env.KEY_2", 4, Event::Failed { duration_ms: 1500, error: "fly.toml: permission denied".into() });
    phase.record("edit:env.KEY_1", 5, Event::Undone { duration_ms: 3 });
    let outcome = Outcome::RolledBack { action: "edit:env.KEY_2".into(), error: "fly.toml: permission denied".into(), transient: false };
    let md = ferry_render::apply_result("hello-fly", "prepare-abc", &outcome, &phase, Format::Markdown);
    assert!(md.contains("| 1 | set env.KEY_1 = \"value 1\" in fly.toml | safe | undone | 3 ms |"), "{md}");
    assert!(md.contains("| 2 | set env.KEY_2 = \"value 2\" in fly.toml | disruptive | failed | 1.5 s |"), "{md}");
    assert_eq!(md.matches("fly.toml: permission denied").count(), 1, "the error is told once, in the headline: {md}");
    assert!(md.contains("| 3 | set env.KEY_3 = \"value 3\" in fly.toml | safe | not run |  |"), "{md}");
    insta::assert_snapshot!("apply_comment", md);
}

#[test]
fn a_ten_thousand_action_plan_splits_into_valid_comments() {
    let risks = [Risk::Safe, Risk::Disruptive, Risk::Destructive];
    let p = plan((0..10_000).map(|i| action(i, risks[i % 3])).collect());
    let md = ferry_render::plan(&p, Format::Markdown);
    let marker = Marker::new("plan", "hello-fly");
    let parts = comment::comment(&marker, &md, None, &["comment `/ferry apply`".into()]);
    assert!(parts.len() > 10, "{} parts", parts.len());
    let n = parts.len();
    for (i, part) in parts.iter().enumerate() {
        assert!(part.len() <= MAX_COMMENT_BYTES && part.len() < 65_536, "part {} has {} bytes", i + 1, part.len());
        assert!(part.starts_with(&marker.line(i + 1, n)), "part {} starts with its marker", i + 1);
        assert_eq!(part.matches("<details").count(), part.matches("</details>").count(), "part {} balances <details>", i + 1);
        for line in part.lines().filter(|l| l.starts_with('|')) {
            assert!(line.ends_with('|'), "part {}: a table row was cut: {line}", i + 1);
        }
    }
    assert!(
        parts[0].contains("**10000 actions to apply.** 3334 safe · 3333 disruptive · 3333 destructive · 0 irreversible"),
        "the summary line is in the first part"
    );
    assert!(parts[n - 1].contains("comment `/ferry apply`"), "the next command is in the last part");
    let rows: usize = parts.iter().map(|p| p.lines().filter(|l| l.contains("in fly.toml (checkout) | ")).count()).sum();
    assert_eq!(rows, 10_000, "every action exactly once");

    // Each row carries the host's description and the step's words, so
    // 10,000 rows are more than a job summary holds: it is cut, with a
    // note, and still balanced. Half as many fit whole.
    assert!(md.len() > comment::MAX_SUMMARY_BYTES, "{} bytes", md.len());
    let summary = comment::summary(&md);
    assert!(summary.len() <= comment::MAX_SUMMARY_BYTES);
    assert!(summary.contains("is longer than a job summary can hold"));
    assert_eq!(summary.matches("<details").count(), summary.matches("</details>").count());
    let half = ferry_render::plan(&plan((0..5_000).map(|i| action(i, risks[i % 3])).collect()), Format::Markdown);
    assert!(half.len() <= comment::MAX_SUMMARY_BYTES, "{} bytes", half.len());
    assert_eq!(comment::summary(&half), half);
}

/// The audit's case: a fly.toml mount `source = "../../../../"` became a
/// plan line "start shop-app-1 … | safe" over a bind mount of the host's
/// `/`. The review shows the mount as the host will make it.
#[test]
fn a_plan_shows_what_a_container_really_mounts_and_what_an_undo_runs() {
    let run = Action {
        id: "vm-run:prod:shop-app-1".into(),
        summary: "start shop-app-1 (ferry-shop:release-1), healthy when 127.0.0.1:20001/ answers".into(),
        risk: Risk::Safe,
        operation: Operation::Vm(VmOp::Run(VmContainer {
            volumes: vec![("/srv/ferry/shop/volumes/../../../../".into(), "/data".into())],
            ..VmContainer::new("prod", "shop-app-1", "ferry-shop:release-1")
        })),
        undo: Undo::RestorePrevious,
        detail: None,
    };
    let refs = FlyMachineRefs { app: "shop".into(), ids: vec!["1853e92c".into()], launch_ids: vec![] };
    let cordon = Action {
        id: "cordon".into(),
        summary: "take the blues out".into(),
        risk: Risk::Disruptive,
        operation: Operation::Fly(FlyOp::Cordon(refs.clone())),
        undo: Undo::Run(Operation::Fly(FlyOp::Uncordon(refs))),
        detail: None,
    };
    let p = plan(vec![run, cordon]);
    let md = ferry_render::plan(&p, Format::Markdown);
    assert!(
        md.contains(
            "| 1 | run container shop-app-1 of image ferry-shop:release-1 on host prod; bind-mounts host path /srv/ferry/shop/volumes/../../../../ (that is /) at /data, read-write | 🟢 safe |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| start shop-app-1 (ferry-shop:release-1), healthy when 127.0.0.1:20001/ answers |"),
        "the step's words stay, in their own column: {md}"
    );
    assert!(md.contains("| disruptive: runs: put machine(s) 1853e92c of Fly app shop into the proxy's rotation |"), "the undo's own risk leads: {md}");

    let text = ferry_render::plan(&p, Format::Text);
    assert!(text.contains("  1. [safe] run container shop-app-1 of image ferry-shop:release-1 on host prod; bind-mounts host path /srv/ferry/shop/volumes/../../../../ (that is /) at /data, read-write\n"), "{text}");
    assert!(text.contains("     the step says: start shop-app-1"), "{text}");

    let json: serde_json::Value = serde_json::from_str(&ferry_render::plan(&p, Format::Json)).unwrap();
    assert_eq!(json["actions"][1]["undo"], "runs: put machine(s) 1853e92c of Fly app shop into the proxy's rotation");
    assert_eq!(json["actions"][1]["undo_risk"], "disruptive");
    assert_eq!(json["actions"][0]["class"], "vm");
    assert_eq!(json["plan_hash"], p.hash(), "the envelope's additions are not part of the plan it hashes");
}
