//! Every class of object a production database holds, each in a fixture of
//! its own, copied by both modes the way the engine runs them (the freeze,
//! then `dump_restore`; or the schema copy, replication under live writes,
//! the freeze and `finish_logical`), and proved equal twice:
//!
//! - by ferry's own verification (row checksums, sequences, large objects
//!   and the catalog diff), which is what gates a cutover, and
//! - by oracles that share no code with it: `pg_dump --schema-only` of both
//!   sides compared line by line, and each relation's rows, the sequences
//!   and the large objects fingerprinted by plain SQL.
//!
//! A class the catalog diff forgot would pass the first and fail the second.
//! Ownership and grants are not carried (the restore runs `--no-owner
//! --no-acl`: the target's roles are its own), so the schema oracle leaves
//! them out too and the grants fixture checks what the plan is told instead.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ferry_postgres::*;
use ferry_test_support::pg_cluster::Cluster;

const NAME: &str = "ferry_app";
const WAIT: Duration = Duration::from_secs(60);

/// One class: its definitions and rows, the writes the app makes while
/// logical replication runs, and SQL a session keeps open during the copy
/// (what only exists in that session, such as a temporary table).
struct Fixture {
    setup: &'static str,
    live: &'static str,
    session: Option<&'static str>,
}

impl Fixture {
    const fn new(setup: &'static str, live: &'static str) -> Fixture {
        Fixture { setup, live, session: None }
    }
}

fn copies_exactly(f: &Fixture) {
    let (a, b) = (Cluster::start(), Cluster::start());
    a.create_db("app");
    a.psql("app", f.setup);
    let src = DbUrl::new(a.url("app"));

    // dump-restore: the freeze, then one pg_dump | pg_restore.
    b.create_db("dumped");
    let dumped = DbUrl::new(b.url("dumped"));
    let session = f.session.map(|sql| open_session(&a, sql));
    let previous = freeze(&src).unwrap();
    dump_restore(&src, &dumped, 1, &mut |_| {}).unwrap();
    assert_equal(&a, &b, "dumped", "dump-restore");
    unfreeze(&src, previous.as_deref()).unwrap();
    drop(session);

    // logical: as the engine orders it, with the app writing until the freeze.
    b.create_db("replicated");
    let dst = DbUrl::new(b.url("replicated"));
    let session = f.session.map(|sql| open_session(&a, sql));
    let inv = inventory(&src).unwrap();
    copy_schema(&src, &dst).unwrap();
    let keyless: Vec<String> =
        inv.tables.iter().filter(|t| t.primary_key.is_empty() && t.replica_identity == ReplicaIdentity::Default).map(|t| t.qualified()).collect();
    for t in &keyless {
        set_replica_identity_full(&src, t).unwrap();
    }
    create_publication(&src, NAME).unwrap();
    create_subscription(&dst, &src, NAME).unwrap();
    wait_caught_up(&src, &dst, NAME, 0, WAIT, &mut |_| {}).unwrap();
    a.psql("app", f.live);
    let previous = freeze(&src).unwrap();
    let unlogged: Vec<String> = inv.tables.iter().filter(|t| t.unlogged).map(|t| t.qualified()).collect();
    finish_logical(&src, &dst, NAME, &unlogged, WAIT).unwrap();
    for t in &keyless {
        reset_replica_identity(&src, t).unwrap();
    }
    assert_equal(&a, &b, "replicated", "logical");
    unfreeze(&src, previous.as_deref()).unwrap();
    drop(session);
}

/// A session that stays open, holding what `sql` made in it.
fn open_session(c: &Cluster, sql: &str) -> postgres::Client {
    let mut client = postgres::Client::connect(&c.url("app"), postgres::NoTls).unwrap();
    client.batch_execute(sql).unwrap();
    client
}

fn assert_equal(a: &Cluster, b: &Cluster, db: &str, mode: &str) {
    let inv = inventory(&DbUrl::new(a.url("app"))).unwrap();
    let relations: Vec<String> = inv.tables.iter().map(|t| t.qualified()).chain(inv.materialized_views).collect();
    let v = verify(&DbUrl::new(a.url("app")), &DbUrl::new(b.url(db)), &relations).unwrap();
    assert!(v.ok(), "{mode}: ferry's verification: {:?} {:?}", v.mismatches(), v.objects.iter().map(ToString::to_string).collect::<Vec<_>>());

    let (source, target) = (schema_dump(a, "app"), schema_dump(b, db));
    let differing: Vec<(&str, &str)> = source.lines().zip(target.lines()).filter(|(s, t)| s != t).take(5).collect();
    assert!(source == target, "{mode}: pg_dump --schema-only differs, first lines: {differing:?}\nsource:\n{source}\ntarget:\n{target}");
    assert_eq!(fingerprints(b, db), fingerprints(a, "app"), "{mode}: rows, sequences and large objects by plain SQL");
}

