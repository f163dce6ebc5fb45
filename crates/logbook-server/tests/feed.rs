//! The feed and record timelines through the real router: every filter and
//! random combinations of them against a plain in-memory evaluation, cursor
//! paging, cursor tampering, role visibility.

mod common;

use axum::http::{Method, StatusCode};
use common::{Backend, TestApp, event};
use logbook_core::Role;
use logbook_workload::{Workload, WorkloadConfig};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// The words of each part of an event that free text searches, read again here:
/// lowercase runs of letters and digits of its action, names, ids, change fields
/// and values, part by part. (The workload sends no descriptions of its own, and
/// the descriptions the feed shows are rendered from these parts.)
fn naive_parts(event: &Value) -> Vec<Vec<String>> {
    let text = |value: &Value| value.as_str().map_or_else(|| value.to_string(), str::to_string);
    let optional = |value: &Value| value.as_str().unwrap_or("").to_string();
    let mut texts =
        vec![optional(&event["action"]), optional(&event["actor"]["id"]), optional(&event["actor"]["name"])];
    let mut records = vec![&event["target"]];
    records.extend(event["related"].as_array().unwrap());
    for record in records {
        texts.push(optional(&record["id"]));
        texts.push(optional(&record["name"]));
    }
    for change in event["changes"].as_array().unwrap() {
        texts.extend([text(&change["field"]), text(&change["from"]), text(&change["to"])]);
    }
    texts.iter().map(|text| naive_words(text)).collect()
}

fn naive_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// A plain reading of one feed parameter (or query-language term), written
/// independently of the server.
fn naive_condition(event: &Value, name: &str, value: &str) -> bool {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string();
    match name {
        "category" => value.split(',').any(|category| category == text("/category")),
        "action" => value.split(',').any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => text("/action").starts_with(prefix),
            None => text("/action") == pattern,
        }),
        "actor_id" => text("/actor/id") == *value,
        "actor_type" => text("/actor/type") == *value,
        "target_type" => text("/target/type") == *value,
        "target_id" => text("/target/id") == *value,
        "target" => format!("{}:{}", text("/target/type"), text("/target/id")) == *value,
        "record" => {
            let (record_type, id) = value.split_once(':').unwrap();
            let mut records = vec![&event["target"]];
            records.extend(event["related"].as_array().unwrap());
            records.iter().any(|record| record["type"] == record_type && record["id"] == id)
        }
        "outcome" => text("/outcome") == *value,
        "ip" => text("/context/ip") == *value,
        "change" => {
            // field|from|to, each part optional (empty: any).
            let parts: Vec<&str> = value.split('|').collect();
            let as_text = |value: &Value| value.as_str().map_or_else(|| value.to_string(), str::to_string);
            event["changes"].as_array().unwrap().iter().any(|change| {
                (parts[0].is_empty() || change["field"] == parts[0])
                    && (parts[1].is_empty() || as_text(&change["from"]) == parts[1])
                    && (parts[2].is_empty() || as_text(&change["to"]) == parts[2])
            })
        }
        "q" => {
            let event_words: Vec<String> = naive_parts(event).into_iter().flatten().collect();
            naive_words(value).iter().all(|term| event_words.iter().any(|word| word.starts_with(term.as_str())))
        }
        "phrase" => {
            let phrase = naive_words(value);
            naive_parts(event).iter().any(|part| part.windows(phrase.len()).any(|window| window == phrase))
        }
        "since" => text("/occurred_at").as_str() >= value,
        "until" => text("/occurred_at").as_str() < value,
        other => panic!("no naive reading of {other}"),
    }
}

fn naive_matches(event: &Value, params: &[(&str, String)]) -> bool {
    params.iter().all(|(name, value)| naive_condition(event, name, value))
}

