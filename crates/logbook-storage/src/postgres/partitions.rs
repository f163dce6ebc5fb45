//! Monthly partitions of the per-event tables, by `received_at`.
//!
//! The partition key is `received_at`, not `occurred_at`: Logbook sets it, so
//! new rows always land in the current month's partition, while `occurred_at`
//! may be years in the past and would scatter rows over old partitions. Retention
//! then drops a month's partitions as a whole once every event in them is past
//! the retention period (the tree, in `tree_nodes`, is kept).
//!
//! Each process creates the partitions of the previous, current and next
//! [`MONTHS_AHEAD`] months at start and then every hour, so that a month's
//! partition exists before its first event. Rows no monthly partition covers go
//! to the DEFAULT partition; a monthly partition whose range already has rows
//! there cannot be created, which is reported and skipped (those rows stay where
//! they are, and are still read).

use std::sync::Weak;
use std::time::Duration;

use deadpool_postgres::Pool;

use super::backend;
use super::migrations::SCHEMA_LOCK;
use crate::model::StorageError;

/// The tables partitioned by `received_at`.
pub(super) const PARTITIONED_TABLES: [&str; 3] = ["events", "event_changes", "event_records"];

/// How many months after the current one get their partitions ahead.
pub(super) const MONTHS_AHEAD: i32 = 3;

/// How often each process checks that the coming months' partitions exist.
const CHECK_INTERVAL: Duration = Duration::from_secs(3600);

/// Creates the monthly partitions that are missing.
pub(super) async fn ensure_partitions(pool: &Pool) -> Result<(), StorageError> {
    let mut client = pool.get().await.map_err(super::unavailable)?;
    // PostgreSQL does the calendar: each month's suffix and bounds in milliseconds.
    let months = client
        .query(
            "SELECT to_char(month, 'YYYY_MM'),
                    (extract(epoch FROM month) * 1000)::bigint,
                    (extract(epoch FROM month + interval '1 month') * 1000)::bigint
             FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month',
                                  date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => $1),
                                  interval '1 month') AS month",
            &[&MONTHS_AHEAD],
        )
        .await
        .map_err(backend)?;
    for month in months {
        let (suffix, start, end): (String, i64, i64) = (month.get(0), month.get(1), month.get(2));
        for table in PARTITIONED_TABLES {
            let partition = format!("{table}_{suffix}");
            let exists: bool =
                client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&partition]).await.map_err(backend)?.get(0);
            if exists {
                continue;
            }
            let transaction = client.transaction().await.map_err(backend)?;
            let created = transaction
                .batch_execute(&format!(
                    "SELECT pg_advisory_xact_lock({SCHEMA_LOCK});
                     CREATE TABLE IF NOT EXISTS {partition} PARTITION OF {table} FOR VALUES FROM ({start}) TO ({end})"
                ))
                .await;
            match created {
                Ok(()) => transaction.commit().await.map_err(backend)?,
                Err(error) => {
                    tracing::warn!(partition, error = %error, "a monthly partition could not be created");
                    transaction.rollback().await.map_err(backend)?;
                }
            }
        }
    }
    Ok(())
}

/// Checks the partitions every [`CHECK_INTERVAL`] while the storage lives.
pub(super) fn keep_partitions_ahead(pool: Weak<Pool>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(CHECK_INTERVAL).await;
            let Some(pool) = pool.upgrade() else { return };
            if let Err(error) = ensure_partitions(&pool).await {
                tracing::warn!(%error, "checking the monthly partitions failed");
            }
        }
    });
}
