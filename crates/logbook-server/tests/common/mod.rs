//! A Logbook router over a fresh store of either backend (a temporary SQLite
//! data directory, or a throwaway PostgreSQL database), driven in-process
//! through the real router, with a key for every role in the workspaces it is
//! asked for. [`on_both_backends!`] runs a file's tests against both backends.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request, StatusCode};
use logbook_core::{Limits, Role};
use logbook_server::auth::{hash_secret, new_key_token};
use logbook_server::{AppState, ServerConfig};
use logbook_storage::postgres::test_database::{self, TestDatabase};
use logbook_storage::postgres::{ConnectOptions, PostgresStorage};
use logbook_storage::sqlite::SqliteStorage;
use logbook_storage::{NewApiKey, Storage};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const OPERATOR: &str = "operator-token-for-tests-0123456789";
pub const LOG_NAME: &str = "logbook.test";
/// The peer address every test request comes from.
pub const PEER: ([u8; 4], u16) = ([192, 0, 2, 77], 40_000);

/// The storage backend a [`TestApp`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded backend, in a temporary data directory.
    Sqlite,
    /// The PostgreSQL backend, in a fresh database on the test server.
    Postgres,
}

impl Backend {
    /// Whether tests can run on this backend: PostgreSQL needs its test server
    /// (when it cannot be reached, this fails in CI and warns loudly otherwise).
    pub async fn available(self) -> bool {
        match self {
            Backend::Sqlite => true,
            Backend::Postgres => test_database::server_reachable().await,
        }
    }
}

/// Runs the named test functions, each `async fn(Backend)`, once per backend:
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if $crate::common::Backend::Postgres.available().await {
                        super::$test($crate::common::Backend::Postgres).await
                    }
                }
            )*
        }
    };
}

/// Where a test app's data lives; removed when the app is dropped.
enum Place {
    Directory(tempfile::TempDir),
    Database(TestDatabase),
}

pub struct TestApp {
    pub router: Router,
    /// The router's state, for tests that reach behind the API (backpressure).
    pub state: AppState,
    pub storage: Arc<dyn Storage>,
    /// `keys[workspace][role]` is a token with exactly that role.
    pub keys: HashMap<String, HashMap<Role, String>>,
    /// Dropped last, after the storage that uses it.
    _place: Place,
}

/// An answer: status and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The error envelope's code, if this is an error.
    pub fn code(&self) -> Option<&str> {
        self.body.pointer("/error/code").and_then(Value::as_str)
    }
}

impl TestApp {
    /// A server on the embedded backend with the given workspaces, each with a
    /// key per role.
    pub async fn new(workspaces: &[&str]) -> TestApp {
        TestApp::on(Backend::Sqlite, workspaces).await
    }

    /// A server on `backend` with the given workspaces, each with a key per role.
    pub async fn on(backend: Backend, workspaces: &[&str]) -> TestApp {
        let (storage, place): (Arc<dyn Storage>, Place) = match backend {
            Backend::Sqlite => {
                let directory = tempfile::tempdir().expect("a temporary directory");
                let storage = SqliteStorage::open(directory.path()).expect("storage opens");
                (Arc::new(storage), Place::Directory(directory))
            }
            Backend::Postgres => {
                let database = TestDatabase::create().await.expect("the test PostgreSQL server answers");
                let storage =
                    PostgresStorage::open(&ConnectOptions::new(database.url.clone())).await.expect("PostgreSQL opens");
                (Arc::new(storage), Place::Database(database))
            }
        };
        let config = ServerConfig {
            operator_token: OPERATOR.into(),
            limits: Limits::default(),
            log_name: LOG_NAME.into(),
            log_key_seed: [7; 32],
            ingest_backlog_bytes: logbook_server::state::DEFAULT_INGEST_BACKLOG_BYTES,
        };
        let state = AppState::new(storage.clone(), config).await.expect("state");
        // Requests seem to come from PEER, as they would through a real socket.
        let router = logbook_server::router(state.clone()).layer(MockConnectInfo(SocketAddr::from(PEER)));
        let mut app = TestApp { router, state, storage, keys: HashMap::new(), _place: place };
        for workspace in workspaces {
            let created =
                app.call(Method::POST, "/v1/workspaces", Some(OPERATOR), Some(json!({"id": workspace}))).await;
            assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
            // Keys are made in storage, so that every workspace's log starts empty
            // (over HTTP, each key creation is itself an audit event).
            let mut roles = HashMap::new();
            for role in Role::ALL {
                roles.insert(role, app.key_with_roles(workspace, &[role]).await);
            }
            app.keys.insert(workspace.to_string(), roles);
        }
        app
    }

