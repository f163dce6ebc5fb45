//! Ingest through the real router: every validation rule and limit as one
//! table, atomic batches, idempotency, and who may ingest.

mod common;

use axum::http::{Method, StatusCode};
use common::{Backend, TestApp, event};
use logbook_core::Role;
use serde_json::{Value, json};

/// One request body and what must come back.
struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    code: Option<&'static str>,
    /// For 422: the `(index, field)` of every detail, in order.
    details: &'static [(u64, &'static str)],
}

fn json_case(
    name: &'static str,
    body: Value,
    status: StatusCode,
    code: Option<&'static str>,
    details: &'static [(u64, &'static str)],
) -> Case {
    Case { name, content_type: Some("application/json"), body: body.to_string().into_bytes(), status, code, details }
}

fn with(mut value: Value, pointer: &str, field: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    value.pointer_mut(parent).unwrap().as_object_mut().unwrap().insert(key.to_string(), field);
    value
}

fn valid() -> Value {
    event("ticket.status_changed", "ticket", "T-1")
}

/// Sends the case as the publisher and checks status, code, details, and that
/// the log did not change unless the case succeeded.
async fn check(app: &TestApp, case: Case) {
    let before = app.event_count("acme").await;
    let answer = app
        .raw(
            Method::POST,
            "/v1/workspaces/acme/events",
            Some(app.key("acme", Role::Publisher)),
            case.content_type,
            Some(case.body),
        )
        .await;
    assert_eq!(answer.status, case.status, "{}: {:?}", case.name, answer.body);
    assert_eq!(answer.code(), case.code, "{}: {:?}", case.name, answer.body);
    let details: Vec<(u64, String)> = answer.body["error"]["details"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .map(|detail| {
                    (detail["index"].as_u64().unwrap_or(u64::MAX), detail["field"].as_str().unwrap_or("").to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<(u64, String)> = case.details.iter().map(|(index, field)| (*index, field.to_string())).collect();
    assert_eq!(details, expected, "{}", case.name);
    let after = app.event_count("acme").await;
    if case.status.is_success() {
        assert!(after > before, "{}: nothing was stored", case.name);
    } else {
        assert_eq!(after, before, "{}: a refused request stored events", case.name);
    }
}

async fn every_validation_rule(backend: Backend) {
    let app = TestApp::on(backend, &["acme"]).await;
    let long = "x".repeat(1025);
    let deep = json!({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}});
    let many_keys: serde_json::Map<String, Value> = (0..51).map(|key| (format!("k{key}"), json!(key))).collect();
    let hundred_one_changes = json!(vec![json!({"field": "f", "from": 1, "to": 2}); 101]);
    let future = "2999-01-01T00:00:00Z";
    let big_body = json!({"events": vec![with(valid(), "/description", json!("y".repeat(4000))); 300]});
    use StatusCode as S;
    let cases = vec![
        json_case("one valid event", valid(), S::CREATED, None, &[]),
        json_case("a valid batch", json!({"events": [valid(), valid()]}), S::CREATED, None, &[]),
        json_case(
            "unknown action",
            with(valid(), "/action", json!("ticket.teleported")),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "action")],
        ),
        json_case(
            "malformed action",
            with(valid(), "/action", json!("Ticket Created")),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "action")],
        ),
        json_case(
            "missing actor id",
            with(valid(), "/actor", json!({"type": "user"})),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "actor.id")],
        ),
        json_case(
            "missing target id",
            with(valid(), "/target", json!({"type": "ticket"})),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "target.id")],
        ),
        json_case(
            "missing actor",
            json!({"action": "ticket.created", "target": {"type": "ticket", "id": "T"}}),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "actor")],
        ),
        json_case(
            "unknown actor type",
            with(valid(), "/actor/type", json!("robot")),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "actor.type")],
        ),
        json_case(
            "string over 1024",
            with(valid(), "/actor/name", json!(long)),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "actor.name")],
        ),
        json_case(
            "description over 4096",
            with(valid(), "/description", json!("d".repeat(4097))),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "description")],
        ),
        json_case("description of 4096", with(valid(), "/description", json!("d".repeat(4096))), S::CREATED, None, &[]),
        json_case(
            "metadata over 50 keys",
            with(valid(), "/metadata", Value::Object(many_keys)),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "metadata")],
        ),
        json_case(
            "metadata deeper than 5",
            with(valid(), "/metadata", deep),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "metadata")],
        ),
        json_case(
            "more than 100 changes",
            with(valid(), "/changes", hundred_one_changes),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "changes")],
        ),
        json_case(
            "occurred_at in the future",
            with(valid(), "/occurred_at", json!(future)),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "occurred_at")],
        ),
        json_case(
            "occurred_at not RFC 3339",
            with(valid(), "/occurred_at", json!("22/11/2026")),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "occurred_at")],
        ),
        json_case(
            "occurred_at in the past",
            with(valid(), "/occurred_at", json!("2026-01-01T10:00:00+02:00")),
            S::CREATED,
            None,
            &[],
        ),
        json_case(
            "bad IP",
            with(valid(), "/context/ip", json!("not-an-ip")),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "context.ip")],
        ),
        json_case(
            "target type not the catalog's",
            with(valid(), "/target/type", json!("queue")),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "target.type")],
        ),
        json_case(
            "server-assigned field",
            with(valid(), "/seq", json!(3)),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "seq")],
        ),
        json_case(
            "Logbook's own action",
            json!({"action": "api_key.revoked", "actor": {"type": "system", "id": "operator"}, "target": {"type": "api_key", "id": "k1"}}),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(0, "action")],
        ),
        json_case(
            "a batch is atomic and lists each bad event",
            json!({"events": [valid(), with(valid(), "/actor/type", json!("robot")), valid(), with(valid(), "/outcome", json!("meh"))]}),
            S::UNPROCESSABLE_ENTITY,
            Some("invalid_event"),
            &[(1, "actor.type"), (3, "outcome")],
        ),
        json_case(
            "more than 1000 events",
            json!({"events": vec![valid(); 1001]}),
            S::PAYLOAD_TOO_LARGE,
            Some("too_large"),
            &[],
        ),
        json_case("1000 events", json!({"events": vec![valid(); 1000]}), S::CREATED, None, &[]),
        json_case("body over 1 MiB", big_body, S::PAYLOAD_TOO_LARGE, Some("too_large"), &[]),
        json_case("empty batch", json!({"events": []}), S::BAD_REQUEST, Some("malformed_request"), &[]),
        json_case("events not an array", json!({"events": 5}), S::BAD_REQUEST, Some("malformed_request"), &[]),
        json_case("not an object", json!([1, 2]), S::UNPROCESSABLE_ENTITY, Some("invalid_event"), &[(0, "")]),
        Case {
            name: "malformed JSON",
            content_type: Some("application/json"),
            body: b"{\"action\": ".to_vec(),
            status: S::BAD_REQUEST,
            code: Some("malformed_request"),
            details: &[],
        },
        Case {
            name: "invalid UTF-8",
            content_type: Some("application/json"),
            body: b"{\"action\": \"\xff\xfe\"}".to_vec(),
            status: S::BAD_REQUEST,
            code: Some("malformed_request"),
            details: &[],
        },
        Case {
            name: "wrong content type",
            content_type: Some("text/plain"),
            body: valid().to_string().into_bytes(),
            status: S::UNSUPPORTED_MEDIA_TYPE,
            code: Some("unsupported_media_type"),
            details: &[],
        },
        Case {
            name: "no content type",
            content_type: None,
            body: valid().to_string().into_bytes(),
            status: S::UNSUPPORTED_MEDIA_TYPE,
            code: Some("unsupported_media_type"),
            details: &[],
        },
        Case {
            name: "JSON with charset",
            content_type: Some("application/json; charset=utf-8"),
            body: valid().to_string().into_bytes(),
            status: S::CREATED,
            code: None,
            details: &[],
        },
    ];
    for case in cases {
        check(&app, case).await;
    }
}

