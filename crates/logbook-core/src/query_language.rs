//! The query language of the `query` parameter and the viewer's search box
//! (DESIGN.md section 4), read into an [`EventFilter`].
//!
//! A query is terms separated by spaces, all of which must hold:
//!
//! - `key:value` narrows by one property: `action:ticket.*`, `actor:agent-7`,
//!   `target:ticket:T-42`, `from:open`. A value with spaces is quoted:
//!   `field:"due date"`.
//! - `-key:value` excludes what the term would match.
//! - A bare word is free text (each of its words must begin a word of the event,
//!   as `q` does); `-word` excludes events with such a word.
//! - A `"quoted phrase"` is free text whose words must appear whole and in order;
//!   `-"quoted phrase"` excludes them.
//!
//! Inside quotes, `\"` is a quote and `\\` a backslash. `field`, `from` and `to`
//! terms that are not excluded describe one change together, as the `field`,
//! `from_value` and `to_value` parameters do. A malformed query is refused with
//! the character position (counting from 1) where reading failed.

use crate::event::{ActorType, Category, Outcome};
use crate::filter::{ActionPattern, ChangeFilter, EventFilter, RecordKey};
use crate::timestamp::Timestamp;

/// The longest query accepted, in characters.
pub const MAX_QUERY_LENGTH: usize = 1000;

/// The most terms a query may hold.
pub const MAX_TERMS: usize = 50;

/// The keys a term may name, in the order the documentation lists them.
pub const KEYS: [&str; 13] = [
    "action",
    "actor",
    "actor_type",
    "target",
    "record",
    "field",
    "from",
    "to",
    "outcome",
    "ip",
    "category",
    "after",
    "before",
];

/// Why a query could not be read: where, counting characters from 1, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query: at character {position}: {message}")]
pub struct QueryError {
    /// The character (from 1) where the problem starts.
    pub position: usize,
    /// What is wrong, and what would be right.
    pub message: String,
}

/// One term as written: its position, whether it is excluded, its key (none
/// for free text), its value, and whether the value was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    position: usize,
    excluded: bool,
    key: Option<String>,
    value: String,
    value_position: usize,
    quoted: bool,
}

/// Reads a query into the filter it describes.
pub fn parse_query(text: &str) -> Result<EventFilter, QueryError> {
    let characters: Vec<char> = text.chars().collect();
    if characters.len() > MAX_QUERY_LENGTH {
        return Err(error(MAX_QUERY_LENGTH + 1, format!("a query holds at most {MAX_QUERY_LENGTH} characters")));
    }
    let terms = split_terms(&characters)?;
    if terms.is_empty() {
        return Err(error(1, "the query is empty; write terms such as action:ticket.* or a word to search for"));
    }
    let mut filter = EventFilter::default();
    let mut change = ChangeFilter::default();
    for term in terms {
        if let (false, Some(key @ ("field" | "from" | "to"))) = (term.excluded, term.key.as_deref()) {
            if key == "field" {
                nonempty(key, &term.value, &term)?;
            }
            if change_part(&mut change, key).is_some() {
                // A second value for the same part describes another change.
                filter = filter.and(EventFilter { change: std::mem::take(&mut change), ..EventFilter::default() });
            }
            *change_part(&mut change, key) = Some(term.value);
            continue;
        }
        let term_filter = term_filter(&term)?;
        if term.excluded {
            filter.none_of.push(term_filter);
        } else {
            filter = filter.and(term_filter);
        }
    }
    if !change.is_empty() {
        filter = filter.and(EventFilter { change, ..EventFilter::default() });
    }
    Ok(filter)
}

/// The part of a change a `field`, `from` or `to` term sets.
fn change_part<'a>(change: &'a mut ChangeFilter, key: &str) -> &'a mut Option<String> {
    match key {
        "field" => &mut change.field,
        "from" => &mut change.from,
        _ => &mut change.to,
    }
}

fn error(position: usize, message: impl Into<String>) -> QueryError {
    QueryError { position, message: message.into() }
}

/// Splits a query into terms (positions count from 1).
fn split_terms(characters: &[char]) -> Result<Vec<Term>, QueryError> {
    let mut terms = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        if characters[index].is_whitespace() {
            index += 1;
            continue;
        }
        if terms.len() == MAX_TERMS {
            return Err(error(index + 1, format!("a query holds at most {MAX_TERMS} terms")));
        }
        let position = index + 1;
        let excluded = characters[index] == '-';
        if excluded {
            index += 1;
            if index == characters.len() || characters[index].is_whitespace() {
                return Err(error(position, "a `-` must be followed by the term to exclude, as in -action:ticket.*"));
            }
        }
        let key_end = (index..characters.len())
            .take_while(|&at| characters[at].is_ascii_alphabetic() || characters[at] == '_')
            .last()
            .map(|last| last + 1);
        let key = match key_end {
            Some(end) if characters.get(end) == Some(&':') => {
                let key: String = characters[index..end].iter().collect::<String>().to_ascii_lowercase();
                if !KEYS.contains(&key.as_str()) {
                    return Err(error(
                        index + 1,
                        format!(
                            "unknown key `{key}`; the keys are {}; put text with a colon in quotes to search for it",
                            KEYS.join(", ")
                        ),
                    ));
                }
                index = end + 1;
                Some(key)
            }
            _ => None,
        };
        let value_position = index + 1;
        let (value, quoted, next) = read_value(characters, index)?;
        if let Some(key) = &key
            && value.is_empty()
            && !quoted
        {
            return Err(error(value_position, format!("`{key}:` needs a value, as in {key}:{}", example(key))));
        }
        terms.push(Term { position, excluded, key, value, value_position, quoted });
        index = next;
    }
    Ok(terms)
}