/// One term of a query-language string: whether it is excluded, and the naive
/// parameter it means.
type QueryTerm = (bool, &'static str, String);

fn naive_query_matches(event: &Value, terms: &[QueryTerm]) -> bool {
    terms.iter().all(|(excluded, name, value)| naive_condition(event, name, value) != *excluded)
}

/// A value as the query language writes it: bare, or quoted with `\"` and `\\`
/// escaped when it is empty or holds spaces or quotes.
fn query_value(value: &str) -> String {
    if !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c == '"') {
        return value.to_string();
    }
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The query-language text of terms. A change term is written as its `field`,
/// `from` and `to` parts (an excluded one has one part).
fn query_text(terms: &[QueryTerm]) -> String {
    let written: Vec<String> = terms
        .iter()
        .map(|(excluded, name, value)| {
            let sign = if *excluded { "-" } else { "" };
            match *name {
                "change" => {
                    let parts: Vec<&str> = value.split('|').collect();
                    ["field", "from", "to"]
                        .iter()
                        .zip(parts)
                        .filter(|(_, part)| !part.is_empty())
                        .map(|(key, part)| format!("{sign}{key}:{}", query_value(part)))
                        .collect::<Vec<_>>()
                        .join(" ")
                }
                "q" => format!("{sign}{value}"),
                "phrase" => format!("{sign}\"{value}\""),
                other => {
                    let key = match other {
                        "actor_id" => "actor",
                        "target_type" => "target",
                        "since" => "after",
                        "until" => "before",
                        same => same,
                    };
                    format!("{sign}{key}:{}", query_value(value))
                }
            }
        })
        .collect();
    written.join(" ")
}

/// Random query-language terms drawn from the sample, about a third excluded.
fn random_query(rng: &mut SmallRng, sample: &[Value]) -> Vec<QueryTerm> {
    let mut terms: Vec<QueryTerm> = Vec::new();
    for (name, value) in random_params(rng, sample) {
        if name == "target_id" {
            continue;
        }
        let excluded = rng.random_bool(0.35);
        let value = match (name, excluded) {
            // An excluded change is written with one part.
            ("change", true) => {
                let parts: Vec<&str> = value.split('|').collect();
                let given: Vec<usize> = (0..3).filter(|&index| !parts[index].is_empty()).collect();
                let keep = given[rng.random_range(0..given.len())];
                (0..3).map(|index| if index == keep { parts[index] } else { "" }).collect::<Vec<_>>().join("|")
            }
            _ => value,
        };
        terms.push((excluded, name, value));
    }
    let pick = |rng: &mut SmallRng| &sample[rng.random_range(0..sample.len())];
    if rng.random_bool(0.2) {
        let event = pick(rng);
        let target =
            format!("{}:{}", event["target"]["type"].as_str().unwrap(), event["target"]["id"].as_str().unwrap());
        terms.push((rng.random_bool(0.35), "target", target));
    }
    if rng.random_bool(0.35) {
        let parts: Vec<Vec<String>> = naive_parts(pick(rng)).into_iter().filter(|part| !part.is_empty()).collect();
        let part = &parts[rng.random_range(0..parts.len())];
        let length = rng.random_range(1..=part.len().min(3));
        let start = rng.random_range(0..=part.len() - length);
        let mut phrase = part[start..start + length].join(" ");
        if rng.random_bool(0.5) {
            phrase = phrase.to_uppercase();
        }
        terms.push((rng.random_bool(0.35), "phrase", phrase));
    }
    terms
}

/// The query parameters of one naive parameter (`change` is three of them).
fn to_query(name: &str, value: &str) -> Vec<String> {
    if name != "change" {
        return vec![format!("{name}={}", encode(value))];
    }
    let parts: Vec<&str> = value.split('|').collect();
    ["field", "from_value", "to_value"]
        .iter()
        .zip(parts)
        .filter(|(_, part)| !part.is_empty())
        .map(|(key, part)| format!("{key}={}", encode(part)))
        .collect()
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|event| event["seq"].as_u64().unwrap()).collect()
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.*,".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

async fn loaded_app(backend: Backend) -> (TestApp, Vec<Value>) {
    let app = TestApp::on(backend, &["acme", "beta"]).await;
    let now = logbook_server::auth::now();
    let mut config = WorkloadConfig::new(11, now.plus_millis(-20 * 86_400_000), now.plus_millis(-1000));
    config.people = 6;
    config.records_per_type = 10;
    let mut workload = Workload::new(config);
    let mut events = workload.events(800);
    // Ties in occurred_at exercise the seq tie-break.
    for pair in events.chunks_mut(9) {
        let shared = pair[0]["occurred_at"].clone();
        pair.last_mut().unwrap()["occurred_at"] = shared;
    }
    for chunk in events.chunks(400) {
        app.ingest("acme", chunk.to_vec()).await;
    }
    app.ingest("beta", workload.events(50)).await;
    // Opening a view of the audit log is itself recorded, once a minute per reader
    // and kind of view: each reader opens its views once here, so that the log
    // stays still for the rest of the test.
    for role in Role::ALL {
        let token = app.key("acme", role).to_string();
        app.call(Method::GET, "/v1/workspaces/acme/events?limit=1", Some(&token), None).await;
        app.call(Method::GET, "/v1/workspaces/acme/records/ticket/T-10000/events?limit=1", Some(&token), None).await;
        app.call(Method::GET, "/v1/workspaces/acme/stats?group_by=day", Some(&token), None).await;
    }
    let admin = app.key("acme", Role::Admin).to_string();
    let everything = app.all_pages("/v1/workspaces/acme/events?order=asc&limit=1000", &admin).await;
    let recorded = |action: &str| {
        everything.iter().filter(|event| event["action"] == action && event["seq"].as_u64() >= Some(800)).count()
    };
    // Four readers of the audit log opened a feed, a timeline and stats; the
    // publisher and the agent were denied all three.
    assert_eq!(
        (everything.len(), recorded("audit_log.viewed"), recorded("authz.denied")),
        (818, 12, 6),
        "800 events, 12 recorded views and 6 recorded denials"
    );
    (app, everything)
}

fn random_params(rng: &mut SmallRng, sample: &[Value]) -> Vec<(&'static str, String)> {
    let pick = |rng: &mut SmallRng| &sample[rng.random_range(0..sample.len())];
    let text = |event: &Value, pointer: &str| event.pointer(pointer).and_then(Value::as_str).unwrap().to_string();
    let mut params = Vec::new();
    if rng.random_bool(0.2) {
        params.push(("category", ["activity", "audit", "activity,audit"][rng.random_range(0..3)].to_string()));
    }
    if rng.random_bool(0.3) {
        let action = text(pick(rng), "/action");
        let prefix = format!("{}.*", action.split('.').next().unwrap());
        let other = text(pick(rng), "/action");
        params.push(("action", [action, prefix.clone(), format!("{prefix},{other}")][rng.random_range(0..3)].clone()));
    }
    for (name, pointer, probability) in [
        ("actor_id", "/actor/id", 0.3),
        ("actor_type", "/actor/type", 0.2),
        ("target_type", "/target/type", 0.3),
        ("target_id", "/target/id", 0.2),
    ] {
        if rng.random_bool(probability) {
            params.push((name, text(pick(rng), pointer)));
        }
    }
    if rng.random_bool(0.3) {
        let event = pick(rng);
        let mut records = vec![event["target"].clone()];
        records.extend(event["related"].as_array().unwrap().iter().cloned());
        let record = &records[rng.random_range(0..records.len())];
        params.push(("record", format!("{}:{}", record["type"].as_str().unwrap(), record["id"].as_str().unwrap())));
    }
    if rng.random_bool(0.25) {
        let event = pick(rng);
        let source = [
            text(event, "/action"),
            text(event, "/target/id"),
            event["target"]["name"].as_str().unwrap_or("ticket").to_string(),
        ][rng.random_range(0..3)]
        .clone();
        let words: Vec<String> =
            source.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_uppercase).collect();
        let word = &words[rng.random_range(0..words.len())];
        let prefix: String = word.chars().take(rng.random_range(1..=word.chars().count())).collect();
        params.push(("q", prefix));
    }
    if rng.random_bool(0.15) {
        params.push(("outcome", ["success", "failure"][rng.random_range(0..2)].to_string()));
    }
    if rng.random_bool(0.15) {
        params.push(("ip", text(pick(rng), "/context/ip")));
    }
    if rng.random_bool(0.3) {
        let with_changes: Vec<&Value> =
            sample.iter().filter(|event| !event["changes"].as_array().unwrap().is_empty()).collect();
        let change = &with_changes[rng.random_range(0..with_changes.len())]["changes"][0];
        let as_text = |value: &Value| value.as_str().map_or_else(|| value.to_string(), str::to_string);
        let field = if rng.random_bool(0.7) { change["field"].as_str().unwrap().to_string() } else { String::new() };
        let from = if rng.random_bool(0.5) { as_text(&change["from"]) } else { String::new() };
        let to = if rng.random_bool(0.5) || (field.is_empty() && from.is_empty()) {
            as_text(&change["to"])
        } else {
            String::new()
        };
        params.push(("change", format!("{field}|{from}|{to}")));
    }
    if rng.random_bool(0.3) {
        params.push(("since", text(pick(rng), "/occurred_at")));
    }
    if rng.random_bool(0.3) {
        params.push(("until", text(pick(rng), "/occurred_at")));
    }
    params
}

