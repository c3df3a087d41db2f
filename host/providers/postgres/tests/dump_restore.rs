mod support;

use ferry_postgres::{DbUrl, PgError, clear, dump_restore, inventory, is_empty, verify};
use support::{Cluster, seed_app};

const SEQUENCE_VALUES: &str = "SELECT string_agg(sequencename || '=' || coalesce(last_value::text, '-'), ',' \
    ORDER BY sequencename) FROM pg_sequences";

fn copy_with_jobs(jobs: u32) {
    let (a, b) = (Cluster::start(), Cluster::start());
    a.create_db("app");
    seed_app(&a, "app");
    b.create_db("app");
    let (src, dst) = (DbUrl::new(a.url("app")), DbUrl::new(b.url("app")));

    let mut seen = Vec::new();
    let stats = dump_restore(&src, &dst, jobs, &mut |bytes| seen.push(bytes)).unwrap();

    assert!(stats.bytes > 0);
    assert!(
        !seen.is_empty() && seen.windows(2).all(|w| w[0] <= w[1]),
        "{seen:?}"
    );
    assert_eq!(*seen.last().unwrap(), stats.bytes);
    let v = verify(&src, &dst, &[]).unwrap();
    assert!(v.ok(), "{:?}", v.mismatches());
    assert_eq!(
        v.tables.len(),
        5 + 2,
        "five tables plus large-objects and sequences"
    );
    assert_eq!(
        a.psql("app", SEQUENCE_VALUES),
        b.psql("app", SEQUENCE_VALUES)
    );
    let lo = "SELECT convert_from(lo_get(body), 'UTF8') FROM documents";
    assert_eq!(b.psql("app", lo), "hello large object");
    let keys = |db: &DbUrl| -> Vec<(String, Vec<String>)> {
        inventory(db)
            .unwrap()
            .tables
            .into_iter()
            .map(|t| (t.qualified(), t.primary_key))
            .collect()
    };
    assert_eq!(
        keys(&dst),
        keys(&src),
        "same tables and keys (sizes differ until ANALYZE)"
    );

    // clear() is the undo: the target is empty again and can take the copy anew.
    clear(&dst, &inventory(&dst).unwrap().schemas).unwrap();
    assert!(is_empty(&dst).unwrap());
    assert_eq!(
        b.psql(
            "app",
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"
        ),
        "1"
    );
    dump_restore(&src, &dst, jobs, &mut |_| {}).unwrap();
    assert!(verify(&src, &dst, &[]).unwrap().ok());
}

#[test]
fn streaming_copy_single_job() {
    copy_with_jobs(1);
}

#[test]
fn directory_copy_two_jobs() {
    copy_with_jobs(2);
}

#[test]
fn refuses_non_empty_target_and_reports_tool_errors() {
    let c = Cluster::start();
    c.create_db("src");
    seed_app(&c, "src");
    c.create_db("dst");
    c.psql("dst", "CREATE TABLE existing (x int)");
    let (src, dst) = (DbUrl::new(c.url("src")), DbUrl::new(c.url("dst")));
    assert!(!is_empty(&dst).unwrap());
    let err = dump_restore(&src, &dst, 1, &mut |_| {}).unwrap_err();
    assert!(matches!(err, PgError::TargetNotEmpty { .. }), "{err}");

    // pg_dump fails (no such database): the error names the tool and its stderr.
    c.create_db("empty");
    let missing = DbUrl::new(c.url("nope"));
    let err = dump_restore(&missing, &DbUrl::new(c.url("empty")), 1, &mut |_| {}).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, PgError::Tool { ref tool, .. } if tool == "pg_dump"),
        "{text}"
    );
    assert!(text.contains("does not exist"), "{text}");
    assert!(
        is_empty(&DbUrl::new(c.url("empty"))).unwrap(),
        "single transaction left nothing behind"
    );
}
