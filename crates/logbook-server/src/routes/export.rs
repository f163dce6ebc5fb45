//! Exports: the events under a filter as NDJSON, each line carrying what
//! `logbook verify` needs (`docs/canonical-form.md` §6), or as CSV for
//! spreadsheets; streamed with constant memory either way.
//!
//! An unfiltered export of a caller who sees every category holds the whole log
//! in `seq` order and is checked by rebuilding the tree; any other export carries
//! an inclusion proof on every line.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_DISPOSITION;
use axum::response::Response;
use logbook_core::catalog::describe;
use logbook_core::export::{ExportLine, StoredLineParts, csv_header, csv_line, splice_export_line};
use logbook_core::integrity::encode_hash;
use logbook_core::{Catalog, Category, Event, EventFilter, EventQuery, Order, Permission, Position, WorkspaceCatalog};
use logbook_storage::{Hash, StorageError, StoredEvent};
use tokio::sync::mpsc;

use crate::audit::{AuditEvent, actor_of, record};
use crate::auth::authorized;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::log_reader::LogReader;
use crate::routes::filters::{FeedParams, query_params, visible_filter};
use crate::routes::integrity::{BatchedLines, LineSender, streamed_response};
use crate::state::AppState;

/// How many events an export reads at once.
const EXPORT_CHUNK: usize = 1000;

/// How many chunks an export reads at once. A store larger than memory reads
/// its rows from disk: at 10M events, read cold, four at once exported a
/// median of 230,000 events/s against 144,000 with one ahead (BENCHMARKS.md).
/// Eight were faster in three of four runs (median 301,000 against 252,000) but
/// would hold every reader thread of the store.
const EXPORT_CHUNKS_IN_FLIGHT: usize = 4;

/// The response header naming the tree size an export was taken at.
pub const TREE_SIZE_HEADER: &str = "logbook-tree-size";

/// Streams the events matching the feed's filters as NDJSON or CSV (auditor, admin).
/// Every export is recorded as `audit_log.exported` with its filter and row count.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/export", tag = "events",
    params(("workspace" = String, Path, description = "workspace id"), FeedParams), security(("bearer" = [])),
    responses((status = 200, description = "one export line per event", content_type = "application/x-ndjson", body = String,
            headers(("Logbook-Tree-Size" = u64, description = "the tree size the export was taken at"))),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn export(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    caller: Caller,
    raw_query: RawQuery,
    params: Result<Query<FeedParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (principal, workspace) = authorized(&state, &caller.headers, &workspace, Permission::Export).await?;
    let mut params = query_params(params)?;
    let csv = match params.format.take().as_deref() {
        Some("ndjson") => false,
        Some("csv") => true,
        _ => return Err(ApiError::invalid_parameter("format must be ndjson or csv")),
    };
    if params.cursor.is_some() || params.limit.is_some() || params.order.is_some() || params.group_by.is_some() {
        return Err(ApiError::invalid_parameter(
            "an export has no cursor, limit or order: it streams every matching event",
        ));
    }
    let (filter, _, _, _) = visible_filter(&principal, &workspace, params, None)?;
    let size = workspace.event_count;
    let complete = filter == EventFilter { categories: Category::ALL.to_vec(), ..EventFilter::default() };
    let (sender, receiver) = mpsc::channel(8);
    let workspace_id = workspace.id.clone();
    let audit = AuditEvent::on_workspace("audit_log.exported", actor_of(&principal), &workspace.id)
        .with("format", if csv { "csv" } else { "ndjson" })
        .with("filter", raw_query.0.unwrap_or_default())
        .with("tree_size", size)
        .with("complete", complete);
    let catalog = workspace.catalog.clone();
    tokio::spawn(async move {
        let result = if csv {
            export_csv(&state, (&workspace_id, &catalog), size, filter, &sender).await
        } else if complete {
            export_log(&state, &workspace_id, size, &sender).await
        } else {
            export_filtered(&state, &workspace_id, size, filter, &sender).await
        };
        let (rows, finished) = match result {
            Ok(outcome) => outcome,
            Err(error) => {
                // The status line has gone; ending the stream early tells the client.
                tracing::error!(%error, "an export stopped");
                (0, false)
            }
        };
        let audit = AuditEvent { success: finished, ..audit.with("rows", rows) };
        if let Err(error) = record(&state, &workspace_id, caller.address, audit).await {
            tracing::error!(status = error.status().as_u16(), "an export could not be recorded");
        }
    });
    let (content_type, extension) =
        if csv { ("text/csv; charset=utf-8", "csv") } else { ("application/x-ndjson", "ndjson") };
    let mut response = streamed_response(receiver, content_type);
    let filename = format!("attachment; filename=\"{}-events-{size}.{extension}\"", workspace.id);
    let headers = response.headers_mut();
    headers.insert(CONTENT_DISPOSITION, HeaderValue::from_str(&filename).map_err(|_| ApiError::internal())?);
    headers.insert(TREE_SIZE_HEADER, HeaderValue::from(size));
    Ok(response)
}

/// How many lines an export sent, and whether it reached its end.
type Sent = (u64, bool);

/// Adds one line; `false` when the client went away.
async fn send(lines: &mut BatchedLines<'_>, line: &ExportLine) -> Result<bool, StorageError> {
    lines.push_json(line).await.map_err(|error| StorageError::Backend(error.to_string()))
}

/// Adds the line of a stored row with the tree's leaf at its position (`None`
/// where the tree has none), copying the row's JSON as it is, which is several
/// times faster than reading and writing it again. A row that is not what Logbook
/// stores is read instead, and reported as corrupt if it cannot be.
async fn send_stored(
    lines: &mut BatchedLines<'_>,
    workspace: &str,
    row: &StoredEvent,
    logged: Option<Hash>,
    tree_size: u64,
) -> Result<bool, StorageError> {
    let leaf_hash = logged.as_ref().map(encode_hash).unwrap_or_default();
    let parts = StoredLineParts {
        id: &row.id,
        workspace,
        seq: row.seq,
        leaf_hash: &leaf_hash,
        body_json: &row.body_json,
        commitments_json: &row.personal_json,
        tree_size,
    };
    if let Some(spliced) = lines.push_with(|buffer| splice_export_line(buffer, &parts)).await {
        return Ok(spliced);
    }
    let entry = row.parse(workspace)?;
    let event = Event { leaf_hash, ..entry.event };
    send(lines, &ExportLine { event, commitments: entry.commitments, tree_size, proof: None }).await
}

/// Every stored event in `seq` order, with the tree's leaf at its position, and
/// then any row past the log's live size (which only tampering can put there).
async fn export_log(state: &AppState, workspace: &str, size: u64, sender: &LineSender) -> Result<Sent, StorageError> {
    let mut lines = BatchedLines::new(sender);
    let mut reader = LogReader::new(state, workspace, size, EXPORT_CHUNK, EXPORT_CHUNKS_IN_FLIGHT);
    let mut rows = 0;
    loop {
        let chunk = reader.next_stored_chunk().await?;
        if chunk.is_empty() {
            break;
        }
        for (row, logged) in chunk {
            if !send_stored(&mut lines, workspace, &row, logged, size).await? {
                return Ok((rows, false));
            }
            rows += 1;
        }
    }
    for orphan in reader.orphans(EXPORT_CHUNK).await? {
        if !send_stored(&mut lines, workspace, &orphan, None, size).await? {
            return Ok((rows, false));
        }
        rows += 1;
    }
    Ok((rows, lines.flush().await))
}

/// The events under a filter at a tree size, oldest first, a page at a time.
struct FilteredPages<'a> {
    state: &'a AppState,
    workspace: &'a str,
    query: Option<EventQuery>,
}

