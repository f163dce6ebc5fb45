//! The PostgreSQL backend's schema changes (`migrations/*.sql`), applied in
//! order at start and recorded in `logbook_migrations`. Several processes may
//! start at once: an advisory lock held for the migrating transaction makes
//! them take turns, and each applies only what is still missing.

use deadpool_postgres::Client;

use super::backend;
use crate::model::StorageError;

/// The migrations, in order.
const MIGRATIONS: [&str; 5] = [
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_events_by_category.sql"),
    include_str!("migrations/0003_no_word_index.sql"),
    include_str!("migrations/0004_event_counts_and_failures.sql"),
    include_str!("migrations/0005_changes_by_value.sql"),
];

/// The advisory lock key that serializes schema changes (ASCII "Logbook" + 1).
pub(super) const SCHEMA_LOCK: i64 = 0x4c6f_6762_6f6f_6b01;

/// Applies the migrations the database has not had, in one transaction.
pub(super) async fn migrate(client: &mut Client) -> Result<(), StorageError> {
    let transaction = client.transaction().await.map_err(backend)?;
    transaction.batch_execute(&format!("SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")).await.map_err(backend)?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS logbook_migrations (
                 version     INTEGER PRIMARY KEY,
                 applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(backend)?;
    let applied: i32 = transaction
        .query_one("SELECT COALESCE(MAX(version), 0) FROM logbook_migrations", &[])
        .await
        .map_err(backend)?
        .get(0);
    let applied = usize::try_from(applied).unwrap_or_default();
    if applied > MIGRATIONS.len() {
        return Err(StorageError::Backend(format!(
            "the database has schema version {applied}, newer than this Logbook knows ({}); upgrade Logbook",
            MIGRATIONS.len()
        )));
    }
    for (number, script) in MIGRATIONS.iter().enumerate().skip(applied) {
        transaction.batch_execute(script).await.map_err(backend)?;
        let version = i32::try_from(number + 1).unwrap_or(i32::MAX);
        transaction
            .execute("INSERT INTO logbook_migrations (version) VALUES ($1)", &[&version])
            .await
            .map_err(backend)?;
    }
    transaction.commit().await.map_err(backend)
}
