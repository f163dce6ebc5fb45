//! The action catalog: for every action name, its category, the record type it
//! applies to, a label, a description template and a severity (DESIGN.md section 3).
//!
//! The default catalog is the data file `catalog/default.json`, compiled into the
//! binary; it covers every event the seed help-centre pages list. A workspace adds
//! or overrides entries with its own [`WorkspaceCatalog`], and chooses whether
//! unknown actions are refused (`strict`) or accepted as `activity` (`open`).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{Category, EventBody};
use crate::validate::FieldIssue;

/// How alarming an action is; used for display and, later, for alert rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Routine activity.
    Info,
    /// Worth a look in a review.
    Low,
    /// Changes access or configuration.
    Medium,
    /// Security-relevant: failed logins, privilege and token changes.
    High,
}

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// Dotted lowercase name, e.g. `queue.renamed`.
    pub action: String,
    /// `activity` or `audit`.
    pub category: Category,
    /// The record type events of this action must target.
    pub target_type: String,
    /// A short human label, e.g. "Queue renamed".
    pub label: String,
    /// Description template; placeholders `{actor}`, `{target}`, `{target_type}`,
    /// `{field}`, `{from}`, `{to}`.
    pub template: String,
    /// Whether events of this action are expected to carry `changes`.
    pub changes: bool,
    /// How alarming the action is.
    pub severity: Severity,
}

/// Whether a workspace refuses actions missing from its catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CatalogMode {
    /// Unknown actions are a 422.
    #[default]
    Strict,
    /// Unknown actions are accepted as `activity`.
    Open,
}

/// A workspace's own catalog document: its mode and the entries it adds to, or
/// overrides in, the default catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkspaceCatalog {
    /// `strict` (default) or `open`.
    #[serde(default)]
    pub mode: CatalogMode,
    /// Entries added to, or replacing entries of, the default catalog.
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
}

/// The placeholders a template may use.
pub const TEMPLATE_PLACEHOLDERS: [&str; 6] = ["actor", "target", "target_type", "field", "from", "to"];

/// The actions only Logbook records, about access to itself. Clients can neither
/// send them nor redefine them in a workspace catalog, so that they cannot be forged.
pub const LOGBOOK_ACTIONS: [&str; 8] = [
    "audit_log.viewed",
    "audit_log.exported",
    "api_key.created",
    "api_key.revoked",
    "authz.denied",
    "viewer_token.created",
    "workspace.settings_changed",
    "workspace.catalog_changed",
];

/// Whether only Logbook may record `action`.
pub fn is_reserved(action: &str) -> bool {
    LOGBOOK_ACTIONS.contains(&action)
}

/// The longest action name accepted.
pub const MAX_ACTION_LENGTH: usize = 128;

/// The most entries a workspace catalog may hold.
pub const MAX_WORKSPACE_ACTIONS: usize = 1000;

struct DefaultCatalog {
    actions: Vec<ActionSpec>,
    index: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct DefaultCatalogFile {
    version: u32,
    actions: Vec<ActionSpec>,
}

fn default_catalog() -> &'static DefaultCatalog {
    static CATALOG: OnceLock<DefaultCatalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let file: DefaultCatalogFile = serde_json::from_str(include_str!("../catalog/default.json"))
            .expect("catalog/default.json is checked by the crate's tests and must parse");
        assert_eq!(file.version, 1, "catalog/default.json has an unknown version");
        let index = file.actions.iter().enumerate().map(|(position, spec)| (spec.action.clone(), position)).collect();
        DefaultCatalog { actions: file.actions, index }
    })
}

/// Where a catalog entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum EntrySource {
    /// Logbook's built-in catalog.
    Default,
    /// The workspace's own catalog.
    Workspace,
}

/// The catalog in force for one workspace: its own entries over the default ones.
#[derive(Debug, Clone, Copy)]
pub struct Catalog<'a> {
    workspace: &'a WorkspaceCatalog,
}

impl<'a> Catalog<'a> {
    /// The catalog in force for a workspace with the given catalog document.
    pub fn new(workspace: &'a WorkspaceCatalog) -> Catalog<'a> {
        Catalog { workspace }
    }

    /// The built-in entries.
    pub fn default_actions() -> &'static [ActionSpec] {
        &default_catalog().actions
    }

    /// The workspace's mode.
    pub fn mode(&self) -> CatalogMode {
        self.workspace.mode
    }