/// Reads a bare or quoted value starting at `index`: the value, whether it was
/// quoted, and the index after it.
fn read_value(characters: &[char], mut index: usize) -> Result<(String, bool, usize), QueryError> {
    let mut value = String::new();
    if characters.get(index) != Some(&'"') {
        while index < characters.len() && !characters[index].is_whitespace() {
            if characters[index] == '"' {
                return Err(error(
                    index + 1,
                    "a quote may only open a phrase or a value; put the whole text in quotes",
                ));
            }
            value.push(characters[index]);
            index += 1;
        }
        return Ok((value, false, index));
    }
    let opening = index;
    index += 1;
    loop {
        match characters.get(index) {
            None => return Err(error(opening + 1, "this quote is never closed")),
            Some('"') => break,
            Some('\\') => match characters.get(index + 1) {
                Some(escaped @ ('"' | '\\')) => {
                    value.push(*escaped);
                    index += 2;
                }
                _ => return Err(error(index + 1, "inside quotes, a backslash may only escape \" or \\")),
            },
            Some(character) => {
                value.push(*character);
                index += 1;
            }
        }
    }
    index += 1;
    if characters.get(index).is_some_and(|character| !character.is_whitespace()) {
        return Err(error(index + 1, "a space must follow the closing quote"));
    }
    Ok((value, true, index))
}

/// An example value for a key, for error messages.
fn example(key: &str) -> &'static str {
    match key {
        "action" => "ticket.status_changed",
        "actor" => "agent-7",
        "actor_type" => "user",
        "target" | "record" => "ticket:T-42",
        "field" => "status",
        "from" => "open",
        "to" => "closed",
        "outcome" => "failure",
        "ip" => "203.0.113.7",
        "category" => "audit",
        _ => "2026-01-31",
    }
}

/// The filter one term describes (excluded or not).
fn term_filter(term: &Term) -> Result<EventFilter, QueryError> {
    let invalid = |message: String| error(term.value_position, message);
    let value = term.value.as_str();
    let mut filter = EventFilter::default();
    let Some(key) = term.key.as_deref() else {
        let words: Vec<String> = crate::search::words(value).collect();
        if words.is_empty() {
            return Err(error(term.position, "this term has no letters or digits to search for"));
        }
        if term.quoted {
            filter.phrases.push(words);
        } else {
            filter.text = words;
        }
        return Ok(filter);
    };
    match key {
        "action" => {
            filter.actions = value
                .split(',')
                .map(|part| {
                    ActionPattern::parse(part)
                        .ok_or_else(|| invalid(format!("`{part}` is not an action such as ticket.created or ticket.*")))
                })
                .collect::<Result<_, _>>()?;
        }
        "actor" => filter.actor_id = Some(nonempty(key, value, term)?),
        "actor_type" => {
            filter.actor_type = Some(
                ActorType::parse(value)
                    .ok_or_else(|| invalid(format!("actor_type is user, system or api, not `{value}`")))?,
            );
        }
        "target" => match value.split_once(':') {
            Some((record_type, id)) if !record_type.is_empty() && !id.is_empty() => {
                filter.target_type = Some(record_type.to_string());
                filter.target_id = Some(id.to_string());
            }
            None if !value.is_empty() => filter.target_type = Some(value.to_string()),
            _ => return Err(invalid("target reads type:id, such as ticket:T-42, or a type alone".to_string())),
        },
        "record" => {
            filter.record = Some(
                RecordKey::parse(value)
                    .ok_or_else(|| invalid("record reads type:id, such as ticket:T-42".to_string()))?,
            );
        }
        "field" => filter.change.field = Some(nonempty(key, value, term)?),
        "from" => filter.change.from = Some(value.to_string()),
        "to" => filter.change.to = Some(value.to_string()),
        "outcome" => {
            filter.outcome = Some(
                Outcome::parse(value)
                    .ok_or_else(|| invalid(format!("outcome is success or failure, not `{value}`")))?,
            );
        }
        "ip" => {
            let address: std::net::IpAddr =
                value.parse().map_err(|_| invalid(format!("`{value}` is not an IPv4 or IPv6 address")))?;
            filter.ip = Some(address.to_string());
        }
        "category" => {
            filter.categories = value
                .split(',')
                .map(|part| {
                    Category::parse(part).ok_or_else(|| invalid(format!("category is activity or audit, not `{part}`")))
                })
                .collect::<Result<_, _>>()?;
        }
        "after" | "before" => {
            let instant = Timestamp::parse_date_or_datetime(value).map_err(|_| {
                invalid(format!("`{value}` is not a date such as 2026-01-31 or a time such as 2026-01-31T09:30:00Z"))
            })?;
            if key == "after" {
                filter.since = Some(instant);
            } else {
                filter.until = Some(instant);
            }
        }
        unknown => return Err(error(term.position, format!("unknown key `{unknown}`"))),
    }
    Ok(filter)
}

fn nonempty(key: &str, value: &str, term: &Term) -> Result<String, QueryError> {
    if value.is_empty() {
        return Err(error(term.value_position, format!("`{key}` needs a value, as in {key}:{}", example(key))));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests;
