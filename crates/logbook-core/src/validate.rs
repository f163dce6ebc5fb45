//! Validation of incoming events: from untrusted JSON to an [`EventBody`], with
//! every problem reported by field so that a 422 can list them all at once.
//!
//! Validation works on `serde_json::Value` rather than deriving `Deserialize`, so
//! that each problem names its exact field (`changes[2].field`) and so that one bad
//! field does not hide the others.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::catalog::{Catalog, CatalogMode, is_reserved, is_valid_action_name, is_valid_identifier};
use crate::event::{Actor, ActorType, Category, Change, Context, EventBody, Outcome, RecordRef};
use crate::timestamp::Timestamp;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldIssue {
    /// The field's path, such as `actor.id` or `changes[2].field`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldIssue {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldIssue {
        FieldIssue { field: field.into(), message: message.into() }
    }
}

/// The bounds an event must respect (DESIGN.md section 2; issue 2).
#[derive(Debug, Clone)]
pub struct Limits {
    /// The longest string, in characters, except the description.
    pub max_string_chars: usize,
    /// The longest description, in characters.
    pub max_description_chars: usize,
    /// The most entries in `changes`.
    pub max_changes: usize,
    /// The most entries in `related`.
    pub max_related: usize,
    /// The most keys in `metadata`.
    pub max_metadata_keys: usize,
    /// How deeply `metadata` (and each change value) may nest; the top object is 1.
    pub max_depth: usize,
    /// How far in the future `occurred_at` may be, in milliseconds.
    pub max_future_millis: i64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_string_chars: 1024,
            max_description_chars: 4096,
            max_changes: 100,
            max_related: 100,
            max_metadata_keys: 50,
            max_depth: 5,
            max_future_millis: 5 * 60 * 1000,
        }
    }
}

/// Fields a client sends.
const CLIENT_FIELDS: [&str; 11] = [
    "action",
    "occurred_at",
    "actor",
    "target",
    "related",
    "changes",
    "outcome",
    "context",
    "description",
    "metadata",
    "idempotency_key",
];

/// Fields only Logbook sets.
const ASSIGNED_FIELDS: [&str; 6] = ["id", "workspace", "seq", "received_at", "category", "leaf_hash"];

/// Validates one incoming event against the workspace's catalog. `now` is the
/// receipt time: it becomes `received_at`, and `occurred_at` when that is absent.
/// Logbook's own actions ([`LOGBOOK_ACTIONS`](crate::catalog::LOGBOOK_ACTIONS))
/// are refused: only Logbook records them.
pub fn validate_event(
    value: &Value,
    catalog: &Catalog<'_>,
    now: Timestamp,
    limits: &Limits,
) -> Result<EventBody, Vec<FieldIssue>> {
    validate(value, catalog, now, limits, false)
}

/// Validates an event that Logbook itself records about access to it (its
/// reserved actions are allowed).
pub fn validate_own_event(
    value: &Value,
    catalog: &Catalog<'_>,
    now: Timestamp,
    limits: &Limits,
) -> Result<EventBody, Vec<FieldIssue>> {
    validate(value, catalog, now, limits, true)
}