impl<'a> FilteredPages<'a> {
    fn new(state: &'a AppState, workspace: &'a str, size: u64, filter: EventFilter) -> FilteredPages<'a> {
        let query = (size > 0 && !filter.categories.is_empty()).then(|| EventQuery {
            filter,
            order: Order::Asc,
            limit: EXPORT_CHUNK,
            after: None,
            max_seq: Some(size - 1),
        });
        FilteredPages { state, workspace, query }
    }

    /// The next page; empty when done.
    async fn next(&mut self) -> Result<Vec<Event>, StorageError> {
        let Some(query) = &mut self.query else { return Ok(Vec::new()) };
        let events = self.state.storage().query(self.workspace, query).await?;
        match events.last() {
            Some(last) if events.len() == EXPORT_CHUNK => {
                query.after = Some(Position { occurred_at: last.body.occurred_at, seq: last.seq });
            }
            _ => self.query = None,
        }
        Ok(events)
    }
}

/// The events under a filter, oldest first, as CSV for spreadsheets and reporting
/// tools: the catalog's labels and rendered descriptions, no proofs.
async fn export_csv(
    state: &AppState,
    (workspace, catalog): (&str, &WorkspaceCatalog),
    size: u64,
    filter: EventFilter,
    sender: &LineSender,
) -> Result<Sent, StorageError> {
    let mut lines = BatchedLines::new(sender);
    if !lines.push_text(&csv_header()).await {
        return Ok((0, false));
    }
    let catalog = Catalog::new(catalog);
    let mut pages = FilteredPages::new(state, workspace, size, filter);
    let mut rows = 0;
    loop {
        let events = pages.next().await?;
        if events.is_empty() {
            return Ok((rows, lines.flush().await));
        }
        for event in events {
            let spec = catalog.lookup(&event.body.action);
            let label = spec.map_or(event.body.action.as_str(), |spec| spec.label.as_str());
            let line = csv_line(&event, label, &describe(&event.body, spec));
            if !lines.push_text(&line).await {
                return Ok((rows, false));
            }
            rows += 1;
        }
    }
}

/// The events under a filter, oldest first, each with its inclusion proof.
async fn export_filtered(
    state: &AppState,
    workspace: &str,
    size: u64,
    filter: EventFilter,
    sender: &LineSender,
) -> Result<Sent, StorageError> {
    let storage = state.storage();
    let mut lines = BatchedLines::new(sender);
    let mut pages = FilteredPages::new(state, workspace, size, filter);
    let mut rows = 0;
    loop {
        let events = pages.next().await?;
        if events.is_empty() {
            return Ok((rows, lines.flush().await));
        }
        let seqs = events.iter().map(|event| event.seq).collect();
        let mut commitments: HashMap<u64, _> = storage.commitments(workspace, seqs).await?.into_iter().collect();
        for event in events {
            let proof = storage.inclusion_proof(workspace, event.seq, size).await?;
            let commitments = commitments.remove(&event.seq).unwrap_or_default();
            let proof = Some(proof.iter().map(encode_hash).collect());
            if !send(&mut lines, &ExportLine { event, commitments, tree_size: size, proof }).await? {
                return Ok((rows, false));
            }
            rows += 1;
        }
    }
}
