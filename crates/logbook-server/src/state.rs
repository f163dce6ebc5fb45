//! What every handler shares: the storage, the operator token's hash, the cursor
//! secret and the event limits.

use std::sync::Arc;

use logbook_core::{Limits, Timestamp};
use logbook_storage::{Storage, StorageError};
use logbook_tlog::note::Signer;

use crate::auth::{hash_secret, random_bytes};

/// How a server is configured.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The operator token (kept only as a hash once the server starts).
    pub operator_token: String,
    /// The bounds on events.
    pub limits: Limits,
    /// The deployment's log name: the key's name and the first part of every
    /// checkpoint origin (`<log name>/<workspace>`).
    pub log_name: String,
    /// The 32-byte seed of the Ed25519 key that signs checkpoints.
    pub log_key_seed: [u8; 32],
    /// How many bytes of ingest request bodies may be in the server at once, from
    /// reading to the end of their write (at least one full body). Ingest beyond
    /// it waits a moment for room, then answers 429 with `Retry-After`.
    pub ingest_backlog_bytes: usize,
}

/// The default ingest backlog: 8 MiB of request bodies, about 6,000 events, or
/// eight full batches: enough to keep the writer busy (a commit takes up to
/// 16,384 events) while the server stays near 200 MB however many clients send.
/// Parsed events take about seven times the room of their JSON.
pub const DEFAULT_INGEST_BACKLOG_BYTES: usize = 8 * 1024 * 1024;

/// The shared state of all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Arc<dyn Storage>,
    operator_token_hash: Vec<u8>,
    cursor_secret: Vec<u8>,
    viewer_secret: Vec<u8>,
    limits: Limits,
    signer: Signer,
    throttle: crate::audit::RecordThrottle,
    ingest_backlog: Arc<tokio::sync::Semaphore>,
    ingest_backlog_size: usize,
}

impl AppState {
    /// Builds the state; reads (or creates) the deployment's cursor secret.
    pub async fn new(storage: Arc<dyn Storage>, config: ServerConfig) -> Result<AppState, StorageError> {
        let signer = Signer::from_seed(&config.log_name, &config.log_key_seed)
            .map_err(|error| StorageError::Backend(format!("the log name cannot name a key: {error}")))?;
        let cursor_secret = storage.secret("cursor-hmac", random_bytes(32)).await?;
        let viewer_secret = storage.secret("viewer-token-hmac", random_bytes(32)).await?;
        let backlog =
            config.ingest_backlog_bytes.clamp(crate::body::MAX_BODY_BYTES, tokio::sync::Semaphore::MAX_PERMITS);
        Ok(AppState {
            inner: Arc::new(Inner {
                storage,
                operator_token_hash: hash_secret(&config.operator_token),
                cursor_secret,
                viewer_secret,
                limits: config.limits,
                signer,
                throttle: Default::default(),
                ingest_backlog: Arc::new(tokio::sync::Semaphore::new(backlog)),
                ingest_backlog_size: backlog,
            }),
        })
    }

    /// The storage.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }

    /// SHA-256 of the operator token.
    pub fn operator_token_hash(&self) -> &[u8] {
        &self.inner.operator_token_hash
    }

    /// The key that signs feed cursors.
    pub fn cursor_secret(&self) -> &[u8] {
        &self.inner.cursor_secret
    }

    /// The key that signs viewer tokens.
    pub fn viewer_secret(&self) -> &[u8] {
        &self.inner.viewer_secret
    }

    /// Recently recorded denials and views, so each is recorded at most once a minute.
    pub fn throttle(&self) -> &crate::audit::RecordThrottle {
        &self.inner.throttle
    }

    /// Room for ingest requests: each takes a permit per byte of its body before
    /// reading it, and holds them until its write ends.
    pub fn ingest_backlog(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.inner.ingest_backlog
    }

    /// How many bytes the backlog holds when full.
    pub fn ingest_backlog_size(&self) -> usize {
        self.inner.ingest_backlog_size
    }

    /// The bounds on events.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The key that signs checkpoints.
    pub fn signer(&self) -> &Signer {
        &self.inner.signer
    }

    /// The checkpoint origin of a workspace: `<log name>/<workspace>`.
    pub fn origin(&self, workspace: &str) -> String {
        format!("{}/{workspace}", self.inner.signer.name())
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        crate::auth::now()
    }
}