async fn random_filters_and_pages_match_a_naive_evaluation(backend: Backend) {
    let (app, everything) = loaded_app(backend).await;
    let admin = app.key("acme", Role::Admin).to_string();
    let mut rng = SmallRng::seed_from_u64(5);
    // Rounds whose query made a difference, and still matched something: the
    // test must not pass by comparing empty answers.
    let mut telling_queries = 0;
    for round in 0..200 {
        let terms = if rng.random_bool(0.6) { random_query(&mut rng, &everything) } else { Vec::new() };
        let params =
            if !terms.is_empty() && rng.random_bool(0.6) { Vec::new() } else { random_params(&mut rng, &everything) };
        let ascending = rng.random_bool(0.4);
        let limit = [1, 7, 50, 333][rng.random_range(0..4)];
        let mut expected: Vec<&Value> = everything
            .iter()
            .filter(|event| naive_matches(event, &params) && naive_query_matches(event, &terms))
            .collect();
        expected
            .sort_by_key(|event| (event["occurred_at"].as_str().unwrap().to_string(), event["seq"].as_u64().unwrap()));
        if !ascending {
            expected.reverse();
        }
        let without_query = everything.iter().filter(|event| naive_matches(event, &params)).count();
        if !expected.is_empty() && expected.len() < without_query {
            telling_queries += 1;
        }
        let mut query: Vec<String> = params.iter().flat_map(|(name, value)| to_query(name, value)).collect();
        if !terms.is_empty() {
            query.push(format!("query={}", encode(&query_text(&terms))));
        }
        query.push(format!("limit={limit}"));
        if ascending {
            query.push("order=asc".into());
        }
        let got = app.all_pages(&format!("/v1/workspaces/acme/events?{}", query.join("&")), &admin).await;
        let expected_seqs: Vec<u64> = expected.iter().map(|event| event["seq"].as_u64().unwrap()).collect();
        assert_eq!(
            seqs(&got),
            expected_seqs,
            "round {round}: {params:?} query {:?} limit {limit} ascending {ascending}",
            query_text(&terms)
        );

        // The same filter as a record timeline, when it names a record.
        if let Some((_, record)) = params.iter().find(|(name, _)| *name == "record") {
            let (record_type, id) = record.split_once(':').unwrap();
            let rest: Vec<String> = query.iter().filter(|part| !part.starts_with("record=")).cloned().collect();
            let path =
                format!("/v1/workspaces/acme/records/{}/{}/events?{}", encode(record_type), encode(id), rest.join("&"));
            assert_eq!(seqs(&app.all_pages(&path, &admin).await), expected_seqs, "timeline, round {round}");
        }
    }
    assert!(telling_queries >= 30, "only {telling_queries} rounds had a query that narrowed a non-empty answer");
}

