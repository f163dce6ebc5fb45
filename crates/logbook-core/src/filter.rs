//! How a feed or timeline request is described: which events match
//! ([`EventFilter`]), in which order, from where ([`EventQuery`]).
//!
//! [`EventFilter::matches`] is the reference meaning of every filter: storage
//! backends translate filters into their own queries, and the tests hold them to
//! this function.

use std::cmp::Ordering;

use serde_json::Value;

use crate::event::{ActorType, Category, EventBody, Outcome};
use crate::timestamp::Timestamp;

/// One entry of the `action` filter: an exact action, or every action under a
/// prefix (`ticket.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionPattern {
    /// Exactly this action.
    Exact(String),
    /// Every action starting with this text, which ends with a dot (`ticket.`).
    Prefix(String),
}

impl ActionPattern {
    /// Reads `ticket.created` or `ticket.*`.
    pub fn parse(text: &str) -> Option<ActionPattern> {
        let valid_part = |part: &str| !part.is_empty() && part.split('.').all(crate::catalog::is_valid_identifier);
        match text.strip_suffix(".*") {
            Some(prefix) if valid_part(prefix) => Some(ActionPattern::Prefix(format!("{prefix}."))),
            Some(_) => None,
            None if valid_part(text) && text.len() <= crate::catalog::MAX_ACTION_LENGTH => {
                Some(ActionPattern::Exact(text.to_string()))
            }
            None => None,
        }
    }

    /// Whether `action` is covered.
    pub fn matches(&self, action: &str) -> bool {
        match self {
            ActionPattern::Exact(exact) => action == exact,
            ActionPattern::Prefix(prefix) => action.starts_with(prefix.as_str()),
        }
    }
}

/// A record named as `type:id`, as the `record` filter and timelines use it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordKey {
    /// The record's type.
    pub record_type: String,
    /// The record's identifier.
    pub id: String,
}

impl RecordKey {
    /// Reads `ticket:T-42` (the id may itself contain colons).
    pub fn parse(text: &str) -> Option<RecordKey> {
        let (record_type, id) = text.split_once(':')?;
        if record_type.is_empty() || id.is_empty() {
            return None;
        }
        Some(RecordKey { record_type: record_type.to_string(), id: id.to_string() })
    }
}

/// A condition on one change of an event: its field, previous and new value.
/// An event matches when one of its changes meets every part given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeFilter {
    /// The changed field's name.
    pub field: Option<String>,
    /// The previous value, as [`value_text`] writes it.
    pub from: Option<String>,
    /// The new value, as [`value_text`] writes it.
    pub to: Option<String>,
}

impl ChangeFilter {
    /// Whether no part is given.
    pub fn is_empty(&self) -> bool {
        self.field.is_none() && self.from.is_none() && self.to.is_none()
    }
}

/// A change value as filters compare it: a string as itself, anything else as
/// compact JSON (`5`, `true`, `null`, `{"a":1}`).
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Which events match; every field left empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only these categories (empty: both). Callers also narrow this to what
    /// the requester may see.
    pub categories: Vec<Category>,
    /// Only these actions or action prefixes (empty: all).
    pub actions: Vec<ActionPattern>,
    /// Only events by this actor.
    pub actor_id: Option<String>,
    /// Only events by this kind of actor.
    pub actor_type: Option<ActorType>,
    /// Only events whose target has this type.
    pub target_type: Option<String>,
    /// Only events whose target has this id.
    pub target_id: Option<String>,
    /// Only events whose target or related records include this record.
    pub record: Option<RecordKey>,
    /// Only events with this outcome.
    pub outcome: Option<Outcome>,
    /// Only events from this IP address (in normalised form).
    pub ip: Option<String>,
    /// Only events with a change meeting this condition.
    pub change: ChangeFilter,
    /// Free text: only events where each of these (lowercase) words is a prefix
    /// of one of the event's words (see [`crate::search`]).
    pub text: Vec<String>,
    /// Quoted phrases: only events where each phrase's (lowercase) words appear
    /// whole and in order within one searchable part (see [`crate::search`]).
    pub phrases: Vec<Vec<String>>,
    /// Only events that occurred at or after this instant.
    pub since: Option<Timestamp>,
    /// Only events that occurred before this instant.
    pub until: Option<Timestamp>,
    /// Further filters each matching event must also match: conditions that could
    /// not be folded into the fields above (see [`EventFilter::and`]).
    pub all_of: Vec<EventFilter>,
    /// Filters no matching event may match: the query language's `-` terms.
    pub none_of: Vec<EventFilter>,
}