/// `pg_dump --schema-only` without what no copy carries (owners, grants,
/// subscriptions), its `--` comment lines and its per-run `\restrict` key.
fn schema_dump(c: &Cluster, db: &str) -> String {
    let out = Command::new(Path::new("/usr/lib/postgresql/15/bin/pg_dump"))
        .args(["--schema-only", "--no-owner", "--no-acl", "--no-subscriptions", "-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(c.port().to_string())
        .arg(db)
        .env_remove("PGPASSWORD")
        .output()
        .expect("pg_dump (scripts/install-deps --test)");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("--") && !l.is_empty() && !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each populated relation's row count and the md5 of its sorted rows,
/// every sequence's state and every large object's bytes, by plain SQL.
fn fingerprints(c: &Cluster, db: &str) -> Vec<String> {
    let relations = c.psql(
        db,
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'm') AND c.relispopulated AND c.relpersistence <> 't' \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
    );
    let mut out: Vec<String> = relations
        .lines()
        .map(|r| {
            let rows = c.psql(db, &format!("SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM {r} x"));
            format!("{r} {rows}")
        })
        .collect();
    out.push(c.psql(db, "SELECT coalesce(string_agg(format('%I.%I', schemaname, sequencename) || '=' || coalesce(last_value::text, 'unset'), ',' ORDER BY schemaname, sequencename), '') FROM pg_sequences"));
    out.push(c.psql(db, "SELECT coalesce(string_agg(oid::text || ':' || md5(lo_get(oid)), ',' ORDER BY oid), '') FROM pg_largeobject_metadata"));
    out
}

/// Names with every character PostgreSQL allows in a quoted identifier: a
/// dot, a double quote, spaces, capitals, `$`, `*`, non-ASCII; in a schema
/// of its own; columns too.
const IDENTIFIERS: Fixture = Fixture::new(
    r#"CREATE SCHEMA "Odd.Schema ""q""";
    CREATE TABLE "Odd.Schema ""q"""."Order.Lines ""x"" $1 * Ünï" ("Mixed Case" int PRIMARY KEY, "dot.col" text, "quote""col" text, "select" int);
    INSERT INTO "Odd.Schema ""q"""."Order.Lines ""x"" $1 * Ünï" SELECT g, 'd' || g, 'q' || g, g FROM generate_series(1, 200) g;
    CREATE TABLE "UPPER" (id int PRIMARY KEY, v text);
    INSERT INTO "UPPER" VALUES (1, 'one');
    CREATE INDEX "idx.odd ""i""" ON "Odd.Schema ""q"""."Order.Lines ""x"" $1 * Ünï" ("dot.col");"#,
    r#"INSERT INTO "Odd.Schema ""q"""."Order.Lines ""x"" $1 * Ünï" VALUES (1000, 'late', 'late', 0);
    UPDATE "Odd.Schema ""q"""."Order.Lines ""x"" $1 * Ünï" SET "dot.col" = 'changed' WHERE "Mixed Case" < 10;
    DELETE FROM "UPPER";"#,
);

/// Plain tables with what a schema holds around rows: defaults, checks,
/// foreign keys, a generated column, an identity, jsonb, arrays, NULLs.
const TABLES: Fixture = Fixture::new(
    "CREATE TABLE customers (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, email text UNIQUE NOT NULL, tags text[], meta jsonb);
    CREATE TABLE orders (id serial PRIMARY KEY, customer int NOT NULL REFERENCES customers ON DELETE CASCADE, qty int CHECK (qty > 0),
      price numeric(10, 2) DEFAULT 0, total numeric GENERATED ALWAYS AS (qty * price) STORED, placed timestamptz DEFAULT '2026-01-01');
    INSERT INTO customers (email, tags, meta) SELECT 'c' || g || '@x', ARRAY['a', NULL, 'b'], jsonb_build_object('n', g) FROM generate_series(1, 300) g;
    INSERT INTO orders (customer, qty, price) SELECT 1 + g % 300, 1 + g % 5, g / 7.0 FROM generate_series(1, 1000) g;",
    "INSERT INTO customers (email) VALUES ('late@x'); UPDATE orders SET qty = qty + 1 WHERE id % 10 = 0; DELETE FROM customers WHERE id = 7;",
);

/// A table without a key, updated and deleted from while replicated (it
/// needs REPLICA IDENTITY FULL, reset after the copy).
const KEYLESS: Fixture = Fixture::new(
    "CREATE TABLE events (at timestamptz, kind text, payload text);
    INSERT INTO events SELECT '2026-01-01'::timestamptz + g * interval '1 s', 'k' || g % 3, 'dup' FROM generate_series(1, 500) g;",
    "UPDATE events SET payload = 'changed' WHERE kind = 'k1'; DELETE FROM events WHERE kind = 'k2'; INSERT INTO events VALUES (now(), 'late', NULL);",
);

/// Range and list partitions, a default partition, a sub-partitioned one.
const PARTITIONS: Fixture = Fixture::new(
    "CREATE TABLE measurements (at date NOT NULL, region text NOT NULL, v int, PRIMARY KEY (at, region)) PARTITION BY RANGE (at);
    CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY LIST (region);
    CREATE TABLE measurements_2026_eu PARTITION OF measurements_2026 FOR VALUES IN ('eu');
    CREATE TABLE measurements_2026_other PARTITION OF measurements_2026 DEFAULT;
    CREATE TABLE measurements_rest PARTITION OF measurements DEFAULT;
    INSERT INTO measurements SELECT '2025-06-01'::date + g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g FROM generate_series(0, 900) g;",
    "INSERT INTO measurements VALUES ('2026-12-06', 'eu', -1), ('2030-01-01', 'eu', -2); DELETE FROM measurements WHERE v = 5;",
);

/// An UNLOGGED table: replication never sees its rows; logical mode dumps
/// them inside the freeze.
const UNLOGGED: Fixture = Fixture::new(
    "CREATE UNLOGGED TABLE cache (k text PRIMARY KEY, v text); INSERT INTO cache SELECT 'k' || g, 'v' FROM generate_series(1, 300) g;
    CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1);",
    "INSERT INTO cache VALUES ('late', 'v'); DELETE FROM cache WHERE k = 'k1'; INSERT INTO kept VALUES (2);",
);

/// A temporary table exists only in the session that made it: no copy
/// carries it, and neither side shows it.
const TEMPORARY: Fixture = Fixture {
    session: Some("CREATE TEMPORARY TABLE scratch (x int); INSERT INTO scratch VALUES (1), (2);"),
    ..Fixture::new("CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1);", "INSERT INTO kept VALUES (2);")
};

/// A foreign table: its server, user mapping and definition are carried;
/// its rows live on the foreign server (never contacted here).
const FOREIGN: Fixture = Fixture::new(
    "CREATE EXTENSION postgres_fdw;
    CREATE SERVER warehouse FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '192.0.2.1', dbname 'stock');
    CREATE USER MAPPING FOR CURRENT_USER SERVER warehouse OPTIONS (user 'reader');
    CREATE FOREIGN TABLE stock (sku text, qty int) SERVER warehouse OPTIONS (table_name 'stock');
    CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1);",
    "INSERT INTO kept VALUES (2);",
);