async fn every_single_filter_matches_something_and_is_exact(backend: Backend) {
    let (app, everything) = loaded_app(backend).await;
    let admin = app.key("acme", Role::Admin).to_string();
    let sample = everything
        .iter()
        .find(|event| !event["related"].as_array().unwrap().is_empty())
        .expect("an event with related records");
    let text = |pointer: &str| sample.pointer(pointer).and_then(Value::as_str).unwrap().to_string();
    let related = &sample["related"][0];
    let filters: Vec<(&str, String)> = vec![
        ("category", "audit".into()),
        ("action", text("/action")),
        ("action", "ticket.*".into()),
        ("actor_id", text("/actor/id")),
        ("actor_type", "system".into()),
        ("target_type", text("/target/type")),
        ("target_id", text("/target/id")),
        ("record", format!("{}:{}", related["type"].as_str().unwrap(), related["id"].as_str().unwrap())),
        ("q", "Refund".into()),
        ("q", "queue renam".into()),
        ("outcome", "failure".into()),
        ("ip", text("/context/ip")),
        ("change", "status||".into()),
        ("change", "|open|".into()),
        ("change", "status|open|solved".into()),
        ("since", text("/occurred_at")),
        ("until", text("/occurred_at")),
    ];
    for (name, value) in filters {
        let params = vec![(name, value.clone())];
        let expected: std::collections::BTreeSet<u64> = everything
            .iter()
            .filter(|event| naive_matches(event, &params))
            .map(|event| event["seq"].as_u64().unwrap())
            .collect();
        assert!(
            !expected.is_empty() && expected.len() < everything.len(),
            "{name}={value} should match some events, not all"
        );
        let got = app
            .all_pages(&format!("/v1/workspaces/acme/events?{}&limit=1000", to_query(name, &value).join("&")), &admin)
            .await;
        assert_eq!(seqs(&got).into_iter().collect::<std::collections::BTreeSet<_>>(), expected, "{name}={value}");
    }
}

