use std::time::Duration;

use ferry_postgres::*;
use ferry_test_support::pg_cluster::{Cluster, seed_app};

const NAME: &str = "ferry_main";
const SEQUENCE_VALUES: &str = "SELECT string_agg(sequencename || '=' || coalesce(last_value::text, '-'), ',' \
    ORDER BY sequencename) FROM pg_sequences";

#[test]
fn logical_replication_end_to_end() {
    let (a, b) = (Cluster::start(), Cluster::start());
    a.create_db("app");
    seed_app(&a, "app");
    b.create_db("app");
    let (src, dst) = (DbUrl::new(a.url("app")), DbUrl::new(b.url("app")));

    copy_schema(&src, &dst).unwrap();
    assert_eq!(b.psql("app", "SELECT count(*) FROM orders"), "0", "schema only");
    for t in inventory(&src).unwrap().tables.iter().filter(|t| t.primary_key.is_empty()) {
        set_replica_identity_full(&src, &t.qualified()).unwrap();
    }
    create_publication(&src, NAME).unwrap();
    create_publication(&src, NAME).unwrap(); // idempotent
    create_subscription(&dst, &src, NAME).unwrap();
    create_subscription(&dst, &src, NAME).unwrap(); // idempotent

    let mut polls = 0;
    let st = wait_caught_up(&src, &dst, NAME, 0, Duration::from_secs(30), &mut |_| polls += 1).unwrap();
    assert_eq!((st.tables_total, st.tables_ready), (5, 5));
    assert!(polls >= 1);
    let v = verify(&src, &dst, &["public.accounts".into(), "public.orders".into()]).unwrap();
    let bad: Vec<&str> = v.mismatches().iter().map(|m| m.table.as_str()).collect();
    assert_eq!(bad, ["large-objects", "sequences"], "rows replicated; those two come at finish");

    // Writes while replicating, including UPDATE/DELETE on the table without a key.
    a.psql(
        "app",
        "INSERT INTO accounts (email) SELECT 'late' || g || '@x' FROM generate_series(1, 50) g;
        UPDATE orders SET total = total + 1 WHERE id % 7 = 0;
        DELETE FROM order_items WHERE line = 1;
        INSERT INTO events_log VALUES (now(), 'late', 'x');
        UPDATE events_log SET payload = 'changed' WHERE kind = 'kind1';
        DELETE FROM events_log WHERE kind = 'kind2';
        SELECT nextval('invoice_numbers');
        INSERT INTO documents (title, body) VALUES ('second', lo_from_bytea(0, 'another one'::bytea));",
    );

    let previous = freeze(&src).unwrap();
    let stats = finish_logical(&src, &dst, NAME, &[], Duration::from_secs(30)).unwrap();
    assert_eq!(stats.sequences, 4);
    assert_eq!(stats.large_objects, 2);

    let v = verify(&src, &dst, &[]).unwrap();
    assert!(v.ok(), "{:?}", v.mismatches());
    assert_eq!(a.psql("app", SEQUENCE_VALUES), b.psql("app", SEQUENCE_VALUES));
    let lo = "SELECT string_agg(convert_from(lo_get(body), 'UTF8'), ',' ORDER BY id) FROM documents";
    assert_eq!(b.psql("app", lo), "hello large object,another one");
    assert_eq!(a.psql("app", "SELECT count(*) FROM pg_replication_slots"), "0");
    assert_eq!(a.psql("app", "SELECT count(*) FROM pg_publication"), "0");
    assert_eq!(b.psql("app", "SELECT count(*) FROM pg_subscription"), "0");

    unfreeze(&src, previous.as_deref()).unwrap();
    drop_logical(&src, &dst, NAME).unwrap(); // nothing left: still fine
}

#[test]
fn drop_logical_undoes_setup_and_status_reports_missing() {
    let (a, b) = (Cluster::start(), Cluster::start());
    a.create_db("app");
    a.psql("app", "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);");
    b.create_db("app");
    let (src, dst) = (DbUrl::new(a.url("app")), DbUrl::new(b.url("app")));
    copy_schema(&src, &dst).unwrap();
    create_publication(&src, NAME).unwrap();
    create_subscription(&dst, &src, NAME).unwrap();
    let st = replication_status(&src, &dst, NAME).unwrap();
    assert_eq!(st.tables_total, 1);

    drop_logical(&src, &dst, NAME).unwrap();
    drop_logical(&src, &dst, NAME).unwrap();
    assert_eq!(a.psql("app", "SELECT count(*) FROM pg_replication_slots"), "0");
    assert_eq!(a.psql("app", "SELECT count(*) FROM pg_publication"), "0");
    assert_eq!(b.psql("app", "SELECT count(*) FROM pg_subscription"), "0");
    assert!(matches!(replication_status(&src, &dst, NAME), Err(PgError::NotFound { .. })));
    assert!(matches!(create_publication(&src, "Bad-Name"), Err(PgError::InvalidName(_))));
}

