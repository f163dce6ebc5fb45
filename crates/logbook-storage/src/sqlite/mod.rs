//! The embedded backend: SQLite in WAL mode in one data directory, no server to
//! install. It owns its migrations (`migrations/`, applied at open, tracked in
//! `PRAGMA user_version`).
//!
//! Writes go through one writer thread that commits waiting jobs together
//! ([`writer`]); reads use a pool of read-only connections ([`pool`]). Commits use
//! `synchronous = FULL`, so a commit has reached the disk when `append` returns.
//! Small appends are staged and indexed a few thousand events at a time
//! ([`staging`]); reads of events wait for the events acknowledged before them.
//! API keys and workspaces, which every request reads, are kept in memory
//! ([`lookup_cache`]).

mod checkpointer;
mod lookup_cache;
mod migrations;
mod packing;
#[cfg(test)]
mod packing_tests;
#[cfg(test)]
mod plan_tests;
mod pool;
#[cfg(test)]
mod read_ahead_tests;
mod staging;
#[cfg(test)]
mod staging_tests;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use logbook_core::integrity::Commitments;
use logbook_core::{
    Event, EventFilter, EventQuery, GroupBy, Timestamp, Workspace, WorkspaceCatalog, WorkspaceSettings,
};
use logbook_tlog::Hash;
use logbook_tlog::tree::{self, NodeId, RightEdge, TreeError};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::Storage;
use crate::append_plan::{AppendPlan, plan_append};
use crate::daily_counts::{self, DayGroup};
use crate::filter_sql::{self, Dialect, SqlValue};
use crate::model::{ApiKey, Appended, NewApiKey, NewEvent, NewWorkspace, StorageError, StoredEvent, WorkspaceUpdate};
use crate::rows::{
    KEY_COLUMNS, KeyColumns, WORKSPACE_COLUMNS, WorkspaceColumns, corrupt, size_beyond_log, to_commitments, to_event,
    to_hash, to_json, to_key, to_unsigned, to_workspace, tree_error,
};
use checkpointer::Checkpointer;
use lookup_cache::LookupCache;
use packing::{Packer, Unpacker};
pub use packing::{TRAIN_AFTER_EVENTS, write_training_sample};
use pool::ReadPool;
use staging::{Destination, Visibility};
use writer::Writer;

/// The file inside the data directory.
pub const DATABASE_FILE: &str = "logbook.sqlite3";

/// The embedded storage.
#[derive(Clone)]
pub struct SqliteStorage {
    writer: Writer,
    readers: ReadPool,
    visibility: Arc<Visibility>,
    lookups: Arc<LookupCache>,
    /// What the writer packs event rows with (used on the writer's thread only).
    packer: Arc<Mutex<Packer>>,
    unpacker: Arc<Unpacker>,
    path: PathBuf,
}

/// A shared statement's parameter as SQLite takes it.
fn sqlite_value(value: &SqlValue) -> rusqlite::types::Value {
    match value {
        SqlValue::Text(text) => rusqlite::types::Value::Text(text.clone()),
        SqlValue::Integer(integer) => rusqlite::types::Value::Integer(*integer),
    }
}

fn backend(error: rusqlite::Error) -> StorageError {
    StorageError::Backend(error.to_string())
}

