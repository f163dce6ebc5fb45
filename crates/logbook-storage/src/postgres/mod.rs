//! The PostgreSQL backend, for several Logbook processes on one database (and
//! for Citus, distributed by workspace: see `docs/scaling.md`). It owns its
//! migrations (`migrations/`, applied at start), keeps a pool of connections
//! ([`connect`], TLS through rustls), and shares the filter translation with the
//! embedded backend.
//!
//! Correctness across processes rests on the database alone: appends to one
//! workspace take turns on a row lock of that workspace ([`append`]); reads see
//! only committed appends, whose tree nodes were committed with them; secrets are
//! rows that the first process to start creates and every other one reads.

mod append;
pub mod connect;
mod migrations;
mod partitions;
pub mod test_database;
mod tree;

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Pool, PoolError};
use logbook_core::integrity::Commitments;
use logbook_core::{
    Event, EventFilter, EventQuery, GroupBy, Timestamp, Workspace, WorkspaceCatalog, WorkspaceSettings,
};
use logbook_tlog::Hash;
use logbook_tlog::tree as tlog_tree;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::Storage;
use crate::daily_counts;
use crate::filter_sql::{self, Dialect, SqlValue};
use crate::model::{ApiKey, Appended, NewApiKey, NewEvent, NewWorkspace, StorageError, StoredEvent, WorkspaceUpdate};
use crate::rows::{
    KEY_COLUMNS, WORKSPACE_COLUMNS, size_beyond_log, to_commitments, to_event, to_hash, to_json, to_key, to_unsigned,
    to_workspace,
};
pub use connect::{ConnectOptions, redact_url};

/// The PostgreSQL storage. Clones share one pool.
#[derive(Clone)]
pub struct PostgresStorage {
    pool: Arc<Pool>,
}

/// A driver error as a storage error (its message names no secret: the driver
/// never prints the password).
pub(crate) fn backend(error: tokio_postgres::Error) -> StorageError {
    StorageError::Backend(error.to_string())
}

/// A pool error: no connection could be had.
pub(crate) fn unavailable(error: PoolError) -> StorageError {
    StorageError::Unavailable(format!("no database connection: {error}"))
}

/// A shared statement's parameter as the driver takes it.
fn postgres_value(value: &SqlValue) -> Box<dyn ToSql + Sync + Send> {
    match value {
        SqlValue::Text(text) => Box::new(text.clone()),
        SqlValue::Integer(integer) => Box::new(*integer),
    }
}

fn workspace_row(row: &Row) -> Result<Workspace, StorageError> {
    to_workspace((row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5)))
}

fn key_row(row: &Row) -> Result<ApiKey, StorageError> {
    to_key((row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6), row.get(7)))
}

/// How many statements one connection keeps prepared at most.
const MAX_CACHED_STATEMENTS: usize = 256;

impl PostgresStorage {
    /// Connects, applies pending migrations and creates the coming months'
    /// partitions. Must run inside a Tokio runtime.
    pub async fn open(options: &ConnectOptions) -> Result<PostgresStorage, StorageError> {
        let pool = Arc::new(connect::pool(options)?);
        let mut client = pool.get().await.map_err(|error| {
            StorageError::Unavailable(format!("cannot connect to {}: {error}", redact_url(&options.url)))
        })?;
        connect::require_utf8(&client).await?;
        migrations::migrate(&mut client).await?;
        drop(client);
        partitions::ensure_partitions(&pool).await?;
        partitions::keep_partitions_ahead(Arc::downgrade(&pool));
        Ok(PostgresStorage { pool })
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StorageError> {
        self.pool.get().await.map_err(unavailable)
    }

    /// Runs a fixed statement (prepared once per connection).
    async fn rows(&self, statement: &str, parameters: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StorageError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(statement).await.map_err(backend)?;
        client.query(&statement, parameters).await.map_err(backend)
    }

    /// Runs a statement built from a filter. It is prepared once per connection
    /// and shape of filter: PostgreSQL then plans it with run-time partition
    /// pruning instead of planning every request over every partition, which took
    /// about 3 ms. Filters vary without end, so a connection that holds
    /// [`MAX_CACHED_STATEMENTS`] starts its cache again.
    async fn built_rows(&self, sql: &filter_sql::Sql) -> Result<Vec<Row>, StorageError> {
        let values: Vec<Box<dyn ToSql + Sync + Send>> = sql.parameters.iter().map(postgres_value).collect();
        let parameters: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|value| value.as_ref() as &(dyn ToSql + Sync)).collect();
        let client = self.client().await?;
        if client.statement_cache.size() >= MAX_CACHED_STATEMENTS {
            client.statement_cache.clear();
        }
        let statement = client.prepare_cached(&sql.text).await.map_err(backend)?;
        client.query(&statement, &parameters).await.map_err(backend)
    }

