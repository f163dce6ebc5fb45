//! Events: ingest, the workspace feed, one event, and a record's timeline.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use logbook_core::catalog::describe;
use logbook_core::cursor::Cursor;
use logbook_core::integrity::{Commitments, encode_hash};
use logbook_core::validate::validate_event;
use logbook_core::{
    Actor, Catalog, Category, Change, Context, Event, EventQuery, Outcome, Permission, Position, Principal, RecordKey,
    RecordRef, Timestamp, Workspace,
};
use logbook_storage::NewEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::{AuditEvent, actor_of, record};
use crate::auth::{authorized, random_salt, workspace_access};
use crate::body::{body_size_bound, json_value_within};
use crate::caller::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::routes::filters::{FeedParams, query_params, readable_categories, visible_filter};
use crate::state::AppState;

/// The most events one ingest request may carry.
pub const MAX_BATCH: usize = 1000;

/// How long an ingest request waits for room in the backlog before it is
/// answered 429.
const BACKLOG_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// An event as a client sends it (documentation of the ingest body).
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct EventInput {
    /// Dotted lowercase action from the workspace's catalog.
    #[schema(example = "ticket.status_changed")]
    action: String,
    /// When it happened; defaults to receipt; at most 5 minutes in the future.
    occurred_at: Option<Timestamp>,
    /// Who did it (`type` defaults to `user`).
    actor: Actor,
    /// The record acted on; its type must be the catalog's for the action.
    target: RecordRef,
    /// Other records whose timelines show the event (at most 100).
    related: Option<Vec<RecordRef>>,
    /// Previous and new values (at most 100).
    changes: Option<Vec<Change>>,
    /// Defaults to `success`.
    outcome: Option<Outcome>,
    /// IP (validated), user agent, request and session ids.
    context: Option<Context>,
    /// At most 4096 characters; rendered from the catalog when absent.
    description: Option<String>,
    /// At most 50 keys, nested at most 5 deep.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    /// A retried event with the same key is stored once.
    idempotency_key: Option<String>,
}

/// A batch of events (documentation of the ingest body).
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct EventBatch {
    /// 1 to 1000 events, stored all or none.
    events: Vec<EventInput>,
}

/// The ingest body: one event, or a batch. (Only documentation: ingest reads
/// bodies as JSON values so that every problem can be reported by field.)
#[allow(dead_code, clippy::large_enum_variant)]
#[derive(utoipa::ToSchema)]
pub enum IngestRequest {
    /// One event.
    One(EventInput),
    /// Several events.
    Many(EventBatch),
}

/// What happened to one ingested event.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestedEvent {
    /// The event's id (the original's for a duplicate).
    pub id: String,
    /// The event's position in the log (the original's for a duplicate).
    pub seq: u64,
    /// Base64 of the event's Merkle leaf hash (the original's for a duplicate).
    pub leaf_hash: String,
    /// Whether an event with the same idempotency key was already stored.
    pub duplicate: bool,
}

/// The ingest answer, in request order.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestResponse {
    /// One entry per event sent.
    pub events: Vec<IngestedEvent>,
}

/// Stores one event or a batch, atomically and durably (publisher).
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/events", tag = "events",
    params(("workspace" = String, Path, description = "workspace id")), security(("bearer" = [])),
    request_body(content = IngestRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "stored durably", body = IngestResponse),
        (status = 400, description = "malformed JSON", body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 413, description = "body over 1 MiB or more than 1000 events", body = ErrorEnvelope),
        (status = 415, body = ErrorEnvelope),
        (status = 422, description = "invalid events; details list index, field and message", body = ErrorEnvelope),
        (status = 429, description = "the write backlog is full; nothing stored; retry after `Retry-After` seconds", body = ErrorEnvelope),
    ))]
