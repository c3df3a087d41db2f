//! The copy-data planner: the mode it picks and why, and the order of its
//! actions around the freeze.

use ferry_copy_data::{Database, Observed, Options, Volume, plan};
use ferry_step_sdk::host::data::{DatabaseInventory, PgTableInfo, VolumeInfo};
use ferry_step_sdk::types::{DataOp, Operation, Severity, StepError, Undo, VolumePass};

fn options(params: &[(&str, &str)]) -> Options {
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Options::from_params(&params).unwrap()
}

fn table(name: &str, pk: &[&str]) -> PgTableInfo {
    PgTableInfo {
        schema: "public".into(),
        name: name.into(),
        bytes: 8192,
        estimated_rows: 10,
        primary_key: pk.iter().map(|c| c.to_string()).collect(),
        replica_identity: "default".into(),
        unlogged: false,
    }
}

fn inventory(bytes: u64, wal_level: &str, tables: Vec<PgTableInfo>) -> DatabaseInventory {
    DatabaseInventory {
        server_version: "15.18".into(),
        wal_level: wal_level.into(),
        total_bytes: bytes,
        tables,
        sequences: vec!["public.accounts_id_seq".into()],
        extensions: vec!["plpgsql".into()],
        large_objects: 1,
        materialized_views: Vec::new(),
        objects: vec![("column".into(), 9), ("index".into(), 2), ("table".into(), 2)],
    }
}

fn empty() -> DatabaseInventory {
    DatabaseInventory { large_objects: 0, sequences: Vec::new(), ..inventory(8192, "logical", Vec::new()) }
}

fn db(bytes: u64, wal_level: &str) -> Database {
    Database { name: "main".into(), source: inventory(bytes, wal_level, vec![table("accounts", &["id"]), table("events", &[])]), target: empty() }
}

fn observed(databases: Vec<Database>) -> Observed {
    Observed { databases, volumes: Vec::new(), cores: 2, freeze_machines: vec!["m1".into(), "m2".into()] }
}

fn ids(p: &ferry_copy_data::Planned) -> Vec<&str> {
    p.actions.iter().map(|a| a.id.as_str()).collect()
}

fn message(p: &ferry_copy_data::Planned, code: &str) -> String {
    p.findings.iter().find(|f| f.code == code).map(|f| f.message.clone()).unwrap_or_else(|| panic!("no finding {code}: {:?}", p.findings))
}

const GIB: u64 = 1 << 30;

#[test]
fn a_small_database_is_dumped_after_the_freeze_and_verified() {
    let p = plan("data", &options(&[("freeze-app", "shop")]), &observed(vec![db(50 << 20, "logical")])).unwrap();
    assert_eq!(ids(&p), ["freeze:fly:shop", "freeze:pg:main", "pg:dump-restore:main", "pg:verify:main"]);
    assert!(message(&p, "copy-mode").contains("dump-restore, because 50 MiB is below logical-above (1.0 GiB)"));
    assert!(message(&p, "copy-mode").contains("one stream through a pipe"));
    let Operation::Data(DataOp::PgDumpRestore(copy)) = &p.actions[2].operation else { panic!() };
    assert_eq!(copy.jobs, 1);
    let Operation::Data(DataOp::PgVerify(v)) = &p.actions[3].operation else { panic!() };
    assert_eq!(v.tables, ["public.accounts", "public.events"]);
    assert!(p.actions.iter().filter(|a| a.id.starts_with("freeze:")).all(|a| matches!(a.undo, Undo::RestorePrevious)));
}

#[test]
fn parallel_jobs_only_with_cores_and_size() {
    let mut o = observed(vec![db(3 * GIB, "replica")]);
    o.cores = 8;
    let p = plan("data", &options(&[]), &o).unwrap();
    let Operation::Data(DataOp::PgDumpRestore(copy)) = &p.actions[1].operation else { panic!("{:?}", ids(&p)) };
    assert_eq!(copy.jobs, 4);
    assert!(message(&p, "copy-mode").contains("wal_level is `replica`"), "{}", message(&p, "copy-mode"));
}