/// Standalone sequences (one never called, one cycling, one descending),
/// serial and identity columns, advanced while replicated.
const SEQUENCES: Fixture = Fixture::new(
    "CREATE SEQUENCE invoice_no START 1000 INCREMENT 5; SELECT nextval('invoice_no') FROM generate_series(1, 3);
    CREATE SEQUENCE untouched;
    CREATE SEQUENCE cycling MINVALUE 1 MAXVALUE 3 CYCLE; SELECT nextval('cycling') FROM generate_series(1, 4);
    CREATE SEQUENCE countdown INCREMENT -1 START -1; SELECT nextval('countdown');
    CREATE TABLE tickets (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n serial);
    INSERT INTO tickets DEFAULT VALUES; INSERT INTO tickets DEFAULT VALUES;",
    "SELECT nextval('invoice_no'); INSERT INTO tickets DEFAULT VALUES; SELECT setval('cycling', 2, false);",
);

/// Views over views, a security-barrier view with a check option.
const VIEWS: Fixture = Fixture::new(
    "CREATE TABLE people (id int PRIMARY KEY, name text, age int); INSERT INTO people SELECT g, 'p' || g, g % 90 FROM generate_series(1, 100) g;
    CREATE VIEW adults AS SELECT id, name FROM people WHERE age >= 18;
    CREATE VIEW adult_names AS SELECT upper(name) AS name FROM adults;
    CREATE VIEW minors WITH (security_barrier) AS SELECT * FROM people WHERE age < 18 WITH CHECK OPTION;",
    "INSERT INTO people VALUES (1000, 'late', 40);",
);

