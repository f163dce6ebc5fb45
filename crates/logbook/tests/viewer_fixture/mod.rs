//! The browser tests' world: a `logbook demo` server with a small demo workspace,
//! its printed keys, a few known events sent through the API (including hostile
//! ones), and a headless browser.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use logbook_core::Timestamp;
use serde_json::{Value, json};

use crate::common::{OPERATOR, Server, post};
use crate::webdriver::Browser;

/// How many demo events the browser tests' workspace gets.
pub const DEMO_EVENTS: &str = "3000";

/// The browser's time zone: +05:30 all year, so local times differ from UTC by a
/// half hour that no test can mistake.
pub const TIME_ZONE: &str = "Asia/Kolkata";

/// The known events' ticket.
pub const TICKET: &str = "T-VIEW-1";
/// The known events' customer (related to two of them).
pub const CUSTOMER: &str = "C-VIEW-1";
/// The user who did the known events.
pub const USER: &str = "U-VIEW-1";

/// A multi-line text whose change the detail must diff by line.
pub const LONG_BEFORE: &str = "Hello Ana,\nthe printer is on fire.\nPlease advise.\nRegards";
pub const LONG_AFTER: &str = "Hello Ana,\nthe printer was on fire; it is out now.\nPlease advise.\nRegards";

/// The hostile values: a page that runs them sets `window.__xss`.
pub const SCRIPT_PAYLOAD: &str = "<script>window.__xss = 'script'</script>";
pub const IMG_PAYLOAD: &str = "<img src=x onerror=\"window.__xss = 'img'\">";

/// A running server with its keys, known events and a browser.
pub struct World {
    pub server: Server,
    pub base: String,
    /// The demo key of each role, by role name.
    pub keys: HashMap<String, String>,
    /// The known events' ids by name: status, long, api, related, hostile.
    pub events: HashMap<&'static str, Value>,
    pub client: reqwest::Client,
    pub browser: Browser,
    _directory: tempfile::TempDir,
}

fn at(millis_ago: i64) -> String {
    let now = logbook_server::auth::now();
    // Whole seconds, so that the test can compute the local time exactly.
    let rounded = (now.as_millis() - millis_ago) / 1000 * 1000;
    Timestamp::from_millis(rounded).to_rfc3339()
}

/// The known events, newest last.
fn known_events() -> Vec<(&'static str, Value)> {
    let user = json!({"type": "user", "id": USER, "name": "Vera Viewer", "email": "vera@example.com", "role": "admin"});
    let ticket = json!({"type": "ticket", "id": TICKET, "name": "Printer on fire"});
    vec![
        (
            "status",
            json!({
                "action": "ticket.status_changed", "occurred_at": at(240_000), "actor": user, "target": ticket,
                "related": [{"type": "customer", "id": CUSTOMER, "name": "Initech"}],
                "changes": [{"field": "status", "from": "open", "to": "solved"}],
                "context": {"ip": "198.51.100.23", "user_agent": "Mozilla/5.0 (test)", "request_id": "req-1"},
                "metadata": {"channel": "email", "priority": 2},
            }),
        ),
        (
            "long",
            json!({
                "action": "ticket.updated", "occurred_at": at(180_000),
                "actor": {"type": "system", "id": "automation-7", "name": "Nightly automation"}, "target": ticket,
                "changes": [{"field": "reply", "from": LONG_BEFORE, "to": LONG_AFTER}],
            }),
        ),
        (
            "api",
            json!({
                "action": "ticket.assigned", "occurred_at": at(150_000),
                "actor": {"type": "api", "id": "zapier", "name": "Zapier"}, "target": ticket,
                "related": [{"type": "customer", "id": CUSTOMER, "name": "Initech"}],
                "changes": [{"field": "assignee", "from": null, "to": "U-8"}],
                "context": {"ip": "203.0.113.9"},
            }),
        ),
        (
            "hostile",
            json!({
                "action": "ticket.updated", "occurred_at": at(30 * 86_400_000),
                "actor": {"type": "user", "id": "U-EVIL", "name": IMG_PAYLOAD, "email": "evil@example.com"},
                "target": {"type": "ticket", "id": "T-EVIL", "name": SCRIPT_PAYLOAD},
                "changes": [{"field": "subject", "from": SCRIPT_PAYLOAD, "to": IMG_PAYLOAD},
                            {"field": "body", "from": format!("line one\n{SCRIPT_PAYLOAD}"), "to": format!("line one\n{IMG_PAYLOAD}")}],
                "description": format!("{SCRIPT_PAYLOAD} {IMG_PAYLOAD}"),
                "metadata": {"note": IMG_PAYLOAD},
            }),
        ),
    ]
}