#[test]
fn a_big_database_replicates_while_live_and_finishes_frozen() {
    let p = plan("data", &options(&[]), &observed(vec![db(2 * GIB, "logical")])).unwrap();
    assert_eq!(
        ids(&p),
        [
            "pg:schema:main",
            "pg:replica-identity:main:public.events",
            "pg:subscribe:main",
            "pg:catch-up:main",
            "freeze:pg:main",
            "pg:finish:main",
            "pg:verify:main"
        ]
    );
    assert!(message(&p, "copy-mode").contains("logical replication, because 2.0 GiB is at least logical-above"));
    assert!(message(&p, "no-primary-key").contains("public.events has no primary key"));
    assert!(message(&p, "logical-large-objects").contains("the 1 large object are copied after the freeze"));
    assert!(message(&p, "logical-ddl").contains("DDL"));
    let Operation::Data(DataOp::PgFinishLogical(finish)) = &p.actions[5].operation else { panic!() };
    assert_eq!((finish.name.as_str(), finish.timeout_ms), ("ferry_main", 120_000));
    assert_eq!(finish.identity_full, ["public.events"], "the finish resets what the copy set FULL");
    assert!(p.actions[5].summary.contains("REPLICA IDENTITY reset on public.events"), "{}", p.actions[5].summary);
}

#[test]
fn logical_is_refused_when_the_source_cannot_take_it() {
    let mut source = db(10 << 20, "replica");
    source.source.tables[0].replica_identity = "nothing".into();
    let Err(StepError::PreconditionFailed(p)) = plan("data", &options(&[("mode", "logical")]), &observed(vec![source])) else { panic!() };
    assert!(p.message.contains("wal_level is `replica`"), "{}", p.message);
    assert!(p.message.contains("public.accounts has REPLICA IDENTITY NOTHING"), "{}", p.message);
}

#[test]
fn a_target_with_tables_is_never_written() {
    let mut d = db(10 << 20, "logical");
    d.target.tables = vec![table("accounts", &["id"])];
    let p = plan("data", &options(&[]), &observed(vec![d])).unwrap();
    assert!(p.actions.is_empty(), "{:?}", ids(&p));
    let f = p.findings.iter().find(|f| f.code == "target-not-empty").unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("1 table (public.accounts)"), "{}", f.message);
}

#[test]
fn a_volume_moves_in_two_passes_with_sqlite_by_backup() {
    let volume = Volume {
        name: "uploads".into(),
        source: VolumeInfo { files: 120, bytes: 5 << 20, sqlite: vec!["db/app.sqlite3".into()] },
        target: VolumeInfo { files: 0, bytes: 0, sqlite: Vec::new() },
    };
    let o = Observed { volumes: vec![volume], ..observed(Vec::new()) };
    let p = plan("data", &options(&[("freeze-app", "shop"), ("approve", "true")]), &o).unwrap();
    assert_eq!(
        ids(&p),
        ["volume:bulk:uploads", "approve:freeze", "freeze:fly:shop", "volume:final:uploads", "sqlite:uploads:db/app.sqlite3", "volume:verify:uploads"]
    );
    let Operation::Data(DataOp::VolumeSync(bulk)) = &p.actions[0].operation else { panic!() };
    assert_eq!((bulk.pass, bulk.exclude.clone()), (VolumePass::Bulk, vec!["db/app.sqlite3".to_string()]));
    let Operation::Data(DataOp::VolumeVerify(v)) = &p.actions[5].operation else { panic!() };
    assert_eq!(v.sqlite, ["db/app.sqlite3"]);
}

