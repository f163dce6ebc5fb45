//! Viewer tokens and the audit trail of access: minting and its rules, record
//! scope, expiry, and the audit events written for reads, exports, keys, viewer
//! tokens and denials, each with the right actor and IP and never a secret.

mod common;

use axum::http::{Method, StatusCode};
use common::{OPERATOR, TestApp, event};
use logbook_core::viewer_token::ViewerClaims;
use logbook_core::{Actor, Role};
use serde_json::{Value, json};

async fn mint(app: &TestApp, token: &str, body: Value) -> common::Answer {
    app.call(Method::POST, "/v1/workspaces/acme/viewer-tokens", Some(token), Some(body)).await
}

/// The workspace's audit events of `action`, newest first, read as the operator.
async fn audit_events(app: &TestApp, action: &str) -> Vec<Value> {
    let answer = app
        .call(Method::GET, &format!("/v1/workspaces/acme/events?action={action}&limit=1000"), Some(OPERATOR), None)
        .await;
    answer.body["events"].as_array().expect("events").clone()
}

#[tokio::test]
async fn minting_follows_the_rules() {
    let app = TestApp::new(&["acme", "beta"]).await;
    let admin = app.key("acme", Role::Admin).to_string();
    let actor = json!({"type": "user", "id": "U-7", "name": "Ana Silva"});
    let minted =
        mint(&app, &admin, json!({"actor": actor, "roles": ["supervisor"], "record": "ticket:T-1", "ttl_seconds": 60}))
            .await;
    assert_eq!(minted.status, StatusCode::CREATED, "{minted:?}");
    assert!(minted.body["token"].as_str().unwrap().starts_with("lbv_"));
    assert_eq!(
        (minted.body["roles"].clone(), minted.body["record"].clone()),
        (json!(["supervisor"]), json!("ticket:T-1"))
    );
    for (body, field) in [
        (json!({"actor": actor, "roles": ["publisher"]}), "roles"),
        (json!({"actor": actor, "roles": ["superadmin"]}), "roles"),
        (json!({"actor": actor, "roles": []}), "roles"),
        (json!({"actor": {"id": ""}, "roles": ["supervisor"]}), "actor.id"),
        (json!({"actor": actor, "roles": ["supervisor"], "record": "T-1"}), "record"),
        (json!({"actor": actor, "roles": ["supervisor"], "ttl_seconds": 0}), "ttl_seconds"),
        (json!({"actor": actor, "roles": ["supervisor"], "ttl_seconds": 86_401}), "ttl_seconds"),
    ] {
        let answer = mint(&app, &admin, body.clone()).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer.body["error"]["details"][0]["field"], field, "{body}");
    }
    let superadmin =
        mint(&app, app.key("acme", Role::Superadmin), json!({"actor": actor, "roles": ["superadmin"]})).await;
    assert_eq!(superadmin.status, StatusCode::CREATED, "a superadmin may mint superadmin viewer tokens");
    for role in [Role::Publisher, Role::Auditor, Role::Supervisor] {
        assert_eq!(
            mint(&app, app.key("acme", role), json!({"actor": actor, "roles": ["supervisor"]})).await.status,
            StatusCode::FORBIDDEN
        );
    }

    // A viewer token only reads, and only its own workspace.
    let token = minted.body["token"].as_str().unwrap();
    let ingest = app
        .call(Method::POST, "/v1/workspaces/acme/events", Some(token), Some(event("ticket.created", "ticket", "T-1")))
        .await;
    assert_eq!(ingest.status, StatusCode::FORBIDDEN);
    assert_eq!(mint(&app, token, json!({"actor": actor, "roles": ["supervisor"]})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/beta/events", Some(token), None).await.status,
        StatusCode::NOT_FOUND
    );

    let created = audit_events(&app, "viewer_token.created").await;
    assert_eq!(created.len(), 2);
    let first = created.last().unwrap();
    assert_eq!((first["actor"]["type"].as_str(), first["target"]["id"].as_str()), (Some("api"), Some("U-7")));
    assert_eq!(first["metadata"]["record"], "ticket:T-1");
    assert!(!first.to_string().contains(token), "the token itself is never stored");
}