impl EventFilter {
    /// Whether an event matches every condition of the filter.
    pub fn matches(&self, event: &EventBody) -> bool {
        (self.categories.is_empty() || self.categories.contains(&event.category))
            && (self.actions.is_empty() || self.actions.iter().any(|pattern| pattern.matches(&event.action)))
            && self.actor_id.as_ref().is_none_or(|id| *id == event.actor.id)
            && self.actor_type.is_none_or(|actor_type| actor_type == event.actor.actor_type)
            && self.target_type.as_ref().is_none_or(|record_type| *record_type == event.target.record_type)
            && self.target_id.as_ref().is_none_or(|id| *id == event.target.id)
            && self.record.as_ref().is_none_or(|key| {
                event.records().iter().any(|record| record.record_type == key.record_type && record.id == key.id)
            })
            && self.outcome.is_none_or(|outcome| outcome == event.outcome)
            && self.ip.as_ref().is_none_or(|ip| event.context.ip.as_ref() == Some(ip))
            && (self.change.is_empty()
                || event.changes.iter().any(|change| {
                    self.change.field.as_ref().is_none_or(|field| *field == change.field)
                        && self.change.from.as_ref().is_none_or(|from| *from == value_text(&change.from))
                        && self.change.to.as_ref().is_none_or(|to| *to == value_text(&change.to))
                }))
            && (self.text.is_empty()
                || crate::search::matches_words(&self.text, &crate::search::searchable_words(event)))
            && (self.phrases.is_empty() || {
                let text = crate::search::search_text(event);
                self.phrases.iter().all(|phrase| text.contains(&crate::search::phrase_pattern(phrase)))
            })
            && self.since.is_none_or(|since| event.occurred_at >= since)
            && self.until.is_none_or(|until| event.occurred_at < until)
            && self.all_of.iter().all(|filter| filter.matches(event))
            && !self.none_of.iter().any(|filter| filter.matches(event))
    }

    /// The filter matching exactly the events both filters match. Conditions
    /// that fit in an empty field of `self` go there (so that storage can use
    /// its indexes); the others become an entry of `all_of`.
    pub fn and(mut self, other: EventFilter) -> EventFilter {
        let mut rest = EventFilter::default();
        fn fold<T: PartialEq>(mine: &mut Option<T>, theirs: Option<T>, rest: &mut Option<T>) {
            match (mine.as_ref(), theirs) {
                (_, None) => {}
                (None, theirs) => *mine = theirs,
                (Some(mine), Some(theirs)) if *mine == theirs => {}
                (Some(_), theirs) => *rest = theirs,
            }
        }
        fn fold_list<T>(mine: &mut Vec<T>, theirs: Vec<T>, rest: &mut Vec<T>) {
            if mine.is_empty() {
                *mine = theirs;
            } else if !theirs.is_empty() {
                *rest = theirs;
            }
        }
        fold_list(&mut self.categories, other.categories, &mut rest.categories);
        fold_list(&mut self.actions, other.actions, &mut rest.actions);
        fold(&mut self.actor_id, other.actor_id, &mut rest.actor_id);
        fold(&mut self.actor_type, other.actor_type, &mut rest.actor_type);
        fold(&mut self.target_type, other.target_type, &mut rest.target_type);
        fold(&mut self.target_id, other.target_id, &mut rest.target_id);
        fold(&mut self.record, other.record, &mut rest.record);
        fold(&mut self.outcome, other.outcome, &mut rest.outcome);
        fold(&mut self.ip, other.ip, &mut rest.ip);
        if self.change.is_empty() {
            self.change = other.change;
        } else if !other.change.is_empty() && self.change != other.change {
            rest.change = other.change;
        }
        self.text.extend(other.text);
        self.phrases.extend(other.phrases);
        self.since = self.since.max(other.since);
        self.until = match (self.until, other.until) {
            (Some(mine), Some(theirs)) => Some(mine.min(theirs)),
            (mine, theirs) => mine.or(theirs),
        };
        self.all_of.extend(other.all_of);
        self.none_of.extend(other.none_of);
        if rest != EventFilter::default() {
            self.all_of.push(rest);
        }
        self
    }
}