impl SqliteStorage {
    /// What the writer does after a commit that changed a key or a workspace.
    fn forget_lookups<T>(&self) -> impl FnOnce(&T) + Send + 'static {
        let lookups = self.lookups.clone();
        move |_| lookups.forget_all()
    }

    /// Starts reading the rows of the events `rowids` selects, a share on each
    /// of the other reader threads, while the page's own query, queued before,
    /// runs: it finds them in the page cache or already on their way. A record's
    /// events are rows spread over the whole table, and from disk one read after
    /// another took most of a timeline's time at 10M events (BENCHMARKS.md).
    /// Nothing read ahead is kept, and a failure only costs the head start: the
    /// page's query reads and reports for itself. Each share stops at its next
    /// row once the page is `answered`, and one not begun when the reads
    /// returned are dropped is skipped.
    async fn read_rows_ahead(
        &self,
        rowids: filter_sql::Sql,
        answered: Arc<AtomicBool>,
    ) -> Vec<impl std::future::Future<Output = Result<(), StorageError>> + use<>> {
        let found = self
            .readers
            .read(move |connection| {
                let mut statement = connection.prepare_cached(&rowids.text).map_err(backend)?;
                let rows = statement
                    .query_map(params_from_iter(rowids.parameters.iter().map(sqlite_value)), |row| row.get(0))
                    .map_err(backend)?;
                rows.collect::<Result<Vec<i64>, _>>().map_err(backend)
            })
            .await;
        let Ok(found) = found else { return Vec::new() };
        let share = found.len().div_ceil(pool::READER_THREADS - 1).max(1);
        found
            .chunks(share)
            .map(|rowids| {
                let (rowids, answered) = (rowids.to_vec(), Arc::clone(&answered));
                self.readers.read(move |connection| {
                    let mut statement = connection
                        .prepare_cached("SELECT length(body) FROM events WHERE rowid = ?1")
                        .map_err(backend)?;
                    for rowid in rowids {
                        if answered.load(Ordering::Relaxed) {
                            break;
                        }
                        statement.query_row([rowid], |_| Ok(())).optional().map_err(backend)?;
                    }
                    Ok(())
                })
            })
            .collect()
    }

    /// Opens (creating if needed) the database in `data_dir` and applies any
    /// pending migrations.
    pub fn open(data_dir: &Path) -> Result<SqliteStorage, StorageError> {
        SqliteStorage::open_training_after(data_dir, TRAIN_AFTER_EVENTS)
    }

    /// [`SqliteStorage::open`], training the dictionary event rows are packed
    /// with once `events` events were written as text (tests train early, so
    /// that they read packed rows and text rows side by side).
    pub fn open_training_after(data_dir: &Path, events: usize) -> Result<SqliteStorage, StorageError> {
        let path = data_dir.join(DATABASE_FILE);
        create_private(data_dir, &path)
            .map_err(|error| StorageError::Backend(format!("cannot prepare {}: {error}", data_dir.display())))?;
        let connection = Connection::open(&path).map_err(backend)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;
                 PRAGMA cache_size = -32768;
                 PRAGMA temp_store = MEMORY;
                 PRAGMA wal_autocheckpoint = 0;
                 PRAGMA journal_size_limit = 67108864;",
            )
            .map_err(backend)?;
        connection.set_prepared_statement_cache_capacity(64);
        migrations::migrate(&connection)?;
        index_left_staged(&connection)?;
        let checkpointer = Checkpointer::start(&path)?;
        let visibility = Arc::new(Visibility::new());
        Ok(SqliteStorage {
            writer: Writer::start(connection, checkpointer, visibility.clone()),
            readers: ReadPool::new(path.clone()),
            visibility,
            lookups: Arc::new(LookupCache::default()),
            packer: Arc::new(Mutex::new(Packer::new(events))),
            unpacker: Arc::new(Unpacker::default()),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs tree maths over a workspace's stored nodes, for a size within its log.
    async fn read_tree<T, F>(&self, workspace: &str, size: u64, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Fn(NodeId) -> Result<Hash, StorageError>) -> Result<T, TreeError<StorageError>> + Send + 'static,
    {
        let workspace = workspace.to_string();
        self.readers
            .read(move |connection| {
                check_size(connection, &workspace, size)?;
                work(&|node| read_node(connection, &workspace, node)).map_err(tree_error)
            })
            .await
    }
}

/// Moves the events a previous process staged and did not index before it
/// stopped, before anything reads.
pub(crate) fn index_left_staged(connection: &Connection) -> Result<(), StorageError> {
    let moved = staging::move_staged(connection)?;
    if moved.events > 0 {
        tracing::info!(events = moved.events, "indexed the events staged before the last stop");
    }
    Ok(())
}

/// Creates the data directory (mode 0700) and the database file (mode 0600) if
/// they do not exist, and makes an existing database file 0600: it holds personal
/// data and the deployment's token secrets. SQLite gives its `-wal` and `-shm`
/// files the database file's mode.
fn create_private(data_dir: &Path, database: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        if !data_dir.exists() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(data_dir)?;
        }
        if database.exists() {
            std::fs::set_permissions(database, std::fs::Permissions::from_mode(0o600))?;
        } else {
            std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(database)?;
        }
    }
    #[cfg(not(unix))]
    {
        let _ = database;
        std::fs::create_dir_all(data_dir)?;
    }
    Ok(())
}

