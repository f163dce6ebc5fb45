//! `logbook query` and `logbook export`: a client of a running server, with an
//! API key. Plain HTTP only: put a TLS-terminating proxy in front of remote
//! servers, or run the commands on the server's machine.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;

/// Where the server is and how to reach a workspace.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The server's base URL.
    #[arg(long, env = "LOGBOOK_SERVER", default_value = "http://127.0.0.1:7300")]
    pub server: String,
    /// An API key (or viewer token) of the workspace.
    #[arg(long, env = "LOGBOOK_KEY", hide_env_values = true)]
    pub key: String,
    /// The workspace.
    #[arg(long, short)]
    pub workspace: String,
    /// A feed filter as `name=value` (e.g. `action=ticket.*`, `actor_id=U-7`, `q=refund`,
    /// `since=2026-01-01`); repeatable.
    #[arg(long = "filter", short = 'f', value_name = "NAME=VALUE")]
    pub filters: Vec<String>,
    /// A filter in the query language, e.g. 'action:ticket.* -actor_type:system "refund request"'.
    #[arg(value_name = "QUERY")]
    pub query: Option<String>,
}

impl Connection {
    fn url(&self, path: &str, extra: &[(&str, String)]) -> anyhow::Result<reqwest::Url> {
        let base = self.server.trim_end_matches('/');
        let mut url = reqwest::Url::parse(&format!("{base}/v1/workspaces/{}/{path}", self.workspace))
            .with_context(|| format!("{} is not a URL", self.server))?;
        {
            let mut query = url.query_pairs_mut();
            for filter in &self.filters {
                let (name, value) =
                    filter.split_once('=').with_context(|| format!("--filter {filter:?} must read name=value"))?;
                query.append_pair(name, value);
            }
            if let Some(text) = &self.query {
                query.append_pair("query", text);
            }
            for (name, value) in extra {
                query.append_pair(name, value);
            }
        }
        Ok(url)
    }

    async fn get(&self, client: &reqwest::Client, url: reqwest::Url) -> anyhow::Result<reqwest::Response> {
        let response =
            client.get(url).bearer_auth(&self.key).send().await.with_context(|| format!("reaching {}", self.server))?;
        if !response.status().is_success() {
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let message = body.pointer("/error/message").and_then(Value::as_str).unwrap_or("no details");
            bail!("the server answered {status}: {message}");
        }
        Ok(response)
    }
}

/// `logbook query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// How many events, newest first (1 to 1000).
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print the events as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `logbook export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// `ndjson` (verifiable with `logbook verify`) or `csv`.
    #[arg(long, default_value = "ndjson")]
    pub format: String,
    /// The file to write.
    #[arg(long, short)]
    pub output: PathBuf,
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// One event as the seeds' table shows it: Date, Done by, Event, Item, From, To, IP.
fn row(event: &Value) -> [String; 7] {
    let actor = &event["actor"];
    let target = &event["target"];
    let first_change = &event["changes"][0];
    [
        cell(&event["occurred_at"]),
        format!("{} ({})", cell(&actor["name"]).if_empty(cell(&actor["id"])), cell(&actor["type"])),
        cell(&event["action"]),
        format!("{} {}", cell(&target["type"]), cell(&target["name"]).if_empty(cell(&target["id"]))),
        cell(&first_change["from"]),
        cell(&first_change["to"]),
        cell(&event["context"]["ip"]),
    ]
}

trait IfEmpty {
    fn if_empty(self, other: String) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, other: String) -> String {
        if self.is_empty() { other } else { self }
    }
}

/// Runs `logbook query`: one page of the feed, as a table or JSON lines.
pub async fn query(args: QueryArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = args.connection.url("events", &[("limit", args.limit.to_string())])?;
    let page: Value = args.connection.get(&client, url).await?.json().await.context("reading the feed")?;
    let events = page["events"].as_array().context("the answer holds no events")?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for event in events {
            writeln!(out, "{event}")?;
        }
        return Ok(());
    }
    let header = ["Date", "Done by", "Event", "Item", "From", "To", "IP"].map(String::from);
    let rows: Vec<[String; 7]> = std::iter::once(header).chain(events.iter().map(row)).collect();
    let widths: Vec<usize> =
        (0..7).map(|column| rows.iter().map(|row| row[column].chars().count().min(40)).max().unwrap_or(0)).collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(text, width)| {
                let clipped: String = text.chars().take(*width).collect();
                format!("{clipped:<width$}")
            })
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    if page["next_cursor"].is_string() {
        writeln!(out, "(more events: raise --limit or narrow the filters)")?;
    }
    Ok(())
}

/// Runs `logbook export`: streams an export to a file, showing progress.
pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    if !matches!(args.format.as_str(), "ndjson" | "csv") {
        bail!("--format must be ndjson or csv");
    }
    let client = reqwest::Client::new();
    // The stats total sizes the progress bar; the export may hold its own record too.
    let stats_url = args.connection.url("stats", &[("group_by", "day".into())])?;
    let total = args.connection.get(&client, stats_url).await?.json::<Value>().await?["total"].as_u64().unwrap_or(0);
    let url = args.connection.url("export", &[("format", args.format.clone())])?;
    let mut response = args.connection.get(&client, url).await?;
    let tree_size =
        response.headers().get("logbook-tree-size").and_then(|value| value.to_str().ok()).map(str::to_string);
    let partial = args.output.with_extension("partial");
    let mut file = std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let (mut lines, mut bytes) = (0u64, 0u64);
    let mut shown = Instant::now();
    let mut progress = std::io::stderr();
    while let Some(chunk) = response.chunk().await.context("reading the export")? {
        file.write_all(&chunk)?;
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|&&byte| byte == b'\n').count() as u64;
        if shown.elapsed() >= Duration::from_millis(200) {
            shown = Instant::now();
            write!(progress, "\r{}", progress_line(lines, total, bytes))?;
        }
    }
    file.sync_all()?;
    std::fs::rename(&partial, &args.output).with_context(|| format!("writing {}", args.output.display()))?;
    let header_lines = u64::from(args.format == "csv");
    writeln!(progress, "\r{}", progress_line(lines - header_lines.min(lines), total, bytes))?;
    println!("wrote {} events to {}", lines - header_lines.min(lines), args.output.display());
    if let Some(size) = tree_size.filter(|_| args.format == "ndjson") {
        println!(
            "verify it against the checkpoint of size {size}: GET …/checkpoint?size={size}, then `logbook verify`"
        );
    }
    Ok(())
}

/// `[#########-----------]  45%  4,500 of 10,000 events  1.2 MB`
fn progress_line(done: u64, total: u64, bytes: u64) -> String {
    let fraction = if total == 0 { 1.0 } else { (done as f64 / total as f64).min(1.0) };
    let filled = (fraction * 20.0).round() as usize;
    format!(
        "[{}{}] {:>3}%  {} of {} events  {:.1} MB",
        "#".repeat(filled),
        "-".repeat(20 - filled),
        (fraction * 100.0).round() as u64,
        done,
        total,
        bytes as f64 / 1e6
    )
}
