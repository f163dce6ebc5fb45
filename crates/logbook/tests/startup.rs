//! What `logbook serve` and `logbook demo` set up and print at start: the operator
//! token (generated once, saved 0600, shown once) and the demo workspace.

mod common;

use common::{Server, get_text};
use serde_json::Value;

#[test]
fn a_generated_operator_token_is_saved_privately_and_shown_once() {
    let directory = tempfile::tempdir().unwrap();
    let (mut first, printed) = Server::start_with(directory.path(), &["serve"], None);
    let shown =
        printed.iter().find(|line| line.contains("operator token (saved in")).expect("the new token is shown").clone();
    first.kill();
    let token = shown.rsplit(' ').next().unwrap().to_string();
    let file = directory.path().join("admin-token");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&directory.path().join("log-key")), 0o600);
        assert_eq!(
            mode(&directory.path().join("logbook.sqlite3")),
            0o600,
            "the database holds personal data and secrets"
        );
    }
    let (mut second, printed) = Server::start_with(directory.path(), &["serve"], None);
    assert!(printed.iter().all(|line| !line.contains(&token)), "the token is shown only when generated: {printed:?}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let answer = runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/workspaces", second.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    });
    second.kill();
    assert_eq!(answer, 200, "the saved token is the operator's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_fills_a_workspace_and_prints_a_key_per_role() {
    let directory = tempfile::tempdir().unwrap();
    let (server, printed) =
        Server::start_with(directory.path(), &["demo", "--demo-events", "3000"], Some(common::OPERATOR));
    let key = |role: &str| {
        printed
            .iter()
            .find_map(|line| line.trim().strip_prefix(role).map(|rest| rest.trim().to_string()))
            .unwrap_or_else(|| panic!("no {role} key in {printed:?}"))
    };
    for role in ["publisher", "agent", "supervisor", "setup", "auditor", "admin", "superadmin"] {
        assert!(key(role).starts_with("lbk_"), "{role}");
    }
    let client = reqwest::Client::new();
    let base = &server.base;
    let workspaces: Value =
        serde_json::from_str(&get_text(&client, &format!("{base}/v1/workspaces"), common::OPERATOR).await).unwrap();
    assert_eq!(workspaces["workspaces"][0]["event_count"], 3000);
    let page: Value = serde_json::from_str(
        &get_text(&client, &format!("{base}/v1/workspaces/demo/events?limit=1000"), &key("admin")).await,
    )
    .unwrap();
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1000);
    let actions: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|event| event["action"].as_str()).collect();
    assert!(actions.len() > 80, "the demo spans the catalog: {} actions in 1000 events", actions.len());
    let oldest = events.last().unwrap()["occurred_at"].as_str().unwrap().to_string();
    let newest = events[0]["occurred_at"].as_str().unwrap().to_string();
    assert!(newest > oldest);
    assert!(
        printed.iter().any(|line| line.contains(&format!("{base}/v1/workspaces/demo/events"))),
        "it prints where to look"
    );
}
