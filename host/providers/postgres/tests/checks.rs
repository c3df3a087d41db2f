use ferry_postgres::*;
use ferry_test_support::pg_cluster::{Cluster, seed_app};

fn copied_pair(c: &Cluster) -> (DbUrl, DbUrl) {
    c.create_db("src");
    seed_app(c, "src");
    c.create_db("dst");
    let (src, dst) = (DbUrl::new(c.url("src")), DbUrl::new(c.url("dst")));
    dump_restore(&src, &dst, 1, &mut |_| {}).unwrap();
    (src, dst)
}

fn mismatched(v: &Verification) -> Vec<String> {
    v.mismatches().iter().map(|m| m.table.clone()).collect()
}

#[test]
fn verify_names_exactly_the_changed_table() {
    let c = Cluster::start();
    let (src, dst) = copied_pair(&c);
    assert!(verify(&src, &dst, &[]).unwrap().ok());

    c.psql("dst", "UPDATE accounts SET name = 'tampered' WHERE id = 42");
    let v = verify(&src, &dst, &[]).unwrap();
    assert_eq!(mismatched(&v), ["public.accounts"]);
    let check = &v.mismatches()[0];
    assert_eq!((check.source_rows, check.target_rows), (3000, 3000), "same count, different content");

    c.psql("src", "INSERT INTO events_log VALUES (now(), 'after', 'copy')");
    assert_eq!(mismatched(&verify(&src, &dst, &[]).unwrap()), ["public.accounts", "public.events_log"]);
}

#[test]
fn checksums_ignore_order_but_count_duplicates() {
    let c = Cluster::start();
    c.create_db("a");
    c.create_db("b");
    c.psql("a", "CREATE TABLE t (x int, y text); INSERT INTO t VALUES (1, 'p'), (2, 'q'), (2, 'q');");
    c.psql("b", "CREATE TABLE t (x int, y text); INSERT INTO t VALUES (2, 'q'), (1, 'p'), (2, 'q');");
    let (a, b) = (DbUrl::new(c.url("a")), DbUrl::new(c.url("b")));
    let tables = ["public.t".to_string()];
    assert!(verify(&a, &b, &tables).unwrap().ok(), "order does not matter");

    c.psql("b", "DELETE FROM t WHERE x = 2; INSERT INTO t VALUES (2, 'q');");
    let d = digests(&b, &tables).unwrap();
    assert_eq!(d[0].rows, 2);
    assert_eq!(mismatched(&verify(&a, &b, &tables).unwrap()), ["public.t"], "duplicates count (no xor)");

    // A table missing on one side is a mismatch.
    c.psql("a", "CREATE TABLE only_here (x int)");
    let v = verify(&a, &b, &[]).unwrap();
    assert!(v.mismatches().iter().any(|m| m.table == "public.only_here" && m.target_rows == 0));
    let names: Vec<String> = digests(&a, &[]).unwrap().into_iter().map(|d| d.table).collect();
    assert_eq!(names, ["public.only_here", "public.t", "large-objects", "sequences"]);
}

#[test]
fn freeze_makes_new_sessions_read_only_and_unfreeze_restores() {
    let c = Cluster::start();
    c.create_db("app");
    c.psql("app", "CREATE TABLE t (x int)");
    let db = DbUrl::new(c.url("app"));
    assert!(!is_frozen(&db).unwrap());

    let previous = freeze(&db).unwrap();
    assert_eq!(previous, None);
    assert!(is_frozen(&db).unwrap());
    let err = c.try_psql("app", "INSERT INTO t VALUES (1)").unwrap_err();
    assert!(err.contains("read-only transaction"), "{err}");
    // ferry's own sessions can still write (e.g. DDL on a frozen source).
    create_publication(&db, "ferry_frozen").unwrap();

    unfreeze(&db, previous.as_deref()).unwrap();
    assert!(!is_frozen(&db).unwrap());
    c.psql("app", "INSERT INTO t VALUES (1)");
    assert_eq!(c.psql("app", "SELECT count(*) FROM pg_db_role_setting"), "0", "RESET, not set to off");

    // A value that was set before is preserved.
    c.psql("app", "ALTER DATABASE app SET default_transaction_read_only = off");
    let previous = freeze(&db).unwrap();
    assert_eq!(previous.as_deref(), Some("off"));
    unfreeze(&db, previous.as_deref()).unwrap();
    let setting = "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting";
    assert_eq!(c.psql("app", setting), "default_transaction_read_only=off");
}

