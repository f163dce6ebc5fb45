//! The filters every read of the log shares (the feed, timelines, stats and
//! exports): the query parameters, read into an [`EventFilter`] and narrowed to
//! what the caller may see.

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use logbook_core::query_language::parse_query;
use logbook_core::{
    ActionPattern, ActorType, Category, ChangeFilter, EventFilter, Order, Outcome, Principal, RecordKey, Timestamp,
    Workspace,
};
use serde::Deserialize;

use crate::error::ApiError;

/// The default page size of the feed.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page size of the feed.
pub const MAX_LIMIT: usize = 1000;

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
    /// The query language: `key:value` terms (action, actor, actor_type, target,
    /// record, field, from, to, outcome, ip, category, after, before), `-` to
    /// exclude, bare words and "quoted phrases" for free text; all must hold.
    #[param(example = "action:ticket.* -actor_type:system \"refund request\"")]
    pub query: Option<String>,
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
        ..EventFilter::default()
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

/// Reads the `query` parameter; a malformed query is a 400 whose message and
/// details name the character where it went wrong.
fn query_filter(query: &str) -> Result<EventFilter, ApiError> {
    parse_query(query).map_err(|error| {
        ApiError::invalid_parameter(error.to_string()).with_details(vec![serde_json::json!({
            "field": "query",
            "position": error.position,
            "message": error.message,
        })])
    })
}

/// The categories a principal may read, or 403 when it may read none.
pub(crate) fn readable_categories(principal: &Principal, workspace: &Workspace) -> Result<Vec<Category>, ApiError> {
    let visible = principal.visible_categories(&workspace.settings);
    if visible.is_empty() {
        return Err(ApiError::forbidden("this token cannot read any log of this workspace"));
    }
    Ok(visible)
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
    let query = params.query.clone();
    let (mut filter, order, limit, cursor) = parse_params(params)?;
    if record.is_some() {
        filter.record = record;
    }
    if let Some(query) = query {
        filter = filter.and(query_filter(&query)?);
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

pub(crate) fn query_params(params: Result<Query<FeedParams>, QueryRejection>) -> Result<FeedParams, ApiError> {
    params.map(|Query(params)| params).map_err(|rejection| ApiError::invalid_parameter(rejection.body_text()))
}