/// How `stats` groups the events it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// By action.
    Action,
    /// By actor id.
    Actor,
    /// By the target's record type.
    TargetType,
    /// By UTC day of `occurred_at`: `2026-01-31`.
    Day,
    /// By UTC hour of `occurred_at`: `2026-01-31T14:00Z`.
    Hour,
}

impl GroupBy {
    /// Every grouping, by wire name.
    pub const ALL: [GroupBy; 5] = [GroupBy::Action, GroupBy::Actor, GroupBy::TargetType, GroupBy::Day, GroupBy::Hour];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Action => "action",
            GroupBy::Actor => "actor",
            GroupBy::TargetType => "target_type",
            GroupBy::Day => "day",
            GroupBy::Hour => "hour",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Option<GroupBy> {
        GroupBy::ALL.into_iter().find(|group| group.as_str() == text)
    }

    /// The group an event falls in: the reference meaning of each grouping.
    pub fn key(self, event: &EventBody) -> String {
        match self {
            GroupBy::Action => event.action.clone(),
            GroupBy::Actor => event.actor.id.clone(),
            GroupBy::TargetType => event.target.record_type.clone(),
            GroupBy::Day => event.occurred_at.day(),
            GroupBy::Hour => format!("{}:00Z", &event.occurred_at.to_rfc3339()[..13]),
        }
    }

    /// Whether groups are listed by key (time) rather than by count.
    pub fn is_time(self) -> bool {
        matches!(self, GroupBy::Day | GroupBy::Hour)
    }
}

/// Newest first (`desc`, the default) or oldest first (`asc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest first.
    #[default]
    Desc,
    /// Oldest first.
    Asc,
}

impl Order {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Desc => "desc",
            Order::Asc => "asc",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Option<Order> {
        [Order::Desc, Order::Asc].into_iter().find(|order| order.as_str() == text)
    }
}

/// Where an event stands in a feed: events sort by `occurred_at`, then by `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// When the event occurred.
    pub occurred_at: Timestamp,
    /// Its place in the log, which breaks ties.
    pub seq: u64,
}

impl Position {
    /// Whether an event at `self` comes after `cursor` in a feed of `order`.
    pub fn is_after(self, cursor: Position, order: Order) -> bool {
        let ordering = (self.occurred_at, self.seq).cmp(&(cursor.occurred_at, cursor.seq));
        match order {
            Order::Asc => ordering == Ordering::Greater,
            Order::Desc => ordering == Ordering::Less,
        }
    }
}

/// One page request of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// Which events match.
    pub filter: EventFilter,
    /// Newest or oldest first.
    pub order: Order,
    /// At most this many events.
    pub limit: usize,
    /// Only events after this position (from a cursor).
    pub after: Option<Position>,
    /// Only events with `seq` at most this: the log's size when paging began, so
    /// that events arriving during paging neither repeat nor shift pages.
    pub max_seq: Option<u64>,
}

impl EventQuery {
    /// Whether an event at `position` with this body belongs in the answer.
    pub fn matches(&self, position: Position, body: &EventBody) -> bool {
        self.max_seq.is_none_or(|max_seq| position.seq <= max_seq)
            && self.after.is_none_or(|after| position.is_after(after, self.order))
            && self.filter.matches(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_patterns() {
        assert_eq!(ActionPattern::parse("ticket.*"), Some(ActionPattern::Prefix("ticket.".into())));
        assert_eq!(ActionPattern::parse("ticket"), Some(ActionPattern::Exact("ticket".into())));
        assert_eq!(ActionPattern::parse("*"), None);
        assert_eq!(ActionPattern::parse("Ticket.*"), None);
        assert!(ActionPattern::Prefix("user.".into()).matches("user.user.updated"));
        assert!(!ActionPattern::Prefix("user.".into()).matches("users.created"));
    }

    #[test]
    fn change_values_as_text() {
        assert_eq!(value_text(&Value::from("open")), "open");
        assert_eq!(value_text(&Value::from(5)), "5");
        assert_eq!(value_text(&Value::Null), "null");
        assert_eq!(value_text(&serde_json::json!({"a": [1, true]})), r#"{"a":[1,true]}"#);
    }

    #[test]
    fn record_keys() {
        let key = RecordKey::parse("ticket:T:42").unwrap();
        assert_eq!((key.record_type.as_str(), key.id.as_str()), ("ticket", "T:42"));
        assert_eq!(RecordKey::parse("ticket"), None);
        assert_eq!(RecordKey::parse(":1"), None);
    }
}
