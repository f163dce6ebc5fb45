//! The verifiable log: the deployment's public key, signed checkpoints, inclusion
//! and consistency proofs, and a full verification of a workspace's log
//! (`docs/canonical-form.md`).

use std::convert::Infallible;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use logbook_core::integrity::{Finding, LogVerifier, Problem, encode_hash, event_leaf_hash};
use logbook_core::{Permission, Principal, Workspace};
use logbook_storage::StorageError;
use logbook_tlog::checkpoint::{Checkpoint, sign_checkpoint};
use logbook_tlog::tlog_proof::TlogProof;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

use crate::auth::{authorized, workspace_access};
use crate::error::{ApiError, ErrorEnvelope};
use crate::log_reader::LogReader;
use crate::routes::events::visible_event;
use crate::routes::filters::readable_categories;
use crate::state::AppState;

/// `GET /v1/log-keys` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogKeys {
    /// C2SP signed-note verifier keys: `<name>+<key hash>+<base64 key>`.
    pub keys: Vec<String>,
}

/// The keys that sign this deployment's checkpoints; no authentication.
#[utoipa::path(get, path = "/v1/log-keys", tag = "integrity", responses((status = 200, body = LogKeys)))]
pub async fn log_keys(State(state): State<AppState>) -> Json<LogKeys> {
    Json(LogKeys { keys: vec![state.signer().verifier_key()] })
}

/// A tree size to prove against.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SizeParams {
    /// A tree size up to the current one; default the current one.
    pub size: Option<String>,
}

/// `from` and `to` tree sizes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// The older tree size, at least 1.
    pub from: Option<String>,
    /// The newer tree size, at most the current one.
    pub to: Option<String>,
}

/// An inclusion proof.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InclusionProof {
    /// The event's position.
    pub seq: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// Base64 of the event's leaf hash.
    pub leaf_hash: String,
    /// The proof's hashes, base64, bottom up (RFC 9162).
    pub hashes: Vec<String>,
    /// The signed checkpoint of `tree_size` (a C2SP signed note).
    pub checkpoint: String,
}

/// A consistency proof.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// The proof's hashes, base64 (RFC 9162).
    pub hashes: Vec<String>,
}

fn parse_size(name: &str, text: Option<&str>, default: u64, log_size: u64) -> Result<u64, ApiError> {
    let Some(text) = text else { return Ok(default) };
    let size =
        text.parse::<u64>().map_err(|_| ApiError::invalid_parameter(format!("{name} must be a whole number")))?;
    if size > log_size {
        return Err(ApiError::invalid_parameter(format!("{name} must be at most the log's size, {log_size}")));
    }
    Ok(size)
}

fn require_reader(principal: &Principal, workspace: &Workspace) -> Result<(), ApiError> {
    readable_categories(principal, workspace).map(|_| ())
}

/// A checkpoint of `size` signed now.
pub async fn signed_checkpoint(state: &AppState, workspace: &str, size: u64) -> Result<String, ApiError> {
    let root = state.storage().tree_root(workspace, size).await?;
    sign_checkpoint(&Checkpoint::new(state.origin(workspace), size, root), state.signer()).map_err(|error| {
        tracing::error!(%error, "a checkpoint could not be signed");
        ApiError::internal()
    })
}

fn text_plain(body: String) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn wants_text(headers: &HeaderMap) -> bool {
    headers.get(ACCEPT).and_then(|value| value.to_str().ok()).is_some_and(|accept| accept.contains("text/plain"))
}

fn size_params(params: Result<Query<SizeParams>, QueryRejection>) -> Result<SizeParams, ApiError> {
    params.map(|Query(params)| params).map_err(|rejection| ApiError::invalid_parameter(rejection.body_text()))
}