fn validate(
    value: &Value,
    catalog: &Catalog<'_>,
    now: Timestamp,
    limits: &Limits,
    own: bool,
) -> Result<EventBody, Vec<FieldIssue>> {
    let Some(object) = value.as_object() else {
        return Err(vec![FieldIssue::new("", "an event must be a JSON object")]);
    };
    let mut checker = Checker { issues: Vec::new(), limits };
    for key in object.keys() {
        if ASSIGNED_FIELDS.contains(&key.as_str()) {
            checker.fail(key, "is set by Logbook and must not be sent");
        } else if !CLIENT_FIELDS.contains(&key.as_str()) {
            checker.fail(key, format!("unknown field; allowed: {}", CLIENT_FIELDS.join(", ")));
        }
    }

    let action = checker.required_string(object, "action", "action", limits.max_string_chars);
    let mut category = Category::Activity;
    let mut expected_target_type = None;
    if let Some(action) = &action {
        if !is_valid_action_name(action) {
            checker.fail("action", "must be dotted lowercase words such as ticket.status_changed");
        } else if is_reserved(action) && !own {
            checker.fail("action", format!("{action} is recorded by Logbook itself and cannot be sent"));
        } else if let Some(spec) = catalog.lookup(action) {
            category = spec.category;
            expected_target_type = Some(spec.target_type.as_str());
        } else if catalog.mode() == CatalogMode::Strict {
            checker.fail("action", format!("{action} is not in the workspace's catalog (the catalog is strict)"));
        }
    }

    let actor = checker.actor(object.get("actor"));
    let target = checker.record(object.get("target"), "target", true);
    if let (Some(target), Some(expected)) = (&target, expected_target_type)
        && target.record_type != expected
    {
        checker.fail(
            "target.type",
            format!("{} applies to {expected} records, not {}", action.as_deref().unwrap_or(""), target.record_type),
        );
    }
    let related = checker.related(object.get("related"));
    let changes = checker.changes(object.get("changes"));
    let outcome = match present(object.get("outcome")) {
        None => Outcome::Success,
        Some(Value::String(text)) => Outcome::parse(text).unwrap_or_else(|| {
            checker.fail("outcome", "must be success or failure");
            Outcome::Success
        }),
        Some(_) => {
            checker.fail("outcome", "must be success or failure");
            Outcome::Success
        }
    };
    let context = checker.context(object.get("context"));
    let description = checker.optional_string(object, "description", "description", limits.max_description_chars);
    let metadata = checker.metadata(object.get("metadata"));
    let idempotency_key =
        checker.optional_string(object, "idempotency_key", "idempotency_key", limits.max_string_chars);
    if idempotency_key.as_deref() == Some("") {
        checker.fail("idempotency_key", "must not be empty");
    }
    let occurred_at = match checker.optional_string(object, "occurred_at", "occurred_at", 64) {
        None => now,
        Some(text) => match Timestamp::parse_rfc3339(&text) {
            Err(error) => {
                checker.fail("occurred_at", error.to_string());
                now
            }
            Ok(occurred_at) if occurred_at > now.plus_millis(limits.max_future_millis) => {
                checker.fail("occurred_at", "is more than 5 minutes in the future");
                now
            }
            Ok(occurred_at) => occurred_at,
        },
    };

    match (checker.issues.is_empty(), action, actor, target) {
        (true, Some(action), Some(actor), Some(target)) => Ok(EventBody {
            action,
            category,
            occurred_at,
            received_at: now,
            actor,
            target,
            related,
            changes,
            outcome,
            context,
            description,
            metadata,
            idempotency_key,
        }),
        _ => Err(checker.issues),
    }
}

/// Treats JSON `null` as absent.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|value| !value.is_null())
}

struct Checker<'a> {
    issues: Vec<FieldIssue>,
    limits: &'a Limits,
}

