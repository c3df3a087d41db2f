mod support;

use std::time::Duration;

use ferry_postgres::*;
use support::{Cluster, seed_app};

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
    assert_eq!(
        b.psql("app", "SELECT count(*) FROM orders"),
        "0",
        "schema only"
    );
    for t in inventory(&src)
        .unwrap()
        .tables
        .iter()
        .filter(|t| t.primary_key.is_empty())
    {
        set_replica_identity_full(&src, &t.qualified()).unwrap();
    }
    create_publication(&src, NAME).unwrap();
    create_publication(&src, NAME).unwrap(); // idempotent
    create_subscription(&dst, &src, NAME).unwrap();
    create_subscription(&dst, &src, NAME).unwrap(); // idempotent

    let mut polls = 0;
    let st = wait_caught_up(&src, &dst, NAME, 0, Duration::from_secs(30), &mut |_| {
        polls += 1
    })
    .unwrap();
    assert_eq!((st.tables_total, st.tables_ready), (5, 5));
    assert!(polls >= 1);
    let v = verify(
        &src,
        &dst,
        &["public.accounts".into(), "public.orders".into()],
    )
    .unwrap();
    let bad: Vec<&str> = v.mismatches().iter().map(|m| m.table.as_str()).collect();
    assert_eq!(
        bad,
        ["large-objects", "sequences"],
        "rows replicated; those two come at finish"
    );

    // Writes while replicating, including UPDATE/DELETE on the table without a key.
    a.psql("app", "INSERT INTO accounts (email) SELECT 'late' || g || '@x' FROM generate_series(1, 50) g;
        UPDATE orders SET total = total + 1 WHERE id % 7 = 0;
        DELETE FROM order_items WHERE line = 1;
        INSERT INTO events_log VALUES (now(), 'late', 'x');
        UPDATE events_log SET payload = 'changed' WHERE kind = 'kind1';
        DELETE FROM events_log WHERE kind = 'kind2';
        SELECT nextval('invoice_numbers');
        INSERT INTO documents (title, body) VALUES ('second', lo_from_bytea(0, 'another one'::bytea));");

    let previous = freeze(&src).unwrap();
    let stats = finish_logical(&src, &dst, NAME, Duration::from_secs(30)).unwrap();
    assert_eq!(stats.sequences, 4);
    assert_eq!(stats.large_objects, 2);

    let v = verify(&src, &dst, &[]).unwrap();
    assert!(v.ok(), "{:?}", v.mismatches());
    assert_eq!(
        a.psql("app", SEQUENCE_VALUES),
        b.psql("app", SEQUENCE_VALUES)
    );
    let lo =
        "SELECT string_agg(convert_from(lo_get(body), 'UTF8'), ',' ORDER BY id) FROM documents";
    assert_eq!(b.psql("app", lo), "hello large object,another one");
    assert_eq!(
        a.psql("app", "SELECT count(*) FROM pg_replication_slots"),
        "0"
    );
    assert_eq!(a.psql("app", "SELECT count(*) FROM pg_publication"), "0");
    assert_eq!(b.psql("app", "SELECT count(*) FROM pg_subscription"), "0");

    unfreeze(&src, previous.as_deref()).unwrap();
    drop_logical(&src, &dst, NAME).unwrap(); // nothing left: still fine
}

#[test]
fn drop_logical_undoes_setup_and_status_reports_missing() {
    let (a, b) = (Cluster::start(), Cluster::start());
    a.create_db("app");
    a.psql(
        "app",
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);",
    );
    b.create_db("app");
    let (src, dst) = (DbUrl::new(a.url("app")), DbUrl::new(b.url("app")));
    copy_schema(&src, &dst).unwrap();
    create_publication(&src, NAME).unwrap();
    create_subscription(&dst, &src, NAME).unwrap();
    let st = replication_status(&src, &dst, NAME).unwrap();
    assert_eq!(st.tables_total, 1);

    drop_logical(&src, &dst, NAME).unwrap();
    drop_logical(&src, &dst, NAME).unwrap();
    assert_eq!(
        a.psql("app", "SELECT count(*) FROM pg_replication_slots"),
        "0"
    );
    assert_eq!(a.psql("app", "SELECT count(*) FROM pg_publication"), "0");
    assert_eq!(b.psql("app", "SELECT count(*) FROM pg_subscription"), "0");
    assert!(matches!(
        replication_status(&src, &dst, NAME),
        Err(PgError::NotFound { .. })
    ));
    assert!(matches!(
        create_publication(&src, "Bad-Name"),
        Err(PgError::InvalidName(_))
    ));
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
    assert_eq!(
        b.psql("app", "SELECT count(*) FROM pg_subscription"),
        "0",
        "subscription detached and dropped"
    );
}