    /// The entry for an action: the workspace's own if it has one, else the default.
    pub fn lookup(&self, action: &str) -> Option<&'a ActionSpec> {
        if let Some(spec) = self.workspace.actions.iter().find(|spec| spec.action == action) {
            return Some(spec);
        }
        let default = default_catalog();
        default.index.get(action).map(|&position| &default.actions[position])
    }

    /// Every entry in force, sorted by action name, with where it comes from.
    pub fn entries(&self) -> Vec<(&'a ActionSpec, EntrySource)> {
        let mut entries: Vec<(&'a ActionSpec, EntrySource)> =
            self.workspace.actions.iter().map(|spec| (spec, EntrySource::Workspace)).collect();
        for spec in &default_catalog().actions {
            if !self.workspace.actions.iter().any(|own| own.action == spec.action) {
                entries.push((spec, EntrySource::Default));
            }
        }
        entries.sort_by(|left, right| left.0.action.cmp(&right.0.action));
        entries
    }
}

/// Whether `name` is a dotted lowercase action name such as `ticket.status_changed`:
/// two or more segments of `[a-z][a-z0-9_]*`, at most 128 characters.
pub fn is_valid_action_name(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_ACTION_LENGTH {
        return false;
    }
    let segments: Vec<&str> = name.split('.').collect();
    segments.len() >= 2 && segments.iter().all(|segment| is_valid_identifier(segment))
}

/// Whether `name` is a lowercase identifier `[a-z][a-z0-9_]*`, as record types are.
pub fn is_valid_identifier(name: &str) -> bool {
    let mut characters = name.chars();
    matches!(characters.next(), Some('a'..='z'))
        && characters.all(|character| matches!(character, 'a'..='z' | '0'..='9' | '_'))
}

/// Checks a workspace catalog document before it is stored; every problem is
/// reported, each naming the entry (`actions[3].template`).
pub fn validate_workspace_catalog(catalog: &WorkspaceCatalog) -> Result<(), Vec<FieldIssue>> {
    let mut issues = Vec::new();
    if catalog.actions.len() > MAX_WORKSPACE_ACTIONS {
        issues.push(FieldIssue::new("actions", format!("at most {MAX_WORKSPACE_ACTIONS} entries are allowed")));
    }
    for (position, spec) in catalog.actions.iter().enumerate() {
        let field = |name: &str| format!("actions[{position}].{name}");
        if !is_valid_action_name(&spec.action) {
            issues.push(FieldIssue::new(
                field("action"),
                "must be dotted lowercase words such as ticket.status_changed (at most 128 characters)",
            ));
        }
        if is_reserved(&spec.action) {
            issues.push(FieldIssue::new(
                field("action"),
                format!("{} is recorded by Logbook itself and cannot be redefined", spec.action),
            ));
        }
        if catalog.actions[..position].iter().any(|earlier| earlier.action == spec.action) {
            issues.push(FieldIssue::new(field("action"), format!("{} appears more than once", spec.action)));
        }
        if !is_valid_identifier(&spec.target_type) || spec.target_type.len() > 64 {
            issues.push(FieldIssue::new(field("target_type"), "must be a lowercase identifier such as ticket"));
        }
        if spec.label.trim().is_empty() || spec.label.chars().count() > 200 {
            issues.push(FieldIssue::new(field("label"), "must be 1 to 200 characters"));
        }
        if let Err(message) = check_template(&spec.template, spec.changes) {
            issues.push(FieldIssue::new(field("template"), message));
        }
    }
    if issues.is_empty() { Ok(()) } else { Err(issues) }
}

/// Checks that a template's placeholders are known and that change placeholders
/// are only used by actions that carry changes.
pub fn check_template(template: &str, has_changes: bool) -> Result<(), String> {
    if template.chars().count() > 1024 {
        return Err("must be at most 1024 characters".to_string());
    }
    for placeholder in placeholders(template)? {
        if !TEMPLATE_PLACEHOLDERS.contains(&placeholder) {
            return Err(format!(
                "unknown placeholder {{{placeholder}}}; known: {}",
                TEMPLATE_PLACEHOLDERS.map(|known| format!("{{{known}}}")).join(", ")
            ));
        }
        if matches!(placeholder, "field" | "from" | "to") && !has_changes {
            return Err(format!("{{{placeholder}}} needs \"changes\": true"));
        }
    }
    Ok(())
}

fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| "has a { without a closing }".to_string())?;
        found.push(&after[..close]);
        rest = &after[close + 1..];
    }
    Ok(found)
}

