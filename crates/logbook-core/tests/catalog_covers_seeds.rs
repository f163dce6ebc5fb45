//! Checks the default action catalog (`catalog/default.json`) against the catalog rules
//! of DESIGN.md section 3 and against every event bullet of the seed help-centre pages.
//!
//! The test reads the JSON file directly and uses no `logbook_core` API, so that it keeps
//! working while the crate's types change.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The path of the default catalog, relative to this crate.
const CATALOG_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/catalog/default.json");

/// The keys every action object has, and no others.
#[rustfmt::skip]
const ACTION_KEYS: &[&str] =
    &["action", "category", "target_type", "label", "template", "changes", "severity"];
const CATEGORIES: &[&str] = &["activity", "audit"];
const SEVERITIES: &[&str] = &["info", "low", "medium", "high"];
const PLACEHOLDERS: &[&str] = &["actor", "target", "target_type", "field", "from", "to"];
/// Placeholders that only make sense when the event carries `changes`.
const CHANGE_PLACEHOLDERS: &[&str] = &["field", "from", "to"];
const MAX_ACTION_LEN: usize = 128;
const MIN_ACTIONS: usize = 100;

/// Logbook's own audit actions, which are not in any seed page.
#[rustfmt::skip]
const LOGBOOK_ACTIONS: &[&str] = &[
    "audit_log.viewed", "audit_log.exported", "api_key.created", "api_key.revoked",
    "authz.denied", "viewer_token.created",
    "workspace.settings_changed", "workspace.catalog_changed",
];