fn read_workspace(row: &rusqlite::Row<'_>) -> rusqlite::Result<WorkspaceColumns> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
}

fn load_workspace(connection: &Connection, id: &str) -> Result<Option<Workspace>, StorageError> {
    connection
        .prepare_cached(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?1"))
        .map_err(backend)?
        .query_row([id], read_workspace)
        .optional()
        .map_err(backend)?
        .map(to_workspace)
        .transpose()
}

fn read_key(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyColumns> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?))
}

fn read_node(connection: &Connection, workspace: &str, node: NodeId) -> Result<Hash, StorageError> {
    let hash: Vec<u8> = connection
        .prepare_cached("SELECT hash FROM tree_nodes WHERE workspace = ?1 AND last_leaf = ?2 AND level = ?3")
        .map_err(backend)?
        .query_row(params![workspace, last_leaf_key(node), node.level], |row| row.get(0))
        .optional()
        .map_err(backend)?
        .ok_or_else(|| {
            StorageError::Corrupt(format!("tree node {}/{} of {workspace} is missing", node.level, node.index))
        })?;
    hash.try_into().map_err(|_| {
        StorageError::Corrupt(format!("tree node {}/{} of {workspace} is not 32 bytes", node.level, node.index))
    })
}

/// The key a tree node is stored under beside its workspace (migration 0010):
/// the last leaf it covers, so that the nodes one append completes sit together.
fn last_leaf_key(node: NodeId) -> i64 {
    i64::try_from(node.last_leaf()).unwrap_or(i64::MAX)
}

/// Refuses a tree size beyond the workspace's log.
fn check_size(connection: &Connection, workspace: &str, size: u64) -> Result<(), StorageError> {
    let count = load_workspace(connection, workspace)?
        .ok_or_else(|| StorageError::NotFound(format!("workspace {workspace}")))?
        .event_count;
    if size > count {
        return Err(size_beyond_log(workspace, count, size));
    }
    Ok(())
}

/// How many events one workspace may hold: the rowid of an event is its
/// workspace's number times this, plus its `seq` (migration 0005), so that each
/// workspace's events sit together in the table, in `seq` order.
const SEQS_PER_WORKSPACE: i64 = 1 << 40;

/// The largest workspace number, so that every rowid fits in 63 bits.
const MAX_WORKSPACE_NUMBER: i64 = (1 << 23) - 1;

/// The number of the workspace bound to `?1`, in SQL.
const NUMBER: &str = "(SELECT number FROM workspaces WHERE id = ?1)";

/// [`rowid_of`] in SQL: the rowid of event `seq` (an SQL expression) of the
/// workspace bound to `?1`.
pub(crate) fn rowid_sql(seq: &str) -> String {
    format!("{NUMBER} * {SEQS_PER_WORKSPACE} + {seq}")
}

/// The rowid of event `seq` of workspace number `number`.
fn rowid_of(number: i64, seq: i64) -> i64 {
    number * SEQS_PER_WORKSPACE + seq
}