    async fn load_workspace(client: &impl GenericClient, id: &str) -> Result<Option<Workspace>, StorageError> {
        let statement = client
            .prepare_cached(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"))
            .await
            .map_err(backend)?;
        client.query_opt(&statement, &[&id]).await.map_err(backend)?.as_ref().map(workspace_row).transpose()
    }

    /// Runs tree maths over a workspace's stored nodes, for a size within its log.
    async fn read_tree<T>(
        &self,
        workspace: &str,
        size: u64,
        work: impl Fn(tree::ReadNode<'_>) -> Result<T, tlog_tree::TreeError<StorageError>>,
    ) -> Result<T, StorageError> {
        let client = self.client().await?;
        let count = PostgresStorage::load_workspace(&client, workspace)
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("workspace {workspace}")))?
            .event_count;
        if size > count {
            return Err(size_beyond_log(workspace, count, size));
        }
        tree::with_nodes(&client, workspace, work).await
    }
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn create_workspace(&self, workspace: NewWorkspace) -> Result<Workspace, StorageError> {
        let settings = to_json(&WorkspaceSettings::default())?;
        let catalog = to_json(&WorkspaceCatalog::default())?;
        let inserted = self
            .rows(
                &format!(
                    "INSERT INTO workspaces (id, name, created_at, settings, catalog) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO NOTHING RETURNING {WORKSPACE_COLUMNS}"
                ),
                &[&workspace.id, &workspace.name, &workspace.created_at.as_millis(), &settings, &catalog],
            )
            .await?;
        match inserted.first() {
            Some(row) => workspace_row(row),
            None => Err(StorageError::Conflict(format!("workspace {} already exists", workspace.id))),
        }
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StorageError> {
        let rows = self.rows(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY id"), &[]).await?;
        rows.iter().map(workspace_row).collect()
    }

    async fn workspace(&self, id: &str) -> Result<Option<Workspace>, StorageError> {
        PostgresStorage::load_workspace(&self.client().await?, id).await
    }

    async fn update_workspace(&self, id: &str, update: WorkspaceUpdate) -> Result<Workspace, StorageError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(backend)?;
        let current = transaction
            .query_opt(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1 FOR NO KEY UPDATE"), &[&id])
            .await
            .map_err(backend)?
            .as_ref()
            .map(workspace_row)
            .transpose()?
            .ok_or_else(|| StorageError::NotFound(format!("workspace {id}")))?;
        let name = update.name.unwrap_or(current.name);
        let settings = to_json(&update.settings.unwrap_or(current.settings))?;
        let catalog = to_json(&update.catalog.unwrap_or(current.catalog))?;
        let row = transaction
            .query_one(
                &format!(
                    "UPDATE workspaces SET name = $2, settings = $3, catalog = $4 WHERE id = $1
                     RETURNING {WORKSPACE_COLUMNS}"
                ),
                &[&id, &name, &settings, &catalog],
            )
            .await
            .map_err(backend)?;
        transaction.commit().await.map_err(backend)?;
        workspace_row(&row)
    }

    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey, StorageError> {
        let roles = to_json(&key.roles)?;
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO api_keys (id, workspace, name, roles, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&key.id, &key.workspace, &key.name, &roles, &key.secret_hash, &key.created_at.as_millis()],
            )
            .await
            .map_err(|error| match error.code() {
                Some(&SqlState::FOREIGN_KEY_VIOLATION) => StorageError::NotFound(format!("workspace {}", key.workspace)),
                Some(&SqlState::UNIQUE_VIOLATION) => StorageError::Conflict(format!("key {} already exists", key.id)),
                _ => backend(error),
            })?;
        Ok(ApiKey::new_unused(key))
    }

    async fn list_api_keys(&self, workspace: &str) -> Result<Vec<ApiKey>, StorageError> {
        let rows = self
            .rows(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE workspace = $1 ORDER BY created_at, id"),
                &[&workspace],
            )
            .await?;
        rows.iter().map(key_row).collect()
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StorageError> {
        let rows = self.rows(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"), &[&key_id]).await?;
        rows.first().map(key_row).transpose()
    }

    async fn revoke_api_key(&self, workspace: &str, key_id: &str, at: Timestamp) -> Result<bool, StorageError> {
        // The row is returned whether or not it was already revoked (the first
        // revocation time stays).
        let rows = self
            .rows(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE workspace = $1 AND id = $2 RETURNING id",
                &[&workspace, &key_id, &at.as_millis()],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn touch_api_key(&self, key_id: &str, at: Timestamp) -> Result<(), StorageError> {
        self.rows("UPDATE api_keys SET last_used_at = $2 WHERE id = $1 RETURNING id", &[&key_id, &at.as_millis()])
            .await
            .map(|_| ())
    }

    async fn append(&self, workspace: &str, events: Vec<NewEvent>) -> Result<Vec<Appended>, StorageError> {
        append::append(&self.pool, workspace, &events).await
    }

    async fn query(&self, workspace: &str, query: &EventQuery) -> Result<Vec<Event>, StorageError> {
        let sql = filter_sql::page_query(Dialect::Postgres, workspace, query);
        let rows = self.built_rows(&sql).await?;
        rows.iter().map(|row| to_event(workspace, row.get(0), row.get(1), row.get(2), row.get(3))).collect()
    }

    async fn stats(
        &self,
        workspace: &str,
        filter: &EventFilter,
        max_seq: u64,
        group_by: GroupBy,
    ) -> Result<Vec<(String, u64)>, StorageError> {
        let sql = daily_counts::stats_query(Dialect::Postgres, workspace, filter, max_seq, group_by);
        let rows = self.built_rows(&sql).await?;
        rows.iter().map(|row| Ok((row.get(0), to_unsigned(row.get(1), "a count")?))).collect()
    }

    async fn event(&self, workspace: &str, id: &str) -> Result<Option<Event>, StorageError> {
        let rows = self
            .rows(
                "SELECT e.seq, e.body, e.leaf_hash FROM event_ids i
                 JOIN events e ON e.workspace = i.workspace AND e.seq = i.seq AND e.received_at = i.received_at
                 WHERE i.workspace = $1 AND i.id = $2",
                &[&workspace, &id],
            )
            .await?;
        rows.first().map(|row| to_event(workspace, row.get(0), id.to_string(), row.get(1), row.get(2))).transpose()
    }

    async fn tree_root(&self, workspace: &str, size: u64) -> Result<Hash, StorageError> {
        self.read_tree(workspace, size, |read| tlog_tree::root(size, read)).await
    }

    async fn inclusion_proof(&self, workspace: &str, seq: u64, size: u64) -> Result<Vec<Hash>, StorageError> {
        self.read_tree(workspace, size, |read| tlog_tree::inclusion_proof(seq, size, read)).await
    }

    async fn consistency_proof(&self, workspace: &str, from: u64, to: u64) -> Result<Vec<Hash>, StorageError> {
        self.read_tree(workspace, to, |read| tlog_tree::consistency_proof(from, to, read)).await
    }

    async fn stored_events(
        &self,
        workspace: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let from_seq = i64::try_from(from_seq).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .rows(
                "SELECT seq, id, body, leaf_hash, personal FROM events
                 WHERE workspace = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                &[&workspace, &from_seq, &limit],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredEvent {
                    seq: to_unsigned(row.get(0), "seq")?,
                    id: row.get(1),
                    body_json: row.get(2),
                    leaf: row.get(3),
                    personal_json: row.get(4),
                })
            })
            .collect()
    }

    async fn commitments(&self, workspace: &str, seqs: Vec<u64>) -> Result<Vec<(u64, Commitments)>, StorageError> {
        let wanted: Vec<i64> = seqs.iter().map(|seq| i64::try_from(*seq).unwrap_or(i64::MAX)).collect();
        let rows = self
            .rows("SELECT seq, personal FROM events WHERE workspace = $1 AND seq = ANY($2)", &[&workspace, &wanted])
            .await?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = row.get(0);
            found.insert(to_unsigned(seq, "seq")?, to_commitments(seq, row.get(1))?);
        }
        // In the order asked, as the embedded backend answers.
        Ok(seqs.into_iter().filter_map(|seq| found.remove(&seq).map(|commitments| (seq, commitments))).collect())
    }

    async fn tree_leaves(
        &self,
        workspace: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Hash)>, StorageError> {
        let from_seq = i64::try_from(from_seq).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .rows(
                "SELECT idx, hash FROM tree_nodes WHERE workspace = $1 AND level = 0 AND idx >= $2 ORDER BY idx LIMIT $3",
                &[&workspace, &from_seq, &limit],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let index = to_unsigned(row.get(0), "a leaf index")?;
                Ok((index, to_hash(row.get(1), &format!("leaf {index}"))?))
            })
            .collect()
    }

    async fn secret(&self, name: &str, candidate: Vec<u8>) -> Result<Vec<u8>, StorageError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &candidate],
            )
            .await
            .map_err(backend)?;
        Ok(client.query_one("SELECT value FROM secrets WHERE name = $1", &[&name]).await.map_err(backend)?.get(0))
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.client().await?.simple_query("SELECT 1").await.map_err(backend).map(|_| ())
    }
}
