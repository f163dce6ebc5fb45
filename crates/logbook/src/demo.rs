//! The demo workspace: created once with realistic events spread over the last
//! 90 days, across the whole catalog, and a fresh API key for each role on every
//! start (the previous demo keys are revoked, since secrets are shown only once).

use std::net::SocketAddr;

use anyhow::Context;
use logbook_core::integrity::Commitments;
use logbook_core::validate::validate_event;
use logbook_core::{Catalog, Limits, Role, Timestamp, WorkspaceCatalog};
use logbook_server::auth::{hash_secret, new_key_token, now, random_salt};
use logbook_storage::{NewApiKey, NewEvent, NewWorkspace, Storage};
use logbook_workload::{Workload, WorkloadConfig};

/// The demo workspace's id.
pub const WORKSPACE: &str = "demo";

const DAY_MILLIS: i64 = 86_400_000;

/// Events are stored this many at a time.
const BATCH: usize = 1000;

/// The demo's history starts 90 days before it is created.
fn config_start(started: Timestamp) -> Timestamp {
    started.plus_millis(-90 * DAY_MILLIS)
}

/// Creates and fills the demo workspace if it does not exist, and returns a new
/// token for each role.
pub async fn prepare(storage: &dyn Storage, event_count: usize) -> anyhow::Result<Vec<(Role, String)>> {
    let started = now();
    if storage.workspace(WORKSPACE).await?.is_none() {
        storage
            .create_workspace(NewWorkspace { id: WORKSPACE.into(), name: "Demo helpdesk".into(), created_at: started })
            .await?;
        println!("Filling the demo workspace with {event_count} events over the last 90 days…");
        let config = WorkloadConfig::new(2026, config_start(started), started.plus_millis(-60_000));
        let mut workload = Workload::new(config);
        let document = WorkspaceCatalog::default();
        let catalog = Catalog::new(&document);
        let limits = Limits::default();
        // A slice of the 90 days at a time, so that a large demo never holds
        // all of its events in memory.
        let (first, last) = (config_start(started), started.plus_millis(-60_000));
        let slices = event_count.div_ceil(BATCH).max(1);
        let span = last.as_millis() - first.as_millis();
        for slice in 0..slices {
            let count = BATCH.min(event_count - slice * BATCH);
            let from = first.plus_millis(span * slice as i64 / slices as i64);
            let to = first.plus_millis(span * (slice as i64 + 1) / slices as i64);
            let batch = workload
                .events_between(count, from, to)
                .iter()
                .map(|value| {
                    let body = validate_event(value, &catalog, started, &limits)
                        .map_err(|issues| anyhow::anyhow!("a generated demo event is invalid: {issues:?}"))?;
                    let commitments = Commitments::commit(&body, random_salt);
                    Ok(NewEvent { id: uuid::Uuid::now_v7().to_string(), body, commitments })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            storage.append(WORKSPACE, batch).await.context("storing demo events")?;
        }
    }
    for key in storage.list_api_keys(WORKSPACE).await? {
        if key.name.starts_with("demo ") && key.revoked_at.is_none() {
            storage.revoke_api_key(WORKSPACE, &key.id, started).await?;
        }
    }
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let (id, secret, token) = new_key_token();
        let key = NewApiKey {
            id,
            workspace: WORKSPACE.into(),
            name: format!("demo {}", role.as_str()),
            roles: vec![role],
            secret_hash: hash_secret(&secret),
            created_at: started,
        };
        storage.create_api_key(key).await?;
        tokens.push((role, token));
    }
    Ok(tokens)
}

/// Prints the demo keys and where to look.
pub fn print(keys: &[(Role, String)], address: SocketAddr) {
    println!("  viewer: http://{address}/ui/ (sign in with a key below: admin sees everything)");
    println!("  demo workspace: http://{address}/v1/workspaces/{WORKSPACE}/events");
    println!("  demo API keys (new on every start; the previous ones are revoked):");
    for (role, token) in keys {
        println!("    {:<11} {token}", role.as_str());
    }
    if let Some((_, admin)) = keys.iter().find(|(role, _)| *role == Role::Admin) {
        println!(
            "  try: curl -H 'Authorization: Bearer {admin}' 'http://{address}/v1/workspaces/{WORKSPACE}/events?limit=5'"
        );
    }
}