/// One row per event bullet of the five seed pages: the bullet as the page words it, and
/// the catalog action that records it. A bullet naming several events has several rows.
#[rustfmt::skip]
const SEED_EVENTS: &[(&str, &str)] = &[
    // Seed 000 (MaestroQA, "What can I track in the Activity Log?").
    ("Agents: Adding new agents", "agent.created"),
    ("Agents: Updating agent availability", "agent.availability_updated"),
    ("Agents: Deleting agents", "agent.deleted"),
    ("Agent Groups: Adding/Creating new agent groups", "agent_group.created"),
    ("Agent Groups: Updating what users are in the agent group", "agent_group.members_updated"),
    ("Agent Groups: Deleting the agent group", "agent_group.deleted"),
    ("Users: Adding new users", "user.created"),
    ("Users: Updating a user's \"User Role\"", "user.role_changed"),
    ("Users: Deleting a user from Maestro", "user.deleted"),
    ("Tickets: Adding tickets (manual tickets)", "ticket.created"),
    ("Tickets: Updating tickets", "ticket.updated"),
    ("Tickets: Deleting Tickets", "ticket.deleted"),
    ("Files (Audio): Adding file to a ticket", "ticket.file_attached"),
    ("Files (Audio): Deleting files from tickets", "file.deleted"),
    ("Files (Audio): When a file is played", "file.played"),
    ("Files (Audio): When a file is downloaded", "file.downloaded"),
    ("Scores: Adding scores to a ticket", "score.created"),
    ("Scores: Updating a score", "score.updated"),
    ("Scores: Deleting a score", "score.deleted"),
    ("Scores: Emailing a score", "score.emailed"),
    ("Scores: Printing a score", "score.printed"),
    ("Scores: When a user starts grading a ticket", "score.grading_started"),
    ("Appeals: Adding an appeal score", "appeal.created"),
    ("Appeals: Updating the appeal status", "appeal.status_updated"),
    ("Appeals: Deleting an appeal", "appeal.deleted"),
    ("Log In: Track when user log in and log out", "user.logged_in"),
    ("Log In: Track when user log in and log out", "user.logged_out"),
    ("Rubric: Adding a new rubric", "rubric.created"),
    ("Rubric: Updating a rubric", "rubric.updated"),
    ("Rubric: Deleting a rubric", "rubric.deleted"),
    ("Automation: Creation date of new automation", "automation.created"),
    ("Automation: Updating functionality of automation", "automation.updated"),
    ("Automation: Deleting an automation", "automation.deleted"),
    ("Automation: Automation run time", "automation.ran"),
    ("Reporting: Adding a new custom report", "report.created"),
    ("Reporting: Updating a report", "report.updated"),
    ("Reporting: Exporting a report", "report.exported"),
    ("Display Settings: Any changes regarding updating view access", "display_settings.updated"),
    ("Maestro API Tokens: Adding a Maestro API Token", "api_token.created"),
    ("Maestro API Tokens: Removing Maestro API Token", "api_token.removed"),
    ("Ticket Review: Adding a ticket to a Ticket Review", "ticket_review.ticket_added"),
    ("Ticket Review: Removing a ticket from a Ticket Review", "ticket_review.ticket_removed"),
    ("Ticket Review: Check updates in a Ticket Review", "ticket_review.updated"),
    // Seed 001 (Playvox audit logs).
    ("Login fail", "user.login_failed"),
    ("Login success", "user.login_succeeded"),
    ("Update to a user profile", "user.user.updated"),
    ("Update to a user role", "user.role_changed"),
    ("Login failed with a valid email", "user.login_failed_valid_email"),
    ("Recovered password with incorrect email address", "user.password_recovered_invalid_email"),
    ("Recovered password with valid email address", "user.password_recovered"),
    ("Register an event when a new User is created", "user.created"),
    ("Register an event when a new Team is created", "team.created"),
    ("Register an event when a new Role is created", "role.created"),
    ("Register an event when a new User is updated", "user.user.updated"),
    ("Register an event when a new Team is updated", "team.updated"),
    ("Register an event when a new Role is updated", "role.updated"),
    ("Register an event when a new Team is deleted", "team.deleted"),
    ("Register an event when a new Role is deleted", "role.deleted"),
    ("Register an event when a user is deactivated or activated", "user.deactivated"),
    ("Register an event when a user is deactivated or activated", "user.activated"),
    ("Register an event when a user is assigned to a Team", "user.team.updated"),
    ("Register an event when a Role changes", "user.role_changed"),
    ("Export quality overview", "export.quality_overview"),
    ("Export calibration", "export.calibration"),
    ("Export calibration reports", "export.calibration_reports"),
    ("Export disputes", "export.disputes"),
    ("Export coaching sessions", "export.coaching_sessions"),
    ("Export users", "export.users"),
    // Seed 002 (Activity Tracking): "What gets tracked".
    ("Tickets: Creation", "ticket.created"),
    ("Tickets: status changes", "ticket.status_changed"),
    ("Tickets: assignments", "ticket.assigned"),
    ("Tickets: comments", "ticket.comment_added"),
    ("Tickets: resolutions", "ticket.resolved"),
    ("Assets: Creation", "asset.created"),
    ("Assets: updates", "asset.updated"),
    ("Assets: status changes", "asset.status_changed"),
    ("Assets: assignments", "asset.assigned"),
    ("Customers: New customers", "customer.created"),
    ("Customers: contact changes", "customer.contact_changed"),
    ("Customers: updates", "customer.updated"),
    ("Team actions: User logins", "user.logged_in"),
    ("Team actions: permission changes", "permission.changed"),
    ("Team actions: settings updates", "settings.updated"),
    ("Files: Uploads", "file.uploaded"),
    ("Files: downloads", "file.downloaded"),
    ("Files: deletions", "file.deleted"),
    // Seed 002: conversation messages shown on a ticket's timeline.
    ("customer replies", "conversation.customer_replied"),
    ("sent updates", "conversation.message_sent"),
    // Seed 002: the activity types, for tickets, assets and customers.
    ("Created", "ticket.created"),
    ("Created", "asset.created"),
    ("Created", "customer.created"),
    ("Updated", "ticket.updated"),
    ("Updated", "asset.updated"),
    ("Updated", "customer.updated"),
    ("Deleted", "ticket.deleted"),
    ("Deleted", "asset.deleted"),
    ("Deleted", "customer.deleted"),
    ("Assigned", "ticket.assigned"),
    ("Assigned", "asset.assigned"),
    ("Assigned", "customer.assigned"),
    ("Status Changed", "ticket.status_changed"),
    ("Status Changed", "asset.status_changed"),
    ("Status Changed", "customer.status_changed"),
    ("Comment Added", "ticket.comment_added"),
    ("Comment Added", "asset.comment_added"),
    ("Comment Added", "customer.comment_added"),
    ("File Attached", "ticket.file_attached"),
    ("File Attached", "asset.file_attached"),
    ("File Attached", "customer.file_attached"),
    // Seed 002: "Audit logs" and "Compliance".
    ("Login attempts: Successful and failed logins", "user.login_succeeded"),
    ("Login attempts: Successful and failed logins", "user.login_failed"),
    ("Permission changes: Role and access modifications", "permission.changed"),
    ("Settings changes: Workspace configuration updates", "settings.updated"),
    ("Data exports: When data was exported", "data.exported"),
    ("Export activity logs for external auditors", "audit_log.exported"),
    ("Track access to sensitive records", "ticket.viewed"),
    ("Track access to sensitive records", "asset.viewed"),
    ("Track access to sensitive records", "customer.viewed"),
    // Seed 003 (Desk365 activity log): "User Actions Tracking" and "Security Monitoring".
    ("User Actions Tracking: ticket updates", "ticket.updated"),
    ("User Actions Tracking: responses to customer queries", "conversation.message_sent"),
    ("User Actions Tracking: changes in settings", "settings.updated"),
    ("Security Monitoring: suspicious or unauthorized activities", "authz.denied"),
    // Seed 004 (Conversations logs): conversation log events.
    ("Event: status changed", "conversation.status_changed"),
    ("Event: assignment changed", "conversation.assignment_changed"),
    // Seed 004: audit log events.
    ("Tag created", "tag.created"),
    ("Tag renamed", "tag.renamed"),
    ("Tag deleted", "tag.deleted"),
    ("Queue created", "queue.created"),
    ("Queue renamed", "queue.renamed"),
    ("Queue deleted", "queue.deleted"),
    ("Queue working hours changed", "queue.working_hours_changed"),
    ("Agent added to queue", "queue.agent_added"),
    ("Agent removed from queue", "queue.agent_removed"),
    ("Sender added to queue", "queue.sender_added"),
    ("Sender removed from queue", "queue.sender_removed"),
    ("Queue default sender changed", "queue.default_sender_changed"),
    ("Assignment method changed for queue", "queue.assignment_method_changed"),
    ("Account capacity live messaging created", "account_capacity.live_messaging_created"),
    ("Account capacity live messaging changed", "account_capacity.live_messaging_changed"),
    ("Account capacity live messaging deleted", "account_capacity.live_messaging_deleted"),
    ("Account capacity live chat created", "account_capacity.live_chat_created"),
    ("Account capacity live chat changed", "account_capacity.live_chat_changed"),
    ("Account capacity live chat deleted", "account_capacity.live_chat_deleted"),
    ("Account capacity voice created", "account_capacity.voice_created"),
    ("Account capacity voice changed", "account_capacity.voice_changed"),
    ("Account capacity voice deleted", "account_capacity.voice_deleted"),
    ("Account capacity email created", "account_capacity.email_created"),
    ("Account capacity email changed", "account_capacity.email_changed"),
    ("Account capacity email deleted", "account_capacity.email_deleted"),
    ("Agent capacity live messaging created", "agent_capacity.live_messaging_created"),
    ("Agent capacity live messaging changed", "agent_capacity.live_messaging_changed"),
    ("Agent capacity live messaging deleted", "agent_capacity.live_messaging_deleted"),
    ("Agent capacity live chat created", "agent_capacity.live_chat_created"),
    ("Agent capacity live chat changed", "agent_capacity.live_chat_changed"),
    ("Agent capacity live chat deleted", "agent_capacity.live_chat_deleted"),
    ("Agent capacity voice created", "agent_capacity.voice_created"),
    ("Agent capacity voice changed", "agent_capacity.voice_changed"),
    ("Agent capacity voice deleted", "agent_capacity.voice_deleted"),
    ("Agent capacity email created", "agent_capacity.email_created"),
    ("Agent capacity email changed", "agent_capacity.email_changed"),
    ("Agent capacity email deleted", "agent_capacity.email_deleted"),
    ("Route created", "route.created"),
    ("Route renamed", "route.renamed"),
    ("Route destination queue changed", "route.destination_queue_changed"),
    ("Route priority changed", "route.priority_changed"),
    ("Route enabled changed", "route.enabled_changed"),
    ("Route only during working hours changed", "route.only_during_working_hours_changed"),
];

