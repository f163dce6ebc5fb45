//! A small pool of read-only connections. WAL mode lets them read while the
//! writer commits; each call borrows one on a blocking thread.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::model::StorageError;

/// Idle connections kept for reuse; more are opened under load and closed after.
const MAX_IDLE: usize = 8;

#[derive(Clone)]
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf) -> ReadPool {
        ReadPool { path, idle: Arc::new(Mutex::new(Vec::new())) }
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
        tokio::task::spawn_blocking(move || {
            let reused = pool.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
            let connection = match reused {
                Some(connection) => connection,
                None => pool.open()?,
            };
            let result = work(&connection);
            let mut idle = pool.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(connection);
            }
            result
        })
        .await
        .map_err(|error| StorageError::Backend(format!("a read task failed: {error}")))?
    }
}