impl Checker<'_> {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.issues.push(FieldIssue::new(field, message));
    }

    fn string(&mut self, value: &Value, path: &str, max_chars: usize) -> Option<String> {
        match value {
            Value::String(text) if text.chars().count() > max_chars => {
                self.fail(path, format!("is longer than {max_chars} characters"));
                None
            }
            Value::String(text) => Some(text.clone()),
            _ => {
                self.fail(path, "must be a string");
                None
            }
        }
    }

    fn optional_string(
        &mut self,
        object: &Map<String, Value>,
        key: &str,
        path: &str,
        max_chars: usize,
    ) -> Option<String> {
        present(object.get(key)).and_then(|value| self.string(value, path, max_chars))
    }

    fn required_string(
        &mut self,
        object: &Map<String, Value>,
        key: &str,
        path: &str,
        max_chars: usize,
    ) -> Option<String> {
        match present(object.get(key)) {
            None => {
                self.fail(path, "is required");
                None
            }
            Some(value) => {
                let text = self.string(value, path, max_chars)?;
                if text.trim().is_empty() {
                    self.fail(path, "must not be empty");
                    return None;
                }
                Some(text)
            }
        }
    }

    fn object<'v>(&mut self, value: Option<&'v Value>, path: &str, allowed: &[&str]) -> Option<&'v Map<String, Value>> {
        let object = match present(value) {
            None => return None,
            Some(Value::Object(object)) => object,
            Some(_) => {
                self.fail(path, "must be an object");
                return None;
            }
        };
        for key in object.keys() {
            if !allowed.contains(&key.as_str()) {
                self.fail(format!("{path}.{key}"), format!("unknown field; allowed: {}", allowed.join(", ")));
            }
        }
        Some(object)
    }

    fn actor(&mut self, value: Option<&Value>) -> Option<Actor> {
        let Some(object) = self.object(value, "actor", &["type", "id", "name", "email", "role"]) else {
            if present(value).is_none() {
                self.fail("actor", "is required");
            }
            return None;
        };
        let max = self.limits.max_string_chars;
        let actor_type = match present(object.get("type")) {
            None => Some(ActorType::User),
            Some(Value::String(text)) => ActorType::parse(text).or_else(|| {
                self.fail("actor.type", format!("unknown actor type {text:?}; expected user, system or api"));
                None
            }),
            Some(_) => {
                self.fail("actor.type", "must be user, system or api");
                None
            }
        };
        let id = self.required_string(object, "id", "actor.id", max);
        let name = self.optional_string(object, "name", "actor.name", max);
        let email = self.optional_string(object, "email", "actor.email", max);
        let role = self.optional_string(object, "role", "actor.role", max);
        Some(Actor { actor_type: actor_type?, id: id?, name, email, role })
    }

    fn record(&mut self, value: Option<&Value>, path: &str, required: bool) -> Option<RecordRef> {
        let Some(object) = self.object(value, path, &["type", "id", "name"]) else {
            if required && present(value).is_none() {
                self.fail(path, "is required");
            }
            return None;
        };
        let max = self.limits.max_string_chars;
        let record_type = self.required_string(object, "type", &format!("{path}.type"), 64);
        if let Some(record_type) = &record_type
            && !is_valid_identifier(record_type)
        {
            self.fail(format!("{path}.type"), "must be a lowercase identifier such as ticket or agent_group");
        }
        let id = self.required_string(object, "id", &format!("{path}.id"), max);
        let name = self.optional_string(object, "name", &format!("{path}.name"), max);
        Some(RecordRef { record_type: record_type?, id: id?, name })
    }

    fn array<'v>(&mut self, value: Option<&'v Value>, path: &str, max_len: usize) -> &'v [Value] {
        match present(value) {
            None => &[],
            Some(Value::Array(items)) if items.len() > max_len => {
                self.fail(path, format!("has more than {max_len} entries"));
                &[]
            }
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.fail(path, "must be an array");
                &[]
            }
        }
    }

    fn related(&mut self, value: Option<&Value>) -> Vec<RecordRef> {
        let items = self.array(value, "related", self.limits.max_related);
        let mut related = Vec::with_capacity(items.len());
        for (position, item) in items.iter().enumerate() {
            let path = format!("related[{position}]");
            if item.is_null() {
                self.fail(path, "must be an object");
            } else if let Some(record) = self.record(Some(item), &path, true) {
                related.push(record);
            }
        }
        related
    }

    fn changes(&mut self, value: Option<&Value>) -> Vec<Change> {
        let items = self.array(value, "changes", self.limits.max_changes);
        let mut changes = Vec::with_capacity(items.len());
        for (position, item) in items.iter().enumerate() {
            let path = format!("changes[{position}]");
            let Some(object) = self.object(Some(item), &path, &["field", "from", "to"]) else {
                if item.is_null() {
                    self.fail(path, "must be an object");
                }
                continue;
            };
            let field = self.required_string(object, "field", &format!("{path}.field"), self.limits.max_string_chars);
            let from = object.get("from").cloned().unwrap_or(Value::Null);
            let to = object.get("to").cloned().unwrap_or(Value::Null);
            self.bounded_value(&from, &format!("{path}.from"), 1);
            self.bounded_value(&to, &format!("{path}.to"), 1);
            if let Some(field) = field {
                changes.push(Change { field, from, to });
            }
        }
        changes
    }

    fn context(&mut self, value: Option<&Value>) -> Context {
        let Some(object) = self.object(value, "context", &["ip", "user_agent", "request_id", "session_id"]) else {
            return Context::default();
        };
        let max = self.limits.max_string_chars;
        let ip = self.optional_string(object, "ip", "context.ip", max);
        let ip = ip.and_then(|ip| match ip.parse::<IpAddr>() {
            Ok(address) => Some(address.to_string()),
            Err(_) => {
                self.fail("context.ip", "must be an IPv4 or IPv6 address");
                None
            }
        });
        Context {
            ip,
            user_agent: self.optional_string(object, "user_agent", "context.user_agent", max),
            request_id: self.optional_string(object, "request_id", "context.request_id", max),
            session_id: self.optional_string(object, "session_id", "context.session_id", max),
        }
    }

    fn metadata(&mut self, value: Option<&Value>) -> Map<String, Value> {
        match present(value) {
            None => Map::new(),
            Some(Value::Object(object)) => {
                if object.len() > self.limits.max_metadata_keys {
                    self.fail("metadata", format!("has more than {} keys", self.limits.max_metadata_keys));
                }
                let value = present(value).cloned().unwrap_or_default();
                self.bounded_value(&value, "metadata", 1);
                object.clone()
            }
            Some(_) => {
                self.fail("metadata", "must be an object");
                Map::new()
            }
        }
    }

    /// Checks nesting depth and string lengths of free-form JSON; reports the first
    /// problem found under `path` only, so that one deep value is one issue.
    fn bounded_value(&mut self, value: &Value, path: &str, depth: usize) -> bool {
        let max_chars = self.limits.max_string_chars;
        let nested = |value: &Value| matches!(value, Value::Object(_) | Value::Array(_));
        if nested(value) && depth > self.limits.max_depth {
            self.fail(path, format!("is nested deeper than {} levels", self.limits.max_depth));
            return false;
        }
        match value {
            Value::String(text) if text.chars().count() > max_chars => {
                self.fail(path, format!("holds a string longer than {max_chars} characters"));
                false
            }
            Value::Number(number) if !is_exact_json_number(number) => {
                self.fail(path, "holds an integer beyond ±9007199254740991, which JSON cannot carry exactly");
                false
            }
            Value::Array(items) => items.iter().all(|item| self.bounded_value(item, path, depth + 1)),
            Value::Object(object) => object.iter().all(|(key, item)| {
                if key.chars().count() > max_chars {
                    self.fail(path, format!("holds a key longer than {max_chars} characters"));
                    return false;
                }
                self.bounded_value(item, path, depth + 1)
            }),
            _ => true,
        }
    }
}

