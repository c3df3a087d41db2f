use ferry_postgres::{DbUrl, PgError, clear, dump_restore, inventory, is_empty, verify};
use ferry_test_support::pg_cluster::{Cluster, seed_app};

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
    assert!(!seen.is_empty() && seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(*seen.last().unwrap(), stats.bytes);
    let v = verify(&src, &dst, &[]).unwrap();
    assert!(v.ok(), "{:?}", v.mismatches());
    assert_eq!(v.tables.len(), 5 + 2, "five tables plus large-objects and sequences");
    assert_eq!(a.psql("app", SEQUENCE_VALUES), b.psql("app", SEQUENCE_VALUES));
    let lo = "SELECT convert_from(lo_get(body), 'UTF8') FROM documents";
    assert_eq!(b.psql("app", lo), "hello large object");
    let keys = |db: &DbUrl| -> Vec<(String, Vec<String>)> { inventory(db).unwrap().tables.into_iter().map(|t| (t.qualified(), t.primary_key)).collect() };
    assert_eq!(keys(&dst), keys(&src), "same tables and keys (sizes differ until ANALYZE)");

    // clear() is the undo: the target is empty again and can take the copy anew.
    clear(&dst, &inventory(&dst).unwrap().schemas).unwrap();
    assert!(is_empty(&dst).unwrap());
    assert_eq!(b.psql("app", "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"), "1");
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
    assert!(matches!(err, PgError::Tool { ref tool, .. } if tool == "pg_dump"), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    assert!(is_empty(&DbUrl::new(c.url("empty"))).unwrap(), "single transaction left nothing behind");
}

/// One of each object class a copy must carry.
const EVERY_KIND: &str = r#"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE DOMAIN positive AS int NOT NULL CHECK (VALUE > 0);
    CREATE SEQUENCE invoice_no INCREMENT 5 MINVALUE 100 MAXVALUE 100000 CYCLE;
    CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL DEFAULT 'anon', mood mood, age positive, CHECK (name <> ''));
    CREATE INDEX people_name ON people (lower(name));
    CREATE TABLE measurements (at date NOT NULL, v int) PARTITION BY RANGE (at);
    CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    CREATE FUNCTION shout(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(t) $$;
    CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := shout(NEW.name); RETURN NEW; END $$;
    CREATE TRIGGER people_touch BEFORE INSERT ON people FOR EACH ROW EXECUTE FUNCTION touch();
    CREATE VIEW adults AS SELECT id, name FROM people WHERE age >= 18;
    INSERT INTO people VALUES (1, 'ann', 'ok', 30), (2, 'bo', 'happy', 12);
    INSERT INTO measurements VALUES ('2026-03-01', 7);"#;

#[test]
fn the_catalog_of_a_copy_is_compared_and_every_difference_named() {
    let (a, b) = (Cluster::start(), Cluster::start());
    a.create_db("app");
    a.psql("app", EVERY_KIND);
    b.create_db("app");
    let (src, dst) = (DbUrl::new(a.url("app")), DbUrl::new(b.url("app")));
    dump_restore(&src, &dst, 1, &mut |_| {}).unwrap();
    let v = verify(&src, &dst, &[]).unwrap();
    assert!(v.ok(), "a faithful copy has no difference: {:?} {:?}", v.mismatches(), v.objects);
    let catalog = ferry_postgres::catalog(&src).unwrap();
    let kinds: std::collections::BTreeSet<&str> = catalog.objects.keys().map(|k| k.split_once(' ').unwrap().0).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["column", "constraint", "extension", "function", "index", "schema", "sequence", "table", "trigger", "type", "view"],
        "every kind is read"
    );
    let counts = inventory(&src).unwrap().objects;
    for (kind, n) in [("enum", 1), ("domain", 1), ("partitioned table", 1), ("table", 2), ("trigger", 1), ("function", 2), ("view", 1), ("sequence", 1)] {
        assert_eq!(counts.get(kind), Some(&n), "{kind}: {counts:?}");
    }

    b.psql(
        "app",
        "DROP INDEX people_name; ALTER TYPE mood ADD VALUE 'angry'; DROP TRIGGER people_touch ON people; \
         ALTER TABLE people ALTER COLUMN name SET DEFAULT 'x'; CREATE VIEW extra AS SELECT 1 AS one;",
    );
    let v = verify(&src, &dst, &[]).unwrap();
    assert!(!v.ok());
    let named: Vec<String> = v.objects.iter().map(ToString::to_string).collect();
    assert_eq!(
        named,
        [
            "column public.people.name differs (source: text not null default 'anon'::text; target: text not null default 'x'::text)",
            "index public.people_name is missing on the target",
            "trigger public.people.people_touch is missing on the target",
            "type public.mood differs (source: enum ('sad', 'ok', 'happy'); target: enum ('sad', 'ok', 'happy', 'angry'))",
            "column public.extra.one is only on the target",
            "view public.extra is only on the target",
        ]
    );
}