async fn cursors_are_stable_and_tamper_proof(backend: Backend) {
    let (app, everything) = loaded_app(backend).await;
    let admin = app.key("acme", Role::Admin).to_string();
    let first = app.call(Method::GET, "/v1/workspaces/acme/events?limit=100", Some(&admin), None).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    // Events that arrive while paging neither repeat nor shift the pages.
    app.ingest("acme", vec![event("ticket.created", "ticket", "T-NEW"); 30]).await;
    let mut paged = seqs(first.body["events"].as_array().unwrap());
    let mut next = Some(cursor.clone());
    while let Some(current) = next {
        let page = app
            .call(Method::GET, &format!("/v1/workspaces/acme/events?limit=100&cursor={current}"), Some(&admin), None)
            .await;
        paged.extend(seqs(page.body["events"].as_array().unwrap()));
        next = page.body["next_cursor"].as_str().map(str::to_string);
    }
    let mut expected = everything.clone();
    expected.sort_by_key(|event| {
        std::cmp::Reverse((event["occurred_at"].as_str().unwrap().to_string(), event["seq"].as_u64().unwrap()))
    });
    assert_eq!(paged, seqs(&expected), "exactly the events present when paging began, once each, in order");
    assert_eq!(paged.len(), 818);

    let mut tampered = cursor.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let beta_admin = app.key("beta", Role::Admin).to_string();
    let beta_cursor = app.call(Method::GET, "/v1/workspaces/beta/events?limit=10", Some(&beta_admin), None).await.body
        ["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    for (query, what) in [
        (format!("cursor={tampered}"), "a tampered cursor"),
        (format!("cursor={beta_cursor}"), "another workspace's cursor"),
        (format!("cursor={cursor}&order=asc"), "a cursor of another order"),
        ("cursor=bm9wZQ".to_string(), "a made-up cursor"),
    ] {
        let answer = app.call(Method::GET, &format!("/v1/workspaces/acme/events?{query}"), Some(&admin), None).await;
        assert_eq!((answer.status, answer.code()), (StatusCode::BAD_REQUEST, Some("invalid_parameter")), "{what}");
    }
}

