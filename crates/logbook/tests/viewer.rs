//! The viewer in a real browser (headless Chromium through chromedriver), against
//! a real `logbook demo` server: signing in, every filter, the detail with its
//! diff and integrity proof, related events, timelines, exports, the embedded
//! viewer-token modes, hostile values, the keyboard and the phone layout. With
//! `UPDATE_SCREENSHOTS=1` it also saves the README's screenshots.

mod common;
mod viewer_fixture;
mod webdriver;

use serde_json::{Value, json};
use viewer_fixture::{CUSTOMER, IMG_PAYLOAD, LONG_AFTER, LONG_BEFORE, SCRIPT_PAYLOAD, TICKET, USER, World};
use webdriver::ENTER;

fn all(rows: &[Value], what: &str, check: impl Fn(&Value) -> bool) {
    assert!(!rows.is_empty(), "{what}: no rows");
    for row in rows {
        assert!(check(row), "{what}: a row does not match: {row}");
    }
}

fn field<'a>(row: &'a Value, name: &str) -> &'a str {
    row[name].as_str().unwrap_or_default()
}

/// Unfolds the filter panel, as a user clicking "Filters" does.
async fn show_filters(world: &World) {
    if world.browser.run("return document.getElementById('filters-panel').open", vec![]).await != true {
        world.browser.click("#filters-panel > summary").await;
    }
}

/// Applies the filter form and waits for the list.
async fn apply(world: &World) {
    show_filters(world).await;
    let before = world.loads().await;
    world.browser.click("#apply-filters").await;
    world.reloads_after(before).await;
    world.wait_ready().await;
}

/// Chooses an option of a filter select (which applies at once) and waits for the list.
async fn choose(world: &World, name: &str, value: &str) {
    let before = world.loads().await;
    world.browser.choose(&format!("#filter-{name}"), value).await;
    world.reloads_after(before).await;
    world.wait_ready().await;
}

