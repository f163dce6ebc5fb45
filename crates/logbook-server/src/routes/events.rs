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
    ActionPattern, Actor, ActorType, Catalog, Category, Change, ChangeFilter, Context, Event, EventFilter, EventQuery,
    Order, Outcome, Permission, Position, Principal, RecordKey, RecordRef, Timestamp, Workspace,
};
use logbook_storage::NewEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::{AuditEvent, actor_of, record};
use crate::auth::{authorized, random_salt, workspace_access};
use crate::body::json_value;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// The most events one ingest request may carry.
pub const MAX_BATCH: usize = 1000;

/// The default and largest page sizes of the feed.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page size of the feed.
pub const MAX_LIMIT: usize = 1000;

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
    ))]
pub async fn ingest(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<IngestResponse>), ApiError> {
    let (_, workspace) = authorized(&state, &headers, &workspace, Permission::Ingest).await?;
    let received_at = state.now();
    let value = json_value(&headers, body).await?;
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

/// The feed's query parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// `activity`, `audit`, or both comma-separated.
    pub category: Option<String>,
    /// Comma list of actions; `ticket.*` matches a prefix.
    pub action: Option<String>,
    /// Only events by this actor id.
    pub actor_id: Option<String>,
    /// `user`, `system` or `api`.
    pub actor_type: Option<String>,
    /// Only events whose target has this type.
    pub target_type: Option<String>,
    /// Only events whose target has this id.
    pub target_id: Option<String>,
    /// `type:id`: events whose target or related records include it.
    pub record: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// Only events from this IP address.
    pub ip: Option<String>,
    /// Only events with a change of this field.
    pub field: Option<String>,
    /// Only events with a change from this value (a string as itself, other JSON as JSON: `5`, `null`).
    pub from_value: Option<String>,
    /// Only events with a change to this value; with `field` and `from_value`, one change must match all.
    pub to_value: Option<String>,
    /// Free text: each word must begin a word of the event (its action, names, ids,
    /// change fields and values, description); case-insensitive.
    pub q: Option<String>,
    /// Occurred at or after (RFC 3339, or a date meaning its midnight UTC).
    pub since: Option<String>,
    /// Occurred before (RFC 3339, or a date).
    pub until: Option<String>,
    /// `desc` (newest first, default) or `asc`.
    pub order: Option<String>,
    /// Page size, 1 to 1000; default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (not for exports).
    pub cursor: Option<String>,
    /// Exports only: `ndjson` or `csv`.
    pub format: Option<String>,
    /// Stats only: `action`, `actor`, `target_type`, `day` or `hour`.
    pub group_by: Option<String>,
}

/// One page of a feed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedPage {
    /// The events, in the requested order.
    pub events: Vec<Event>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn nonempty(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(value) if value.is_empty() => Err(ApiError::invalid_parameter(format!("{name} must not be empty"))),
        other => Ok(other),
    }
}

fn comma_list<T>(
    name: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<Vec<T>, ApiError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(|part| {
            parse(part.trim()).ok_or_else(|| ApiError::invalid_parameter(format!("{name}: {part:?} is not {expected}")))
        })
        .collect()
}

fn timestamp(name: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|text| {
            Timestamp::parse_date_or_datetime(text)
                .map_err(|error| ApiError::invalid_parameter(format!("{name}: {error} or a date such as 2026-01-31")))
        })
        .transpose()
}