async fn bad_parameters_are_named(backend: Backend) {
    let (app, _) = loaded_app(backend).await;
    let admin = app.key("acme", Role::Admin).to_string();
    for (query, mentions) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("order=sideways", "order"),
        ("category=secret", "category"),
        ("action=*", "action"),
        ("actor_type=robot", "actor_type"),
        ("record=ticket", "record"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("actor_id=", "actor_id"),
        ("q=%20-%20", "q"),
        ("outcome=maybe", "outcome"),
        ("ip=not-an-address", "ip"),
        ("field=", "field"),
        ("colour=red", "colour"),
    ] {
        let answer = app.call(Method::GET, &format!("/v1/workspaces/acme/events?{query}"), Some(&admin), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{query}: {message}");
    }
    let dated =
        app.call(Method::GET, "/v1/workspaces/acme/events?since=2020-01-01&until=2999-01-01", Some(&admin), None).await;
    assert_eq!(dated.status, StatusCode::OK);
}

async fn malformed_queries_name_the_position(backend: Backend) {
    let (app, _) = loaded_app(backend).await;
    let admin = app.key("acme", Role::Admin).to_string();
    for (query, position, mentions) in [
        ("actor:a colour:red", 9, "unknown key `colour`"),
        ("action:ticket.* \"open", 17, "never closed"),
        ("to:open -", 9, "must be followed"),
        ("after:yesterday", 7, "not a date"),
        ("", 1, "empty"),
    ] {
        let path = format!("/v1/workspaces/acme/events?query={}", encode(query));
        let answer = app.call(Method::GET, &path, Some(&admin), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.body["error"]["code"], "invalid_parameter");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("at character {position}")) && message.contains(mentions), "{message}");
        let detail = &answer.body["error"]["details"][0];
        assert_eq!((detail["field"].as_str(), detail["position"].as_u64()), (Some("query"), Some(position as u64)));
        // Stats and exports read the same filters, and refuse the same way.
        for other in ["stats?group_by=day&", "export?format=csv&"] {
            let path = format!("/v1/workspaces/acme/{other}query={}", encode(query));
            assert_eq!(
                app.call(Method::GET, &path, Some(&admin), None).await.status,
                StatusCode::BAD_REQUEST,
                "{path}"
            );
        }
    }
}

async fn a_query_cannot_widen_what_a_caller_sees(backend: Backend) {
    let (app, everything) = loaded_app(backend).await;
    let supervisor = app.key("acme", Role::Supervisor).to_string();
    let audit = everything.iter().filter(|event| event["category"] == "audit").count();
    assert!(audit > 0);
    for query in ["category:audit", "-category:activity", "category:audit,activity"] {
        let path = format!("/v1/workspaces/acme/events?limit=1000&query={}", encode(query));
        let got = app.all_pages(&path, &supervisor).await;
        assert!(got.iter().all(|event| event["category"] == "activity"), "{query}");
    }
    let scoped = app
        .call(
            Method::POST,
            "/v1/workspaces/acme/viewer-tokens",
            Some(app.key("acme", Role::Admin)),
            Some(serde_json::json!({"actor": {"id": "u-9"}, "roles": ["admin"], "record": "ticket:T-10000"})),
        )
        .await;
    let token = scoped.body["token"].as_str().unwrap().to_string();
    let path = format!("/v1/workspaces/acme/events?limit=1000&query={}", encode("-record:ticket:T-10000"));
    assert!(app.all_pages(&path, &token).await.is_empty(), "a record-scoped token sees its record only");
}