pub async fn ingest(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<IngestResponse>), ApiError> {
    let (_, workspace) = authorized(&state, &headers, &workspace, Permission::Ingest).await?;
    let received_at = state.now();
    // Backpressure: a request takes room for its body before reading it and
    // keeps it until its write ends, so the events in the server stay bounded
    // however many clients send. When the writer is behind, requests wait their
    // turn for a moment, then hear 429 with nothing stored.
    let reserved = body_size_bound(&body);
    let permits = u32::try_from(reserved).unwrap_or(u32::MAX);
    let waited = tokio::time::timeout(BACKLOG_WAIT, state.ingest_backlog().clone().acquire_many_owned(permits)).await;
    let Some(_backlog) = waited.ok().and_then(Result::ok) else {
        // The body is read and dropped, a piece at a time, so that the client
        // hears the 429 instead of a connection reset in the middle of sending.
        discard_body(body, reserved).await;
        return Err(ApiError::slow_down(format!(
            "Logbook is writing a backlog of {} MiB of events; nothing was stored, retry after a second",
            state.ingest_backlog_size() / (1024 * 1024)
        )));
    };
    let value = json_value_within(&headers, body, reserved).await?;
    let items: Vec<Value> = match value {
        Value::Object(mut object) if object.contains_key("events") => match object.remove("events") {
            Some(Value::Array(items)) if object.is_empty() => items,
            Some(Value::Array(_)) => {
                return Err(ApiError::invalid_events(vec![(
                    0,
                    logbook_core::FieldIssue::new("", "a batch holds only \"events\""),
                )]));
            }
            _ => return Err(ApiError::malformed("\"events\" must be an array of events")),
        },
        single => vec![single],
    };
    if items.len() > MAX_BATCH {
        return Err(ApiError::too_large(format!(
            "a batch holds at most {MAX_BATCH} events; this one has {}",
            items.len()
        )));
    }
    if items.is_empty() {
        return Err(ApiError::malformed("the batch holds no events"));
    }
    let catalog = Catalog::new(&workspace.catalog);
    let mut issues = Vec::new();
    let mut events = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match validate_event(item, &catalog, received_at, state.limits()) {
            Ok(body) => {
                let commitments = Commitments::commit(&body, random_salt);
                events.push(NewEvent { id: uuid::Uuid::now_v7().to_string(), body, commitments });
            }
            Err(found) => issues.extend(found.into_iter().map(|issue| (index, issue))),
        }
    }
    if !issues.is_empty() {
        return Err(ApiError::invalid_events(issues));
    }
    // The parsed JSON is several times the size of the events made from it; it
    // must not wait for the writer with them.
    drop(items);
    let appended = state.storage().append(&workspace.id, events).await?;
    let events = appended
        .into_iter()
        .map(|appended| IngestedEvent {
            id: appended.id,
            seq: appended.seq,
            leaf_hash: encode_hash(&appended.leaf_hash),
            duplicate: appended.duplicate,
        })
        .collect();
    Ok((StatusCode::CREATED, Json(IngestResponse { events })))
}

/// Reads up to `limit` bytes of `body` and drops them as they come.
async fn discard_body(body: Body, limit: usize) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut read = 0;
    while read <= limit {
        match stream.next().await {
            Some(Ok(piece)) => read += piece.len(),
            _ => return,
        }
    }
}

/// One page of a feed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedPage {
    /// The events, in the requested order.
    pub events: Vec<Event>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Fills in each event's description from the workspace's catalog.
fn described(workspace: &Workspace, mut event: Event) -> Event {
    if event.body.description.is_none() {
        let catalog = Catalog::new(&workspace.catalog);
        event.body.description = Some(describe(&event.body, catalog.lookup(&event.body.action)));
    }
    event
}

/// Records that a caller opened a view of the audit log: `view` is `feed`,
/// `timeline` or `event`, and `detail` names the record or event. At most once a
/// minute per caller and kind of view.
pub(crate) async fn record_audit_view(
    state: &AppState,
    principal: &Principal,
    workspace: &str,
    address: Option<std::net::IpAddr>,
    (view, detail): (&str, Option<String>),
) -> Result<(), ApiError> {
    let actor = actor_of(principal);
    let key = format!("viewed|{workspace}|{}|{}|{view}", actor["type"], actor["id"]);
    if !state.throttle().admit(key, state.now()) {
        return Ok(());
    }
    let mut event = AuditEvent::on_workspace("audit_log.viewed", actor, workspace).with("view", view);
    if let Some(detail) = detail {
        event = event.with(view, detail);
    }
    record(state, workspace, address, event).await
}