async fn answers_in_order_and_stores_exactly_what_was_sent(backend: Backend) {
    let app = TestApp::on(backend, &["acme"]).await;
    let mut first = event("queue.renamed", "queue", "Q-1");
    first["changes"] = json!([{"field": "name", "from": "Billing", "to": {"en": "Payments", "n": [1, 2.5, null]}}]);
    first["related"] = json!([{"type": "team", "id": "TEAM-9"}]);
    first["occurred_at"] = json!("2026-03-01T09:30:00.123456+01:00");
    first["metadata"] = json!({"channel": "web", "nested": {"ok": true}});
    let second = event("user.login_failed", "user", "U-7");
    let answers = app.ingest("acme", vec![first.clone(), second]).await;
    assert_eq!((answers[0]["seq"].as_u64(), answers[1]["seq"].as_u64()), (Some(0), Some(1)));
    assert_eq!(answers[0]["leaf_hash"].as_str().map(str::len), Some(44), "base64 of a SHA-256 leaf");
    let id = answers[0]["id"].as_str().unwrap();
    let admin = app.key("acme", Role::Admin);
    let stored = app.call(Method::GET, &format!("/v1/workspaces/acme/events/{id}"), Some(admin), None).await;
    assert_eq!(stored.status, StatusCode::OK);
    let body = stored.body;
    assert_eq!(body["leaf_hash"], answers[0]["leaf_hash"]);
    assert_eq!(body["occurred_at"], "2026-03-01T08:30:00.123Z");
    assert_eq!((body["category"].as_str(), body["outcome"].as_str()), (Some("audit"), Some("success")));
    for field in ["changes", "related", "metadata", "actor", "target", "action"] {
        assert_eq!(body[field], first[field], "{field}");
    }
    assert_eq!(
        body["description"],
        "Ana Silva renamed queue queue Q-1 from Billing to {\"en\":\"Payments\",\"n\":[1,2.5,null]}"
    );
}