impl World {
    /// Starts the browser (or returns `None` to skip), then the server, and sends the known events.
    pub async fn start() -> Option<World> {
        let browser = Browser::start(TIME_ZONE).await?;
        let directory = tempfile::tempdir().expect("a temporary directory");
        let (server, printed) =
            Server::start_with(directory.path(), &["demo", "--demo-events", DEMO_EVENTS], Some(OPERATOR));
        let keys: HashMap<String, String> = printed
            .iter()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                match (words.next(), words.next(), words.next()) {
                    (Some(role), Some(token), None) if token.starts_with("lbk_") => {
                        Some((role.to_string(), token.to_string()))
                    }
                    _ => None,
                }
            })
            .collect();
        assert!(keys.contains_key("admin"), "the demo prints its keys: {printed:?}");
        assert!(
            printed.iter().any(|line| line.contains("/ui/")),
            "the demo prints where to open the viewer: {printed:?}"
        );
        let base = server.base.clone();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("a client");
        let mut events = HashMap::new();
        for (name, event) in known_events() {
            let url = format!("{base}/v1/workspaces/demo/events");
            let (status, answer) = post(&client, &url, &keys["publisher"], event).await.expect("ingest");
            assert_eq!(status, 201, "{answer}");
            let id = answer["events"][0]["id"].as_str().expect("an id").to_string();
            let stored: Value = client
                .get(format!("{base}/v1/workspaces/demo/events/{id}"))
                .bearer_auth(&keys["admin"])
                .send()
                .await
                .expect("the event")
                .json()
                .await
                .expect("JSON");
            events.insert(name, stored);
        }
        Some(World { server, base, keys, events, client, browser, _directory: directory })
    }

    /// The id of a known event.
    pub fn id(&self, name: &str) -> String {
        self.events[name]["id"].as_str().expect("an id").to_string()
    }

    /// A viewer token minted by the demo admin.
    pub async fn viewer_token(&self, roles: &[&str], record: Option<&str>) -> String {
        let mut body = json!({"actor": {"type": "user", "id": "U-HOST-1", "name": "Host User"}, "roles": roles});
        if let Some(record) = record {
            body["record"] = json!(record);
        }
        let url = format!("{}/v1/workspaces/demo/viewer-tokens", self.base);
        let (status, answer) = post(&self.client, &url, &self.keys["admin"], body).await.expect("a token");
        assert_eq!(status, 201, "{answer}");
        answer["token"].as_str().expect("a token").to_string()
    }

    /// Opens the viewer and signs in with the demo key of `role`.
    pub async fn sign_in(&self, role: &str) {
        self.browser.goto(&format!("{}/ui/", self.base)).await;
        self.browser.wait_for("document.body.dataset.state === 'signin'").await;
        self.browser.type_into("#sign-in-key", &self.keys[role]).await;
        self.browser.click("#sign-in-submit").await;
        self.wait_ready().await;
    }

    /// How many list loads the page has finished.
    pub async fn loads(&self) -> u64 {
        let value = self.browser.run("return Number(document.body.dataset.loads || 0)", vec![]).await;
        value.as_u64().unwrap_or(0)
    }

    /// Waits until the list is loaded and idle.
    pub async fn wait_ready(&self) {
        self.browser.wait_for("document.body.dataset.state === 'ready'").await;
    }

    /// Runs `action` and waits until it made the list load again.
    pub async fn reloads_after(&self, before: u64) {
        let condition =
            format!("Number(document.body.dataset.loads || 0) > {before} && document.body.dataset.state !== 'loading'");
        self.browser.wait_for(&condition).await;
    }

    /// Opens a hash route of the viewer and waits for its list.
    pub async fn open(&self, hash: &str) {
        let before = self.loads().await;
        self.browser.goto(&format!("{}/ui/{hash}", self.base)).await;
        self.browser
            .wait_for("document.body.dataset.state === 'ready' || document.body.dataset.state === 'error'")
            .await;
        let _ = before;
        self.wait_ready().await;
    }

    /// The rows of the table: each row's data attributes and cell texts.
    pub async fn rows(&self) -> Vec<Value> {
        let script = "return [...document.querySelectorAll('#feed-table tr.event-row')].map((row) => ({ \
            ...row.dataset, cells: [...row.cells].map((cell) => cell.innerText), \
            from: row.querySelector('.cell-from .value-text')?.textContent ?? null, \
            to: row.querySelector('.cell-to .value-text')?.textContent ?? null, \
            date: row.querySelector('time')?.textContent, utc: row.querySelector('time')?.title }))";
        self.browser.run(script, vec![]).await.as_array().expect("rows").clone()
    }

    /// The current URL's hash, decoded.
    pub async fn hash(&self) -> String {
        let value = self.browser.run("return decodeURIComponent(location.hash)", vec![]).await;
        value.as_str().unwrap_or_default().to_string()
    }

    /// Saves a screenshot to docs/screenshots when UPDATE_SCREENSHOTS is set.
    pub async fn screenshot(&self, name: &str) {
        if std::env::var_os("UPDATE_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.browser.screenshot().await;
        let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&directory).expect("the screenshots directory");
        std::fs::write(directory.join(format!("{name}.png")), png).expect("a screenshot");
    }
}