/// Answers one page of a workspace's feed, optionally fixed to one record.
async fn feed_page(
    state: &AppState,
    (principal, address): (&Principal, Option<std::net::IpAddr>),
    workspace: &Workspace,
    params: FeedParams,
    record: Option<RecordKey>,
) -> Result<Json<FeedPage>, ApiError> {
    if params.format.is_some() || params.group_by.is_some() {
        return Err(ApiError::invalid_parameter("format applies to exports and group_by to stats only"));
    }
    let view = match &record {
        Some(record) => ("timeline", Some(format!("{}:{}", record.record_type, record.id))),
        None => ("feed", None),
    };
    let (filter, order, limit, cursor) = visible_filter(principal, workspace, params, record)?;
    // Every page counts, with or without a cursor: a cursor does not carry the
    // filter, so a later page may reach categories the first page did not.
    if filter.categories.contains(&Category::Audit) {
        record_audit_view(state, principal, &workspace.id, address, view).await?;
    }
    let cursor = cursor
        .map(|text| {
            Cursor::decode(&text, state.cursor_secret(), &workspace.id, order)
                .map_err(|error| ApiError::invalid_parameter(error.to_string()))
        })
        .transpose()?;
    let max_seq = match cursor {
        Some(cursor) => cursor.max_seq,
        None if workspace.event_count == 0 => return Ok(Json(FeedPage { events: Vec::new(), next_cursor: None })),
        None => workspace.event_count - 1,
    };
    if filter.categories.is_empty() {
        return Ok(Json(FeedPage { events: Vec::new(), next_cursor: None }));
    }
    let query = EventQuery {
        filter,
        order,
        limit: limit + 1,
        after: cursor.map(|cursor| cursor.after),
        max_seq: Some(max_seq),
    };
    let mut events = state.storage().query(&workspace.id, &query).await?;
    let next_cursor = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|last| {
            let after = Position { occurred_at: last.body.occurred_at, seq: last.seq };
            Cursor { after, max_seq }.encode(state.cursor_secret(), &workspace.id, order)
        })
    } else {
        None
    };
    let events = events.into_iter().map(|event| described(workspace, event)).collect();
    Ok(Json(FeedPage { events, next_cursor }))
}

/// The workspace feed, newest first, filtered (supervisor, setup, auditor, admin).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/events", tag = "events",
    params(("workspace" = String, Path, description = "workspace id"), FeedParams), security(("bearer" = [])),
    responses((status = 200, body = FeedPage), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn feed(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    caller: Caller,
    params: Result<Query<FeedParams>, QueryRejection>,
) -> Result<Json<FeedPage>, ApiError> {
    let (principal, workspace) = workspace_access(&state, &caller.headers, &workspace).await?;
    let params = query_params(params)?;
    feed_page(&state, (&principal, caller.address), &workspace, params, None).await
}

/// A record's timeline: events whose target or related records include it.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/records/{type}/{id}/events", tag = "events",
    params(("workspace" = String, Path, description = "workspace id"), ("type" = String, Path, description = "record type"),
        ("id" = String, Path, description = "record id"), FeedParams),
    security(("bearer" = [])),
    responses((status = 200, body = FeedPage), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn timeline(
    State(state): State<AppState>,
    Path((workspace, record_type, record_id)): Path<(String, String, String)>,
    caller: Caller,
    params: Result<Query<FeedParams>, QueryRejection>,
) -> Result<Json<FeedPage>, ApiError> {
    let (principal, workspace) = workspace_access(&state, &caller.headers, &workspace).await?;
    let params = query_params(params)?;
    if params.record.is_some() {
        return Err(ApiError::invalid_parameter("a timeline is already one record's; leave out record"));
    }
    let record = RecordKey { record_type, id: record_id };
    feed_page(&state, (&principal, caller.address), &workspace, params, Some(record)).await
}

/// One event by id; 404 when it does not exist or its category is hidden from the caller.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/events/{id}", tag = "events",
    params(("workspace" = String, Path, description = "workspace id"), ("id" = String, Path, description = "event id")),
    security(("bearer" = [])),
    responses((status = 200, body = Event), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    Path((workspace, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Event>, ApiError> {
    let (principal, workspace) = workspace_access(&state, &caller.headers, &workspace).await?;
    let event = visible_event(&state, &principal, &workspace, &id).await?;
    if event.body.category == Category::Audit {
        record_audit_view(&state, &principal, &workspace.id, caller.address, ("event", Some(event.id.clone()))).await?;
    }
    Ok(Json(described(&workspace, event)))
}

/// One event the principal may see: 404 when it does not exist, lies in a hidden
/// category, or lies outside the principal's record scope.
pub(crate) async fn visible_event(
    state: &AppState,
    principal: &Principal,
    workspace: &Workspace,
    id: &str,
) -> Result<Event, ApiError> {
    let visible = readable_categories(principal, workspace)?;
    let not_found = || ApiError::not_found(format!("event {id} not found"));
    let event = state.storage().event(&workspace.id, id).await?.ok_or_else(not_found)?;
    if !visible.contains(&event.body.category) || !principal.in_scope(&event.body) {
        return Err(not_found());
    }
    Ok(event)
}
