//! Plausible record names and change values for each kind of action.

use logbook_core::ActionSpec;
use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Value, json};

use crate::people::Person;

const SUBJECTS: [&str; 10] = [
    "Refund not received",
    "Cannot log in to the app",
    "Invoice shows the wrong VAT",
    "Package arrived damaged",
    "How do I export my data?",
    "Cancel my subscription",
    "Password reset email never arrives",
    "Charged twice this month",
    "Feature request: dark mode",
    "Order stuck in processing",
];
const QUEUES: [&str; 6] = ["Billing", "Technical support", "Returns", "VIP", "Onboarding", "Spanish"];
const TAGS: [&str; 6] = ["urgent", "refund", "bug", "churn-risk", "vip", "feedback"];
const STATUSES: [&str; 5] = ["new", "open", "pending", "on_hold", "solved"];
const ROLES: [&str; 5] = ["agent", "supervisor", "grader", "admin", "setup"];

/// A record's id and display name for a type and a popularity rank.
pub(crate) fn record_identity(record_type: &str, rank: usize, people: &[Person]) -> (String, String) {
    match record_type {
        "ticket" => (format!("T-{}", 10_000 + rank), SUBJECTS[rank % SUBJECTS.len()].to_string()),
        "agent" | "user" => {
            let person = &people[rank % people.len()];
            (person.id.clone(), person.name.clone())
        }
        "queue" => {
            (format!("queue-{}", rank % 40), format!("{} {}", QUEUES[rank % QUEUES.len()], rank / QUEUES.len() + 1))
        }
        "tag" => (format!("tag-{}", rank % 60), format!("{}-{}", TAGS[rank % TAGS.len()], rank / TAGS.len())),
        "conversation" => {
            (format!("C-{}", 50_000 + rank), format!("Chat about {}", SUBJECTS[rank % SUBJECTS.len()].to_lowercase()))
        }
        other => (format!("{}-{}", other.replace('_', "-"), rank), format!("{} {}", title(other), rank + 1)),
    }
}

fn title(record_type: &str) -> String {
    let spaced = record_type.replace('_', " ");
    let mut characters = spaced.chars();
    characters.next().map(|first| first.to_uppercase().chain(characters).collect()).unwrap_or_default()
}

/// Whether events of this action record a failure.
pub(crate) fn is_failure(action: &str) -> bool {
    action.contains("failed") || action.contains("invalid") || action == "authz.denied"
}

/// One change with from/to values that fit the action.
pub(crate) fn change_for(rng: &mut SmallRng, spec: &ActionSpec) -> Value {
    let action = spec.action.as_str();
    let pick = |rng: &mut SmallRng, values: &[&str]| values[rng.random_range(0..values.len())].to_string();
    let two = |rng: &mut SmallRng, values: &[&str]| {
        let from = rng.random_range(0..values.len());
        let to = (from + rng.random_range(1..values.len())) % values.len();
        (json!(values[from]), json!(values[to]))
    };
    let (field, from, to) = if action.contains("capacity") {
        let from = rng.random_range(1..10);
        ("capacity", json!(from), json!(from + rng.random_range(1..5)))
    } else if action.contains("status") {
        let (from, to) = two(rng, &STATUSES);
        ("status", from, to)
    } else if action.contains("role") || action.contains("permission") {
        let (from, to) = two(rng, &ROLES);
        ("role", from, to)
    } else if action.contains("renamed") {
        let base = pick(rng, &QUEUES);
        ("name", json!(base.clone()), json!(format!("{base} (EMEA)")))
    } else if action.contains("assign") {
        (
            "assignee",
            json!(format!("U-{}", 1000 + rng.random_range(0..60))),
            json!(format!("U-{}", 1000 + rng.random_range(0..60))),
        )
    } else if action.contains("availability") {
        let (from, to) = two(rng, &["available", "away", "offline", "busy"]);
        ("availability", from, to)
    } else if action.contains("priority") {
        let from = rng.random_range(1..5);
        ("priority", json!(from), json!(from + 1))
    } else if action.contains("enabled") || action.contains("working_hours") {
        let from = rng.random_bool(0.5);
        ("enabled", json!(from), json!(!from))
    } else if action.contains("score") || action.starts_with("appeal") {
        let from = rng.random_range(50..90);
        ("score", json!(from), json!(from + rng.random_range(1..10)))
    } else {
        let (from, to) = two(rng, &["draft", "active", "archived", "paused"]);
        ("state", from, to)
    };
    json!({"field": field, "from": from, "to": to})
}