/// Appends within the writer's transaction, writing the events' rows to
/// `destination`; see [`Storage::append`].
fn append_events(
    connection: &Connection,
    packer: &mut Packer,
    destination: Destination,
    workspace: &str,
    events: &[NewEvent],
) -> Result<Vec<Appended>, StorageError> {
    let (next_seq, number): (i64, i64) = connection
        .prepare_cached("SELECT next_seq, number FROM workspaces WHERE id = ?1")
        .map_err(backend)?
        .query_row([workspace], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(backend)?
        .ok_or_else(|| StorageError::NotFound(format!("workspace {workspace}")))?;
    if next_seq.saturating_add(events.len() as i64) > SEQS_PER_WORKSPACE {
        return Err(StorageError::Backend(format!(
            "workspace {workspace} holds {next_seq} events, the most one workspace of the embedded store can hold"
        )));
    }
    let size = to_unsigned(next_seq, "next_seq")?;
    let edge = RightEdge::load(size, |node| read_node(connection, workspace, node)).map_err(tree_error)?;
    let mut find_duplicate = connection
        .prepare_cached(
            "SELECT id, seq, leaf_hash FROM events WHERE workspace = ?1 AND idempotency_key = ?2
             UNION ALL
             SELECT id, seq, leaf_hash FROM staged_events WHERE workspace = ?1 AND idempotency_key = ?2",
        )
        .map_err(backend)?;
    let plan = plan_append(workspace, events, edge, |key| {
        let original: Option<(String, i64, Vec<u8>)> = find_duplicate
            .query_row(params![workspace, key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()
            .map_err(backend)?;
        original
            .map(|(id, seq, leaf)| {
                let seq = to_unsigned(seq, "seq")?;
                Ok(Appended { id, seq, leaf_hash: to_hash(&leaf, &format!("event {seq}"))?, duplicate: true })
            })
            .transpose()
    })?;
    write_plan(connection, packer, destination, (workspace, number), &plan)?;
    Ok(plan.answers)
}

/// Writes the rows of a planned append to the workspace of this id and number,
/// the events' own rows to `destination`.
fn write_plan(
    connection: &Connection,
    packer: &mut Packer,
    destination: Destination,
    (workspace, number): (&str, i64),
    plan: &AppendPlan<'_>,
) -> Result<(), StorageError> {
    let mut insert_event = connection
        .prepare_cached(&format!(
            "INSERT INTO {} ({}, {})
             VALUES (?18, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?19)",
            destination.events(),
            destination.event_rowid(),
            staging::EVENT_COLUMNS
        ))
        .map_err(backend)?;
    // Ids are unique in each table by its index, and across the two here.
    let mut id_taken = connection
        .prepare_cached(&format!("SELECT 1 FROM {} WHERE workspace = ?1 AND id = ?2", destination.other().events()))
        .map_err(backend)?;
    let taken = |id: &str| StorageError::Conflict(format!("an event with id {id} already exists"));
    // A staged event must be sure to find its place in the events table when it
    // is moved there; only a row put there behind Logbook's back could hold it.
    let mut place_taken = connection
        .prepare_cached(
            "SELECT 1 FROM events WHERE rowid = ?3
             UNION ALL SELECT 1 FROM events WHERE workspace = ?1 AND seq = ?2
             UNION ALL SELECT 1 FROM event_changes WHERE workspace = ?1 AND seq = ?2",
        )
        .map_err(backend)?;
    packer.prepare(connection, &plan.events)?;
    for row in &plan.events {
        let body = &row.event.body;
        if id_taken.exists(params![workspace, row.event.id]).map_err(backend)? {
            return Err(taken(&row.event.id));
        }
        if destination == Destination::Staged
            && place_taken.exists(params![workspace, row.seq, rowid_of(number, row.seq)]).map_err(backend)?
        {
            return Err(StorageError::Conflict(format!(
                "event {} of {workspace} cannot be stored: the store holds rows at its place that Logbook did not \
                 write; verify the workspaces",
                row.seq
            )));
        }
        let packed = packer.pack(&row.body_json, &row.personal_json)?;
        let (body_json, personal_json) = match packed {
            Some(_) => ("", ""),
            None => (row.body_json.as_str(), row.personal_json.as_str()),
        };
        insert_event
            .execute(params![
                workspace,
                row.seq,
                row.event.id,
                body.action,
                body.category.as_str(),
                body.occurred_at.as_millis(),
                body.actor.actor_type.as_str(),
                body.actor.id,
                body.target.record_type,
                body.target.id,
                body.outcome.as_str(),
                body.context.ip,
                body.idempotency_key,
                body_json,
                personal_json,
                row.leaf.as_slice(),
                row.search_text,
                rowid_of(number, row.seq),
                packed,
            ])
            .map_err(|error| match error {
                rusqlite::Error::SqliteFailure(failure, _)
                    if failure.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    taken(&row.event.id)
                }
                other => backend(other),
            })?;
    }
    let mut insert_record = connection
        .prepare_cached(&format!(
            "INSERT OR IGNORE INTO {} (workspace, record_type, record_id, occurred_at, seq)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            destination.records()
        ))
        .map_err(backend)?;
    for record in &plan.records {
        insert_record
            .execute(params![workspace, record.record_type, record.record_id, record.occurred_at, record.seq])
            .map_err(backend)?;
    }
    let mut insert_change = connection
        .prepare_cached(&format!(
            "INSERT INTO {} (workspace, seq, position, field, from_value, to_value, occurred_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            destination.changes()
        ))
        .map_err(backend)?;
    for change in &plan.changes {
        insert_change
            .execute(params![
                workspace,
                change.seq,
                change.position,
                change.field,
                change.from_value,
                change.to_value,
                change.occurred_at
            ])
            .map_err(backend)?;
    }
    let mut insert_node = connection
        .prepare_cached("INSERT INTO tree_nodes (workspace, last_leaf, level, hash) VALUES (?1, ?2, ?3, ?4)")
        .map_err(backend)?;
    for (node, hash) in &plan.nodes {
        insert_node.execute(params![workspace, last_leaf_key(*node), node.level, hash.as_slice()]).map_err(backend)?;
    }
    let mut add_count = connection.prepare_cached(&destination.add_count_sql()).map_err(backend)?;
    for (group, events) in daily_counts::tally(&plan.events) {
        let DayGroup { day, category, action, actor_type, target_type, outcome } = group;
        add_count
            .execute(params![workspace, day, category, action, actor_type, target_type, outcome, events])
            .map_err(backend)?;
    }
    connection
        .prepare_cached("UPDATE workspaces SET next_seq = ?2 WHERE id = ?1")
        .map_err(backend)?
        .execute(params![workspace, plan.next_seq])
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn create_workspace(&self, workspace: NewWorkspace) -> Result<Workspace, StorageError> {
        self.writer
            .write(move |connection| {
                let settings = to_json(&WorkspaceSettings::default())?;
                let catalog = to_json(&WorkspaceCatalog::default())?;
                let number: i64 = connection
                    .query_row("SELECT COALESCE(MAX(number), 0) + 1 FROM workspaces", [], |row| row.get(0))
                    .map_err(backend)?;
                if number > MAX_WORKSPACE_NUMBER {
                    return Err(StorageError::Backend(format!(
                        "the embedded store holds at most {MAX_WORKSPACE_NUMBER} workspaces"
                    )));
                }
                let inserted = connection
                    .execute(
                        "INSERT INTO workspaces (id, name, created_at, settings, catalog, number)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (id) DO NOTHING",
                        params![
                            workspace.id,
                            workspace.name,
                            workspace.created_at.as_millis(),
                            settings,
                            catalog,
                            number
                        ],
                    )
                    .map_err(backend)?;
                if inserted == 0 {
                    return Err(StorageError::Conflict(format!("workspace {} already exists", workspace.id)));
                }
                load_workspace(connection, &workspace.id)?
                    .ok_or_else(|| StorageError::Backend("a created workspace could not be read back".into()))
            })
            .await
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StorageError> {
        self.readers
            .read(|connection| {
                let mut statement = connection
                    .prepare_cached(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY id"))
                    .map_err(backend)?;
                let rows = statement.query_map([], read_workspace).map_err(backend)?;
                rows.map(|row| row.map_err(backend).and_then(to_workspace)).collect()
            })
            .await
    }

    async fn workspace(&self, id: &str) -> Result<Option<Workspace>, StorageError> {
        if let Some(workspace) = self.lookups.workspace(id) {
            return Ok(Some(workspace));
        }
        let began = self.lookups.generation();
        let owned_id = id.to_string();
        let found = self.readers.read(move |connection| load_workspace(connection, &owned_id)).await?;
        if let Some(workspace) = &found {
            self.lookups.remember_workspace(began, workspace);
        }
        Ok(found)
    }

    async fn update_workspace(&self, id: &str, update: WorkspaceUpdate) -> Result<Workspace, StorageError> {
        let id = id.to_string();
        self.writer
            .write_then(
                move |connection| {
                    let current = load_workspace(connection, &id)?
                        .ok_or_else(|| StorageError::NotFound(format!("workspace {id}")))?;
                    let name = update.name.unwrap_or(current.name);
                    let settings = update.settings.unwrap_or(current.settings);
                    let catalog = update.catalog.unwrap_or(current.catalog);
                    connection
                        .execute(
                            "UPDATE workspaces SET name = ?2, settings = ?3, catalog = ?4 WHERE id = ?1",
                            params![id, name, to_json(&settings)?, to_json(&catalog)?],
                        )
                        .map_err(backend)?;
                    load_workspace(connection, &id)?.ok_or_else(|| StorageError::NotFound(format!("workspace {id}")))
                },
                self.forget_lookups(),
            )
            .await
    }

    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey, StorageError> {
        self.writer
            .write(move |connection| {
                let roles = to_json(&key.roles)?;
                connection
                    .execute(
                        "INSERT INTO api_keys (id, workspace, name, roles, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![key.id, key.workspace, key.name, roles, key.secret_hash, key.created_at.as_millis()],
                    )
                    .map_err(|error| match error {
                        rusqlite::Error::SqliteFailure(failure, _) if failure.code == rusqlite::ErrorCode::ConstraintViolation => {
                            StorageError::NotFound(format!("workspace {}", key.workspace))
                        }
                        other => backend(other),
                    })?;
                Ok(ApiKey::new_unused(key))
            })
            .await
    }

    async fn list_api_keys(&self, workspace: &str) -> Result<Vec<ApiKey>, StorageError> {
        let workspace = workspace.to_string();
        self.readers
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached(&format!(
                        "SELECT {KEY_COLUMNS} FROM api_keys WHERE workspace = ?1 ORDER BY created_at, id"
                    ))
                    .map_err(backend)?;
                let rows = statement.query_map([workspace], read_key).map_err(backend)?;
                rows.map(|row| row.map_err(backend).and_then(to_key)).collect()
            })
            .await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StorageError> {
        if let Some(key) = self.lookups.key(key_id) {
            return Ok(Some(key));
        }
        let began = self.lookups.generation();
        let key_id = key_id.to_string();
        let found = self
            .readers
            .read(move |connection| {
                connection
                    .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"))
                    .map_err(backend)?
                    .query_row([key_id], read_key)
                    .optional()
                    .map_err(backend)?
                    .map(to_key)
                    .transpose()
            })
            .await?;
        if let Some(key) = &found {
            self.lookups.remember_key(began, key);
        }
        Ok(found)
    }

    async fn revoke_api_key(&self, workspace: &str, key_id: &str, at: Timestamp) -> Result<bool, StorageError> {
        let (workspace, key_id) = (workspace.to_string(), key_id.to_string());
        self.writer
            .write_then(
                move |connection| {
                    let exists: Option<i64> = connection
                        .query_row(
                            "SELECT 1 FROM api_keys WHERE workspace = ?1 AND id = ?2",
                            params![workspace, key_id],
                            |row| row.get(0),
                        )
                        .optional()
                        .map_err(backend)?;
                    connection
                        .execute(
                            "UPDATE api_keys SET revoked_at = ?3 WHERE workspace = ?1 AND id = ?2 AND revoked_at IS NULL",
                            params![workspace, key_id, at.as_millis()],
                        )
                        .map_err(backend)?;
                    Ok(exists.is_some())
                },
                self.forget_lookups(),
            )
            .await
    }

    async fn touch_api_key(&self, key_id: &str, at: Timestamp) -> Result<(), StorageError> {
        let key_id = key_id.to_string();
        let (lookups, forgotten) = (self.lookups.clone(), key_id.clone());
        self.writer
            .write_then(
                move |connection| {
                    connection
                        .execute("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1", params![key_id, at.as_millis()])
                        .map_err(backend)?;
                    Ok(())
                },
                move |_: &()| lookups.forget_key(&forgotten),
            )
            .await
    }

    async fn append(&self, workspace: &str, events: Vec<NewEvent>) -> Result<Vec<Appended>, StorageError> {
        let workspace = workspace.to_string();
        let (lookups, packer) = (self.lookups.clone(), self.packer.clone());
        let counted = workspace.clone();
        self.writer
            .append_then(
                events.len(),
                move |connection, destination| {
                    let mut packer = packer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    append_events(connection, &mut packer, destination, &workspace, &events)
                },
                move |appended: &Vec<Appended>| {
                    let stored = appended.iter().filter(|answer| !answer.duplicate);
                    if let Some(event_count) = stored.map(|answer| answer.seq + 1).max() {
                        lookups.counted(&counted, event_count);
                    }
                },
            )
            .await
    }

    async fn query(&self, workspace: &str, query: &EventQuery) -> Result<Vec<Event>, StorageError> {
        self.visibility.wait_until_indexed().await?;
        let rows_ahead = filter_sql::record_page_rowids(workspace, query);
        let sql = filter_sql::page_query(Dialect::Sqlite, workspace, query);
        let (workspace, unpacker) = (workspace.to_string(), self.unpacker.clone());
        let page = self.readers.read(move |connection| {
            let mut statement = connection.prepare_cached(&sql.text).map_err(backend)?;
            let rows = statement
                .query_map(params_from_iter(sql.parameters.iter().map(sqlite_value)), |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                        row.get::<_, Option<Vec<u8>>>(4)?,
                    ))
                })
                .map_err(backend)?;
            rows.map(|row| {
                let (seq, id, body, leaf, packed) = row.map_err(backend)?;
                let (body, _) = unpacker.row_json(connection, seq, (body, String::new(), packed))?;
                to_event(&workspace, seq, id, &body, &leaf)
            })
            .collect()
        });
        // The page's read is queued first, so that it never waits for its own
        // reads ahead.
        let Some(rowids) = rows_ahead else { return page.await };
        let answered = Arc::new(AtomicBool::new(false));
        let reading_ahead = self.read_rows_ahead(rowids, Arc::clone(&answered)).await;
        let page = page.await;
        // Reads ahead stop at their next row, and those not begun are skipped.
        answered.store(true, Ordering::Relaxed);
        drop(reading_ahead);
        page
    }

    async fn stats(
        &self,
        workspace: &str,
        filter: &EventFilter,
        max_seq: u64,
        group_by: GroupBy,
    ) -> Result<Vec<(String, u64)>, StorageError> {
        self.visibility.wait_until_indexed().await?;
        let sql = daily_counts::stats_query(Dialect::Sqlite, workspace, filter, max_seq, group_by);
        self.readers
            .read(move |connection| {
                let mut statement = connection.prepare_cached(&sql.text).map_err(backend)?;
                let rows = statement
                    .query_map(params_from_iter(sql.parameters.iter().map(sqlite_value)), |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                    })
                    .map_err(backend)?;
                rows.map(|row| {
                    let (group, count) = row.map_err(backend)?;
                    Ok((group, u64::try_from(count).map_err(|error| corrupt("a count", error))?))
                })
                .collect()
            })
            .await
    }

    async fn event(&self, workspace: &str, id: &str) -> Result<Option<Event>, StorageError> {
        self.visibility.wait_until_indexed().await?;
        let (workspace, id, unpacker) = (workspace.to_string(), id.to_string(), self.unpacker.clone());
        self.readers
            .read(move |connection| {
                let row: Option<(i64, String, Vec<u8>, Option<Vec<u8>>)> = connection
                    .prepare_cached("SELECT seq, body, leaf_hash, packed FROM events WHERE workspace = ?1 AND id = ?2")
                    .map_err(backend)?
                    .query_row(params![workspace, id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
                    .optional()
                    .map_err(backend)?;
                let Some((seq, body, leaf, packed)) = row else { return Ok(None) };
                let (body, _) = unpacker.row_json(connection, seq, (body, String::new(), packed))?;
                to_event(&workspace, seq, id, &body, &leaf).map(Some)
            })
            .await
    }

    async fn tree_root(&self, workspace: &str, size: u64) -> Result<Hash, StorageError> {
        self.read_tree(workspace, size, move |read| tree::root(size, read)).await
    }

    async fn inclusion_proof(&self, workspace: &str, seq: u64, size: u64) -> Result<Vec<Hash>, StorageError> {
        self.read_tree(workspace, size, move |read| tree::inclusion_proof(seq, size, read)).await
    }

    async fn consistency_proof(&self, workspace: &str, from: u64, to: u64) -> Result<Vec<Hash>, StorageError> {
        self.read_tree(workspace, to, move |read| tree::consistency_proof(from, to, read)).await
    }

    async fn stored_events(
        &self,
        workspace: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        self.visibility.wait_until_indexed().await?;
        let (workspace, unpacker) = (workspace.to_string(), self.unpacker.clone());
        self.readers
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached(
                        // By `seq` through the primary key, not by rowid: a row
                        // moved or added behind Logbook's back must show up here,
                        // where verification reads, whatever its rowid.
                        "SELECT seq, id, body, leaf_hash, personal, packed FROM events
                         WHERE workspace = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
                    )
                    .map_err(backend)?;
                let rows = statement
                    .query_map(
                        params![
                            workspace,
                            i64::try_from(from_seq).unwrap_or(i64::MAX),
                            i64::try_from(limit).unwrap_or(i64::MAX)
                        ],
                        |row| {
                            Ok((
                                row.get::<_, i64>(0)?,
                                row.get::<_, String>(1)?,
                                row.get::<_, String>(2)?,
                                row.get::<_, Vec<u8>>(3)?,
                                row.get::<_, String>(4)?,
                                row.get::<_, Option<Vec<u8>>>(5)?,
                            ))
                        },
                    )
                    .map_err(backend)?;
                rows.map(|row| {
                    let (seq, id, body, leaf, personal, packed) = row.map_err(backend)?;
                    let (body_json, personal_json) = unpacker.row_json(connection, seq, (body, personal, packed))?;
                    Ok(StoredEvent { seq: to_unsigned(seq, "seq")?, id, body_json, personal_json, leaf })
                })
                .collect()
            })
            .await
    }

    async fn commitments(&self, workspace: &str, seqs: Vec<u64>) -> Result<Vec<(u64, Commitments)>, StorageError> {
        self.visibility.wait_until_indexed().await?;
        let (workspace, unpacker) = (workspace.to_string(), self.unpacker.clone());
        self.readers
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached("SELECT body, personal, packed FROM events WHERE workspace = ?1 AND seq = ?2")
                    .map_err(backend)?;
                let mut found = Vec::with_capacity(seqs.len());
                for seq in seqs {
                    let position = i64::try_from(seq).unwrap_or(i64::MAX);
                    let row: Option<(String, String, Option<Vec<u8>>)> = statement
                        .query_row(params![workspace, position], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                        .optional()
                        .map_err(backend)?;
                    if let Some(row) = row {
                        let (_, personal) = unpacker.row_json(connection, position, row)?;
                        found.push((seq, to_commitments(seq, &personal)?));
                    }
                }
                Ok(found)
            })
            .await
    }

    async fn tree_leaves(
        &self,
        workspace: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Hash)>, StorageError> {
        let workspace = workspace.to_string();
        self.readers
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached("SELECT last_leaf, hash FROM tree_nodes WHERE workspace = ?1 AND last_leaf >= ?2 AND level = 0 ORDER BY last_leaf LIMIT ?3")
                    .map_err(backend)?;
                let rows = statement
                    .query_map(params![workspace, i64::try_from(from_seq).unwrap_or(i64::MAX), i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                        Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
                    })
                    .map_err(backend)?;
                rows.map(|row| {
                    let (index, hash) = row.map_err(backend)?;
                    let hash: Hash = hash.try_into().map_err(|_| corrupt("a leaf", "not 32 bytes"))?;
                    Ok((u64::try_from(index).map_err(|error| corrupt("a leaf index", error))?, hash))
                })
                .collect()
            })
            .await
    }

    async fn secret(&self, name: &str, candidate: Vec<u8>) -> Result<Vec<u8>, StorageError> {
        let name = name.to_string();
        self.writer
            .write(move |connection| {
                connection
                    .execute(
                        "INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                        params![name, candidate],
                    )
                    .map_err(backend)?;
                connection
                    .query_row("SELECT value FROM secrets WHERE name = ?1", [name], |row| row.get(0))
                    .map_err(backend)
            })
            .await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.readers.read(|connection| connection.query_row("SELECT 1", [], |_| Ok(())).map_err(backend)).await?;
        // The writer must be alive too: a no-op job proves it still commits.
        self.writer.write(|_| Ok(())).await
    }
}