#[test]
fn drop_logical_when_source_is_gone() {
    let b = Cluster::start();
    b.create_db("app");
    let dst = DbUrl::new(b.url("app"));
    let src = {
        let a = Cluster::start();
        a.create_db("app");
        a.psql("app", "CREATE TABLE t (id int PRIMARY KEY)");
        let src = DbUrl::new(a.url("app"));
        copy_schema(&src, &dst).unwrap();
        create_publication(&src, NAME).unwrap();
        create_subscription(&dst, &src, NAME).unwrap();
        src
    }; // source cluster stopped here
    let err = drop_logical(&src, &dst, NAME).unwrap_err();
    assert!(matches!(err, PgError::Connect { .. }), "{err}");
    assert_eq!(b.psql("app", "SELECT count(*) FROM pg_subscription"), "0", "subscription detached and dropped");
}

/// The freeze under a live writer, many times: every row the writer saw
/// committed is on the target after the final catch-up, and both sides
/// verify equal. Before the freeze waited for ended sessions to exit, a
/// commit in flight could land after the WAL position the catch-up waited
/// for (`cargo bench --bench data` lost 2 rows on every run). The clusters
/// commit with `synchronous_commit = off`, so the last commits before the
/// freeze sit in WAL buffers: the class tests (`tests/classes.rs`, one write
/// right before each freeze) lost them until the catch-up waited for the
/// insert position and flushed it.
#[test]
fn a_logical_copy_under_a_concurrent_writer_loses_no_committed_row() {
    let (a, b) = (Cluster::start(), Cluster::start());
    for run in 0..6 {
        let db = format!("live{run}");
        a.create_db(&db);
        a.psql(&db, "CREATE TABLE big (id bigserial PRIMARY KEY, pad text); INSERT INTO big (pad) SELECT repeat('x', 100) FROM generate_series(1, 20000);");
        b.create_db(&db);
        let (src, dst) = (DbUrl::new(a.url(&db)), DbUrl::new(b.url(&db)));
        copy_schema(&src, &dst).unwrap();
        create_publication(&src, NAME).unwrap();
        create_subscription(&dst, &src, NAME).unwrap();
        wait_caught_up(&src, &dst, NAME, 0, Duration::from_secs(60), &mut |_| {}).unwrap();

        // One writer in a session of its own, and four that connect for
        // every insert (as `psql -c` in a loop does): the freeze must stop
        // both a session in a COMMIT and one still starting.
        let session_writer = {
            let url = a.url(&db);
            std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                let mut committed = 0u64;
                while client.batch_execute("BEGIN; INSERT INTO big (pad) SELECT repeat('y', 200) FROM generate_series(1, 500); COMMIT;").is_ok() {
                    committed += 500;
                }
                committed
            })
        };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connecting: Vec<_> = (0..4)
            .map(|_| {
                let (url, stop) = (a.url(&db), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if let Ok(mut c) = postgres::Client::connect(&url, postgres::NoTls) {
                            let _ = c.batch_execute("INSERT INTO big (pad) VALUES ('live write')");
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150));
        let previous = freeze(&src).unwrap();
        let acknowledged = session_writer.join().unwrap();
        // Writers that connect after the freeze are refused (read-only) and
        // keep trying through the catch-up, as an app would.
        finish_logical(&src, &dst, NAME, &[], Duration::from_secs(60)).unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        connecting.into_iter().for_each(|w| w.join().unwrap());
        assert!(acknowledged > 0, "run {run}: the writer wrote before the freeze");
        let rows: u64 = b.psql(&db, "SELECT count(*) FROM big").parse().unwrap();
        assert!(rows >= 20000 + acknowledged, "run {run}: the target has {rows} rows, the writer saw {acknowledged} committed");
        let v = verify(&src, &dst, &[]).unwrap();
        assert!(v.ok(), "run {run}: {:?}", v.mismatches());
        unfreeze(&src, previous.as_deref()).unwrap();
    }
}

