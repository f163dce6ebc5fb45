//! CSV exports through the real router: the stable column set, RFC 4180 quoting,
//! spreadsheet formulas neutralised, labels and descriptions from the catalog,
//! filters and roles applied, and the export recorded.

mod common;

use axum::http::StatusCode;
use common::{Backend, TestApp, event};
use logbook_core::Role;
use serde_json::json;

/// A plain RFC 4180 reader, written for the test: rows of cells.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut cell = String::new();
    let mut quoted = false;
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match (quoted, character) {
            (true, '"') if characters.peek() == Some(&'"') => {
                characters.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, other) => cell.push(other),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if characters.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, other) => cell.push(other),
        }
    }
    rows
}

async fn csv_exports_are_safe_for_spreadsheets(backend: Backend) {
    let app = TestApp::on(backend, &["acme"]).await;
    let mut nasty = event("ticket.status_changed", "ticket", "T-1");
    nasty["actor"]["name"] = json!("=HYPERLINK(\"http://evil.example\",\"click\")");
    nasty["target"]["name"] = json!("Refund, \"urgent\"\nsecond line");
    nasty["changes"] = json!([{"field": "status", "from": "@SUM(A1:A9)", "to": "+1-2"}]);
    let mut several = event("queue.renamed", "queue", "Q-1");
    several["changes"] =
        json!([{"field": "name", "from": "Billing", "to": "Payments"}, {"field": "size", "from": -3, "to": null}]);
    app.ingest("acme", vec![nasty, several, event("user.login_failed", "user", "U-9")]).await;

    let auditor = app.key("acme", Role::Auditor).to_string();
    let (status, text) = app.text("/v1/workspaces/acme/export?format=csv", &auditor, None).await;
    assert_eq!(status, StatusCode::OK);
    let rows = parse_csv(&text);
    assert_eq!(
        rows[0],
        [
            "date",
            "done_by",
            "actor_type",
            "event",
            "item_type",
            "item_id",
            "item_name",
            "from",
            "to",
            "ip",
            "outcome",
            "description",
            "id",
            "seq"
        ]
    );
    assert_eq!(rows.len(), 4, "a header and three events: {rows:?}");
    let first = &rows[1];
    assert_eq!(first[1], "'=HYPERLINK(\"http://evil.example\",\"click\")", "a formula is neutralised");
    assert_eq!(first[3], "Ticket status changed", "the catalog's label");
    assert_eq!((first[4].as_str(), first[5].as_str()), ("ticket", "T-1"));
    assert_eq!(first[6], "Refund, \"urgent\"\nsecond line", "quoting keeps commas, quotes and newlines");
    assert_eq!((first[7].as_str(), first[8].as_str()), ("'@SUM(A1:A9)", "'+1-2"));
    assert_eq!((first[9].as_str(), first[10].as_str(), first[13].as_str()), ("192.0.2.10", "success", "0"));
    assert!(first[11].starts_with("'=HYPERLINK"), "the description names the actor, neutralised too: {}", first[11]);
    assert_eq!((rows[2][7].as_str(), rows[2][8].as_str()), ("name: Billing; size: -3", "name: Payments; size: null"));
    assert_eq!((rows[3][4].as_str(), rows[3][10].as_str()), ("user", "success"), "the outcome as sent");

    // Filters apply, and a supervisor may not export at all.
    let (_, filtered) = app.text("/v1/workspaces/acme/export?format=csv&action=queue.*", &auditor, None).await;
    assert_eq!(parse_csv(&filtered).len(), 2);
    let (status, _) = app.text("/v1/workspaces/acme/export?format=csv", app.key("acme", Role::Supervisor), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Each export is recorded with its format, filter and row count.
    let recorded = app
        .call(
            axum::http::Method::GET,
            "/v1/workspaces/acme/events?action=audit_log.exported",
            Some(common::OPERATOR),
            None,
        )
        .await;
    let exports = recorded.body["events"].as_array().unwrap();
    assert_eq!(exports.len(), 2);
    assert_eq!(
        (exports[0]["metadata"]["format"].as_str(), exports[0]["metadata"]["rows"].as_u64()),
        (Some("csv"), Some(1))
    );
    assert_eq!(exports[0]["metadata"]["filter"], "format=csv&action=queue.*");
    assert_eq!(exports[1]["metadata"]["rows"], 3);
}

on_both_backends! {
    csv_exports_are_safe_for_spreadsheets,
}