/// Materialized views: one filled, with a unique index; one never filled;
/// one over another.
const MATERIALIZED_VIEWS: Fixture = Fixture::new(
    "CREATE TABLE sales (id int PRIMARY KEY, region text, amount int); INSERT INTO sales SELECT g, 'r' || g % 4, g FROM generate_series(1, 400) g;
    CREATE MATERIALIZED VIEW totals AS SELECT region, sum(amount) AS amount FROM sales GROUP BY region;
    CREATE UNIQUE INDEX totals_region ON totals (region);
    CREATE MATERIALIZED VIEW top AS SELECT * FROM totals ORDER BY amount DESC LIMIT 2;
    CREATE MATERIALIZED VIEW later AS SELECT count(*) FROM sales WITH NO DATA;",
    "INSERT INTO sales VALUES (1000, 'r9', 5); REFRESH MATERIALIZED VIEW totals; REFRESH MATERIALIZED VIEW top;",
);

/// Enums, domains with checks, composite and range types, used by columns.
const TYPES: Fixture = Fixture::new(
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';
    CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%') NOT NULL;
    CREATE TYPE money_amount AS (currency char(3), cents bigint);
    CREATE TYPE float_range AS RANGE (subtype = float8);
    CREATE TABLE typed (id int PRIMARY KEY, m mood, e email, price money_amount, span float_range, during tstzrange);
    INSERT INTO typed SELECT g, (ARRAY['sad', 'meh', 'ok', 'happy']::mood[])[1 + g % 4], 'u' || g || '@x', ROW('EUR', g * 100)::money_amount, float_range(g, g + 0.5),
      tstzrange('2026-01-01', '2026-02-01') FROM generate_series(1, 100) g;",
    "INSERT INTO typed VALUES (1000, 'happy', 'late@x', ROW('USD', 1)::money_amount, '[1,2)', NULL);",
);