#[test]
fn freeze_ends_other_sessions() {
    let c = Cluster::start();
    c.create_db("app");
    let db = DbUrl::new(c.url("app"));
    let mut psql = std::process::Command::new("/usr/lib/postgresql/15/bin/psql")
        .args(["-X", "-h", "127.0.0.1", "-U", "postgres", "-p", &c.port().to_string(), "-d", "app", "-c", "SELECT pg_sleep(30)"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'";
    while c.psql("app", waiting) == "0" {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let previous = freeze(&db).unwrap();
    let status = psql.wait().unwrap();
    assert!(!status.success(), "the other session was terminated");
    unfreeze(&db, previous.as_deref()).unwrap();
}

#[test]
fn errors_never_contain_the_password_or_url() {
    let c = Cluster::start();
    c.create_db("app");
    c.psql("postgres", "CREATE ROLE secret_user LOGIN PASSWORD 'right-horse-battery'");
    c.hba_prepend("host all secret_user 127.0.0.1/32 scram-sha-256");
    let password = "Wr0ng-Pa55word";
    let url = format!("postgres://secret_user:{password}@127.0.0.1:{}/app", c.port());
    let db = DbUrl::new(url.clone());
    assert_eq!(format!("{db:?}"), "DbUrl(<redacted>)");
    assert_eq!(db.describe(), format!("secret_user@127.0.0.1:{}/app", c.port()));
    assert_eq!(db.database_name(), "app");

    let good = DbUrl::new(format!("postgres://secret_user:right-horse-battery@127.0.0.1:{}/app", c.port()));
    assert!(is_empty(&good).unwrap(), "the right password works");

    let connect_err = inventory(&db).unwrap_err().to_string();
    assert!(connect_err.contains("password authentication failed"), "{connect_err}");
    let empty = DbUrl::new(c.url("app"));
    let tool_err = dump_restore(&db, &empty, 1, &mut |_| {}).unwrap_err().to_string();
    assert!(tool_err.contains("pg_dump"), "{tool_err}");
    let bad_db = DbUrl::new(format!("postgres://secret_user:{password}@127.0.0.1:{}/nope", c.port()));
    let bad_db_err = format!("{:?}", is_empty(&bad_db).unwrap_err());
    for text in [&connect_err, &tool_err, &bad_db_err] {
        assert!(!text.contains(password), "{text}");
        assert!(!text.contains(&url), "{text}");
    }
    let tls = DbUrl::new(format!("{url}?sslmode=require"));
    assert!(matches!(inventory(&tls), Err(PgError::TlsUnsupported { .. })));
}

/// The script a machine on Fly runs against a database only it can reach
/// must read exactly what `digests` reads here, or every verification of
/// such a copy would fail (or, worse, pass on different data).
#[test]
fn the_digest_script_run_by_psql_elsewhere_reads_what_digests_reads() {
    use std::io::Write;
    let c = Cluster::start();
    c.create_db("src");
    seed_app(&c, "src");
    c.psql(
        "src",
        "CREATE SCHEMA \"Odd Schema\"; CREATE TABLE \"Odd Schema\".\"user\" (x int, at timestamptz, f float8); \
         INSERT INTO \"Odd Schema\".\"user\" VALUES (1, '2024-05-01 12:00+02', 0.1); \
         CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one; CREATE MATERIALIZED VIEW empty_mv AS SELECT 1 AS one WITH NO DATA; \
         CREATE TABLE parted (k int) PARTITION BY RANGE (k); CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10); \
         INSERT INTO parted VALUES (1), (2);",
    );
    let url = c.url("src");
    let script_digests = || {
        // Another client's settings, as a machine elsewhere would have them.
        let mut psql = std::process::Command::new("psql")
            .args(["-X", "-q", "-At", "-F", &DIGEST_FIELD_SEPARATOR.to_string(), "-v", "ON_ERROR_STOP=1", "-f", "-", &url])
            .env("PGTZ", "America/New_York")
            .env("PGDATESTYLE", "SQL, DMY")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        psql.stdin.take().unwrap().write_all(digest_script().as_bytes()).unwrap();
        let out = psql.wait_with_output().unwrap();
        assert!(out.status.success());
        parse_digests(&String::from_utf8(out.stdout).unwrap()).unwrap()
    };
    let sorted = |mut d: Vec<TableDigest>| {
        d.sort_by(|a, b| a.table.cmp(&b.table));
        d
    };
    let read_here = digests(&DbUrl::new(url.clone()), &[]).unwrap();
    let read_there = script_digests();
    assert_eq!(sorted(read_there.clone()), sorted(read_here));
    assert!(read_there.iter().any(|d| d.table == "\"Odd Schema\".user" && d.rows == 1), "{read_there:?}");
    assert!(read_there.iter().any(|d| d.table == "public.empty_mv" && d.checksum == "not populated"));

    c.psql("src", "UPDATE accounts SET name = 'tampered' WHERE id = 7");
    let changed: Vec<String> = compare(&read_there, &digests(&DbUrl::new(url), &[]).unwrap()).into_iter().filter(|t| !t.matches).map(|t| t.table).collect();
    assert_eq!(changed, ["public.accounts"]);
}