/// A table whose name holds a dot, a quote, a space and capitals, in a
/// schema like it, with no key; a materialized view over it; an UNLOGGED
/// table. What the inventory says of each, and both modes verified equal.
const ODD: &str = r#"CREATE SCHEMA "My Schema";
    CREATE TABLE "My Schema"."Order.Lines ""x""" (sku text, qty int);
    INSERT INTO "My Schema"."Order.Lines ""x""" SELECT 'sku' || g, g FROM generate_series(1, 300) g;
    CREATE MATERIALIZED VIEW "My Schema".totals AS SELECT sum(qty) AS qty FROM "My Schema"."Order.Lines ""x""";
    CREATE MATERIALIZED VIEW unfilled AS SELECT 1 AS one WITH NO DATA;
    CREATE UNLOGGED TABLE cache (k text PRIMARY KEY, v text);
    INSERT INTO cache SELECT 'k' || g, 'v' FROM generate_series(1, 50) g;"#;

#[test]
fn odd_names_materialized_views_and_unlogged_tables_copy_exactly_in_each_mode_they_allow() {
    let (a, b) = (Cluster::start(), Cluster::start());
    a.create_db("app");
    a.psql("app", ODD);
    let src = DbUrl::new(a.url("app"));
    let inv = inventory(&src).unwrap();
    let names: Vec<(String, bool)> = inv.tables.iter().map(|t| (t.qualified(), t.unlogged)).collect();
    assert_eq!(names, [(r#""My Schema"."Order.Lines ""x""""#.to_string(), false), ("public.cache".to_string(), true)]);
    assert_eq!(inv.materialized_views, [r#""My Schema".totals"#, "public.unfilled"]);

    // dump-restore carries all of it; pg_restore fills the view.
    b.create_db("dumped");
    let dumped = DbUrl::new(b.url("dumped"));
    dump_restore(&src, &dumped, 1, &mut |_| {}).unwrap();
    let v = verify(&src, &dumped, &[]).unwrap();
    assert!(v.ok(), "{:?}", v.mismatches());
    assert!(v.tables.iter().any(|t| t.table == r#""My Schema".totals"# && t.target_rows == 1), "the view is verified: {v:?}");

    // Logical: the final step dumps the unlogged table's rows across,
    // refreshes the view the source filled, and leaves the unfilled one as
    // it is.
    b.create_db("replicated");
    let dst = DbUrl::new(b.url("replicated"));
    copy_schema(&src, &dst).unwrap();
    for t in inventory(&src).unwrap().tables.iter().filter(|t| t.primary_key.is_empty()) {
        set_replica_identity_full(&src, &t.qualified()).unwrap();
    }
    create_publication(&src, NAME).unwrap();
    create_subscription(&dst, &src, NAME).unwrap();
    wait_caught_up(&src, &dst, NAME, 0, Duration::from_secs(60), &mut |_| {}).unwrap();
    a.psql(
        "app",
        r#"INSERT INTO "My Schema"."Order.Lines ""x""" VALUES ('late', 1000); REFRESH MATERIALIZED VIEW "My Schema".totals;
        INSERT INTO cache VALUES ('late', 'v');"#,
    );
    assert_eq!(b.psql("replicated", "SELECT count(*) FROM cache"), "0", "replication carries no row of an unlogged table");
    let previous = freeze(&src).unwrap();
    let stats = finish_logical(&src, &dst, NAME, &["public.cache".to_string()], Duration::from_secs(60)).unwrap();
    assert_eq!((stats.materialized_views, stats.unlogged), (1, 1), "{stats:?}");
    assert_eq!(b.psql("replicated", "SELECT count(*) FROM cache"), "51");
    let tables: Vec<String> = inventory(&src).unwrap().tables.iter().map(|t| t.qualified()).chain(inv.materialized_views.clone()).collect();
    let v = verify(&src, &dst, &tables).unwrap();
    assert!(v.ok(), "{:?}", v.mismatches());
    assert_eq!(b.psql("replicated", r#"SELECT qty FROM "My Schema".totals"#), "46150");
    unfreeze(&src, previous.as_deref()).unwrap();
}
