//! Appending to a workspace's log, safely from any number of processes.
//!
//! One transaction per append: it locks the workspace's row
//! (`SELECT next_seq … FOR NO KEY UPDATE`), so appends to one workspace take
//! turns across every process while appends to different workspaces run side by
//! side; it loads the tree's right edge from the stored nodes, plans the append
//! (`append_plan`), writes every table with one multi-row statement each, moves
//! `next_seq` on and commits. Commits are synchronous (see `connect`), so an
//! `Ok` means the events are on the database's disk.

use std::collections::HashMap;

use deadpool_postgres::{GenericClient, Pool};
use logbook_tlog::tree::RightEdge;
use tokio_postgres::error::SqlState;

use super::{backend, tree, unavailable};
use crate::append_plan::{AppendPlan, plan_append};
use crate::model::{Appended, NewEvent, StorageError};
use crate::rows::{to_hash, to_unsigned};

/// Appends `events` to `workspace`; see [`crate::Storage::append`].
pub(super) async fn append(pool: &Pool, workspace: &str, events: &[NewEvent]) -> Result<Vec<Appended>, StorageError> {
    let mut client = pool.get().await.map_err(unavailable)?;
    let transaction = client.transaction().await.map_err(backend)?;
    let lock = transaction
        .prepare_cached("SELECT next_seq FROM workspaces WHERE id = $1 FOR NO KEY UPDATE")
        .await
        .map_err(backend)?;
    let next_seq: i64 = transaction
        .query_opt(&lock, &[&workspace])
        .await
        .map_err(backend)?
        .ok_or_else(|| StorageError::NotFound(format!("workspace {workspace}")))?
        .get(0);
    let size = to_unsigned(next_seq, "next_seq")?;
    let edge = tree::with_nodes(&transaction, workspace, |read| RightEdge::load(size, read)).await?;
    let stored = stored_duplicates(&transaction, workspace, events).await?;
    let plan = plan_append(workspace, events, edge, |key| Ok(stored.get(key).cloned()))?;
    write_plan(&transaction, workspace, &plan).await?;
    transaction.commit().await.map_err(backend)?;
    Ok(plan.answers)
}

/// The events already stored under the idempotency keys of `events`.
async fn stored_duplicates(
    client: &impl GenericClient,
    workspace: &str,
    events: &[NewEvent],
) -> Result<HashMap<String, Appended>, StorageError> {
    let keys: Vec<&str> = events.iter().filter_map(|event| event.body.idempotency_key.as_deref()).collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let statement = client
        .prepare_cached("SELECT key, id, seq, leaf_hash FROM idempotency_keys WHERE workspace = $1 AND key = ANY($2)")
        .await
        .map_err(backend)?;
    let rows = client.query(&statement, &[&workspace, &keys]).await.map_err(backend)?;
    rows.iter()
        .map(|row| {
            let (key, id, seq, leaf): (String, String, i64, Vec<u8>) = (row.get(0), row.get(1), row.get(2), row.get(3));
            let seq = to_unsigned(seq, "seq")?;
            let leaf_hash = to_hash(&leaf, &format!("event {seq}"))?;
            Ok((key, Appended { id, seq, leaf_hash, duplicate: true }))
        })
        .collect()
}

/// Runs one multi-row insert, its columns given as arrays.
async fn insert(
    client: &impl GenericClient,
    statement: &str,
    columns: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let statement = client.prepare_cached(statement).await?;
    client.execute(&statement, columns).await
}

/// Writes the rows of a planned append, one statement per table.
async fn write_plan(client: &impl GenericClient, workspace: &str, plan: &AppendPlan<'_>) -> Result<(), StorageError> {
    if !plan.events.is_empty() {
        write_events(client, workspace, plan).await?;
    }
    if !plan.records.is_empty() {
        let records = &plan.records;
        let seqs: Vec<i64> = records.iter().map(|row| row.seq).collect();
        let types: Vec<&str> = records.iter().map(|row| row.record_type.as_str()).collect();
        let ids: Vec<&str> = records.iter().map(|row| row.record_id.as_str()).collect();
        let occurred: Vec<i64> = records.iter().map(|row| row.occurred_at).collect();
        let received: Vec<i64> = records.iter().map(|row| row.received_at).collect();
        insert(
            client,
            "INSERT INTO event_records (workspace, seq, record_type, record_id, occurred_at, received_at)
             SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])",
            &[&workspace, &seqs, &types, &ids, &occurred, &received],
        )
        .await
        .map_err(backend)?;
    }
    if !plan.changes.is_empty() {
        let changes = &plan.changes;
        let seqs: Vec<i64> = changes.iter().map(|row| row.seq).collect();
        let positions: Vec<i64> = changes.iter().map(|row| row.position).collect();
        let fields: Vec<&str> = changes.iter().map(|row| row.field.as_str()).collect();
        let from: Vec<&str> = changes.iter().map(|row| row.from_value.as_str()).collect();
        let to: Vec<&str> = changes.iter().map(|row| row.to_value.as_str()).collect();
        let occurred: Vec<i64> = changes.iter().map(|row| row.occurred_at).collect();
        let received: Vec<i64> = changes.iter().map(|row| row.received_at).collect();
        insert(
            client,
            "INSERT INTO event_changes (workspace, seq, position, field, from_value, to_value, occurred_at, received_at)
             SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                                      $8::bigint[])",
            &[&workspace, &seqs, &positions, &fields, &from, &to, &occurred, &received],
        )
        .await
        .map_err(backend)?;
    }
    if !plan.nodes.is_empty() {
        let levels: Vec<i32> = plan.nodes.iter().map(|(node, _)| i32::from(node.level)).collect();
        let indexes: Vec<i64> =
            plan.nodes.iter().map(|(node, _)| i64::try_from(node.index).unwrap_or(i64::MAX)).collect();
        let hashes: Vec<&[u8]> = plan.nodes.iter().map(|(_, hash)| hash.as_slice()).collect();
        insert(
            client,
            "INSERT INTO tree_nodes (workspace, level, idx, hash)
             SELECT $1, * FROM UNNEST($2::integer[], $3::bigint[], $4::bytea[])",
            &[&workspace, &levels, &indexes, &hashes],
        )
        .await
        .map_err(backend)?;
    }
    insert(client, "UPDATE workspaces SET next_seq = $2 WHERE id = $1", &[&workspace, &plan.next_seq])
        .await
        .map_err(backend)?;
    Ok(())
}