/// Reads and parses the catalog, returning its top-level object.
fn load_catalog() -> Value {
    let text = std::fs::read_to_string(CATALOG_PATH)
        .unwrap_or_else(|e| panic!("cannot read the catalog at {CATALOG_PATH}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the catalog at {CATALOG_PATH} is not valid JSON: {e}"))
}

/// Returns the catalog's `actions` array, failing with a clear message if it is missing.
fn load_actions() -> Vec<Value> {
    match load_catalog().get("actions") {
        Some(Value::Array(actions)) => actions.clone(),
        other => panic!("the catalog has no `actions` array (found {other:?})"),
    }
}

/// Records `message` as a violation when `ok` is false; every rule goes through here so
/// that one run reports all violations at once.
fn check(violations: &mut Vec<String>, ok: bool, message: impl FnOnce() -> String) {
    if !ok {
        violations.push(message());
    }
}

/// Whether `s` is one lowercase identifier: a letter, then letters, digits or underscores.
fn is_segment(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z')) && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Whether `s` matches `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`.
fn is_dotted_name(s: &str) -> bool {
    s.contains('.') && s.split('.').all(is_segment)
}

/// Extracts the `{name}` placeholders of a template, and describes the first unbalanced
/// brace if there is one (the placeholders before it are still returned).
fn placeholders(template: &str) -> (Vec<&str>, Option<String>) {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return (found, Some(format!("unmatched `}}` in {template:?}")));
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return (found, Some(format!("unclosed `{{` in {template:?}")));
        };
        found.push(&after[..close]);
        rest = &after[close + 1..];
    }
    (found, None)
}

