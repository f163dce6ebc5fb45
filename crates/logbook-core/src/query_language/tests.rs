//! Parser tests: every key, exclusion, phrases and each error, through one
//! `check` helper that compares the filter a query reads into.

use super::*;
use crate::filter::EventFilter;

fn check(query: &str, expected: EventFilter) {
    assert_eq!(parse_query(query), Ok(expected), "{query}");
}

fn check_error(query: &str, position: usize, message_part: &str) {
    let error = parse_query(query).expect_err(query);
    assert_eq!(error.position, position, "{query}: {error}");
    assert!(error.message.contains(message_part), "{query}: {error}");
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

fn change(field: Option<&str>, from: Option<&str>, to: Option<&str>) -> ChangeFilter {
    ChangeFilter { field: field.map(String::from), from: from.map(String::from), to: to.map(String::from) }
}

fn time(text: &str) -> Option<Timestamp> {
    Some(Timestamp::parse_date_or_datetime(text).unwrap())
}

#[test]
fn every_key() {
    check(
        "action:ticket.created,ticket.*",
        EventFilter {
            actions: vec![ActionPattern::Exact("ticket.created".into()), ActionPattern::Prefix("ticket.".into())],
            ..EventFilter::default()
        },
    );
    check("actor:agent-7", EventFilter { actor_id: Some("agent-7".into()), ..EventFilter::default() });
    check("actor_type:api", EventFilter { actor_type: Some(ActorType::Api), ..EventFilter::default() });
    check(
        "target:ticket:T:42",
        EventFilter { target_type: Some("ticket".into()), target_id: Some("T:42".into()), ..EventFilter::default() },
    );
    check("target:ticket", EventFilter { target_type: Some("ticket".into()), ..EventFilter::default() });
    check("record:ticket:T-42", EventFilter { record: RecordKey::parse("ticket:T-42"), ..EventFilter::default() });
    check("field:status", EventFilter { change: change(Some("status"), None, None), ..EventFilter::default() });
    check("from:open", EventFilter { change: change(None, Some("open"), None), ..EventFilter::default() });
    check("to:5", EventFilter { change: change(None, None, Some("5")), ..EventFilter::default() });
    check("outcome:failure", EventFilter { outcome: Some(Outcome::Failure), ..EventFilter::default() });
    check("ip:2001:DB8::1", EventFilter { ip: Some("2001:db8::1".into()), ..EventFilter::default() });
    check("category:audit", EventFilter { categories: vec![Category::Audit], ..EventFilter::default() });
    check("after:2026-01-31", EventFilter { since: time("2026-01-31"), ..EventFilter::default() });
    check("before:2026-01-31T09:30:00Z", EventFilter { until: time("2026-01-31T09:30:00Z"), ..EventFilter::default() });
    check("ACTOR:a", EventFilter { actor_id: Some("a".into()), ..EventFilter::default() });
}

#[test]
fn terms_combine() {
    check(
        "field:status from:open to:\"on hold\" actor_type:user",
        EventFilter {
            actor_type: Some(ActorType::User),
            change: change(Some("status"), Some("open"), Some("on hold")),
            ..EventFilter::default()
        },
    );
    // A repeated part describes a second change; a repeated key both must hold.
    check(
        "to:open to:closed actor:a actor:b",
        EventFilter {
            actor_id: Some("a".into()),
            change: change(None, None, Some("open")),
            all_of: vec![
                EventFilter { actor_id: Some("b".into()), ..EventFilter::default() },
                EventFilter { change: change(None, None, Some("closed")), ..EventFilter::default() },
            ],
            ..EventFilter::default()
        },
    );
    check(
        "after:2026-01-01 after:2026-02-01 before:2026-03-01 before:2026-04-01",
        EventFilter { since: time("2026-02-01"), until: time("2026-03-01"), ..EventFilter::default() },
    );
    check("from:\"\"", EventFilter { change: change(None, Some(""), None), ..EventFilter::default() });
}

#[test]
fn exclusions() {
    check(
        "-action:ticket.* -actor_type:system -ip:10.0.0.1 -field:status",
        EventFilter {
            none_of: vec![
                EventFilter { actions: vec![ActionPattern::Prefix("ticket.".into())], ..EventFilter::default() },
                EventFilter { actor_type: Some(ActorType::System), ..EventFilter::default() },
                EventFilter { ip: Some("10.0.0.1".into()), ..EventFilter::default() },
                EventFilter { change: change(Some("status"), None, None), ..EventFilter::default() },
            ],
            ..EventFilter::default()
        },
    );
    check(
        "-spam -\"out of office\"",
        EventFilter {
            none_of: vec![
                EventFilter { text: strings(&["spam"]), ..EventFilter::default() },
                EventFilter { phrases: vec![strings(&["out", "of", "office"])], ..EventFilter::default() },
            ],
            ..EventFilter::default()
        },
    );
}

#[test]
fn free_text_and_phrases() {
    check("Billing T-42", EventFilter { text: strings(&["billing", "t", "42"]), ..EventFilter::default() });
    check(
        "  \"Ana  Lee\"   queue  ",
        EventFilter { text: strings(&["queue"]), phrases: vec![strings(&["ana", "lee"])], ..EventFilter::default() },
    );
    check(
        r#""say \"hi\" \\ now" actor:"agent 7""#,
        EventFilter {
            actor_id: Some("agent 7".into()),
            phrases: vec![strings(&["say", "hi", "now"])],
            ..EventFilter::default()
        },
    );
    check("a-b", EventFilter { text: strings(&["a", "b"]), ..EventFilter::default() });
    check("12:30", EventFilter { text: strings(&["12", "30"]), ..EventFilter::default() });
}

#[test]
fn errors_name_their_position() {
    check_error("", 1, "empty");
    check_error("   ", 1, "empty");
    check_error("actor:a colour:red", 9, "unknown key `colour`");
    check_error("action:", 8, "needs a value");
    check_error("to:open -", 9, "must be followed");
    check_error("- action:x", 1, "must be followed");
    check_error("actor:a \"open", 9, "never closed");
    check_error("field:\"due date", 7, "never closed");
    check_error("ab\"c", 3, "quote");
    check_error("\"ab\"c", 5, "space must follow");
    check_error("\"a\\b\"", 3, "backslash");
    check_error("\"...\"", 1, "no letters or digits");
    check_error("***", 1, "no letters or digits");
    check_error("action:Ticket", 8, "`Ticket` is not an action");
    check_error("action:ticket.created,", 8, "`` is not an action");
    check_error("actor_type:robot", 12, "actor_type is user, system or api");
    check_error("target::1", 8, "target reads");
    check_error("record:ticket", 8, "record reads");
    check_error("field:\"\"", 7, "`field` needs a value");
    check_error("outcome:maybe", 9, "outcome is success or failure");
    check_error("ip:10.0.0", 4, "not an IPv4 or IPv6 address");
    check_error("category:billing", 10, "category is activity or audit");
    check_error("after:yesterday", 7, "not a date");
    check_error("x before:2026-13-01", 10, "not a date");
    check_error(&"a".repeat(MAX_QUERY_LENGTH + 1), MAX_QUERY_LENGTH + 1, "at most 1000 characters");
    check_error(&"a ".repeat(MAX_TERMS + 1), MAX_TERMS * 2 + 1, "at most 50 terms");
    // Positions count characters, not bytes.
    check_error("Müller colour:red", 8, "unknown key");
}

#[test]
fn errors_read_well() {
    let error = parse_query("actor:a colour:red").unwrap_err();
    assert_eq!(
        error.to_string(),
        "query: at character 9: unknown key `colour`; the keys are action, actor, actor_type, target, record, field, \
         from, to, outcome, ip, category, after, before; put text with a colon in quotes to search for it"
    );
}