/// Types into a filter's text field and applies the form.
async fn type_filter(world: &World, name: &str, value: &str) {
    show_filters(world).await;
    world.browser.type_into(&format!("#filter-{name}"), value).await;
    apply(world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_in_shows_the_feed_and_filters_by_each_filter() {
    let Some(world) = World::start().await else { return };
    let browser = &world.browser;

    // A wrong key is refused; a right one signs in, and stays out of the URL and of scripts' reach.
    browser.goto(&format!("{}/ui/", world.base)).await;
    browser.wait_for("document.body.dataset.state === 'signin'").await;
    browser.type_into("#sign-in-key", "lbk_nosuchkey_0000").await;
    browser.click("#sign-in-submit").await;
    browser.wait_for("!document.getElementById('sign-in-error').hidden").await;
    world.sign_in("admin").await;
    assert!(!browser.url().await.contains("lbk_"), "the key is not in the URL");
    assert_eq!(browser.run("return document.cookie", vec![]).await, json!(""), "the session cookie is HttpOnly");

    // The table: its columns, 50 rows newest first, dates local with UTC on hover.
    let headers = browser
        .run("return [...document.querySelectorAll('#feed-table th')].map((th) => th.textContent)", vec![])
        .await;
    assert_eq!(headers, json!(["Date", "Done by", "Event", "Item", "From", "To", "IP"]));
    let rows = world.rows().await;
    assert_eq!(rows.len(), 50);
    let times: Vec<&str> = rows.iter().map(|row| field(row, "occurredAt")).collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "newest first: {times:?}");
    let status =
        rows.iter().find(|row| field(row, "id") == world.id("status")).expect("the known event is on the first page");
    let occurred = world.events["status"]["occurred_at"].as_str().unwrap();
    assert_eq!(field(status, "utc"), occurred.replace('T', " ").replace('Z', " UTC"));
    let minute: u32 = occurred[14..16].parse().unwrap();
    assert!(
        field(status, "date").contains(&format!(":{:02}:", (minute + 30) % 60)),
        "local time in Asia/Kolkata: {status}"
    );
    assert!(status["cells"][1].as_str().unwrap().contains("Vera Viewer"), "{status}");
    assert_eq!(
        browser
            .run(
                "return document.querySelector(`tr[data-id='${arguments[0]}'] .badge`).textContent",
                vec![json!(world.id("status"))]
            )
            .await,
        "User"
    );
    assert_eq!(
        status["cells"][2].as_str().unwrap().lines().next(),
        Some("Ticket status changed"),
        "the catalog's label"
    );
    assert_eq!((field(status, "from"), field(status, "to")), ("open", "solved"));
    assert_eq!(status["cells"][6], "198.51.100.23");
    browser.wait_for("document.querySelectorAll('#activity-chart .chart-bar').length > 0").await;

    // Load more by cursor: 50 more, none repeated.
    let before = world.loads().await;
    browser.click("#load-more").await;
    world.reloads_after(before).await;
    let more = world.rows().await;
    assert_eq!(more.len(), 100);
    let ids: std::collections::BTreeSet<&str> = more.iter().map(|row| field(row, "id")).collect();
    assert_eq!(ids.len(), 100, "no event is shown twice");

    // Each filter, from a clean feed; each lands in the URL.
    world.open("#/").await;
    choose(&world, "actor_type", "system").await;
    all(&world.rows().await, "actor type", |row| field(row, "actorType") == "system");
    assert!(world.hash().await.contains("actor_type=system"));

    world.open("#/").await;
    type_filter(&world, "actor_id", USER).await;
    all(&world.rows().await, "done by", |row| field(row, "actorId") == USER);

    world.open("#/").await;
    choose(&world, "action", "ticket.status_changed").await;
    all(&world.rows().await, "event", |row| field(row, "action") == "ticket.status_changed");
    assert!(
        browser
            .run("return document.querySelector('.filter-chip[data-filter=action] .chip-value').textContent", vec![])
            .await
            == "Ticket status changed"
    );

    world.open("#/").await;
    choose(&world, "target_type", "queue").await;
    all(&world.rows().await, "item type", |row| field(row, "targetType") == "queue");

    // A specific item: the ticket's own events and the events related to it.
    world.open("#/?target_type=ticket").await;
    type_filter(&world, "record_id", TICKET).await;
    assert!(world.hash().await.contains(&format!("record=ticket:{TICKET}")));
    let rows = world.rows().await;
    assert_eq!(rows.len(), 3, "the status change, the update and the assignment: {rows:?}");

    world.open("#/").await;
    type_filter(&world, "target_id", TICKET).await;
    all(&world.rows().await, "item id", |row| field(row, "targetId") == TICKET);

    world.open("#/").await;
    type_filter(&world, "from_value", "open").await;
    all(&world.rows().await, "from", |row| world_changes(row).0 == "open");

    world.open("#/").await;
    type_filter(&world, "to_value", "solved").await;
    all(&world.rows().await, "to", |row| world_changes(row).1 == "solved");

    world.open("#/").await;
    type_filter(&world, "q", "printer fire").await;
    let rows = world.rows().await;
    all(&rows, "free text", |row| row["cells"][3].as_str().unwrap().contains("Printer on fire"));

    world.open("#/").await;
    choose(&world, "outcome", "failure").await;
    all(&world.rows().await, "outcome", |row| field(row, "outcome") == "failure");

    // Dates: a preset, and a custom range typed in local time.
    world.open("#/").await;
    choose(&world, "range", "1h").await;
    let now_millis = logbook_server::auth::now().as_millis();
    let within = |row: &Value, from: i64, to: i64| {
        let at = logbook_core::Timestamp::parse_rfc3339(field(row, "occurredAt")).unwrap().as_millis();
        at >= from && at < to
    };
    all(&world.rows().await, "last hour", |row| within(row, now_millis - 3_700_000, now_millis + 60_000));
    assert!(world.hash().await.contains("range=1h"));
    world.open("#/").await;
    show_filters(&world).await;
    browser.choose("#filter-range", "custom").await;
    let (from, to) = (now_millis - 20 * 86_400_000, now_millis - 10 * 86_400_000);
    let set_local = "const input = document.querySelector(arguments[0]); const date = new Date(arguments[1]); \
        input.value = new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);";
    browser.run(set_local, vec![json!("#filter-since"), json!(from)]).await;
    browser.run(set_local, vec![json!("#filter-until"), json!(to)]).await;
    apply(&world).await;
    let hash = world.hash().await;
    assert!(hash.contains("since=") && hash.contains("until="), "{hash}");
    all(&world.rows().await, "custom range", |row| within(row, from - 60_000, to + 60_000));

    // The log tabs, a chip's removal, and a bookmarked view restored.
    world.open("#/").await;
    let before = world.loads().await;
    browser.click(".tab[data-category=audit]").await;
    world.reloads_after(before).await;
    all(&world.rows().await, "audit tab", |row| field(row, "category") == "audit");
    world.open(&format!("#/?actor_type=user&target_id={TICKET}")).await;
    all(&world.rows().await, "bookmark", |row| field(row, "targetId") == TICKET && field(row, "actorType") == "user");
    assert_eq!(browser.run("return document.getElementById('filter-target_id').value", vec![]).await, TICKET);
    let before = world.loads().await;
    browser.click(".filter-chip[data-filter=actor_type] .chip-remove").await;
    world.reloads_after(before).await;
    assert!(!world.hash().await.contains("actor_type"));
    assert_eq!(world.rows().await.len(), 3, "the ticket's three events of the known set");
}

/// The From and To texts of a row's first change.
fn world_changes(row: &Value) -> (String, String) {
    (field(row, "from").to_string(), field(row, "to").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_details_follows_related_events_and_timelines_and_exports() {
    let Some(world) = World::start().await else { return };
    let browser = &world.browser;
    world.sign_in("admin").await;
    browser.resize(1440, 1100).await;
    world.screenshot("feed").await;
    browser.resize(1440, 900).await;

    // A row opens the detail: the line diff of a long text, the integrity proof checked in the browser.
    let long = world.id("long");
    browser.click(&format!("tr[data-id='{long}'] .cell-event")).await;
    browser.wait_for("document.getElementById('detail')?.dataset.state === 'ready'").await;
    assert!(world.hash().await.contains(&format!("event={long}")), "the open event is in the URL");
    let lines = browser
        .run("return [...document.querySelectorAll('#detail .diff-line')].map((line) => [line.dataset.kind, line.querySelector('.diff-text').textContent])", vec![])
        .await;
    assert_eq!(
        lines,
        json!([
            ["same", "Hello Ana,"],
            ["removed", "the printer is on fire."],
            ["added", "the printer was on fire; it is out now."],
            ["same", "Please advise."],
            ["same", "Regards"]
        ]),
        "diffed by line: {LONG_BEFORE:?} → {LONG_AFTER:?}"
    );
    browser.wait_for("document.getElementById('integrity').dataset.status !== 'checking'").await;
    let integrity = browser.run("const node = document.getElementById('integrity'); return [node.dataset.status, node.dataset.signature, node.textContent]", vec![]).await;
    assert_eq!((integrity[0].as_str(), integrity[1].as_str()), (Some("verified"), Some("valid")), "{integrity}");
    let raw: Value = serde_json::from_str(
        browser.run("return document.getElementById('raw-json').textContent", vec![]).await.as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(raw["id"], json!(long));
    assert_eq!(raw["changes"][0]["to"], json!(LONG_AFTER));
    assert!(
        browser
            .run("return document.getElementById('detail').textContent", vec![])
            .await
            .as_str()
            .unwrap()
            .contains("Nightly automation")
    );

    // Escape closes it and gives the focus back to the row.
    browser.press("\u{E00C}").await;
    browser.wait_for("!document.getElementById('detail')").await;
    assert!(!world.hash().await.contains("event="));
    assert_eq!(browser.run("return document.activeElement.dataset.id", vec![]).await, json!(long));

    // A short change shows before and after; its context and metadata are there; screenshot of the detail.
    let status = world.id("status");
    browser.click(&format!("tr[data-id='{status}'] .cell-date")).await;
    browser.wait_for("document.getElementById('detail')?.dataset.state === 'ready'").await;
    let pair = browser
        .run(
            "return [...document.querySelectorAll('#detail .diff-value code')].map((code) => code.textContent)",
            vec![],
        )
        .await;
    assert_eq!(pair, json!(["open", "solved"]));
    let text = browser.run("return document.getElementById('detail').innerText", vec![]).await;
    let text = text.as_str().unwrap();
    for expected in ["198.51.100.23", "Mozilla/5.0 (test)", "req-1", "channel", "email", "vera@example.com", "Initech"]
    {
        assert!(text.contains(expected), "the detail shows {expected}: {text}");
    }
    browser.wait_for("document.getElementById('integrity').dataset.status === 'verified'").await;
    world.screenshot("detail").await;

    // "View events related to this item" from the detail: the customer's timeline.
    let before = world.loads().await;
    browser.click(&format!("#detail [data-related='customer:{CUSTOMER}']")).await;
    world.reloads_after(before).await;
    world.wait_ready().await;
    assert!(browser.run("return !document.getElementById('detail')", vec![]).await == true);
    assert!(world.hash().await.starts_with(&format!("#/record/customer/{CUSTOMER}")));
    let rows = world.rows().await;
    let ids: Vec<&str> = rows.iter().map(|row| field(row, "id")).collect();
    assert_eq!(ids, vec![world.id("api"), world.id("status")], "the two events related to the customer, newest first");
    assert_eq!(browser.run("return document.querySelector('.title-name').textContent", vec![]).await, "Initech");

    // From a feed row: the item's related events; the ticket's timeline page.
    world.open("#/").await;
    let before = world.loads().await;
    browser.click(&format!("tr[data-id='{status}'] .related-link")).await;
    world.reloads_after(before).await;
    world.wait_ready().await;
    assert!(world.hash().await.starts_with(&format!("#/record/ticket/{TICKET}")));
    let rows = world.rows().await;
    assert_eq!(rows.len(), 3);
    assert_eq!(
        browser.run("return document.querySelector('.title-name').textContent", vec![]).await,
        "Printer on fire"
    );
    browser.wait_for("document.querySelector('#activity-chart')?.dataset.total === '3'").await;

    // Export of the current filter: the links carry it, and the cookie session downloads it.
    world.open(&format!("#/?action=ticket.status_changed,ticket.assigned&target_id={TICKET}")).await;
    let href = browser.run("return document.querySelector('[data-export=csv]').href", vec![]).await;
    let href = href.as_str().unwrap();
    assert!(href.contains("format=csv") && href.contains(&format!("target_id={TICKET}")), "{href}");
    let csv = browser
        .run_async("const done = arguments[arguments.length - 1]; fetch(document.querySelector('[data-export=csv]').href).then((r) => r.text()).then(done);", vec![])
        .await;
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("date,"), "{csv}");
    assert_eq!(csv.trim_end().lines().count(), 3, "a header and two events: {csv}");
    browser.click("[data-export=ndjson]").await;
    let downloaded = wait_for_download(&world, "ndjson").await;
    assert_eq!(downloaded.lines().count(), 2, "{downloaded}");

    // The keyboard: j focuses rows, Enter opens, Escape closes.
    world.open("#/").await;
    browser.run("document.activeElement.blur()", vec![]).await;
    browser.press("jj").await;
    let focused = browser.run("return document.activeElement.dataset.id", vec![]).await;
    let second = world.rows().await[1]["id"].clone();
    assert_eq!(focused, second);
    browser.press(ENTER).await;
    browser.wait_for("document.getElementById('detail')?.dataset.state === 'ready'").await;
    browser.press("\u{E00C}").await;
    browser.wait_for("!document.getElementById('detail')").await;

    // A phone: rows become cards, and the detail fills the screen.
    browser.resize(390, 844).await;
    world.open("#/").await;
    assert_eq!(
        browser.run("return getComputedStyle(document.querySelector('#feed-table thead')).display", vec![]).await,
        "none"
    );
    assert_eq!(
        browser.run("return document.documentElement.scrollWidth <= window.innerWidth", vec![]).await,
        true,
        "no sideways scrolling"
    );
    world.screenshot("feed-phone").await;

    // A role that may not export sees no export, and no audit log.
    browser.resize(1440, 900).await;
    browser.click("#sign-out").await;
    browser.wait_for("document.body.dataset.state === 'signin'").await;
    world.sign_in("supervisor").await;
    assert_eq!(browser.run("return document.querySelectorAll('[data-export]').length", vec![]).await, 0);
    assert_eq!(browser.run("return document.querySelectorAll('.tab').length", vec![]).await, 0);
    all(&world.rows().await, "supervisor", |row| field(row, "category") == "activity");

    // Revoking the key ends the session: the next load asks to sign in again.
    let key_id = world.keys["supervisor"].trim_start_matches("lbk_").split('_').next().unwrap().to_string();
    let revoked = world
        .client
        .delete(format!("{}/v1/workspaces/demo/keys/{key_id}", world.base))
        .bearer_auth(&world.keys["admin"])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    browser.goto(&format!("{}/ui/#/?q=printer", world.base)).await;
    browser.wait_for("document.body.dataset.state === 'signin'").await;
}

/// Waits for a file with this extension in the browser's download directory.
async fn wait_for_download(world: &World, extension: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let entries = std::fs::read_dir(world.browser.downloads.path()).expect("the download directory");
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|found| found == extension) {
                return std::fs::read_to_string(path).expect("the download");
            }
        }
        assert!(started.elapsed() < webdriver::WAIT, "no .{extension} file was downloaded");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_viewer_tokens_show_only_what_the_token_may_see() {
    let Some(world) = World::start().await else { return };
    let browser = &world.browser;

    // A supervisor's token: the activity log only, no export, no sign-in, the token gone from the URL.
    let token = world.viewer_token(&["supervisor"], None).await;
    browser.goto(&format!("{}/ui/?viewer_token={token}", world.base)).await;
    world.wait_ready().await;
    assert!(!browser.url().await.contains("viewer_token"), "the token leaves the URL at once");
    assert_eq!(browser.run("return document.body.classList.contains('embedded')", vec![]).await, true);
    all(&world.rows().await, "supervisor token", |row| field(row, "category") == "activity");
    assert_eq!(
        browser.run("return document.querySelectorAll('[data-export], .tab, #sign-out').length", vec![]).await,
        0
    );
    let status = world.id("status");
    world.open(&format!("#/?target_id={TICKET}&event={status}")).await;
    browser.wait_for("document.getElementById('detail')?.dataset.state === 'ready'").await;
    browser.wait_for("document.getElementById('integrity').dataset.status === 'verified'").await;

    // An auditor's token scoped to the ticket: that record's timeline only, whatever the URL asks.
    let token = world.viewer_token(&["auditor"], Some(&format!("ticket:{TICKET}"))).await;
    browser.goto(&format!("{}/ui/?viewer_token={token}", world.base)).await;
    world.wait_ready().await;
    assert!(world.hash().await.is_empty() || !world.hash().await.contains("viewer_token"));
    let rows = world.rows().await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(browser.run("return document.querySelectorAll('.back-link').length", vec![]).await, 0);
    world.open("#/?actor_type=user").await;
    assert_eq!(browser.run("return document.getElementById('page-title').textContent", vec![]).await, "Timeline");
    all(&world.rows().await, "scoped token", |row| {
        field(row, "targetId") == TICKET && field(row, "actorType") == "user"
    });
    // Links to other records are not offered; the exports carry the scope.
    world.open("#/").await;
    browser.click(&format!("tr[data-id='{status}'] .cell-event")).await;
    browser.wait_for("document.getElementById('detail')?.dataset.state === 'ready'").await;
    assert_eq!(
        browser
            .run(
                &format!("return document.querySelectorAll(\"#detail [data-related='customer:{CUSTOMER}']\").length"),
                vec![]
            )
            .await,
        0
    );
    browser.press("\u{E00C}").await;
    browser.wait_for("!document.getElementById('detail')").await;
    browser.click("[data-export=csv]").await;
    let csv = wait_for_download(&world, "csv").await;
    assert!(csv.starts_with("date,"), "{csv}");
    // Values may span lines; every record starts with its date.
    let records: Vec<&str> = csv.lines().filter(|line| line.starts_with("20")).collect();
    assert_eq!(records.len(), 3, "the ticket's three events: {csv}");
    assert!(records.iter().all(|line| line.contains(TICKET)), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_render_as_inert_text() {
    let Some(world) = World::start().await else { return };
    let browser = &world.browser;
    world.sign_in("admin").await;
    let hostile = world.id("hostile");
    world.open(&format!("#/?target_id=T-EVIL&event={hostile}")).await;
    browser.wait_for("document.getElementById('detail')?.dataset.state === 'ready'").await;
    let row =
        browser.run(&format!("return document.querySelector(\"tr[data-id='{hostile}']\").innerText"), vec![]).await;
    let row = row.as_str().unwrap();
    assert!(row.contains(SCRIPT_PAYLOAD) && row.contains(IMG_PAYLOAD), "shown as text: {row}");
    let detail = browser.run("return document.getElementById('detail').innerText", vec![]).await;
    let detail = detail.as_str().unwrap();
    assert!(detail.contains(SCRIPT_PAYLOAD) && detail.contains(IMG_PAYLOAD), "shown as text: {detail}");
    // Nothing ran, and no element came out of a value.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let checks = browser
        .run("return [window.__xss ?? null, document.querySelectorAll('main img, #detail img, main script, #detail script').length, \
              document.querySelectorAll('[onerror]').length]", vec![])
        .await;
    assert_eq!(checks, json!([null, 0, 0]));
    // The page forbids inline script in any case.
    let policy = browser
        .run_async("const done = arguments[arguments.length - 1]; fetch('/ui/').then((r) => done(r.headers.get('content-security-policy')));", vec![])
        .await;
    assert!(policy.as_str().unwrap().contains("script-src 'self'"), "{policy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_box_searches_with_the_query_language() {
    let Some(world) = World::start().await else { return };
    let browser = &world.browser;
    world.sign_in("admin").await;
    browser.type_into("#query-box", &format!("actor_type:system target:ticket:{TICKET}")).await;
    let before = world.loads().await;
    browser.press(ENTER).await;
    world.reloads_after(before).await;
    assert!(world.hash().await.contains("query=actor_type:system"), "{}", world.hash().await);
    let rows = world.rows().await;
    assert_eq!(rows.iter().map(|row| field(row, "id").to_string()).collect::<Vec<_>>(), vec![world.id("long")]);
    // A malformed query says so instead of showing stale rows.
    world.open("#/").await;
    browser.type_into("#query-box", "nosuchkey:value").await;
    let before = world.loads().await;
    browser.press(ENTER).await;
    world.reloads_after(before).await;
    browser.wait_for("document.getElementById('list-error')").await;
}