async fn idempotency_keys_store_once(backend: Backend) {
    let app = TestApp::on(backend, &["acme"]).await;
    let mut keyed = valid();
    keyed["idempotency_key"] = json!("order-42-status");
    let first = app.ingest("acme", vec![keyed.clone(), valid()]).await;
    let retried = app.ingest("acme", vec![valid(), keyed]).await;
    assert_eq!(retried[1]["duplicate"], true);
    assert_eq!(
        (&retried[1]["id"], &retried[1]["seq"], &retried[1]["leaf_hash"]),
        (&first[0]["id"], &first[0]["seq"], &first[0]["leaf_hash"])
    );
    assert_eq!(retried[0]["seq"], 2);
    assert_eq!(app.event_count("acme").await, 3);
}

async fn only_publishers_and_the_operator_ingest(backend: Backend) {
    let app = TestApp::on(backend, &["acme", "beta"]).await;
    let path = "/v1/workspaces/acme/events";
    for role in Role::ALL {
        let answer = app.call(Method::POST, path, Some(app.key("acme", role)), Some(valid())).await;
        let expected = if role == Role::Publisher { StatusCode::CREATED } else { StatusCode::FORBIDDEN };
        assert_eq!(answer.status, expected, "{role:?}");
    }
    assert_eq!(app.call(Method::POST, path, Some(common::OPERATOR), Some(valid())).await.status, StatusCode::CREATED);
    assert_eq!(
        app.call(Method::POST, path, Some(app.key("beta", Role::Publisher)), Some(valid())).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.call(Method::POST, path, None, Some(valid())).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.call(Method::POST, path, Some("lbk_nope_nope"), Some(valid())).await.status,
        StatusCode::UNAUTHORIZED
    );
    let app = &app;
    let count = |action: &'static str| async move {
        let path = format!("/v1/workspaces/acme/events?action={action}&limit=1000");
        app.call(Method::GET, &path, Some(common::OPERATOR), None).await.body["events"].as_array().unwrap().len()
    };
    assert_eq!(count("ticket.status_changed").await, 2, "only the publisher's and the operator's events were stored");
    assert_eq!(count("authz.denied").await, 8, "six roles refused, no token, and a bad token were each recorded");
    let unknown = app.call(Method::POST, "/v1/workspaces/ghost/events", Some(common::OPERATOR), Some(valid())).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, Some("not_found")));
}

