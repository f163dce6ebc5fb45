//! What one `append` writes, worked out once for every backend: each new
//! event's `seq`, leaf hash and index rows, the tree nodes that become complete,
//! and the answer for each event (a duplicate answers with its original). The
//! backends only differ in how they read the state it starts from and how they
//! write the rows.

use std::collections::HashMap;

use logbook_core::filter::value_text;
use logbook_core::integrity::{LeafPosition, leaf_hash};
use logbook_core::search::search_text;
use logbook_tlog::Hash;
use logbook_tlog::tree::{NodeId, RightEdge};

use crate::model::{Appended, NewEvent, StorageError};
use crate::rows::to_json;

/// One new event's row.
pub(crate) struct EventRow<'a> {
    /// Its position in the workspace's log.
    pub(crate) seq: i64,
    /// The event as given.
    pub(crate) event: &'a NewEvent,
    /// Its body as stored.
    pub(crate) body_json: String,
    /// Its commitments as stored.
    pub(crate) personal_json: String,
    /// Its leaf hash.
    pub(crate) leaf: Hash,
    /// The text free text and quoted phrases are found in.
    pub(crate) search_text: String,
}

/// One row of the record index: an event concerns this record.
pub(crate) struct RecordRow {
    pub(crate) seq: i64,
    pub(crate) record_type: String,
    pub(crate) record_id: String,
    pub(crate) occurred_at: i64,
    pub(crate) received_at: i64,
}

/// One change of one event, its values as filters compare them, and its
/// event's time, which orders the index of changes by value.
pub(crate) struct ChangeRow {
    pub(crate) seq: i64,
    pub(crate) position: i64,
    pub(crate) field: String,
    pub(crate) from_value: String,
    pub(crate) to_value: String,
    pub(crate) occurred_at: i64,
    pub(crate) received_at: i64,
}

/// Everything one append writes, and what it answers.
pub(crate) struct AppendPlan<'a> {
    pub(crate) events: Vec<EventRow<'a>>,
    pub(crate) records: Vec<RecordRow>,
    pub(crate) changes: Vec<ChangeRow>,
    /// The tree nodes that became complete, level 0 (the leaves) included.
    pub(crate) nodes: Vec<(NodeId, Hash)>,
    /// The answer for each given event, in order.
    pub(crate) answers: Vec<Appended>,
    /// The workspace's `next_seq` after this append.
    pub(crate) next_seq: i64,
}

/// Plans an append to `workspace`, whose log holds `edge.size()` events, of
/// `events`. `stored_duplicate` finds the event already stored under an
/// idempotency key; keys repeated within `events` are answered here.
pub(crate) fn plan_append<'a>(
    workspace: &str,
    events: &'a [NewEvent],
    mut edge: RightEdge,
    mut stored_duplicate: impl FnMut(&str) -> Result<Option<Appended>, StorageError>,
) -> Result<AppendPlan<'a>, StorageError> {
    let mut next_seq =
        i64::try_from(edge.size()).map_err(|error| StorageError::Corrupt(format!("next_seq: {error}")))?;
    let mut plan = AppendPlan {
        events: Vec::with_capacity(events.len()),
        records: Vec::new(),
        changes: Vec::new(),
        nodes: Vec::new(),
        answers: Vec::with_capacity(events.len()),
        next_seq,
    };
    let mut planned_keys: HashMap<&str, Appended> = HashMap::new();
    for event in events {
        let body = &event.body;
        if let Some(key) = body.idempotency_key.as_deref() {
            let original = match planned_keys.get(key) {
                Some(planned) => Some(planned.clone()),
                None => stored_duplicate(key)?,
            };
            if let Some(original) = original {
                plan.answers.push(Appended { duplicate: true, ..original });
                continue;
            }
        }
        let seq = next_seq;
        let position = LeafPosition { workspace, seq: u64::try_from(seq).unwrap_or_default(), id: &event.id };
        let leaf = leaf_hash(position, body, &event.commitments)
            .map_err(|error| StorageError::Backend(format!("an event could not be hashed: {error}")))?;
        edge.append_into(leaf, &mut plan.nodes);
        let (occurred_at, received_at) = (body.occurred_at.as_millis(), body.received_at.as_millis());
        for record in body.records() {
            plan.records.push(RecordRow {
                seq,
                record_type: record.record_type.clone(),
                record_id: record.id.clone(),
                occurred_at,
                received_at,
            });
        }
        for (position, change) in body.changes.iter().enumerate() {
            plan.changes.push(ChangeRow {
                seq,
                position: i64::try_from(position).unwrap_or(i64::MAX),
                field: change.field.clone(),
                from_value: value_text(&change.from),
                to_value: value_text(&change.to),
                occurred_at,
                received_at,
            });
        }
        let answer = Appended {
            id: event.id.clone(),
            seq: u64::try_from(seq).unwrap_or_default(),
            leaf_hash: leaf,
            duplicate: false,
        };
        if let Some(key) = body.idempotency_key.as_deref() {
            planned_keys.insert(key, answer.clone());
        }
        plan.answers.push(answer);
        plan.events.push(EventRow {
            seq,
            event,
            body_json: to_json(body)?,
            personal_json: to_json(&event.commitments)?,
            leaf,
            search_text: search_text(body),
        });
        next_seq += 1;
    }
    plan.next_seq = next_seq;
    Ok(plan)
}