/// The workspace's signed checkpoint (C2SP tlog-checkpoint), latest or of `size`.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/checkpoint", tag = "integrity",
    params(("workspace" = String, Path, description = "workspace id"), SizeParams), security(("bearer" = [])),
    responses((status = 200, description = "a signed note", content_type = "text/plain", body = String),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn checkpoint(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    params: Result<Query<SizeParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (principal, workspace) = workspace_access(&state, &headers, &workspace).await?;
    require_reader(&principal, &workspace)?;
    let params = size_params(params)?;
    let size = parse_size("size", params.size.as_deref(), workspace.event_count, workspace.event_count)?;
    Ok(text_plain(signed_checkpoint(&state, &workspace.id, size).await?))
}

/// An event's inclusion proof: JSON, or the C2SP tlog-proof text with `Accept: text/plain`.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/events/{id}/proof", tag = "integrity",
    params(("workspace" = String, Path, description = "workspace id"), ("id" = String, Path, description = "event id"), SizeParams),
    security(("bearer" = [])),
    responses((status = 200, body = InclusionProof), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn proof(
    State(state): State<AppState>,
    Path((workspace, id)): Path<(String, String)>,
    headers: HeaderMap,
    params: Result<Query<SizeParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (principal, workspace) = workspace_access(&state, &headers, &workspace).await?;
    let params = size_params(params)?;
    let event = visible_event(&state, &principal, &workspace, &id).await?;
    let size = parse_size("size", params.size.as_deref(), workspace.event_count, workspace.event_count)?;
    if size <= event.seq {
        return Err(ApiError::invalid_parameter(format!("size must be larger than the event's seq, {}", event.seq)));
    }
    let hashes = state.storage().inclusion_proof(&workspace.id, event.seq, size).await?;
    let checkpoint = signed_checkpoint(&state, &workspace.id, size).await?;
    if wants_text(&headers) {
        let proof = TlogProof { extra: None, index: event.seq, proof: hashes, checkpoint };
        return Ok(text_plain(proof.format()));
    }
    let hashes = hashes.iter().map(encode_hash).collect();
    Ok(Json(InclusionProof { seq: event.seq, tree_size: size, leaf_hash: event.leaf_hash, hashes, checkpoint })
        .into_response())
}

/// A consistency proof between two tree sizes.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/consistency", tag = "integrity",
    params(("workspace" = String, Path, description = "workspace id"), RangeParams), security(("bearer" = [])),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn consistency(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    params: Result<Query<RangeParams>, QueryRejection>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let (principal, workspace) = workspace_access(&state, &headers, &workspace).await?;
    require_reader(&principal, &workspace)?;
    let Query(params) = params.map_err(|rejection| ApiError::invalid_parameter(rejection.body_text()))?;
    let (Some(from), Some(to)) = (params.from.as_deref(), params.to.as_deref()) else {
        return Err(ApiError::invalid_parameter("give both from and to"));
    };
    let from = parse_size("from", Some(from), 0, workspace.event_count)?;
    let to = parse_size("to", Some(to), 0, workspace.event_count)?;
    if from == 0 || from > to {
        return Err(ApiError::invalid_parameter("from must be at least 1 and at most to"));
    }
    let hashes = state.storage().consistency_proof(&workspace.id, from, to).await?;
    Ok(Json(ConsistencyProof { from, to, hashes: hashes.iter().map(encode_hash).collect() }))
}

/// Lines handed to a streamed response: UTF-8 text, whole lines.
pub type LineSender = mpsc::Sender<Bytes>;

/// How many bytes of lines [`BatchedLines`] gathers before sending them.
const BATCH_BYTES: usize = 64 * 1024;

/// Lines gathered into pieces of about [`BATCH_BYTES`] before they are handed to
/// a streamed response: one message, one task wake-up and one write per piece
/// rather than per line, which halved the time of a full export.
pub struct BatchedLines<'a> {
    sender: &'a LineSender,
    buffer: Vec<u8>,
}

impl<'a> BatchedLines<'a> {
    /// Gathers lines for `sender`.
    pub fn new(sender: &'a LineSender) -> BatchedLines<'a> {
        BatchedLines { sender, buffer: Vec::with_capacity(BATCH_BYTES * 2) }
    }

    /// Adds `value` as one JSON line; `false` when the client went away.
    pub async fn push_json<T: serde::Serialize>(&mut self, value: &T) -> Result<bool, serde_json::Error> {
        serde_json::to_writer(&mut self.buffer, value)?;
        self.buffer.push(b'\n');
        Ok(self.flush_if_full().await)
    }

    /// Lets `write` add a line, ending included, straight into the buffer: `None`
    /// when it wrote nothing and answered `false`, else whether the client is
    /// still there.
    pub async fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>) -> bool) -> Option<bool> {
        if !write(&mut self.buffer) {
            return None;
        }
        Some(self.flush_if_full().await)
    }

    /// Adds a line, ending included; `false` when the client went away.
    pub async fn push_text(&mut self, text: &str) -> bool {
        self.buffer.extend_from_slice(text.as_bytes());
        self.flush_if_full().await
    }

    async fn flush_if_full(&mut self) -> bool {
        self.buffer.len() < BATCH_BYTES || self.flush().await
    }

    /// Sends what is gathered; `false` when the client went away. Call it once
    /// the last line is in.
    pub async fn flush(&mut self) -> bool {
        if self.buffer.is_empty() {
            return true;
        }
        let piece = std::mem::replace(&mut self.buffer, Vec::with_capacity(BATCH_BYTES * 2));
        // Only whole UTF-8 texts and serde_json's output go in, so the piece is
        // sent as it is, not checked again.
        debug_assert!(std::str::from_utf8(&piece).is_ok(), "lines are UTF-8");
        self.sender.send(Bytes::from(piece)).await.is_ok()
    }
}

