//! What only the PostgreSQL backend has: the per-event tables partitioned by
//! month of `received_at`. New events land in the current month's partition,
//! old ones in the default partition, and idempotency keys and event ids stay
//! unique per workspace across partitions. (Everything else is in the
//! conformance suite, which runs on both backends.)

use logbook_core::integrity::Commitments;
use logbook_core::validate::{Limits, validate_event};
use logbook_core::{Catalog, Timestamp, WorkspaceCatalog};
use logbook_storage::postgres::test_database::TestDatabase;
use logbook_storage::postgres::{ConnectOptions, PostgresStorage};
use logbook_storage::{NewEvent, NewWorkspace, Storage, StorageError};
use tokio_postgres::NoTls;

/// A valid event received at `received_at`, with an idempotency key.
fn event(id: &str, received_at: Timestamp, key: &str) -> NewEvent {
    let json = serde_json::json!({
        "action": "ticket.created", "actor": {"id": "U-1"}, "target": {"type": "ticket", "id": id},
        "idempotency_key": key, "occurred_at": received_at.plus_millis(-1000).to_string(),
    });
    let document = WorkspaceCatalog::default();
    let body = validate_event(&json, &Catalog::new(&document), received_at, &Limits::default()).expect("valid");
    let commitments = Commitments::commit(&body, || [1; 32]);
    NewEvent { id: id.into(), body, commitments }
}

/// A fresh database with a workspace `acme`, its storage, and a plain client.
async fn acme_database() -> Option<(TestDatabase, PostgresStorage, tokio_postgres::Client)> {
    let database = TestDatabase::create().await?;
    let storage = PostgresStorage::open(&ConnectOptions::new(database.url.clone())).await.expect("opens");
    storage
        .create_workspace(NewWorkspace {
            id: "acme".into(),
            name: "Acme".into(),
            created_at: Timestamp::from_millis(0),
        })
        .await
        .unwrap();
    let (client, connection) = tokio_postgres::connect(&database.url, NoTls).await.unwrap();
    tokio::spawn(connection);
    Some((database, storage, client))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_partitioned_by_month_and_stay_unique_across_partitions() {
    let Some((_database, storage, client)) = acme_database().await else { return };
    let now = Timestamp::from_millis(
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap(),
    );
    let long_ago = now.plus_millis(-400 * 86_400_000);

    // An event received long ago (an import, a restore) goes to the default partition.
    let old = storage.append("acme", vec![event("old", long_ago, "key-1")]).await.unwrap();
    assert!(!old[0].duplicate);
    // Its idempotency key, retried now (which would be the current month's partition), is a duplicate.
    let retried = storage.append("acme", vec![event("new", now, "key-1")]).await.unwrap();
    assert_eq!((retried[0].id.as_str(), retried[0].seq, retried[0].duplicate), ("old", 0, true));
    // An id already stored in another partition is refused.
    let reused = storage.append("acme", vec![event("old", now, "key-2")]).await;
    assert!(matches!(reused, Err(StorageError::Conflict(_))), "{reused:?}");
    storage.append("acme", vec![event("current", now, "key-3")]).await.unwrap();

    let rows = client.query("SELECT id, tableoid::regclass::text FROM events ORDER BY seq", &[]).await.unwrap();
    let placed: Vec<(String, String)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    let month: String =
        client.query_one("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')", &[]).await.unwrap().get(0);
    assert_eq!(
        placed,
        [("old".to_string(), "events_default".to_string()), ("current".into(), format!("events_{month}"))]
    );
    // The coming months' partitions exist already, for every partitioned table.
    let partitions: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE c.relname ~ '^(events|event_changes|event_records)_[0-9]{4}_[0-9]{2}$'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(partitions, 3 * 5, "the previous, current and next three months of three tables");
    assert_eq!(storage.workspace("acme").await.unwrap().unwrap().event_count, 2);
}

/// A database that is not UTF8 is refused before anything is written to it:
/// in `SQL_ASCII` lengths are bytes, not characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_not_in_utf8_is_refused() {
    let Some(database) = TestDatabase::create_encoded("SQL_ASCII").await else { return };
    let refused = PostgresStorage::open(&ConnectOptions::new(database.url.clone())).await.err().expect("refused");
    assert!(refused.to_string().contains("the database's encoding is SQL_ASCII, and Logbook needs UTF8"), "{refused}");
    let (client, connection) = tokio_postgres::connect(&database.url, NoTls).await.unwrap();
    tokio::spawn(connection);
    let tables = client.query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", &[]).await.unwrap();
    assert_eq!(tables.get::<_, i64>(0), 0);
}

/// During a rolling upgrade, a process of an earlier version appends changes
/// without their event's time (migration 0005): the database fills it in, so
/// the index of changes by value orders them like every other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_appended_without_their_time_take_their_events() {
    let Some((_database, storage, client)) = acme_database().await else { return };
    let received_at = Timestamp::from_millis(1_790_000_000_000);
    let appended = storage.append("acme", vec![event("e-1", received_at, "key-1")]).await.unwrap();
    client
        .execute(
            "INSERT INTO event_changes (workspace, seq, position, field, from_value, to_value, received_at)
             VALUES ('acme', $1, 0, 'status', 'open', 'solved', $2)",
            &[&i64::try_from(appended[0].seq).unwrap(), &received_at.as_millis()],
        )
        .await
        .unwrap();
    let row = client
        .query_one(
            "SELECT c.occurred_at, e.occurred_at FROM event_changes c JOIN events e USING (workspace, seq, received_at)",
            &[],
        )
        .await
        .unwrap();
    let (change_time, event_time): (Option<i64>, i64) = (row.get(0), row.get(1));
    assert_eq!(change_time, Some(event_time));
    assert_eq!(event_time, received_at.as_millis() - 1000);
}