/// Whether a JSON number survives every JSON reader unchanged (and so has one
/// canonical form): any float, and integers within ±(2^53 − 1).
fn is_exact_json_number(number: &serde_json::Number) -> bool {
    const MAX_SAFE: u64 = (1 << 53) - 1;
    match (number.as_u64(), number.as_i64()) {
        (Some(unsigned), _) => unsigned <= MAX_SAFE,
        (None, Some(signed)) => signed.unsigned_abs() <= MAX_SAFE,
        (None, None) => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalog::WorkspaceCatalog;

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn valid() -> Value {
        json!({
            "action": "ticket.status_changed",
            "actor": {"type": "user", "id": "u1", "name": "Ana"},
            "target": {"type": "ticket", "id": "T-42"},
            "changes": [{"field": "status", "from": "open", "to": "solved"}],
        })
    }

    /// Validates `event` in a strict default workspace and compares the fields
    /// named by the issues with `expected_fields` (empty for a valid event).
    fn check(event: Value, expected_fields: &[&str]) {
        let document = WorkspaceCatalog::default();
        let result = validate_event(&event, &Catalog::new(&document), NOW, &Limits::default());
        let fields: Vec<String> = match result {
            Ok(_) => vec![],
            Err(issues) => issues.into_iter().map(|issue| issue.field).collect(),
        };
        assert_eq!(fields, expected_fields, "validating {event}");
    }

    fn with(mut event: Value, pointer: &str, value: Value) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        event.pointer_mut(parent).unwrap().as_object_mut().unwrap().insert(key.to_string(), value);
        event
    }

    #[test]
    fn accepts_a_valid_event_and_fills_defaults() {
        let document = WorkspaceCatalog::default();
        let body = validate_event(&valid(), &Catalog::new(&document), NOW, &Limits::default()).unwrap();
        assert_eq!(body.occurred_at, NOW);
        assert_eq!(body.received_at, NOW);
        assert_eq!(body.outcome, Outcome::Success);
        assert_eq!(body.category, Category::Activity);
        check(valid(), &[]);
    }

    #[test]
    fn reports_each_bad_field() {
        let deep = json!({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}});
        let many: Map<String, Value> = (0..51).map(|key| (format!("k{key}"), json!(key))).collect();
        let long = "x".repeat(1025);
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (with(valid(), "/action", json!("Ticket Created")), vec!["action"]),
            (with(valid(), "/action", json!("nope.never_heard_of_it")), vec!["action"]),
            (with(valid(), "/actor/id", json!("")), vec!["actor.id"]),
            (with(valid(), "/actor/type", json!("robot")), vec!["actor.type"]),
            (with(valid(), "/target/type", json!("queue")), vec!["target.type"]),
            (with(valid(), "/actor/name", json!(long)), vec!["actor.name"]),
            (with(valid(), "/description", json!("y".repeat(4097))), vec!["description"]),
            (with(valid(), "/description", json!("y".repeat(4096))), vec![]),
            (with(valid(), "/metadata", deep), vec!["metadata"]),
            (with(valid(), "/metadata", json!({"a": {"b": {"c": {"d": 1}}}})), vec![]),
            (with(valid(), "/metadata", Value::Object(many)), vec!["metadata"]),
            (with(valid(), "/changes", json!(vec![json!({"field": "f"}); 101])), vec!["changes"]),
            (with(valid(), "/changes", json!([{"from": 1}])), vec!["changes[0].field"]),
            (with(valid(), "/occurred_at", json!("2030-01-01T00:00:00Z")), vec!["occurred_at"]),
            (with(valid(), "/occurred_at", json!("last tuesday")), vec!["occurred_at"]),
            (with(valid(), "/occurred_at", json!("2027-01-15T08:04:00Z")), vec![]),
            (with(valid(), "/outcome", json!("maybe")), vec!["outcome"]),
            (with(valid(), "/metadata", json!({"big": 9_007_199_254_740_992u64})), vec!["metadata"]),
            (
                with(valid(), "/changes", json!([{"field": "n", "from": -9_007_199_254_740_993i64, "to": 1.5}])),
                vec!["changes[0].from"],
            ),
            (with(valid(), "/metadata", json!({"ok": 9_007_199_254_740_991u64, "float": 1e300})), vec![]),
            (with(valid(), "/context", json!({"ip": "300.1.1.1"})), vec!["context.ip"]),
            (with(valid(), "/context", json!({"ip": "2001:db8::1", "browser": "x"})), vec!["context.browser"]),
            (with(valid(), "/seq", json!(4)), vec!["seq"]),
            (
                json!({"action": "api_key.revoked", "actor": {"id": "operator"}, "target": {"type": "api_key", "id": "k"}}),
                vec!["action"],
            ),
            (with(valid(), "/actoor", json!({})), vec!["actoor"]),
            (json!({"action": "ticket.created"}), vec!["actor", "target"]),
            (json!([1, 2]), vec![""]),
        ];
        for (event, fields) in cases {
            check(event, &fields);
        }
    }

    #[test]
    fn open_catalogs_accept_unknown_actions_as_activity() {
        let document = WorkspaceCatalog { mode: CatalogMode::Open, actions: vec![] };
        let event = with(valid(), "/action", json!("billing.invoice_paid"));
        let body = validate_event(&event, &Catalog::new(&document), NOW, &Limits::default()).unwrap();
        assert_eq!(body.category, Category::Activity);
    }
}
