//! The `audit_log` table in PostgreSQL, loaded with `COPY … FROM STDIN (FORMAT
//! csv)` in chunks of 10,000 rows, queried through one connection. The table is
//! created afresh in the given database (and left there for inspection).

use std::io::Cursor;
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::Context;
use futures_util::SinkExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

use super::{Dialect, Param, PeerLoad, schema, statement};
use crate::dataset::Dataset;
use crate::reads::{ReadFigures, ReadKind, requests, summarised};

/// A loaded PostgreSQL peer.
pub struct Peer {
    client: Client,
    pub load: PeerLoad,
}

/// A CSV field, quoted.
fn csv(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn timestamp(millis: i64) -> String {
    logbook_core::Timestamp::from_millis(millis).to_rfc3339()
}

impl Peer {
    /// Creates the table and COPYs the dataset in, timing the load.
    pub async fn load(url: &str, dataset: &Dataset) -> anyhow::Result<Peer> {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.context("connecting to PostgreSQL")?;
        tokio::spawn(connection);
        client.batch_execute("DROP TABLE IF EXISTS audit_log").await?;
        client.batch_execute(&schema("TIMESTAMPTZ", "JSONB")).await?;
        // Only the database's work is timed: reading the workload and writing
        // the CSV is the harness's.
        let mut loading = Duration::ZERO;
        for chunk in dataset.row_chunks(10_000)? {
            let chunk = chunk?;
            let mut text = String::with_capacity(chunk.len() * 1200);
            for row in &chunk {
                let workspace = &dataset.workspaces[row.workspace];
                let seq = row.seq;
                let ip = row.ip.as_deref().map(csv).unwrap_or_default();
                text.push_str(&format!(
                    "{},{seq},{},{},{},{},{},{},{},{},{ip},{}\n",
                    csv(workspace),
                    csv(&format!("{workspace}-{seq}")),
                    csv(&timestamp(row.occurred_at)),
                    csv(&row.action),
                    csv(&row.actor_type),
                    csv(&row.actor_id),
                    csv(&row.target_type),
                    csv(&row.target_id),
                    csv(&row.outcome),
                    csv(&row.json)
                ));
            }
            let started = Instant::now();
            let sink = client
                .copy_in::<_, Cursor<Vec<u8>>>(
                    "COPY audit_log (workspace, seq, id, occurred_at, action, actor_type, actor_id, target_type,
                                     target_id, outcome, ip, body) FROM STDIN (FORMAT csv)",
                )
                .await?;
            futures_util::pin_mut!(sink);
            sink.send(Cursor::new(text.into_bytes())).await?;
            sink.finish().await?;
            loading += started.elapsed();
        }
        let started = Instant::now();
        client.batch_execute("ANALYZE audit_log").await?;
        loading += started.elapsed();
        let load = PeerLoad::measured("PostgreSQL audit_log", dataset.len(), loading.as_secs_f64());
        Ok(Peer { client, load })
    }

    /// Every read kind but the query language, one request at a time.
    pub async fn reads(&self, dataset: &Dataset, samples: usize) -> anyhow::Result<ReadFigures> {
        let mut latencies = Vec::new();
        for kind in ReadKind::in_sql() {
            let mut durations = Vec::new();
            // Every request of a kind has the same text: prepare it once, as an
            // application with a statement cache would.
            let mut prepared = None;
            for request in requests(kind, dataset, samples) {
                let (text, params) = statement(Dialect::Postgres, &request, &dataset.workspaces[request.workspace]);
                if prepared.is_none() {
                    prepared = Some(self.client.prepare(&text).await?);
                }
                let statement = prepared.as_ref().context("a prepared statement")?;
                let values: Vec<Box<dyn ToSql + Sync + Send>> = params
                    .into_iter()
                    .map(|param| -> Box<dyn ToSql + Sync + Send> {
                        match param {
                            Param::Text(text) => Box::new(text),
                            Param::Millis(millis) => {
                                Box::new(UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0)))
                            }
                        }
                    })
                    .collect();
                let references: Vec<&(dyn ToSql + Sync)> =
                    values.iter().map(|value| value.as_ref() as &(dyn ToSql + Sync)).collect();
                let started = Instant::now();
                let rows = self.client.query(statement, &references).await?;
                std::hint::black_box(rows.len());
                durations.push(started.elapsed());
            }
            latencies.push(summarised(kind, durations));
        }
        Ok(ReadFigures { system: "PostgreSQL audit_log".into(), events: dataset.len(), latencies })
    }
}
