//! Who may do what, everywhere: every endpoint × every role (alone and in pairs),
//! viewer tokens, the operator, no token, a bad token and another workspace's key,
//! with the audit log on and off; the expected status and the categories each
//! reader sees. Every path and method in the OpenAPI document must be in the table.

mod common;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use common::{OPERATOR, TestApp, event};
use logbook_core::{Role, WorkspaceSettings};
use logbook_storage::WorkspaceUpdate;
use serde_json::{Value, json};

/// What an endpoint needs, in the words of DESIGN.md section 6.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Needs {
    /// Nothing: public.
    Nothing,
    /// The operator token.
    Operator,
    /// The publisher role (or the operator).
    Ingest,
    /// Any role that sees some category of the log; answers only what it may see.
    ReadLog,
    /// Like `ReadLog`, for an audit-category event: 404 to those who cannot see audit.
    ReadAuditEvent,
    /// A role that reads a log (the catalog labels them).
    ReadCatalog,
    /// An API key with the auditor, admin or superadmin role.
    ReadConfiguration,
    /// An API key with the admin or superadmin role.
    ManageConfiguration,
    /// The auditor, admin or superadmin role (a viewer token too).
    Export,
    /// The admin or superadmin role.
    MintViewerTokens,
}

/// One row of the table: an endpoint, how to call it, what it needs.
struct Endpoint {
    method: Method,
    /// The OpenAPI path template.
    template: &'static str,
    needs: Needs,
}

const ENDPOINTS: &[(&str, &str, Needs)] = &[
    ("GET", "/healthz", Needs::Nothing),
    ("GET", "/readyz", Needs::Nothing),
    ("GET", "/v1/log-keys", Needs::Nothing),
    ("GET", "/v1/workspaces", Needs::Operator),
    ("POST", "/v1/workspaces", Needs::Operator),
    ("GET", "/v1/workspaces/{workspace}/keys", Needs::ReadConfiguration),
    ("POST", "/v1/workspaces/{workspace}/keys", Needs::ManageConfiguration),
    ("DELETE", "/v1/workspaces/{workspace}/keys/{key}", Needs::ManageConfiguration),
    ("POST", "/v1/workspaces/{workspace}/viewer-tokens", Needs::MintViewerTokens),
    ("POST", "/v1/workspaces/{workspace}/events", Needs::Ingest),
    ("GET", "/v1/workspaces/{workspace}/events", Needs::ReadLog),
    ("GET", "/v1/workspaces/{workspace}/events/{id}", Needs::ReadAuditEvent),
    ("GET", "/v1/workspaces/{workspace}/records/{type}/{id}/events", Needs::ReadLog),
    ("GET", "/v1/workspaces/{workspace}/export", Needs::Export),
    ("GET", "/v1/workspaces/{workspace}/stats", Needs::ReadLog),
    ("GET", "/v1/workspaces/{workspace}/checkpoint", Needs::ReadLog),
    ("GET", "/v1/workspaces/{workspace}/events/{id}/proof", Needs::ReadAuditEvent),
    ("GET", "/v1/workspaces/{workspace}/consistency", Needs::ReadLog),
    ("GET", "/v1/workspaces/{workspace}/verify", Needs::ReadConfiguration),
    ("GET", "/v1/workspaces/{workspace}/catalog", Needs::ReadCatalog),
    ("PUT", "/v1/workspaces/{workspace}/catalog", Needs::ManageConfiguration),
    ("GET", "/v1/workspaces/{workspace}/settings", Needs::ReadConfiguration),
    ("PUT", "/v1/workspaces/{workspace}/settings", Needs::ManageConfiguration),
];

fn endpoints() -> Vec<Endpoint> {
    ENDPOINTS
        .iter()
        .map(|(method, template, needs)| Endpoint { method: method.parse().unwrap(), template, needs: *needs })
        .collect()
}

/// Who calls.
#[derive(Debug, Clone)]
enum Who {
    Nobody,
    BadToken,
    Operator,
    Key(Vec<Role>),
    OtherWorkspaceAdmin,
    Viewer(Vec<Role>),
}

/// The categories a set of roles sees, restated from DESIGN.md section 6.
fn sees(roles: &[Role], audit_log_enabled: bool) -> BTreeSet<&'static str> {
    let has = |wanted: &[Role]| roles.iter().any(|role| wanted.contains(role));
    let mut categories = BTreeSet::new();
    if has(&[Role::Supervisor, Role::Auditor, Role::Admin, Role::Superadmin]) {
        categories.insert("activity");
    }
    if has(&[Role::Superadmin]) || (audit_log_enabled && has(&[Role::Setup, Role::Auditor, Role::Admin])) {
        categories.insert("audit");
    }
    categories
}