#[test]
fn a_volume_without_a_freeze_is_flagged() {
    let volume = Volume {
        name: "uploads".into(),
        source: VolumeInfo { files: 1, bytes: 1, sqlite: Vec::new() },
        target: VolumeInfo { files: 3, bytes: 9, sqlite: Vec::new() },
    };
    let p = plan("data", &options(&[]), &Observed { volumes: vec![volume], ..Observed::default() }).unwrap();
    assert!(message(&p, "volume-not-frozen").contains("set freeze-app"));
    assert!(message(&p, "volume-target-not-empty").contains("3 files"));
}

#[test]
fn other_phases_plan_nothing_and_bad_params_are_named() {
    let p = plan("prepare", &options(&[]), &observed(vec![db(1, "logical")])).unwrap();
    assert!(p.actions.is_empty());
    let params = vec![("mode".to_string(), "fast".to_string())];
    let Err(StepError::InvalidInput(e)) = Options::from_params(&params) else { panic!() };
    assert_eq!(e.message, "mode `fast` must be one of: auto, dump-restore, logical");
    let params = vec![("freez-app".to_string(), "x".to_string())];
    let Err(StepError::InvalidInput(e)) = Options::from_params(&params) else { panic!() };
    assert!(e.message.contains("`freez-app`"));
}

