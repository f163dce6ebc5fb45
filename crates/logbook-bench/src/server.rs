//! A `logbook serve` child process on a fresh data directory: started, given a
//! publisher, an auditor and an admin key per workspace, watched for memory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};
use serde_json::{Value, json};

const OPERATOR: &str = "bench-operator-token-0123456789abcdef";

/// Where the server keeps its data.
pub enum Backend {
    /// The embedded store in this data directory.
    Embedded(PathBuf),
    /// PostgreSQL: a fresh `logbook_bench` database on the server of this URL.
    Postgres(String),
}

impl Backend {
    /// How reports name it.
    pub fn label(&self) -> &'static str {
        match self {
            Backend::Embedded(_) => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// The database Logbook's PostgreSQL backend gets.
const BENCH_DATABASE: &str = "logbook_bench";

/// The URL of another database on the server `url` names.
fn with_database(url: &str, database: &str) -> String {
    let (without_query, query) = url.split_once('?').map_or((url, None), |(base, query)| (base, Some(query)));
    let base = match without_query.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &without_query[..slash],
        _ => without_query,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// Drops the benchmark's database, through a connection to another database
/// (`url`) of the same server, and answers that connection.
async fn drop_bench_database(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.context("connecting to PostgreSQL")?;
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")).await?;
    Ok(client)
}

/// Drops and creates the benchmark's database.
async fn fresh_database(url: &str) -> anyhow::Result<String> {
    let client = drop_bench_database(url).await?;
    client.batch_execute(&format!("CREATE DATABASE {BENCH_DATABASE} ENCODING 'UTF8' TEMPLATE template0")).await?;
    Ok(with_database(url, BENCH_DATABASE))
}

/// The running server; killed when dropped.
pub struct LogbookServer {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
    /// The data directory (also when PostgreSQL holds the data: it has the log key).
    data_dir: PathBuf,
    database_url: Option<String>,
}

/// The keys of one workspace.
#[derive(Clone)]
pub struct WorkspaceKeys {
    pub publisher: String,
    pub auditor: String,
}

impl LogbookServer {
    /// Starts `logbook serve` and waits until it listens.
    pub async fn start(binary: &Path, backend: &Backend) -> anyhow::Result<LogbookServer> {
        if !binary.exists() {
            bail!("{} does not exist; build it with `cargo build --release -p logbook`", binary.display());
        }
        let (data_dir, database_url) = match backend {
            Backend::Embedded(directory) => (directory.clone(), None),
            Backend::Postgres(url) => {
                (tempfile::tempdir()?.keep().join("logbook-keys"), Some(fresh_database(url).await?))
            }
        };
        let mut command = Command::new(binary);
        command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data_dir);
        if let Some(url) = &database_url {
            command.env("LOGBOOK_DATABASE_URL", url);
        }
        let mut child = command
            .env("LOGBOOK_ADMIN_TOKEN", OPERATOR)
            .env("LOGBOOK_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("the server's output")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut base = None;
        for line in lines.by_ref() {
            let line = line?;
            if let Some(address) = line.strip_prefix("Logbook listening on ") {
                base = Some(address.trim().to_string());
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let base = base.context("the server did not print its address")?;
        let client = reqwest::Client::builder().pool_max_idle_per_host(128).build()?;
        Ok(LogbookServer { child, base, client, data_dir, database_url })
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Value> {
        let response = self.client.post(format!("{}{path}", self.base)).bearer_auth(token).json(&body).send().await?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path}: {status} {answer}");
        }
        Ok(answer)
    }

    /// Creates the workspaces, each with a publisher and an auditor key.
    pub async fn prepare(&self, workspaces: &[String]) -> anyhow::Result<Vec<WorkspaceKeys>> {
        let mut keys = Vec::new();
        for workspace in workspaces {
            self.post("/v1/workspaces", OPERATOR, json!({"id": workspace})).await?;
            let key = |role: &str| json!({"name": format!("bench {role}"), "roles": [role]});
            let path = format!("/v1/workspaces/{workspace}/keys");
            let publisher = self.post(&path, OPERATOR, key("publisher")).await?["token"].as_str().unwrap_or("").into();
            let auditor = self.post(&path, OPERATOR, key("auditor")).await?["token"].as_str().unwrap_or("").into();
            keys.push(WorkspaceKeys { publisher, auditor });
        }
        Ok(keys)
    }

    /// The server's peak resident memory so far (`VmHWM`), in bytes.
    pub fn peak_memory_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kilobytes| kilobytes.parse::<u64>().ok())
            .map_or(0, |kilobytes| kilobytes * 1024)
    }

    /// The CPU time the server process has used so far, user and system, in
    /// seconds (`/proc/<pid>/stat`, whose clock ticks are 1/100 s on Linux);
    /// `None` where `/proc` cannot tell.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_in(&std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?)
    }

    /// The bytes the server process has had written to storage so far
    /// (`write_bytes` of `/proc/<pid>/io`: the embedded store's log and
    /// checkpoints). `None` on PostgreSQL, whose own processes write, or where
    /// `/proc` cannot tell.
    pub fn written_bytes(&self) -> Option<u64> {
        if self.database_url.is_some() {
            return None;
        }
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.child.id())).ok()?;
        io.lines().find_map(|line| line.strip_prefix("write_bytes:"))?.trim().parse().ok()
    }

    /// What the store takes: the data directory's files, or the database's size.
    pub async fn stored_bytes(&self) -> u64 {
        let Some(url) = &self.database_url else {
            return std::fs::read_dir(&self.data_dir)
                .map(|entries| entries.flatten().filter_map(|entry| entry.metadata().ok()).map(|meta| meta.len()).sum())
                .unwrap_or(0);
        };
        let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await else {
            return 0;
        };
        tokio::spawn(connection);
        client
            .query_one("SELECT pg_database_size(current_database())", &[])
            .await
            .map_or(0, |row| u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    /// Stops the server and deletes what it stored (the data directory, or the
    /// benchmark's database), so that a 10M-event run needs the disk of one
    /// store at a time.
    pub async fn discard(mut self) -> anyhow::Result<()> {
        self.stop();
        match &self.database_url {
            None => std::fs::remove_dir_all(&self.data_dir)
                .with_context(|| format!("removing {}", self.data_dir.display()))?,
            Some(url) => {
                drop_bench_database(&with_database(url, "postgres")).await?;
            }
        }
        Ok(())
    }

    /// Kills the server and waits for it to end.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LogbookServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The user and system time a `/proc/<pid>/stat` line gives, in seconds.
fn cpu_seconds_in(stat: &str) -> Option<f64> {
    // The fields after the command name, which is in parentheses and may hold
    // spaces and parentheses: the state is field 3, user time field 14, system
    // time field 15, in ticks of 1/100 s.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some((ticks(14)? + ticks(15)?) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_from_a_stat_line() {
        let check = |stat: &str, expected: Option<f64>| assert_eq!(cpu_seconds_in(stat), expected, "{stat}");
        check("4242 (logbook) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 38 0 0 20 0 9 0 100 0 0", Some(2.88));
        check("7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0", Some(0.03));
        check("7 (logbook) S 1 7 7", None);
        check("no parenthesis at all", None);
    }

    #[test]
    fn another_database_on_the_same_server() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(with_database("postgres://u@h/test?sslmode=require", "b"), "postgres://u@h/b?sslmode=require");
        assert_eq!(with_database("postgres://u@h", "b"), "postgres://u@h/b");
    }
}
