//! Workspaces, keys, settings, catalog, probes, the OpenAPI document and the
//! error envelope, through the real router.

mod common;

use axum::http::{Method, StatusCode};
use common::{OPERATOR, TestApp, event};
use logbook_core::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn workspaces_are_managed_by_the_operator() {
    let app = TestApp::new(&["acme"]).await;
    let created =
        app.call(Method::POST, "/v1/workspaces", Some(OPERATOR), Some(json!({"id": "beta-2", "name": "Beta"}))).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!((created.body["id"].as_str(), created.body["name"].as_str()), (Some("beta-2"), Some("Beta")));
    let again = app.call(Method::POST, "/v1/workspaces", Some(OPERATOR), Some(json!({"id": "beta-2"}))).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, Some("conflict")));
    for bad in ["Beta", "-x", "a_b", ""] {
        let answer = app.call(Method::POST, "/v1/workspaces", Some(OPERATOR), Some(json!({"id": bad}))).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_request")),
            "{bad}"
        );
    }
    let extra =
        app.call(Method::POST, "/v1/workspaces", Some(OPERATOR), Some(json!({"id": "x", "colour": "red"}))).await;
    assert_eq!(extra.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = app.call(Method::GET, "/v1/workspaces", Some(OPERATOR), None).await;
    let ids: Vec<&str> =
        listed.body["workspaces"].as_array().unwrap().iter().filter_map(|w| w["id"].as_str()).collect();
    assert_eq!(ids, ["acme", "beta-2"]);
    for role in Role::ALL {
        let token = app.key("acme", role);
        assert_eq!(app.call(Method::GET, "/v1/workspaces", Some(token), None).await.status, StatusCode::FORBIDDEN);
        let create = app.call(Method::POST, "/v1/workspaces", Some(token), Some(json!({"id": "nope"}))).await;
        assert_eq!(create.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.call(Method::GET, "/v1/workspaces", None, None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn keys_show_their_secret_once_and_revocation_is_immediate() {
    let app = TestApp::new(&["acme", "beta"]).await;
    let admin = app.key("acme", Role::Admin);
    let created = app
        .call(
            Method::POST,
            "/v1/workspaces/acme/keys",
            Some(admin),
            Some(json!({"name": "helpdesk", "roles": ["supervisor", "setup", "setup"]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["roles"], json!(["supervisor", "setup"]));
    let token = created.body["token"].as_str().unwrap().to_string();
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(token.starts_with("lbk_") && token.len() > 40);

    let feed = app.call(Method::GET, "/v1/workspaces/acme/events", Some(&token), None).await;
    assert_eq!(feed.status, StatusCode::OK);
    let listed = app.call(Method::GET, "/v1/workspaces/acme/keys", Some(admin), None).await;
    let text = listed.body.to_string();
    assert!(!text.contains(&token) && !text.contains("secret"), "a listing never shows secrets");
    assert_eq!(listed.body["keys"].as_array().unwrap().len(), Role::ALL.len() + 1);

    assert_eq!(
        app.call(Method::DELETE, &format!("/v1/workspaces/acme/keys/{id}"), Some(admin), None).await.status,
        StatusCode::NO_CONTENT
    );
    let after = app.call(Method::GET, "/v1/workspaces/acme/events", Some(&token), None).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    assert_eq!(
        app.call(Method::DELETE, "/v1/workspaces/acme/keys/nothere", Some(admin), None).await.status,
        StatusCode::NOT_FOUND
    );
    let other = app
        .call(Method::DELETE, &format!("/v1/workspaces/beta/keys/{id}"), Some(app.key("beta", Role::Admin)), None)
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "a key is revoked only through its own workspace");

    let tampered = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/acme/events", Some(&tampered), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    for (body, field) in
        [(json!({"name": "", "roles": ["admin"]}), "name"), (json!({"name": "x", "roles": []}), "roles")]
    {
        let answer = app.call(Method::POST, "/v1/workspaces/acme/keys", Some(admin), Some(body)).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.body["error"]["details"][0]["field"], field);
    }
    let unknown_role = app
        .call(Method::POST, "/v1/workspaces/acme/keys", Some(admin), Some(json!({"name": "x", "roles": ["god"]})))
        .await;
    assert_eq!(unknown_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    for role in [Role::Publisher, Role::Supervisor, Role::Auditor] {
        let answer = app
            .call(
                Method::POST,
                "/v1/workspaces/acme/keys",
                Some(app.key("acme", role)),
                Some(json!({"name": "x", "roles": ["admin"]})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{role:?}");
    }
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/acme/keys", Some(app.key("acme", Role::Auditor)), None).await.status,
        StatusCode::OK
    );
    // Only a superadmin (or the operator) grants or revokes superadmin.
    let grant = json!({"name": "escalate", "roles": ["superadmin"]});
    let escalation = app.call(Method::POST, "/v1/workspaces/acme/keys", Some(admin), Some(grant.clone())).await;
    assert_eq!(escalation.status, StatusCode::UNPROCESSABLE_ENTITY, "an admin cannot mint a superadmin key");
    let superadmin = app.key("acme", Role::Superadmin).to_string();
    let granted = app.call(Method::POST, "/v1/workspaces/acme/keys", Some(&superadmin), Some(grant)).await;
    assert_eq!(granted.status, StatusCode::CREATED);
    let revoke = format!("/v1/workspaces/acme/keys/{}", granted.body["id"].as_str().unwrap());
    assert_eq!(app.call(Method::DELETE, &revoke, Some(admin), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.call(Method::DELETE, &revoke, Some(&superadmin), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/acme/keys", Some(app.key("acme", Role::Supervisor)), None).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn settings_switch_the_audit_log() {
    let app = TestApp::new(&["acme"]).await;
    app.ingest("acme", vec![event("user.login_failed", "user", "U-2"), event("ticket.created", "ticket", "T-1")]).await;
    let admin = app.key("acme", Role::Admin);
    let settings = app.call(Method::GET, "/v1/workspaces/acme/settings", Some(admin), None).await;
    assert_eq!(settings.body, json!({"name": "acme", "audit_log_enabled": true}));
    let categories = |body: &Value| -> Vec<String> {
        body["events"].as_array().unwrap().iter().map(|event| event["category"].as_str().unwrap().to_string()).collect()
    };
    let ingested = "/v1/workspaces/acme/events?action=user.login_failed,ticket.created";
    let before = app.call(Method::GET, ingested, Some(admin), None).await;
    assert_eq!(categories(&before.body), ["activity", "audit"]);

    let put = app
        .call(Method::PUT, "/v1/workspaces/acme/settings", Some(admin), Some(json!({"audit_log_enabled": false})))
        .await;
    assert_eq!(put.body, json!({"name": "acme", "audit_log_enabled": false}));
    let after = app.call(Method::GET, ingested, Some(admin), None).await;
    assert_eq!(categories(&after.body), ["activity"]);
    let superadmin = app.call(Method::GET, ingested, Some(app.key("acme", Role::Superadmin)), None).await;
    assert_eq!(categories(&superadmin.body), ["activity", "audit"]);
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/acme/events", Some(app.key("acme", Role::Setup)), None).await.status,
        StatusCode::FORBIDDEN
    );

    let renamed =
        app.call(Method::PUT, "/v1/workspaces/acme/settings", Some(admin), Some(json!({"name": "Acme Support"}))).await;
    assert_eq!(renamed.body, json!({"name": "Acme Support", "audit_log_enabled": false}));
    let bad = app
        .call(Method::PUT, "/v1/workspaces/acme/settings", Some(admin), Some(json!({"audit_log_enabled": "yes"})))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown =
        app.call(Method::PUT, "/v1/workspaces/acme/settings", Some(admin), Some(json!({"retention": 3}))).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let auditor = app
        .call(
            Method::PUT,
            "/v1/workspaces/acme/settings",
            Some(app.key("acme", Role::Auditor)),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(auditor.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/acme/settings", Some(app.key("acme", Role::Auditor)), None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn catalogs_are_listed_and_validated() {
    let app = TestApp::new(&["acme"]).await;
    let admin = app.key("acme", Role::Admin);
    let catalog =
        app.call(Method::GET, "/v1/workspaces/acme/catalog", Some(app.key("acme", Role::Supervisor)), None).await;
    assert_eq!(catalog.status, StatusCode::OK);
    assert_eq!(catalog.body["mode"], "strict");
    let actions = catalog.body["actions"].as_array().unwrap();
    assert!(actions.len() > 100);
    let queue_renamed = actions.iter().find(|entry| entry["action"] == "queue.renamed").expect("queue.renamed");
    assert_eq!(
        (queue_renamed["category"].as_str(), queue_renamed["source"].as_str()),
        (Some("audit"), Some("default"))
    );
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/acme/catalog", Some(app.key("acme", Role::Agent)), None).await.status,
        StatusCode::FORBIDDEN
    );

    let bad = json!({"mode": "strict", "actions": [
        {"action": "Bad Name", "category": "activity", "target_type": "x", "label": "l", "template": "t", "changes": false, "severity": "info"},
        {"action": "a.b", "category": "activity", "target_type": "x", "label": "l", "template": "{actor} set {to}", "changes": false, "severity": "info"},
    ]});
    let answer = app.call(Method::PUT, "/v1/workspaces/acme/catalog", Some(admin), Some(bad)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        answer.body["error"]["details"].as_array().unwrap().iter().filter_map(|d| d["field"].as_str()).collect();
    assert_eq!(fields, ["actions[0].action", "actions[1].template"]);
    let wrong_mode =
        app.call(Method::PUT, "/v1/workspaces/acme/catalog", Some(admin), Some(json!({"mode": "lax"}))).await;
    assert_eq!(wrong_mode.status, StatusCode::UNPROCESSABLE_ENTITY);
    let supervisor = app
        .call(
            Method::PUT,
            "/v1/workspaces/acme/catalog",
            Some(app.key("acme", Role::Supervisor)),
            Some(json!({"mode": "open"})),
        )
        .await;
    assert_eq!(supervisor.status, StatusCode::FORBIDDEN);
    let unchanged = app.call(Method::GET, "/v1/workspaces/acme/catalog", Some(admin), None).await;
    assert_eq!(unchanged.body["mode"], "strict", "refused changes change nothing");
}

#[tokio::test]
async fn probes_unknown_paths_and_methods() {
    let app = TestApp::new(&[]).await;
    assert_eq!(app.call(Method::GET, "/healthz", None, None).await.body, json!({"status": "ok"}));
    assert_eq!(app.call(Method::GET, "/readyz", None, None).await.body, json!({"status": "ready"}));
    let missing = app.call(Method::GET, "/v2/nothing", None, None).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::NOT_FOUND, Some("not_found")));
    let method = app.call(Method::PATCH, "/v1/workspaces", Some(OPERATOR), None).await;
    assert_eq!((method.status, method.code()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    let malformed =
        app.raw(Method::POST, "/v1/workspaces", Some(OPERATOR), Some("application/json"), Some(b"{".to_vec())).await;
    assert_eq!((malformed.status, malformed.code()), (StatusCode::BAD_REQUEST, Some("malformed_request")));
    let basic = app.raw(Method::GET, "/v1/workspaces", None, None, None).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn openapi_document_matches_its_snapshot() {
    let app = TestApp::new(&[]).await;
    let served = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(served.status, StatusCode::OK);
    let document = logbook_server::openapi::document();
    assert_eq!(served.body, serde_json::from_str::<Value>(&document).unwrap());
    let paths = served.body["paths"].as_object().unwrap();
    for path in [
        "/v1/workspaces",
        "/v1/workspaces/{workspace}/events",
        "/v1/workspaces/{workspace}/records/{type}/{id}/events",
        "/readyz",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    // No path edits or deletes an event: events are only ever created.
    for (path, item) in paths {
        if path.contains("/events") {
            for method in ["put", "patch", "delete"] {
                assert!(item.get(method).is_none(), "{method} {path} would edit or delete events");
            }
        }
    }
    let snapshot_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(snapshot_path, format!("{document}\n")).expect("snapshot written");
    }
    let snapshot = std::fs::read_to_string(snapshot_path).unwrap_or_default();
    assert!(
        snapshot.trim_end() == document,
        "docs/openapi.json is out of date; run UPDATE_SNAPSHOTS=1 cargo test -p logbook-server --test api and commit it"
    );
}