/// The cases `ferry_postgres::qualified_name` is tested on: the host reads
/// back exactly the two parts the planner wrote.
#[test]
fn a_qualified_name_reads_back_as_its_two_parts_whatever_they_hold() {
    let cases = include_str!("../../../host/providers/pg-names/tests/qualified_names.tsv").lines().filter(|l| !l.starts_with('#')).map(|l| {
        let mut parts = l.split('\t');
        (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap())
    });
    for (schema, name, shown) in cases {
        let t = PgTableInfo { schema: schema.into(), ..table(name, &[]) };
        let p = plan(
            "data",
            &options(&[("mode", "logical"), ("freeze-app", "shop")]),
            &observed(vec![Database { name: "main".into(), source: inventory(GIB, "logical", vec![t]), target: empty() }]),
        )
        .unwrap();
        let set = p.actions.iter().find_map(|a| match &a.operation {
            Operation::Data(DataOp::PgReplicaIdentityFull(t)) => Some(t.table.clone()),
            _ => None,
        });
        assert_eq!(set.as_deref(), Some(shown), "{name}");
        let verified = p
            .actions
            .iter()
            .find_map(|a| match &a.operation {
                Operation::Data(DataOp::PgVerify(v)) => Some(v.tables.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(verified, [shown]);
    }
}

#[test]
fn a_small_unlogged_table_is_dumped_inside_the_frozen_window() {
    let mut source = inventory(64 * GIB, "logical", vec![table("accounts", &["id"]), table("Cache.Hits", &["k"])]);
    source.tables[1].unlogged = true;
    source.tables[1].bytes = 100 << 20;
    let p = plan("data", &options(&[("mode", "logical"), ("freeze-app", "shop")]), &observed(vec![Database { name: "main".into(), source, target: empty() }]))
        .unwrap();
    assert_eq!(
        message(&p, "logical-unlogged"),
        r#"database main: logical replication never carries the rows of UNLOGGED table public."Cache.Hits"; the final step copies them (100 MiB) with pg_dump --data-only inside the frozen window (about 3 s; the journal records how long it took)"#
    );
    let finish = p
        .actions
        .iter()
        .find_map(|a| match &a.operation {
            Operation::Data(DataOp::PgFinishLogical(l)) => Some((a.summary.clone(), l.unlogged.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(finish.1, [r#"public."Cache.Hits""#]);
    assert!(finish.0.contains(r#"rows of UNLOGGED public."Cache.Hits" dumped"#), "{}", finish.0);
    let subscribe = p.actions.iter().find_map(|a| match &a.operation {
        Operation::Data(DataOp::PgSubscribe(l)) => Some(l.unlogged.len()),
        _ => None,
    });
    assert_eq!(subscribe, Some(1), "one spec for the whole replication");
}

#[test]
fn large_unlogged_tables_refuse_logical_mode_by_name_and_auto_picks_dump_restore() {
    let mut source = inventory(64 * GIB, "logical", vec![table("accounts", &["id"]), table("Cache.Hits", &["k"])]);
    source.tables[1].unlogged = true;
    source.tables[1].bytes = GIB;
    let observed = || observed(vec![Database { name: "main".into(), source: source.clone(), target: empty() }]);
    let Err(StepError::PreconditionFailed(problem)) = plan("data", &options(&[("mode", "logical"), ("freeze-app", "shop")]), &observed()) else {
        panic!("logical mode is refused")
    };
    let text = problem.message;
    assert!(
        text.contains(r#"UNLOGGED table public."Cache.Hits" (1.0 GiB) holds 1.0 GiB, more than the 512 MiB logical mode copies inside the frozen window"#),
        "{text}"
    );
    let p = plan("data", &options(&[("freeze-app", "shop")]), &observed()).unwrap();
    assert!(p.actions.iter().any(|a| matches!(a.operation, Operation::Data(DataOp::PgDumpRestore(_)))), "{:?}", ids(&p));
    assert!(!p.actions.iter().any(|a| matches!(a.operation, Operation::Data(DataOp::PgSubscribe(_)))));
}

#[test]
fn materialized_views_are_refreshed_in_the_window_and_verified() {
    let mut source = inventory(64 * GIB, "logical", vec![table("accounts", &["id"])]);
    source.materialized_views = vec!["public.daily_totals".into()];
    let p = plan("data", &options(&[("mode", "logical"), ("freeze-app", "shop")]), &observed(vec![Database { name: "main".into(), source, target: empty() }]))
        .unwrap();
    assert!(
        message(&p, "logical-materialized-views")
            .contains("refreshes 1 on the target inside the frozen window (the journal records how long it took): public.daily_totals")
    );
    let verified = p.actions.iter().find(|a| matches!(a.operation, Operation::Data(DataOp::PgVerify(_)))).unwrap();
    assert!(verified.summary.contains("1 table, 1 materialized view"), "{}", verified.summary);
    let Operation::Data(DataOp::PgVerify(v)) = &verified.operation else { unreachable!() };
    assert_eq!(v.tables, ["public.accounts", "public.daily_totals"]);
}

#[test]
fn the_plan_says_how_each_kind_of_object_is_carried_in_the_chosen_mode() {
    let mut source = inventory(64 * GIB, "logical", vec![table("accounts", &["id"])]);
    source.objects.extend([("foreign table".into(), 1), ("publication".into(), 1), ("granted object".into(), 3)]);
    source.materialized_views = vec!["public.totals".into()];
    let observed = || observed(vec![Database { name: "main".into(), source: source.clone(), target: empty() }]);
    let logical = plan("data", &options(&[("mode", "logical"), ("freeze-app", "shop")]), &observed()).unwrap();
    assert_eq!(
        message(&logical, "copy-carries"),
        "database main, in logical mode: definitions (index 2, table 2, foreign table 1, publication 1) by a schema copy before replication starts; the rows of 1 table by replication while the app runs; \
         sequence values, 1 large object and 1 materialized view (refreshed) after the freeze; 1 foreign table: the definition only (their rows live on the foreign server); \
         1 publication: the definition only (a consumer's replication slot is not carried: it re-points and resyncs); \
         ownership and grants are not carried: the target's user owns every copy, and the grants on 3 objects must be set again on the target"
    );
    let dumped = plan("data", &options(&[("mode", "dump-restore"), ("freeze-app", "shop")]), &observed()).unwrap();
    assert!(message(&dumped, "copy-carries").starts_with("database main, in dump-restore mode: every definition (index 2, table 2, foreign table 1, publication 1), row, sequence value and large object by one pg_dump | pg_restore after the freeze, which also fills 1 materialized view"));
}