async fn open_catalogs_take_unknown_actions_and_workspace_actions_apply(backend: Backend) {
    let app = TestApp::on(backend, &["acme"]).await;
    let admin = app.key("acme", Role::Admin);
    let custom = json!({"mode": "strict", "actions": [{
        "action": "invoice.paid", "category": "activity", "target_type": "invoice", "label": "Invoice paid",
        "template": "{actor} marked invoice {target} paid", "changes": false, "severity": "info"}]});
    let put = app.call(Method::PUT, "/v1/workspaces/acme/catalog", Some(admin), Some(custom)).await;
    assert_eq!(put.status, StatusCode::OK, "{put:?}");
    let answers = app.ingest("acme", vec![event("invoice.paid", "invoice", "INV-1")]).await;
    let id = answers[0]["id"].as_str().unwrap();
    let stored = app.call(Method::GET, &format!("/v1/workspaces/acme/events/{id}"), Some(admin), None).await;
    assert_eq!(stored.body["description"], "Ana Silva marked invoice invoice INV-1 paid");

    let unknown = event("billing.refund_issued", "invoice", "INV-2");
    let path = "/v1/workspaces/acme/events";
    let refused = app.call(Method::POST, path, Some(app.key("acme", Role::Publisher)), Some(unknown.clone())).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let open = json!({"mode": "open", "actions": []});
    assert_eq!(
        app.call(Method::PUT, "/v1/workspaces/acme/catalog", Some(admin), Some(open)).await.status,
        StatusCode::OK
    );
    let accepted = app.ingest("acme", vec![unknown]).await;
    let id = accepted[0]["id"].as_str().unwrap();
    let stored = app.call(Method::GET, &format!("/v1/workspaces/acme/events/{id}"), Some(admin), None).await;
    assert_eq!(stored.body["category"], "activity");
}

async fn a_full_backlog_answers_429_and_stores_nothing(backend: Backend) {
    let app = TestApp::on(backend, &["acme"]).await;
    let publisher = app.key("acme", Role::Publisher).to_string();
    let path = "/v1/workspaces/acme/events";
    let one = || json!({"action": "ticket.created", "actor": {"id": "U-1"}, "target": {"type": "ticket", "id": "T-1"}});
    // The writer is behind: all but 500 bytes of the backlog are taken. A batch
    // of ten events (about 1 KB) waits a moment for room, then is refused.
    let backlog = app.state.ingest_backlog_size();
    let taken = app.state.ingest_backlog().clone().try_acquire_many_owned(backlog as u32 - 500).unwrap();
    let batch = json!({"events": (0..10).map(|_| one()).collect::<Vec<_>>()});
    assert!(batch.to_string().len() > 500 && one().to_string().len() < 500);
    let refused = app.call(Method::POST, path, Some(&publisher), Some(batch.clone())).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{refused:?}");
    assert_eq!(refused.code(), Some("slow_down"));
    assert_eq!(refused.headers.get("retry-after").and_then(|value| value.to_str().ok()), Some("1"));
    // A request that fits is taken; nothing of the refused one was stored.
    let fits = app.call(Method::POST, path, Some(&publisher), Some(one())).await;
    assert_eq!(fits.status, StatusCode::CREATED);
    assert_eq!(fits.body["events"][0]["seq"], 0, "the refused batch left no trace");
    drop(taken);
    let retried = app.call(Method::POST, path, Some(&publisher), Some(batch)).await;
    assert_eq!(retried.status, StatusCode::CREATED, "the retry succeeds once the backlog drains");
    assert_eq!(app.state.ingest_backlog().available_permits(), backlog, "every place is given back");
}

on_both_backends! {
    every_validation_rule,
    answers_in_order_and_stores_exactly_what_was_sent,
    idempotency_keys_store_once,
    only_publishers_and_the_operator_ingest,
    open_catalogs_take_unknown_actions_and_workspace_actions_apply,
    a_full_backlog_answers_429_and_stores_nothing,
}