/// The expected status of `who` calling an endpoint that needs `needs`.
fn expected(needs: Needs, who: &Who, audit_log_enabled: bool) -> StatusCode {
    let ok = StatusCode::OK;
    let has = |roles: &[Role], wanted: &[Role]| roles.iter().any(|role| wanted.contains(role));
    let (roles, viewer) = match who {
        _ if needs == Needs::Nothing => return ok,
        Who::Nobody | Who::BadToken => return StatusCode::UNAUTHORIZED,
        Who::OtherWorkspaceAdmin if needs == Needs::Operator => return StatusCode::FORBIDDEN,
        Who::OtherWorkspaceAdmin => return StatusCode::NOT_FOUND,
        Who::Operator => return ok,
        Who::Key(roles) => (roles.as_slice(), false),
        Who::Viewer(roles) => (roles.as_slice(), true),
    };
    let allowed = match needs {
        Needs::Nothing => true,
        Needs::Operator => false,
        Needs::Ingest => !viewer && has(roles, &[Role::Publisher]),
        Needs::ReadLog | Needs::ReadAuditEvent => !sees(roles, audit_log_enabled).is_empty(),
        Needs::ReadCatalog => {
            has(roles, &[Role::Supervisor, Role::Setup, Role::Auditor, Role::Admin, Role::Superadmin])
        }
        Needs::ReadConfiguration => !viewer && has(roles, &[Role::Auditor, Role::Admin, Role::Superadmin]),
        Needs::ManageConfiguration => !viewer && has(roles, &[Role::Admin, Role::Superadmin]),
        Needs::Export => has(roles, &[Role::Auditor, Role::Admin, Role::Superadmin]),
        Needs::MintViewerTokens => !viewer && has(roles, &[Role::Admin, Role::Superadmin]),
    };
    match (allowed, needs) {
        (false, _) => StatusCode::FORBIDDEN,
        (true, Needs::ReadAuditEvent) if !sees(roles, audit_log_enabled).contains("audit") => StatusCode::NOT_FOUND,
        (true, _) => ok,
    }
}

/// Everything a request needs that the table does not say.
struct Fixture {
    audit_event: String,
    counter: std::sync::atomic::AtomicUsize,
}

/// Calls an endpoint as `who`, making fresh objects for calls that create or revoke.
async fn call(app: &TestApp, fixture: &Fixture, endpoint: &Endpoint, token: Option<&str>) -> (StatusCode, Value) {
    let n = fixture.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = endpoint
        .template
        .replace("{workspace}", "acme")
        .replace("{id}", &fixture.audit_event)
        .replace("{type}/", "user/")
        .replace("/{id}/events", "/U-3/events");
    let path = match endpoint.template {
        "/v1/workspaces/{workspace}/records/{type}/{id}/events" => {
            "/v1/workspaces/acme/records/user/U-3/events?limit=1000".to_string()
        }
        "/v1/workspaces/{workspace}/keys/{key}" => {
            // A fresh key to revoke; its token is never used.
            let key = app.key_with_roles("acme", &[Role::Agent]).await;
            let id = key.trim_start_matches("lbk_").split('_').next().unwrap().to_string();
            path.replace("{key}", &id)
        }
        "/v1/workspaces/{workspace}/events" if endpoint.method == Method::GET => format!("{path}?limit=1000"),
        "/v1/workspaces/{workspace}/export" => format!("{path}?format=ndjson"),
        "/v1/workspaces/{workspace}/consistency" => format!("{path}?from=1&to=2"),
        "/v1/workspaces/{workspace}/stats" => format!("{path}?group_by=action"),
        _ => path,
    };
    let body = match (endpoint.method.as_str(), endpoint.template) {
        ("POST", "/v1/workspaces") => Some(json!({"id": format!("ws-{n}")})),
        ("POST", "/v1/workspaces/{workspace}/keys") => Some(json!({"name": "k", "roles": ["agent"]})),
        ("POST", "/v1/workspaces/{workspace}/viewer-tokens") => {
            Some(json!({"actor": {"id": "U-9"}, "roles": ["supervisor"]}))
        }
        ("POST", "/v1/workspaces/{workspace}/events") => Some(event("ticket.created", "ticket", &format!("T-{n}"))),
        ("PUT", "/v1/workspaces/{workspace}/catalog") => Some(json!({"mode": "strict", "actions": []})),
        ("PUT", "/v1/workspaces/{workspace}/settings") => Some(json!({"name": "Acme"})),
        _ => None,
    };
    if endpoint.template == "/v1/workspaces/{workspace}/export" {
        let (status, text) = match token {
            Some(token) => app.text(&path, token, None).await,
            None => (app.call(endpoint.method.clone(), &path, None, None).await.status, String::new()),
        };
        let events = text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
        return (status, Value::Array(events));
    }
    let answer = app.call(endpoint.method.clone(), &path, token, body).await;
    (answer.status, answer.body)
}