/// The description shown for an event: its own when it has one, otherwise its
/// action's template filled in, otherwise a generic sentence.
pub fn describe(body: &EventBody, spec: Option<&ActionSpec>) -> String {
    if let Some(description) = &body.description {
        return description.clone();
    }
    let actor = body.actor.name.as_deref().unwrap_or(&body.actor.id);
    let target = body.target.name.as_deref().unwrap_or(&body.target.id);
    let Some(spec) = spec else {
        return format!("{actor} performed {} on {} {target}", body.action, body.target.record_type);
    };
    let first_change = body.changes.first();
    let mut rendered = String::with_capacity(spec.template.len() + 32);
    let mut rest = spec.template.as_str();
    while let Some(open) = rest.find('{') {
        rendered.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            rendered.push_str(&rest[open..]);
            rest = "";
            break;
        };
        match &after[..close] {
            "actor" => rendered.push_str(actor),
            "target" => rendered.push_str(target),
            "target_type" => rendered.push_str(&body.target.record_type.replace('_', " ")),
            "field" => rendered.push_str(first_change.map_or("a field", |change| change.field.as_str())),
            "from" => rendered.push_str(&display_value(first_change.map(|change| &change.from))),
            "to" => rendered.push_str(&display_value(first_change.map(|change| &change.to))),
            other => {
                rendered.push('{');
                rendered.push_str(other);
                rendered.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    rendered.push_str(rest);
    rendered
}

/// A change value as people read it: strings bare, nothing as "(none)", other JSON
/// as JSON.
pub fn display_value(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(none)".to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, ActorType, Change, Context, Outcome, RecordRef};
    use crate::timestamp::Timestamp;

    fn body(action: &str, changes: Vec<Change>) -> EventBody {
        EventBody {
            action: action.to_string(),
            category: Category::Activity,
            occurred_at: Timestamp::from_millis(0),
            received_at: Timestamp::from_millis(0),
            actor: Actor {
                actor_type: ActorType::User,
                id: "u1".into(),
                name: Some("Ana".into()),
                email: None,
                role: None,
            },
            target: RecordRef { record_type: "queue".into(), id: "q1".into(), name: Some("Billing".into()) },
            related: vec![],
            changes,
            outcome: Outcome::Success,
            context: Context::default(),
            description: None,
            metadata: Default::default(),
            idempotency_key: None,
        }
    }

    #[test]
    fn default_catalog_entries_are_valid() {
        let own: Vec<ActionSpec> =
            Catalog::default_actions().iter().filter(|spec| !is_reserved(&spec.action)).cloned().collect();
        let catalog = WorkspaceCatalog { mode: CatalogMode::Strict, actions: own };
        assert_eq!(validate_workspace_catalog(&catalog), Ok(()));
        for action in LOGBOOK_ACTIONS {
            assert!(
                Catalog::new(&WorkspaceCatalog::default()).lookup(action).is_some(),
                "{action} is in the default catalog"
            );
        }
        let reserved = Catalog::default_actions().iter().find(|spec| spec.action == "api_key.revoked").unwrap().clone();
        let forged = WorkspaceCatalog { mode: CatalogMode::Open, actions: vec![reserved] };
        assert_eq!(validate_workspace_catalog(&forged).unwrap_err()[0].field, "actions[0].action");
        assert!(Catalog::default_actions().len() >= 100);
    }

    #[test]
    fn workspace_entries_override_defaults() {
        let mut own = Catalog::default_actions()[0].clone();
        own.label = "Overridden".into();
        let document = WorkspaceCatalog { mode: CatalogMode::Open, actions: vec![own.clone()] };
        let catalog = Catalog::new(&document);
        assert_eq!(catalog.lookup(&own.action).map(|spec| spec.label.as_str()), Some("Overridden"));
        assert_eq!(catalog.entries().len(), Catalog::default_actions().len());
    }

    #[test]
    fn describes_with_templates() {
        let spec = ActionSpec {
            action: "queue.renamed".into(),
            category: Category::Audit,
            target_type: "queue".into(),
            label: "Queue renamed".into(),
            template: "{actor} renamed {target_type} {target} from {from} to {to}".into(),
            changes: true,
            severity: Severity::Low,
        };
        let change = Change { field: "name".into(), from: "Billing".into(), to: "Payments".into() };
        let rendered = describe(&body("queue.renamed", vec![change]), Some(&spec));
        assert_eq!(rendered, "Ana renamed queue Billing from Billing to Payments");
        assert_eq!(describe(&body("custom.thing", vec![]), None), "Ana performed custom.thing on queue Billing");
    }

    #[test]
    fn rejects_bad_templates_and_names() {
        assert!(check_template("{actor} did {what}", false).is_err());
        assert!(check_template("{actor} set {field}", false).is_err());
        assert!(check_template("{actor} set {field", true).is_err());
        assert!(check_template("{actor} set {field} to {to}", true).is_ok());
        assert!(is_valid_action_name("user.user.updated"));
        assert!(!is_valid_action_name("Ticket.created"));
        assert!(!is_valid_action_name("ticket"));
        assert!(!is_valid_action_name("ticket..created"));
    }
}