/// Reads the feed parameters into a filter, an order and a page size.
pub(crate) fn parse_params(params: FeedParams) -> Result<(EventFilter, Order, usize, Option<String>), ApiError> {
    let filter = EventFilter {
        categories: comma_list("category", params.category.as_deref(), Category::parse, "activity or audit")?,
        actions: comma_list(
            "action",
            params.action.as_deref(),
            ActionPattern::parse,
            "an action such as ticket.created or ticket.*",
        )?,
        actor_id: nonempty("actor_id", params.actor_id)?,
        actor_type: params
            .actor_type
            .map(|text| {
                ActorType::parse(&text)
                    .ok_or_else(|| ApiError::invalid_parameter("actor_type must be user, system or api"))
            })
            .transpose()?,
        target_type: nonempty("target_type", params.target_type)?,
        target_id: nonempty("target_id", params.target_id)?,
        record: params
            .record
            .map(|text| {
                RecordKey::parse(&text)
                    .ok_or_else(|| ApiError::invalid_parameter("record must read type:id, such as ticket:T-42"))
            })
            .transpose()?,
        outcome: params
            .outcome
            .map(|text| {
                Outcome::parse(&text).ok_or_else(|| ApiError::invalid_parameter("outcome must be success or failure"))
            })
            .transpose()?,
        ip: params
            .ip
            .map(|text| {
                text.parse::<std::net::IpAddr>()
                    .map(|address| address.to_string())
                    .map_err(|_| ApiError::invalid_parameter("ip must be an IPv4 or IPv6 address"))
            })
            .transpose()?,
        change: ChangeFilter { field: nonempty("field", params.field)?, from: params.from_value, to: params.to_value },
        text: match params.q.as_deref() {
            None => Vec::new(),
            Some(text) => {
                let terms: Vec<String> = logbook_core::search::words(text).collect();
                if terms.is_empty() {
                    return Err(ApiError::invalid_parameter("q must contain a word"));
                }
                if terms.len() > 20 {
                    return Err(ApiError::invalid_parameter("q may hold at most 20 words"));
                }
                terms
            }
        },
        since: timestamp("since", params.since.as_deref())?,
        until: timestamp("until", params.until.as_deref())?,
    };
    let order = match params.order.as_deref() {
        None => Order::Desc,
        Some(text) => Order::parse(text).ok_or_else(|| ApiError::invalid_parameter("order must be desc or asc"))?,
    };
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text.parse::<usize>().ok().filter(|limit| (1..=MAX_LIMIT).contains(limit)).ok_or_else(|| {
            ApiError::invalid_parameter(format!("limit must be a whole number from 1 to {MAX_LIMIT}"))
        })?,
    };
    Ok((filter, order, limit, params.cursor))
}

/// The categories a principal may read, or 403 when it may read none.
pub(crate) fn readable_categories(principal: &Principal, workspace: &Workspace) -> Result<Vec<Category>, ApiError> {
    let visible = principal.visible_categories(&workspace.settings);
    if visible.is_empty() {
        return Err(ApiError::forbidden("this token cannot read any log of this workspace"));
    }
    Ok(visible)
}

/// Fills in each event's description from the workspace's catalog.
fn described(workspace: &Workspace, mut event: Event) -> Event {
    if event.body.description.is_none() {
        let catalog = Catalog::new(&workspace.catalog);
        event.body.description = Some(describe(&event.body, catalog.lookup(&event.body.action)));
    }
    event
}

/// The filter a request asks for, narrowed to the categories its caller may see
/// and to its record scope, with its order, page size and cursor. `record` is a
/// record the path fixes (a timeline). 403 when the caller may read no log; 404
/// when it asks for a record outside its scope.
pub(crate) fn visible_filter(
    principal: &Principal,
    workspace: &Workspace,
    params: FeedParams,
    record: Option<RecordKey>,
) -> Result<(EventFilter, Order, usize, Option<String>), ApiError> {
    let visible = readable_categories(principal, workspace)?;
    let (mut filter, order, limit, cursor) = parse_params(params)?;
    if record.is_some() {
        filter.record = record;
    }
    if let Some(scope) = principal.record_scope() {
        if filter.record.as_ref().is_some_and(|asked| asked != scope) {
            return Err(ApiError::not_found("this token sees one record only"));
        }
        filter.record = Some(scope.clone());
    }
    filter.categories = if filter.categories.is_empty() {
        visible
    } else {
        filter.categories.into_iter().filter(|category| visible.contains(category)).collect()
    };
    Ok((filter, order, limit, cursor))
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

pub(crate) fn query_params(params: Result<Query<FeedParams>, QueryRejection>) -> Result<FeedParams, ApiError> {
    params.map(|Query(params)| params).map_err(|rejection| ApiError::invalid_parameter(rejection.body_text()))
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
