use ferry_postgres::{DbUrl, ReplicaIdentity, inventory, is_empty};
use ferry_test_support::pg_cluster::{Cluster, seed_app};

#[test]
fn inventory_of_seeded_app() {
    let c = Cluster::start();
    c.create_db("app");
    seed_app(&c, "app");
    let db = DbUrl::new(c.url("app"));
    let inv = inventory(&db).unwrap();

    assert_eq!(inv.wal_level, "logical");
    assert!(inv.server_version.starts_with("15"), "{}", inv.server_version);
    assert_eq!(inv.database, "app");
    assert!(inv.total_bytes > 1_000_000);
    assert_eq!(inv.large_objects, 1);
    assert_eq!(inv.schemas, ["public"]);
    assert!(inv.extensions.contains(&"plpgsql".to_string()));

    let names: Vec<String> = inv.tables.iter().map(|t| t.qualified()).collect();
    assert_eq!(names, ["public.accounts", "public.documents", "public.events_log", "public.order_items", "public.orders"]);
    let table = |n: &str| inv.tables.iter().find(|t| t.name == n).unwrap();
    assert_eq!(table("accounts").primary_key, ["id"]);
    assert_eq!(table("order_items").primary_key, ["order_id", "line"]);
    assert!(table("events_log").primary_key.is_empty(), "table without pk detected");
    assert_eq!(table("events_log").replica_identity, ReplicaIdentity::Default);
    assert_eq!(table("orders").estimated_rows, 5000);
    assert!(table("orders").bytes > 0);

    let seqs: Vec<String> = inv.sequences.iter().map(|s| format!("{}.{}", s.schema, s.name)).collect();
    assert_eq!(seqs, ["public.accounts_id_seq", "public.documents_id_seq", "public.invoice_numbers", "public.orders_id_seq"]);
    assert!(!is_empty(&db).unwrap());
}

#[test]
fn fresh_database_is_empty_and_replica_identity_is_read() {
    let c = Cluster::start();
    c.create_db("fresh");
    let db = DbUrl::new(c.url("fresh"));
    assert!(is_empty(&db).unwrap());
    let inv = inventory(&db).unwrap();
    assert!(inv.tables.is_empty() && inv.sequences.is_empty() && inv.schemas.is_empty());
    assert_eq!(inv.large_objects, 0);

    c.psql("fresh", "CREATE TABLE \"Odd Name\" (x int); ALTER TABLE \"Odd Name\" REPLICA IDENTITY FULL;");
    ferry_postgres::set_replica_identity_full(&db, "public.\"Odd Name\"").unwrap();
    let inv = inventory(&db).unwrap();
    assert_eq!(inv.tables[0].name, "Odd Name");
    assert_eq!(inv.tables[0].replica_identity, ReplicaIdentity::Full);
    ferry_postgres::reset_replica_identity(&db, "public.\"Odd Name\"").unwrap();
    assert_eq!(inventory(&db).unwrap().tables[0].replica_identity, ReplicaIdentity::Default);
    assert!(!is_empty(&db).unwrap());
}