    /// A new key of `workspace` with exactly these roles, made in storage.
    pub async fn key_with_roles(&self, workspace: &str, roles: &[Role]) -> String {
        let (id, secret, token) = new_key_token();
        let name = roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join("+");
        let key = NewApiKey {
            id,
            workspace: workspace.to_string(),
            name,
            roles: roles.to_vec(),
            secret_hash: hash_secret(&secret),
            created_at: logbook_server::auth::now(),
        };
        self.storage.create_api_key(key).await.expect("a key");
        token
    }

    /// The URL of the PostgreSQL database the app runs on, if it runs on one.
    pub fn database_url(&self) -> Option<&str> {
        match &self._place {
            Place::Database(database) => Some(&database.url),
            Place::Directory(_) => None,
        }
    }

    /// The token of `role` in `workspace`.
    pub fn key(&self, workspace: &str, role: Role) -> &str {
        &self.keys[workspace][&role]
    }

    /// Sends a request with an optional token and JSON body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let bytes = body.map(|body| body.to_string().into_bytes());
        self.raw(method, path, token, Some("application/json"), bytes).await
    }

    /// Sends a GET and returns the raw body text.
    pub async fn text(&self, path: &str, token: &str, accept: Option<&str>) -> (StatusCode, String) {
        let mut request =
            Request::builder().method(Method::GET).uri(path).header("authorization", format!("Bearer {token}"));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response =
            self.router.clone().oneshot(request.body(Body::empty()).expect("a request")).await.expect("an answer");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body");
        (status, String::from_utf8(bytes.to_vec()).expect("UTF-8"))
    }

    /// Sends a request with raw body bytes and content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let (Some(_), Some(content_type)) = (&body, content_type) {
            request = request.header("content-type", content_type);
        }
        let request = request.body(body.map_or_else(Body::empty, Body::from)).expect("a request");
        let response = self.router.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body");
        Answer { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    /// Ingests events as the workspace's publisher and expects 201.
    pub async fn ingest(&self, workspace: &str, events: Vec<Value>) -> Vec<Value> {
        let path = format!("/v1/workspaces/{workspace}/events");
        let answer = self
            .call(Method::POST, &path, Some(self.key(workspace, Role::Publisher)), Some(json!({"events": events})))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        answer.body["events"].as_array().expect("events").clone()
    }

    /// How many events a workspace's log holds.
    pub async fn event_count(&self, workspace: &str) -> u64 {
        self.storage.workspace(workspace).await.expect("storage").expect("workspace").event_count
    }

    /// Every page of a feed path (which may carry a query), following cursors.
    pub async fn all_pages(&self, path_and_query: &str, token: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let separator = if path_and_query.contains('?') { '&' } else { '?' };
            let path = match &cursor {
                Some(cursor) => format!("{path_and_query}{separator}cursor={cursor}"),
                None => path_and_query.to_string(),
            };
            let page = self.call(Method::GET, &path, Some(token), None).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {page:?}");
            events.extend(page.body["events"].as_array().expect("events").iter().cloned());
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return events,
            }
        }
    }
}

/// A valid event of the default catalog.
pub fn event(action: &str, target_type: &str, target_id: &str) -> Value {
    json!({
        "action": action,
        "actor": {"type": "user", "id": "U-1", "name": "Ana Silva", "email": "ana@example.com"},
        "target": {"type": target_type, "id": target_id, "name": format!("{target_type} {target_id}")},
        "context": {"ip": "192.0.2.10"},
    })
}