async fn roles_see_only_their_categories(backend: Backend) {
    let (app, everything) = loaded_app(backend).await;
    let count = |category: &str| everything.iter().filter(|event| event["category"] == category).count();
    for (role, expected) in [
        (Role::Supervisor, count("activity")),
        (Role::Setup, count("audit")),
        (Role::Auditor, everything.len()),
        (Role::Admin, everything.len()),
    ] {
        let got = app.all_pages("/v1/workspaces/acme/events?limit=1000", app.key("acme", role)).await;
        assert_eq!(got.len(), expected, "{role:?}");
    }
    for role in [Role::Publisher, Role::Agent] {
        let answer = app.call(Method::GET, "/v1/workspaces/acme/events", Some(app.key("acme", role)), None).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{role:?}");
    }
    let supervisor = app.key("acme", Role::Supervisor);
    let audit = everything.iter().find(|event| event["category"] == "audit").unwrap();
    let activity = everything.iter().find(|event| event["category"] == "activity").unwrap();
    let hidden = app
        .call(
            Method::GET,
            &format!("/v1/workspaces/acme/events/{}", audit["id"].as_str().unwrap()),
            Some(supervisor),
            None,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "a hidden category looks absent");
    let shown = app
        .call(
            Method::GET,
            &format!("/v1/workspaces/acme/events/{}", activity["id"].as_str().unwrap()),
            Some(supervisor),
            None,
        )
        .await;
    assert_eq!(shown.body, *activity);
    let elsewhere = app
        .call(
            Method::GET,
            &format!("/v1/workspaces/acme/events/{}", activity["id"].as_str().unwrap()),
            Some(app.key("beta", Role::Admin)),
            None,
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    let audit_only = app.all_pages("/v1/workspaces/acme/events?category=audit&limit=1000", supervisor).await;
    assert!(audit_only.is_empty(), "asking for a hidden category returns nothing");
}

async fn stats_count_what_the_feed_would_return(backend: Backend) {
    let (app, everything) = loaded_app(backend).await;
    let admin = app.key("acme", Role::Admin).to_string();
    let supervisor = app.key("acme", Role::Supervisor).to_string();
    let mut rng = SmallRng::seed_from_u64(17);
    for (round, group_by) in ["action", "actor", "target_type", "day", "hour"].iter().cycle().take(25).enumerate() {
        let params = if round % 5 == 0 { Vec::new() } else { random_params(&mut rng, &everything) };
        let terms = if round % 3 == 1 { random_query(&mut rng, &everything) } else { Vec::new() };
        let mut query: Vec<String> = params.iter().flat_map(|(name, value)| to_query(name, value)).collect();
        if !terms.is_empty() {
            query.push(format!("query={}", encode(&query_text(&terms))));
        }
        query.push(format!("group_by={group_by}"));
        let token = if round % 2 == 0 { &admin } else { &supervisor };
        let answer =
            app.call(Method::GET, &format!("/v1/workspaces/acme/stats?{}", query.join("&")), Some(token), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        let seen = if token == &admin { vec!["activity", "audit"] } else { vec!["activity"] };
        let mut want: std::collections::BTreeMap<String, u64> = Default::default();
        for event in everything
            .iter()
            .filter(|event| naive_matches(event, &params) && naive_query_matches(event, &terms))
            .filter(|event| seen.contains(&event["category"].as_str().unwrap()))
        {
            let occurred_at = event["occurred_at"].as_str().unwrap();
            let key = match *group_by {
                "action" => event["action"].as_str().unwrap().to_string(),
                "actor" => event["actor"]["id"].as_str().unwrap().to_string(),
                "target_type" => event["target"]["type"].as_str().unwrap().to_string(),
                "day" => occurred_at[..10].to_string(),
                _ => format!("{}:00Z", &occurred_at[..13]),
            };
            *want.entry(key).or_default() += 1;
        }
        let groups = answer.body["groups"].as_array().unwrap();
        let got: std::collections::BTreeMap<String, u64> = groups
            .iter()
            .map(|group| (group["key"].as_str().unwrap().to_string(), group["count"].as_u64().unwrap()))
            .collect();
        assert_eq!(got, want, "round {round} by {group_by}: {params:?} {:?}", query_text(&terms));
        assert_eq!(answer.body["total"].as_u64(), Some(want.values().sum::<u64>()));
        let keys: Vec<&str> = groups.iter().map(|group| group["key"].as_str().unwrap()).collect();
        if ["day", "hour"].contains(group_by) {
            assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "time groups come in order");
        } else {
            let counts: Vec<u64> = groups.iter().map(|group| group["count"].as_u64().unwrap()).collect();
            assert!(counts.windows(2).all(|pair| pair[0] >= pair[1]), "the largest groups come first");
        }
    }
    for query in ["", "group_by=week", "group_by=action&limit=5", "group_by=action&cursor=x"] {
        let answer = app.call(Method::GET, &format!("/v1/workspaces/acme/stats?{query}"), Some(&admin), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
    }
}

on_both_backends! {
    random_filters_and_pages_match_a_naive_evaluation,
    every_single_filter_matches_something_and_is_exact,
    cursors_are_stable_and_tamper_proof,
    bad_parameters_are_named,
    malformed_queries_name_the_position,
    a_query_cannot_widen_what_a_caller_sees,
    roles_see_only_their_categories,
    stats_count_what_the_feed_would_return,
}
