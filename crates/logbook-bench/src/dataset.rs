//! The benchmark's workload: realistic events from `logbook-workload`, spread over
//! several workspaces, kept both as the JSON a client sends and as the columns a
//! hand-made `audit_log` table stores, plus the values read requests pick from.

use logbook_core::Timestamp;
use logbook_workload::{Workload, WorkloadConfig};
use serde_json::Value;

/// One event, as sent and as a peer's row.
pub struct Row {
    /// Index into [`Dataset::workspaces`].
    pub workspace: usize,
    /// Its place in its workspace, 0, 1, 2…: the peers' `seq` (Logbook assigns
    /// its own in arrival order).
    pub seq: i64,
    /// The ingest JSON, serialised once.
    pub json: String,
    /// Milliseconds since the epoch.
    pub occurred_at: i64,
    pub action: String,
    pub actor_type: String,
    pub actor_id: String,
    pub target_type: String,
    pub target_id: String,
    pub outcome: String,
    pub ip: Option<String>,
}

/// Values that occur in the data, for read requests to ask about.
#[derive(Default)]
pub struct Samples {
    pub actions: Vec<String>,
    pub actors: Vec<String>,
    pub targets: Vec<(String, String)>,
    pub ips: Vec<String>,
    pub changes: Vec<(String, String)>,
    pub words: Vec<String>,
    pub first_millis: i64,
    pub last_millis: i64,
}

/// The whole workload.
pub struct Dataset {
    pub workspaces: Vec<String>,
    pub rows: Vec<Row>,
    pub samples: Samples,
}

const DAY_MILLIS: i64 = 86_400_000;

impl Dataset {
    /// `count` events over `workspaces` workspaces (each its own people and
    /// records), 90 days of history ending a minute ago, in time order per
    /// workspace and interleaved across workspaces.
    pub fn generate(seed: u64, workspaces: usize, count: usize) -> Dataset {
        let now = Timestamp::from_millis(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis())
                as i64,
        );
        let (start, end) = (now.plus_millis(-90 * DAY_MILLIS), now.plus_millis(-60_000));
        let names: Vec<String> = (0..workspaces).map(|index| format!("bench-{index:02}")).collect();
        let per_workspace: Vec<Vec<Value>> = (0..workspaces)
            .map(|index| {
                let share = count / workspaces + usize::from(index < count % workspaces);
                let mut config = WorkloadConfig::new(seed.wrapping_mul(1000).wrapping_add(index as u64), start, end);
                config.people = 200;
                config.records_per_type = 5000;
                Workload::new(config).events(share)
            })
            .collect();
        let mut samples =
            Samples { first_millis: start.as_millis(), last_millis: end.as_millis(), ..Samples::default() };
        let mut rows = Vec::with_capacity(count);
        let mut cursors: Vec<std::vec::IntoIter<Value>> = per_workspace.into_iter().map(Vec::into_iter).collect();
        let mut exhausted = 0;
        let mut seqs = vec![0i64; workspaces];
        while exhausted < cursors.len() {
            exhausted = 0;
            for (workspace, events) in cursors.iter_mut().enumerate() {
                match events.next() {
                    Some(event) => {
                        if rows.len() % 97 == 0 {
                            samples.take(&event);
                        }
                        rows.push(Row::new(workspace, seqs[workspace], &event));
                        seqs[workspace] += 1;
                    }
                    None => exhausted += 1,
                }
            }
        }
        Dataset { workspaces: names, rows, samples }
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
}

fn text(event: &Value, pointer: &str) -> String {
    event.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

impl Row {
    fn new(workspace: usize, seq: i64, event: &Value) -> Row {
        let occurred_at = Timestamp::parse_rfc3339(&text(event, "/occurred_at")).map_or(0, Timestamp::as_millis);
        Row {
            workspace,
            seq,
            json: event.to_string(),
            occurred_at,
            action: text(event, "/action"),
            actor_type: event.pointer("/actor/type").and_then(Value::as_str).unwrap_or("user").to_string(),
            actor_id: text(event, "/actor/id"),
            target_type: text(event, "/target/type"),
            target_id: text(event, "/target/id"),
            outcome: event.pointer("/outcome").and_then(Value::as_str).unwrap_or("success").to_string(),
            ip: event.pointer("/context/ip").and_then(Value::as_str).map(str::to_string),
        }
    }
}

impl Samples {
    fn take(&mut self, event: &Value) {
        self.actions.push(text(event, "/action"));
        self.actors.push(text(event, "/actor/id"));
        self.targets.push((text(event, "/target/type"), text(event, "/target/id")));
        if let Some(ip) = event.pointer("/context/ip").and_then(Value::as_str) {
            self.ips.push(ip.to_string());
        }
        if let Some(change) = event.pointer("/changes/0")
            && let (Some(field), Some(to)) = (change["field"].as_str(), change["to"].as_str())
        {
            self.changes.push((field.to_string(), to.to_string()));
        }
        if let Some(name) = event.pointer("/target/name").and_then(Value::as_str)
            && let Some(word) = name.split(|c: char| !c.is_alphanumeric()).find(|word| word.len() >= 4)
        {
            self.words.push(word.to_lowercase());
        }
    }
}
