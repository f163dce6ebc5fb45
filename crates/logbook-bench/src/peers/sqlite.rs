//! The `audit_log` table in SQLite (WAL, `synchronous = FULL` like Logbook's
//! embedded store), loaded with prepared inserts in one transaction per 1000 rows.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params, params_from_iter};

use super::{Dialect, Param, PeerLoad, schema, statement};
use crate::dataset::Dataset;
use crate::reads::{ReadFigures, ReadKind, requests, summarised};

/// A loaded SQLite peer.
pub struct Peer {
    connection: Connection,
    pub load: PeerLoad,
}

impl Peer {
    /// Creates the table and loads the dataset, timing the load.
    pub fn load(path: &Path, dataset: &Dataset) -> anyhow::Result<Peer> {
        let connection = Connection::open(path)?;
        connection.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
        connection.execute_batch(&schema("INTEGER", "TEXT"))?;
        // Only the database's work is timed: reading the workload is the
        // harness's.
        let mut loading = Duration::ZERO;
        for chunk in dataset.row_chunks(1000)? {
            let chunk = chunk?;
            let started = Instant::now();
            let transaction = connection.unchecked_transaction()?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT INTO audit_log (workspace, seq, id, occurred_at, action, actor_type, actor_id, target_type,
                                            target_id, outcome, ip, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?;
                for row in &chunk {
                    let workspace = &dataset.workspaces[row.workspace];
                    let seq = row.seq;
                    insert.execute(params![
                        workspace,
                        seq,
                        format!("{workspace}-{seq}"),
                        row.occurred_at,
                        row.action,
                        row.actor_type,
                        row.actor_id,
                        row.target_type,
                        row.target_id,
                        row.outcome,
                        row.ip,
                        row.json
                    ])?;
                }
            }
            transaction.commit()?;
            loading += started.elapsed();
        }
        let load = PeerLoad::measured("SQLite audit_log", dataset.len(), loading.as_secs_f64());
        Ok(Peer { connection, load })
    }

    /// Every read kind but the query language, one request at a time.
    pub fn reads(&self, dataset: &Dataset, samples: usize) -> anyhow::Result<ReadFigures> {
        let mut latencies = Vec::new();
        for kind in ReadKind::in_sql() {
            let mut durations = Vec::new();
            for request in requests(kind, dataset, samples) {
                let (text, params) = statement(Dialect::Sqlite, &request, &dataset.workspaces[request.workspace]);
                let values: Vec<rusqlite::types::Value> = params
                    .into_iter()
                    .map(|param| match param {
                        Param::Text(text) => rusqlite::types::Value::Text(text),
                        Param::Millis(millis) => rusqlite::types::Value::Integer(millis),
                    })
                    .collect();
                let started = Instant::now();
                let mut prepared = self.connection.prepare_cached(&text)?;
                let mut rows = prepared.query(params_from_iter(values))?;
                let mut bytes = 0usize;
                while let Some(row) = rows.next()? {
                    bytes += row.get_ref(1)?.as_bytes().map_or(8, <[u8]>::len);
                }
                std::hint::black_box(bytes);
                durations.push(started.elapsed());
            }
            latencies.push(summarised(kind, durations));
        }
        Ok(ReadFigures { system: "SQLite audit_log".into(), events: dataset.len(), latencies })
    }
}
