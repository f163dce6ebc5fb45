//! Counts of events per group under the feed's filters, for reporting tools and
//! the viewer's charts.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use logbook_core::{Category, GroupBy};
use serde::{Deserialize, Serialize};

use crate::auth::workspace_access;
use crate::caller::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::routes::events::record_audit_view;
use crate::routes::filters::{FeedParams, query_params, visible_filter};
use crate::state::AppState;

/// One group's count.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupCount {
    /// The action, actor id, target type, day (`2026-01-31`) or hour (`2026-01-31T14:00Z`).
    pub key: String,
    /// How many matching events fall in it.
    pub count: u64,
}

/// Counts per group.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stats {
    /// The grouping asked for.
    pub group_by: String,
    /// How many events match in all.
    pub total: u64,
    /// The groups: by time for `day` and `hour`, else most events first.
    pub groups: Vec<GroupCount>,
}

/// Counts the events the caller may see under the feed's filters, per
/// `group_by` = `action`, `actor`, `target_type`, `day` or `hour`.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/stats", tag = "events",
    params(("workspace" = String, Path, description = "workspace id"), FeedParams), security(("bearer" = [])),
    responses((status = 200, body = Stats), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn stats(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    caller: Caller,
    params: Result<Query<FeedParams>, QueryRejection>,
) -> Result<Json<Stats>, ApiError> {
    let (principal, workspace) = workspace_access(&state, &caller.headers, &workspace).await?;
    let mut params = query_params(params)?;
    let group_by = params
        .group_by
        .take()
        .as_deref()
        .and_then(GroupBy::parse)
        .ok_or_else(|| ApiError::invalid_parameter("group_by must be action, actor, target_type, day or hour"))?;
    if params.cursor.is_some() || params.limit.is_some() || params.order.is_some() || params.format.is_some() {
        return Err(ApiError::invalid_parameter("stats take the feed's filters, not cursor, limit, order or format"));
    }
    let (filter, _, _, _) = visible_filter(&principal, &workspace, params, None)?;
    if filter.categories.contains(&Category::Audit) {
        record_audit_view(
            &state,
            &principal,
            &workspace.id,
            caller.address,
            ("stats", Some(group_by.as_str().to_string())),
        )
        .await?;
    }
    let counts = match workspace.event_count.checked_sub(1) {
        Some(max_seq) if !filter.categories.is_empty() => {
            state.storage().stats(&workspace.id, &filter, max_seq, group_by).await?
        }
        _ => Vec::new(),
    };
    let mut groups: Vec<GroupCount> = counts.into_iter().map(|(key, count)| GroupCount { key, count }).collect();
    if group_by.is_time() {
        groups.sort_by(|left, right| left.key.cmp(&right.key));
    } else {
        groups.sort_by(|left, right| right.count.cmp(&left.count).then_with(|| left.key.cmp(&right.key)));
    }
    let total = groups.iter().map(|group| group.count).sum();
    Ok(Json(Stats { group_by: group_by.as_str().to_string(), total, groups }))
}