/// Writes the event rows, their ids and their idempotency keys.
async fn write_events(client: &impl GenericClient, workspace: &str, plan: &AppendPlan<'_>) -> Result<(), StorageError> {
    let rows = &plan.events;
    let seqs: Vec<i64> = rows.iter().map(|row| row.seq).collect();
    let ids: Vec<&str> = rows.iter().map(|row| row.event.id.as_str()).collect();
    let received: Vec<i64> = rows.iter().map(|row| row.event.body.received_at.as_millis()).collect();
    insert(
        client,
        "INSERT INTO event_ids (workspace, id, seq, received_at)
         SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::bigint[])",
        &[&workspace, &ids, &seqs, &received],
    )
    .await
    .map_err(|error| match error.code() {
        Some(&SqlState::UNIQUE_VIOLATION) => {
            StorageError::Conflict("an event with one of these ids already exists".into())
        }
        _ => backend(error),
    })?;
    let keyed: Vec<_> = rows.iter().filter(|row| row.event.body.idempotency_key.is_some()).collect();
    if !keyed.is_empty() {
        let keys: Vec<&str> = keyed.iter().filter_map(|row| row.event.body.idempotency_key.as_deref()).collect();
        let key_ids: Vec<&str> = keyed.iter().map(|row| row.event.id.as_str()).collect();
        let key_seqs: Vec<i64> = keyed.iter().map(|row| row.seq).collect();
        let leaves: Vec<&[u8]> = keyed.iter().map(|row| row.leaf.as_slice()).collect();
        insert(
            client,
            "INSERT INTO idempotency_keys (workspace, key, id, seq, leaf_hash)
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::bytea[])",
            &[&workspace, &keys, &key_ids, &key_seqs, &leaves],
        )
        .await
        .map_err(backend)?;
    }
    let bodies: Vec<_> = rows.iter().map(|row| &row.event.body).collect();
    let actions: Vec<&str> = bodies.iter().map(|body| body.action.as_str()).collect();
    let categories: Vec<&str> = bodies.iter().map(|body| body.category.as_str()).collect();
    let occurred: Vec<i64> = bodies.iter().map(|body| body.occurred_at.as_millis()).collect();
    let actor_types: Vec<&str> = bodies.iter().map(|body| body.actor.actor_type.as_str()).collect();
    let actor_ids: Vec<&str> = bodies.iter().map(|body| body.actor.id.as_str()).collect();
    let target_types: Vec<&str> = bodies.iter().map(|body| body.target.record_type.as_str()).collect();
    let target_ids: Vec<&str> = bodies.iter().map(|body| body.target.id.as_str()).collect();
    let outcomes: Vec<&str> = bodies.iter().map(|body| body.outcome.as_str()).collect();
    let ips: Vec<Option<&str>> = bodies.iter().map(|body| body.context.ip.as_deref()).collect();
    let keys: Vec<Option<&str>> = bodies.iter().map(|body| body.idempotency_key.as_deref()).collect();
    let body_json: Vec<&str> = rows.iter().map(|row| row.body_json.as_str()).collect();
    let personal: Vec<&str> = rows.iter().map(|row| row.personal_json.as_str()).collect();
    let leaves: Vec<&[u8]> = rows.iter().map(|row| row.leaf.as_slice()).collect();
    let search: Vec<&str> = rows.iter().map(|row| row.search_text.as_str()).collect();
    insert(
        client,
        "INSERT INTO events (workspace, seq, received_at, id, action, category, occurred_at, actor_type, actor_id,
                             target_type, target_id, outcome, ip, idempotency_key, body, personal, leaf_hash,
                             search_text)
         SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                                  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                                  $14::text[], $15::text[], $16::text[], $17::bytea[], $18::text[])",
        &[
            &workspace,
            &seqs,
            &received,
            &ids,
            &actions,
            &categories,
            &occurred,
            &actor_types,
            &actor_ids,
            &target_types,
            &target_ids,
            &outcomes,
            &ips,
            &keys,
            &body_json,
            &personal,
            &leaves,
            &search,
        ],
    )
    .await
    .map_err(backend)?;
    Ok(())
}