/// Functions in SQL and PL/pgSQL, a procedure, an aggregate, a row and a
/// statement trigger, and an event trigger.
const FUNCTIONS: Fixture = Fixture::new(
    "CREATE TABLE counters (id int PRIMARY KEY, v int, name text);
    CREATE FUNCTION shout(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(t) $$;
    CREATE PROCEDURE bump(n int) LANGUAGE sql AS $$ UPDATE counters SET v = v + n $$;
    CREATE AGGREGATE concat_all(text) (SFUNC = textcat, STYPE = text, INITCOND = '');
    CREATE TABLE audit (at bigint, what text);
    CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := shout(NEW.name); RETURN NEW; END $$;
    CREATE FUNCTION audited() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (txid_current(), TG_OP); RETURN NULL; END $$;
    CREATE TRIGGER counters_touch BEFORE INSERT OR UPDATE ON counters FOR EACH ROW EXECUTE FUNCTION touch();
    CREATE TRIGGER counters_audit AFTER INSERT ON counters FOR EACH STATEMENT EXECUTE FUNCTION audited();
    CREATE FUNCTION no_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
    CREATE EVENT TRIGGER watch_ddl ON ddl_command_end EXECUTE FUNCTION no_ddl();
    INSERT INTO counters SELECT g, g, 'c' || g FROM generate_series(1, 50) g;",
    "CALL bump(2); INSERT INTO counters VALUES (1000, 0, 'late');",
);

/// Extensions and columns of their types.
const EXTENSIONS: Fixture = Fixture::new(
    "CREATE EXTENSION citext; CREATE EXTENSION hstore; CREATE EXTENSION pg_trgm;
    CREATE TABLE users (email citext PRIMARY KEY, attrs hstore);
    CREATE INDEX users_trgm ON users USING gin ((email::text) gin_trgm_ops);
    INSERT INTO users SELECT 'User' || g || '@X', hstore('n', g::text) FROM generate_series(1, 100) g;",
    "INSERT INTO users VALUES ('LATE@x', 'a=>b');",
);

/// Large objects, referenced by a table; one written and one unlinked
/// while replicated.
const LARGE_OBJECTS: Fixture = Fixture::new(
    "CREATE TABLE documents (id serial PRIMARY KEY, body oid);
    INSERT INTO documents (body) SELECT lo_from_bytea(0, convert_to(repeat('page ' || g, 1000), 'UTF8')) FROM generate_series(1, 5) g;",
    "INSERT INTO documents (body) VALUES (lo_from_bytea(0, 'late'::bytea)); SELECT lo_unlink(body) FROM documents WHERE id = 2; DELETE FROM documents WHERE id = 2;",
);

/// The app's own publications, for its change-data consumers.
const PUBLICATIONS: Fixture = Fixture::new(
    "CREATE TABLE orders (id int PRIMARY KEY, v int); CREATE TABLE notes (id int PRIMARY KEY);
    INSERT INTO orders SELECT g, g FROM generate_series(1, 50) g;
    CREATE PUBLICATION order_changes FOR TABLE orders WITH (publish = 'insert, update');
    CREATE PUBLICATION everything FOR ALL TABLES;",
    "INSERT INTO orders VALUES (1000, 0);",
);

/// Comments on a schema, a table, a column, a view, a function, a type, an
/// index and a constraint.
const COMMENTS: Fixture = Fixture::new(
    "CREATE SCHEMA billing; COMMENT ON SCHEMA billing IS 'money';
    CREATE TABLE billing.invoices (id int CONSTRAINT invoices_pk PRIMARY KEY, total int);
    COMMENT ON TABLE billing.invoices IS 'one per order'; COMMENT ON COLUMN billing.invoices.total IS 'in cents';
    COMMENT ON CONSTRAINT invoices_pk ON billing.invoices IS 'the key'; COMMENT ON INDEX billing.invoices_pk IS 'its index';
    CREATE VIEW billing.big AS SELECT * FROM billing.invoices WHERE total > 100; COMMENT ON VIEW billing.big IS 'large ones';
    CREATE FUNCTION billing.cents(int) RETURNS int LANGUAGE sql AS $$ SELECT $1 * 100 $$; COMMENT ON FUNCTION billing.cents(int) IS 'to cents';
    CREATE TYPE billing.state AS ENUM ('open', 'paid'); COMMENT ON TYPE billing.state IS 'lifecycle';
    INSERT INTO billing.invoices VALUES (1, 50), (2, 500);",
    "INSERT INTO billing.invoices VALUES (3, 5);",
);

/// Owners and grants to roles the target does not have.
const GRANTS: Fixture = Fixture::new(
    "DO $$ BEGIN CREATE ROLE app_owner; CREATE ROLE app_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
    CREATE SCHEMA reports AUTHORIZATION app_owner; GRANT USAGE ON SCHEMA reports TO app_reader;
    CREATE TABLE reports.daily (id int PRIMARY KEY, v int); ALTER TABLE reports.daily OWNER TO app_owner;
    GRANT SELECT ON reports.daily TO app_reader;
    CREATE FUNCTION reports.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; REVOKE EXECUTE ON FUNCTION reports.f() FROM PUBLIC;
    INSERT INTO reports.daily VALUES (1, 1);",
    "INSERT INTO reports.daily VALUES (2, 2);",
);

macro_rules! classes {
    ($($test:ident: $fixture:ident),* $(,)?) => {$(
        #[test]
        fn $test() {
            copies_exactly(&$fixture);
        }
    )*};
}

classes! {
    identifiers_with_every_character_copy_exactly: IDENTIFIERS,
    plain_tables_copy_exactly: TABLES,
    a_table_without_a_key_copies_exactly: KEYLESS,
    partitioned_tables_copy_exactly: PARTITIONS,
    unlogged_tables_copy_exactly: UNLOGGED,
    temporary_tables_are_left_out: TEMPORARY,
    foreign_tables_copy_as_definitions: FOREIGN,
    sequences_copy_exactly: SEQUENCES,
    views_copy_exactly: VIEWS,
    materialized_views_copy_filled_or_unfilled_as_on_the_source: MATERIALIZED_VIEWS,
    types_and_domains_copy_exactly: TYPES,
    functions_procedures_aggregates_and_triggers_copy_exactly: FUNCTIONS,
    extensions_copy_exactly: EXTENSIONS,
    large_objects_copy_exactly: LARGE_OBJECTS,
    publications_copy_as_definitions: PUBLICATIONS,
    comments_copy_exactly: COMMENTS,
    owners_and_grants_are_left_to_the_target_and_counted: GRANTS,
}

/// What no copy carries is counted for the plan, and nothing else is.
#[test]
fn the_inventory_counts_the_objects_whose_grants_no_copy_carries() {
    let c = Cluster::start();
    c.create_db("app");
    c.psql("app", GRANTS.setup);
    c.create_db("plain");
    c.psql("plain", TABLES.setup);
    let counted = |db: &str| inventory(&DbUrl::new(c.url(db))).unwrap().objects.get("granted object").copied();
    assert_eq!(counted("app"), Some(3), "the schema, the table and the function carry grants");
    assert_eq!(counted("plain"), None, "public's grants from initdb are not the app's");
    let comments = inventory(&DbUrl::new(c.url("app"))).unwrap().objects.get("comment").copied();
    assert_eq!(comments, None);
}
