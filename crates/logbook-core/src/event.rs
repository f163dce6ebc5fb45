//! The event: one thing that happened in the embedding product, as stored and as
//! returned on the wire (DESIGN.md section 2).
//!
//! [`EventBody`] is what the ingest path validates and storage keeps; [`Event`] adds
//! the fields that only exist once an event is stored: its `id`, `workspace`,
//! per-workspace `seq` and `leaf_hash`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::timestamp::Timestamp;

/// Record and conversation events versus security and configuration events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// What happened to records: tickets, conversations, scores, files.
    Activity,
    /// Who signed in, and who changed configuration, roles or access.
    Audit,
}

impl Category {
    /// Every category, in a fixed order.
    pub const ALL: [Category; 2] = [Category::Activity, Category::Audit];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Activity => "activity",
            Category::Audit => "audit",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|category| category.as_str() == text)
    }
}

/// Who performed an action: a person, the product itself, or an API client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ActorType {
    /// A signed-in person (the default).
    #[default]
    User,
    /// The product acting on its own (automations, schedules).
    System,
    /// An API client.
    Api,
}

impl ActorType {
    /// Every actor type, in a fixed order.
    pub const ALL: [ActorType; 3] = [ActorType::User, ActorType::System, ActorType::Api];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::System => "system",
            ActorType::Api => "api",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Option<ActorType> {
        ActorType::ALL.into_iter().find(|actor_type| actor_type.as_str() == text)
    }
}

/// Whether the action succeeded; failed logins and denied actions are failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The action took effect.
    #[default]
    Success,
    /// The action was attempted and refused or failed.
    Failure,
}

impl Outcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Option<Outcome> {
        [Outcome::Success, Outcome::Failure].into_iter().find(|outcome| outcome.as_str() == text)
    }
}

/// Who did it.
///
/// Members are declared in RFC 8785 order, as in the canonical form: a stored
/// body is then its own canonical form below its top level, which `logbook
/// verify` copies instead of writing it again (`export/verbatim.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    /// Email address (personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The embedding product's identifier for the actor.
    pub id: String,
    /// Display name (personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The actor's role in the embedding product, as it names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `user` (the default), `system` or `api`.
    #[serde(rename = "type", default)]
    pub actor_type: ActorType,
}

/// A record of the embedding product: the target of an event, or a related record.
///
/// Members are declared in RFC 8785 order, as in the canonical form: a stored
/// body is then its own canonical form below its top level, which `logbook
/// verify` copies instead of writing it again (`export/verbatim.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordRef {
    /// The record's identifier in the embedding product.
    pub id: String,
    /// The record's display name at the time of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The record's type, such as `ticket` or `queue`.
    #[serde(rename = "type")]
    pub record_type: String,
}

/// One changed field, with its previous and new value (any JSON).
///
/// Members are declared in RFC 8785 order, as in the canonical form: a stored
/// body is then its own canonical form below its top level, which `logbook
/// verify` copies instead of writing it again (`export/verbatim.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// The field's name.
    pub field: String,
    /// The value before the change; `null` when there was none.
    #[serde(default)]
    pub from: Value,
    /// The value after the change; `null` when it was cleared.
    #[serde(default)]
    pub to: Value,
}

/// Where the action came from.
///
/// Members are declared in RFC 8785 order, as in the canonical form: a stored
/// body is then its own canonical form below its top level, which `logbook
/// verify` copies instead of writing it again (`export/verbatim.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Context {
    /// The client's IP address (personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The embedding product's request identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The embedding product's session identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The client's user agent (personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// Everything about an event except where it is stored: what ingest validates and
/// what storage keeps verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventBody {
    /// Dotted lowercase action name from the catalog, e.g. `ticket.status_changed`.
    pub action: String,
    /// Taken from the catalog entry of the action.
    pub category: Category,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// When Logbook received it.
    pub received_at: Timestamp,
    /// Who did it.
    pub actor: Actor,
    /// The record acted on.
    pub target: RecordRef,
    /// Other records whose timelines show this event.
    #[serde(default)]
    pub related: Vec<RecordRef>,
    /// Previous and new values.
    #[serde(default)]
    pub changes: Vec<Change>,
    /// Whether the action succeeded.
    #[serde(default)]
    pub outcome: Outcome,
    /// Where the action came from.
    #[serde(default)]
    pub context: Context,
    /// A human sentence; rendered from the catalog template when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form, bounded data.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Map<String, Value>,
    /// The client's key for retries; an event with a key already stored in the
    /// workspace is not stored again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl EventBody {
    /// The records whose timelines show this event: the target first, then each
    /// related record, without repeats.
    pub fn records(&self) -> Vec<&RecordRef> {
        let mut records: Vec<&RecordRef> = vec![&self.target];
        for related in &self.related {
            let seen =
                records.iter().any(|record| record.record_type == related.record_type && record.id == related.id);
            if !seen {
                records.push(related);
            }
        }
        records
    }
}

/// A stored event, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Unique, time-ordered identifier (UUIDv7) assigned by Logbook.
    pub id: String,
    /// The workspace (tenant) the event belongs to.
    pub workspace: String,
    /// Position in the workspace's log: 0, 1, 2… with no gaps.
    pub seq: u64,
    /// Base64 of the event's RFC 6962 leaf hash (see `docs/canonical-form.md`).
    pub leaf_hash: String,
    /// The event's fields.
    #[serde(flatten)]
    pub body: EventBody,
}