#[test]
fn catalog_entries_follow_the_rules() {
    let catalog = load_catalog();
    let mut violations = Vec::new();
    check(&mut violations, catalog.get("version") == Some(&Value::from(1)), || {
        format!("`version` must be 1, found {:?}", catalog.get("version"))
    });

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, entry) in load_actions().iter().enumerate() {
        let Some(object) = entry.as_object() else {
            violations.push(format!("actions[{index}] is not an object"));
            continue;
        };
        let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or("");
        let name = text("action");
        let at = format!("actions[{index}] ({name:?})");

        for key in object.keys() {
            check(&mut violations, ACTION_KEYS.contains(&key.as_str()), || format!("{at}: unexpected key `{key}`"));
        }
        for key in ACTION_KEYS {
            check(&mut violations, object.contains_key(*key), || format!("{at}: missing `{key}`"));
        }

        check(&mut violations, is_dotted_name(name), || {
            format!("{at}: `action` must be dotted lowercase like `ticket.status_changed`")
        });
        check(&mut violations, name.len() <= MAX_ACTION_LEN, || {
            format!("{at}: `action` is longer than {MAX_ACTION_LEN} characters")
        });
        if let Some(first) = seen.insert(name.to_owned(), index) {
            violations.push(format!("{at}: duplicate of actions[{first}]"));
        }

        let category = text("category");
        check(&mut violations, CATEGORIES.contains(&category), || {
            format!("{at}: `category` must be one of {CATEGORIES:?}, found {category:?}")
        });
        let severity = text("severity");
        check(&mut violations, SEVERITIES.contains(&severity), || {
            format!("{at}: `severity` must be one of {SEVERITIES:?}, found {severity:?}")
        });
        let target_type = text("target_type");
        check(&mut violations, is_segment(target_type), || {
            format!("{at}: `target_type` must be a snake_case noun, found {target_type:?}")
        });

        let label = text("label");
        check(&mut violations, label.starts_with(|c: char| c.is_ascii_uppercase()) && label.trim() == label, || {
            format!("{at}: `label` must be non-empty sentence case, found {label:?}")
        });

        let changes = object.get("changes").and_then(Value::as_bool);
        check(&mut violations, changes.is_some(), || format!("{at}: `changes` must be a boolean"));

        let template = text("template");
        check(&mut violations, !template.trim().is_empty(), || format!("{at}: `template` must be a non-empty string"));
        let (names, malformed) = placeholders(template);
        violations.extend(malformed.map(|reason| format!("{at}: {reason}")));
        for placeholder in names {
            check(&mut violations, PLACEHOLDERS.contains(&placeholder), || {
                format!("{at}: unknown placeholder `{{{placeholder}}}`")
            });
            check(&mut violations, !CHANGE_PLACEHOLDERS.contains(&placeholder) || changes == Some(true), || {
                format!("{at}: uses `{{{placeholder}}}` but `changes` is not true")
            });
        }
    }

    for name in LOGBOOK_ACTIONS {
        check(&mut violations, seen.contains_key(*name), || format!("Logbook's own action `{name}` is missing"));
    }

    assert!(
        violations.is_empty(),
        "{} catalog rule violation(s) in {CATALOG_PATH}:\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

#[test]
fn catalog_covers_every_seed_event() {
    let actions = load_actions();
    let names: BTreeSet<&str> = actions.iter().filter_map(|a| a.get("action").and_then(Value::as_str)).collect();
    let missing: Vec<String> = SEED_EVENTS
        .iter()
        .filter(|(_, action)| !names.contains(*action))
        .map(|(bullet, action)| format!("{action} (seed bullet: {bullet:?})"))
        .collect();
    assert!(
        missing.is_empty(),
        "{} seed event(s) have no action in {CATALOG_PATH}:\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

#[test]
fn catalog_has_at_least_100_actions() {
    let count = load_actions().len();
    assert!(count >= MIN_ACTIONS, "the catalog has {count} actions, expected at least {MIN_ACTIONS}");
}