/// A response that streams the lines a producer sends, as NDJSON.
pub fn ndjson_response(lines: mpsc::Receiver<Bytes>) -> Response {
    streamed_response(lines, "application/x-ndjson")
}

/// A response that streams the lines a producer sends, with a content type.
pub fn streamed_response(lines: mpsc::Receiver<Bytes>, content_type: &'static str) -> Response {
    let stream = futures_util::stream::unfold(lines, |mut lines| async move {
        lines.recv().await.map(|line| (Ok::<_, Infallible>(line), lines))
    });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Recomputes every leaf of a workspace's log from its stored events, compares it
/// with the stored tree, and checks the root; streams NDJSON progress lines
/// `{"checked", "size"}` and ends with `{"ok": true, "size"}` or
/// `{"ok": false, "seq", "problem", "message"}` (auditor, admin).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/verify", tag = "integrity",
    params(("workspace" = String, Path, description = "workspace id")), security(("bearer" = [])),
    responses((status = 200, description = "NDJSON progress lines, then the verdict", content_type = "application/x-ndjson", body = String),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn verify(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, workspace) = authorized(&state, &headers, &workspace, Permission::ReadConfiguration).await?;
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        let verdict = match verify_log(&state, &workspace.id, workspace.event_count, &sender).await {
            Ok(Ok(size)) => json!({"ok": true, "size": size}),
            Ok(Err(finding)) => {
                json!({"ok": false, "seq": finding.seq, "problem": finding.problem, "message": finding.message})
            }
            Err(error) => {
                tracing::error!(%error, "verification could not read the log");
                json!({"ok": false, "problem": "unreadable", "message": "the log could not be read; the operator's log has the cause"})
            }
        };
        let _ = sender.send(format!("{verdict}\n").into()).await;
    });
    Ok(ndjson_response(receiver))
}

/// How many events verification reads at once; it reports progress after each.
pub const VERIFY_CHUNK: usize = 5000;

/// How many chunks verification reads at once, ahead of the one it checks.
const VERIFY_CHUNKS_IN_FLIGHT: usize = 2;

async fn verify_log(
    state: &AppState,
    workspace: &str,
    size: u64,
    progress: &LineSender,
) -> Result<Result<u64, Finding>, StorageError> {
    let root = state.storage().tree_root(workspace, size).await?;
    let mut verifier = LogVerifier::new(size);
    let mut reader = LogReader::new(state, workspace, size, VERIFY_CHUNK, VERIFY_CHUNKS_IN_FLIGHT);
    loop {
        let chunk = reader.next_chunk().await?;
        if chunk.is_empty() {
            break;
        }
        for (entry, logged) in &chunk {
            let seq = entry.event.seq;
            let changed = |error: String| Finding {
                seq: Some(seq),
                problem: Problem::Changed,
                message: format!("seq {seq}: {error}"),
            };
            if let Err(error) = entry.commitments.check_values(&entry.event.body) {
                return Ok(Err(changed(error.to_string())));
            }
            let recomputed = match event_leaf_hash(&entry.event, &entry.commitments) {
                Ok(leaf) => leaf,
                Err(error) => return Ok(Err(changed(error.to_string()))),
            };
            if let Err(finding) = verifier.entry(seq, recomputed, *logged) {
                return Ok(Err(finding));
            }
        }
        // One progress line per chunk; a client that went away ends the work.
        let line = format!("{}\n", json!({"checked": verifier.checked(), "size": size}));
        if verifier.checked() < size && progress.send(line.into()).await.is_err() {
            return Ok(Err(Finding { seq: None, problem: Problem::Missing, message: "the client went away".into() }));
        }
    }
    if let Some(orphan) = reader.orphans(1).await?.first() {
        let seq = orphan.seq;
        let message = format!("seq {seq} is beyond the log's leaves: no append made it");
        return Ok(Err(Finding { seq: Some(seq), problem: Problem::Extra, message }));
    }
    Ok(verifier.finish(&root))
}