/// The categories of the events in an answer (a feed page or an export).
fn categories(body: &Value) -> BTreeSet<String> {
    let events = body.get("events").unwrap_or(body);
    events.as_array().map_or_else(BTreeSet::new, |events| {
        events.iter().filter_map(|event| event["category"].as_str().map(str::to_string)).collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_every_role_both_workspaces_audit_log_on_and_off() {
    let app = TestApp::new(&["acme", "beta"]).await;
    let answers = app
        .ingest(
            "acme",
            vec![
                event("ticket.created", "ticket", "T-1"),
                event("user.login_failed", "user", "U-3"),
                event("ticket.assigned", "ticket", "T-1"),
            ],
        )
        .await;
    let fixture = Fixture { audit_event: answers[1]["id"].as_str().unwrap().to_string(), counter: Default::default() };

    let mut principals: Vec<Who> = vec![Who::Nobody, Who::BadToken, Who::Operator, Who::OtherWorkspaceAdmin];
    principals.extend(Role::ALL.iter().map(|role| Who::Key(vec![*role])));
    for pair in [
        [Role::Supervisor, Role::Setup],
        [Role::Publisher, Role::Supervisor],
        [Role::Agent, Role::Setup],
        [Role::Publisher, Role::Auditor],
        [Role::Setup, Role::Admin],
    ] {
        principals.push(Who::Key(pair.to_vec()));
    }
    for roles in [
        vec![Role::Supervisor],
        vec![Role::Setup],
        vec![Role::Auditor],
        vec![Role::Admin],
        vec![Role::Supervisor, Role::Setup],
    ] {
        principals.push(Who::Viewer(roles));
    }

    let mut checked = 0;
    for audit_log_enabled in [true, false] {
        let settings = WorkspaceSettings { audit_log_enabled };
        app.storage
            .update_workspace("acme", WorkspaceUpdate { settings: Some(settings), ..Default::default() })
            .await
            .unwrap();
        for who in &principals {
            let token = match who {
                Who::Nobody => None,
                Who::BadToken => Some("lbk_abcdefabcdef_not-the-secret".to_string()),
                Who::Operator => Some(OPERATOR.to_string()),
                Who::Key(roles) => Some(app.key_with_roles("acme", roles).await),
                Who::OtherWorkspaceAdmin => Some(app.key("beta", Role::Admin).to_string()),
                Who::Viewer(roles) => {
                    let minted = app
                        .call(
                            Method::POST,
                            "/v1/workspaces/acme/viewer-tokens",
                            Some(OPERATOR),
                            Some(json!({"actor": {"id": "U-5"}, "roles": roles})),
                        )
                        .await;
                    Some(minted.body["token"].as_str().expect("a viewer token").to_string())
                }
            };
            for endpoint in endpoints() {
                let (status, body) = call(&app, &fixture, &endpoint, token.as_deref()).await;
                let want = expected(endpoint.needs, who, audit_log_enabled);
                let status = if status == StatusCode::CREATED || status == StatusCode::NO_CONTENT {
                    StatusCode::OK
                } else {
                    status
                };
                assert_eq!(
                    status, want,
                    "{} {} as {who:?}, audit log {audit_log_enabled}: {body}",
                    endpoint.method, endpoint.template
                );
                let reads_events = matches!(
                    endpoint.template,
                    "/v1/workspaces/{workspace}/events" | "/v1/workspaces/{workspace}/export"
                ) && endpoint.method == Method::GET;
                if reads_events && status == StatusCode::OK {
                    let visible: BTreeSet<String> = match who {
                        Who::Operator => ["activity", "audit"].map(String::from).into(),
                        Who::Key(roles) | Who::Viewer(roles) => {
                            sees(roles, audit_log_enabled).into_iter().map(String::from).collect()
                        }
                        _ => BTreeSet::new(),
                    };
                    assert_eq!(
                        categories(&body),
                        visible,
                        "{} as {who:?}, audit log {audit_log_enabled}",
                        endpoint.template
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 800, "only {checked} combinations were checked");
}

#[tokio::test]
async fn the_table_covers_every_documented_endpoint() {
    let document: Value = serde_json::from_str(&logbook_server::openapi::document()).unwrap();
    let table: BTreeSet<(String, String)> =
        ENDPOINTS.iter().map(|(method, path, _)| (method.to_lowercase(), path.to_string())).collect();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() && path != "/openapi.json" {
                documented.insert((method.to_string(), path.clone()));
            }
        }
    }
    let missing: Vec<_> = documented.difference(&table).collect();
    assert!(missing.is_empty(), "endpoints missing from the authorization table: {missing:?}");
    let stale: Vec<_> = table.difference(&documented).collect();
    assert!(stale.is_empty(), "table rows for undocumented endpoints: {stale:?}");
}