#[tokio::test]
async fn a_record_scoped_token_sees_only_that_record() {
    let app = TestApp::new(&["acme"]).await;
    let mut assigned = event("ticket.assigned", "ticket", "T-2");
    assigned["related"] = json!([{"type": "ticket", "id": "T-1"}]);
    let answers = app
        .ingest(
            "acme",
            vec![
                event("ticket.created", "ticket", "T-1"),
                event("ticket.created", "ticket", "T-2"),
                assigned,
                event("ticket.resolved", "ticket", "T-2"),
            ],
        )
        .await;
    let admin = app.key("acme", Role::Admin).to_string();
    let minted =
        mint(&app, &admin, json!({"actor": {"id": "U-7"}, "roles": ["supervisor"], "record": "ticket:T-1"})).await;
    let token = minted.body["token"].as_str().unwrap().to_string();

    let seqs = |body: &Value| -> Vec<u64> {
        body["events"].as_array().unwrap().iter().map(|event| event["seq"].as_u64().unwrap()).collect()
    };
    let feed = app.call(Method::GET, "/v1/workspaces/acme/events", Some(&token), None).await;
    assert_eq!(seqs(&feed.body), [2, 0], "the feed is the record's timeline: its own events and those relating to it");
    let timeline = app.call(Method::GET, "/v1/workspaces/acme/records/ticket/T-1/events", Some(&token), None).await;
    assert_eq!(seqs(&timeline.body), [2, 0]);
    let other = app.call(Method::GET, "/v1/workspaces/acme/records/ticket/T-2/events", Some(&token), None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let other_filter = app.call(Method::GET, "/v1/workspaces/acme/events?record=ticket:T-2", Some(&token), None).await;
    assert_eq!(other_filter.status, StatusCode::NOT_FOUND);
    let outside = answers[1]["id"].as_str().unwrap();
    let inside = answers[0]["id"].as_str().unwrap();
    assert_eq!(
        app.call(Method::GET, &format!("/v1/workspaces/acme/events/{outside}"), Some(&token), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(Method::GET, &format!("/v1/workspaces/acme/events/{outside}/proof"), Some(&token), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(Method::GET, &format!("/v1/workspaces/acme/events/{inside}"), Some(&token), None).await.status,
        StatusCode::OK
    );

    // A scoped auditor's export holds that record's events only.
    let auditor =
        mint(&app, &admin, json!({"actor": {"id": "U-8"}, "roles": ["auditor"], "record": "ticket:T-1"})).await;
    let (status, export) =
        app.text("/v1/workspaces/acme/export?format=ndjson", auditor.body["token"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    let exported: Vec<u64> =
        export.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()["seq"].as_u64().unwrap()).collect();
    assert_eq!(exported, [0, 2]);
}

#[tokio::test]
async fn expired_viewer_tokens_stop_at_once() {
    let app = TestApp::new(&["acme"]).await;
    let secret = app.storage.secret("viewer-token-hmac", vec![]).await.unwrap();
    let now = logbook_server::auth::now();
    let claims = |expires_at| ViewerClaims {
        workspace: "acme".into(),
        actor: Actor { actor_type: Default::default(), id: "U-7".into(), name: None, email: None, role: None },
        roles: vec![Role::Supervisor],
        record: None,
        expires_at,
    };
    let live = claims(now.plus_millis(60_000)).encode(&secret);
    assert_eq!(app.call(Method::GET, "/v1/workspaces/acme/events", Some(&live), None).await.status, StatusCode::OK);
    let expired = claims(now.plus_millis(-1)).encode(&secret);
    let answer = app.call(Method::GET, "/v1/workspaces/acme/events", Some(&expired), None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.body["error"]["message"].as_str().unwrap().contains("expired"));
    let forged = claims(now.plus_millis(60_000)).encode(b"not the deployment's secret");
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/acme/events", Some(&forged), None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn audit_events_name_the_caller_and_its_address() {
    let app = TestApp::new(&["acme"]).await;
    app.ingest("acme", vec![event("user.login_failed", "user", "U-3")]).await;
    let admin = app.key("acme", Role::Admin).to_string();
    let admin_id = admin.trim_start_matches("lbk_").split('_').next().unwrap().to_string();

    // Keys: created and revoked, by the admin key, from the peer's address.
    let created = app
        .call(
            Method::POST,
            "/v1/workspaces/acme/keys",
            Some(&admin),
            Some(json!({"name": "ci", "roles": ["publisher"]})),
        )
        .await;
    let key_id = created.body["id"].as_str().unwrap();
    app.call(Method::DELETE, &format!("/v1/workspaces/acme/keys/{key_id}"), Some(&admin), None).await;
    for action in ["api_key.created", "api_key.revoked"] {
        let events = audit_events(&app, action).await;
        assert_eq!(events.len(), 1, "{action}");
        let recorded = &events[0];
        assert_eq!(
            (recorded["category"].as_str(), recorded["actor"]["id"].as_str(), recorded["actor"]["type"].as_str()),
            (Some("audit"), Some(admin_id.as_str()), Some("api")),
            "{action}"
        );
        assert_eq!(
            (recorded["target"]["id"].as_str(), recorded["context"]["ip"].as_str()),
            (Some(key_id), Some("192.0.2.77")),
            "{action}"
        );
        assert_eq!(recorded["metadata"]["roles"], json!(["publisher"]));
    }

    // Reading the audit log with a viewer token is attributed to the token's end user.
    let minted = mint(&app, &admin, json!({"actor": {"id": "U-42", "name": "Quinn Reyes"}, "roles": ["setup"]})).await;
    let viewer = minted.body["token"].as_str().unwrap();
    assert_eq!(app.call(Method::GET, "/v1/workspaces/acme/events", Some(viewer), None).await.status, StatusCode::OK);
    let viewed = audit_events(&app, "audit_log.viewed").await;
    let by_viewer = viewed.iter().find(|event| event["actor"]["id"] == "U-42").expect("the viewer's read is recorded");
    assert_eq!(
        (by_viewer["actor"]["type"].as_str(), by_viewer["actor"]["name"].as_str()),
        (Some("user"), Some("Quinn Reyes"))
    );
    assert_eq!(
        (by_viewer["metadata"]["view"].as_str(), by_viewer["context"]["ip"].as_str()),
        (Some("feed"), Some("192.0.2.77"))
    );
    // Paging and refining within the minute are the same visit.
    app.call(Method::GET, "/v1/workspaces/acme/events?action=user.*", Some(viewer), None).await;
    let again = audit_events(&app, "audit_log.viewed").await;
    assert_eq!(again.iter().filter(|event| event["actor"]["id"] == "U-42").count(), 1);

    // Denials: a wrong secret and a role without rights, never storing the secret.
    let wrong = format!("lbk_{admin_id}_this-is-not-the-secret");
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/acme/events", Some(&wrong), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let publisher = app.key("acme", Role::Publisher).to_string();
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/acme/settings", Some(&publisher), None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(Method::GET, "/v1/workspaces/acme/settings", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Made-up key ids, however many, are one caller: "unknown-key".
    for n in 0..20 {
        let fake = format!("lbk_fake{n}_whatever");
        assert_eq!(
            app.call(Method::GET, "/v1/workspaces/acme/events", Some(&fake), None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // A percent-encoded workspace reaches the same workspace, and is recorded too.
    let encoded = app.call(Method::GET, "/v1/workspaces/%61cme/keys", Some(&publisher), None).await;
    assert_eq!(encoded.status, StatusCode::FORBIDDEN);
    let denied = audit_events(&app, "authz.denied").await;
    let unknown = denied.iter().filter(|event| event["actor"]["id"] == "unknown-key").count();
    assert_eq!(unknown, 1, "{denied:?}");
    assert!(denied.iter().any(|event| event["metadata"]["route"] == "/v1/workspaces/{workspace}/keys"));
    let denied: Vec<Value> = denied
        .into_iter()
        .filter(|event| {
            event["actor"]["id"] != "unknown-key" && event["metadata"]["route"] != "/v1/workspaces/{workspace}/keys"
        })
        .collect();
    assert_eq!(denied.len(), 3, "{denied:?}");
    let statuses: Vec<u64> = denied.iter().map(|event| event["metadata"]["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [401, 403, 401]);
    let publisher_id = publisher.trim_start_matches("lbk_").split('_').next().unwrap();
    let actors: Vec<&str> = denied.iter().map(|event| event["actor"]["id"].as_str().unwrap()).collect();
    assert_eq!(actors, ["anonymous", publisher_id, admin_id.as_str()]);
    assert!(denied.iter().all(|event| event["outcome"] == "failure" && event["context"]["ip"] == "192.0.2.77"));
    let stored = serde_json::to_string(&denied).unwrap();
    assert!(!stored.contains("this-is-not-the-secret") && !stored.contains(&publisher[20..]), "no secret is stored");
    // The same denial again within the minute is not recorded twice.
    let before = audit_events(&app, "authz.denied").await.len();
    app.call(Method::GET, "/v1/workspaces/acme/settings", Some(&publisher), None).await;
    assert_eq!(audit_events(&app, "authz.denied").await.len(), before);

    // A page reached through a cursor is a read of the audit log too, whatever
    // the first page asked for.
    let auditor = app.key("acme", Role::Auditor).to_string();
    let first =
        app.call(Method::GET, "/v1/workspaces/acme/events?category=activity&limit=1", Some(&auditor), None).await;
    let auditor_id = auditor.trim_start_matches("lbk_").split('_').next().unwrap().to_string();
    let views_by = |events: &[Value]| events.iter().filter(|event| event["actor"]["id"] == auditor_id.as_str()).count();
    assert_eq!(
        views_by(&audit_events(&app, "audit_log.viewed").await),
        0,
        "the activity log alone is not the audit log"
    );
    if let Some(cursor) = first.body["next_cursor"].as_str() {
        let path = format!("/v1/workspaces/acme/events?category=audit&limit=5&cursor={cursor}");
        assert_eq!(app.call(Method::GET, &path, Some(&auditor), None).await.status, StatusCode::OK);
        assert_eq!(views_by(&audit_events(&app, "audit_log.viewed").await), 1);
    }

    // Settings changes record what changed.
    app.call(Method::PUT, "/v1/workspaces/acme/settings", Some(&admin), Some(json!({"audit_log_enabled": false})))
        .await;
    let changed = app
        .call(
            Method::GET,
            "/v1/workspaces/acme/events?action=workspace.settings_changed",
            Some(app.key("acme", Role::Superadmin)),
            None,
        )
        .await;
    assert_eq!(
        changed.body["events"][0]["changes"],
        json!([{"field": "audit_log_enabled", "from": true, "to": false}])
    );
}
