//! A small pool of read-only connections. WAL mode lets them read while the
//! writer commits; each call borrows one on a blocking thread.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::model::StorageError;

/// The most connections reading at once, all kept open for reuse. Reads beyond
/// wait their turn: on a machine of a few cores more would not read faster, and
/// opening a connection for each read over the limit (its schema parsed again,
/// its cache filled again) cost 64 concurrent ingest requests, each of which
/// reads its key and workspace, CPU and memory for nothing.
const MAX_CONNECTIONS: usize = 8;

#[derive(Clone)]
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    turns: Arc<tokio::sync::Semaphore>,
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf) -> ReadPool {
        ReadPool {
            path,
            idle: Arc::new(Mutex::new(Vec::new())),
            turns: Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS)),
        }
    }

    fn open(&self) -> Result<Connection, StorageError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let connection =
            Connection::open_with_flags(&self.path, flags).map_err(|error| StorageError::Backend(error.to_string()))?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|error| StorageError::Backend(error.to_string()))?;
        connection.set_prepared_statement_cache_capacity(64);
        Ok(connection)
    }

    /// Runs `work` with a connection on a blocking thread.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let pool = self.clone();
        let turn = self.turns.clone().acquire_owned().await.expect("the pool's semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let reused = pool.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
            let connection = match reused {
                Some(connection) => connection,
                None => pool.open()?,
            };
            let result = work(&connection);
            pool.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(connection);
            result
        })
        .await
        .map_err(|error| StorageError::Backend(format!("a read task failed: {error}")))?
    }
}
