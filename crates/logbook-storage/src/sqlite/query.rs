//! Translation of an [`EventQuery`] into one SQL statement over the indexed
//! columns. The meaning of each filter is [`logbook_core::EventFilter::matches`];
//! the conformance suite checks this translation against it.

use logbook_core::search::phrase_pattern;
use logbook_core::{ActionPattern, EventFilter, EventQuery, GroupBy, Order};
use rusqlite::types::Value as SqlValue;

/// A statement and its parameters.
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) parameters: Vec<SqlValue>,
}

/// The first text that sorts after every text starting with `prefix`: the
/// prefix with its last character incremented (`ticket.` becomes `ticket/`).
fn prefix_upper_bound(prefix: &str) -> String {
    let mut upper = prefix.to_string();
    if let Some(last) = upper.pop() {
        upper.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX));
    }
    upper
}

/// The `FROM` and `WHERE` of a filtered read, with its parameters, and the alias
/// (`e` or `r`) whose `occurred_at` and `seq` order it.
struct Selection {
    from: &'static str,
    ordering: &'static str,
    conditions: Vec<String>,
    parameters: Vec<SqlValue>,
}

fn bind(parameters: &mut Vec<SqlValue>, value: SqlValue) -> String {
    parameters.push(value);
    format!("?{}", parameters.len())
}

/// Builds the page query: `SELECT seq, id, body, leaf_hash FROM …` in feed order.
pub(crate) fn page_query(workspace: &str, query: &EventQuery) -> Sql {
    let Selection { from, ordering, mut conditions, mut parameters } =
        selection(workspace, &query.filter, query.max_seq);
    let (comparison, direction) = match query.order {
        Order::Desc => ("<", "DESC"),
        Order::Asc => (">", "ASC"),
    };
    if let Some(after) = query.after {
        let occurred_at = bind(&mut parameters, SqlValue::Integer(after.occurred_at.as_millis()));
        let seq = bind(&mut parameters, SqlValue::Integer(i64::try_from(after.seq).unwrap_or(i64::MAX)));
        conditions.push(format!(
            "({ordering}.occurred_at {comparison} {occurred_at} OR ({ordering}.occurred_at = {occurred_at} AND {ordering}.seq {comparison} {seq}))"
        ));
    }
    let limit = bind(&mut parameters, SqlValue::Integer(i64::try_from(query.limit).unwrap_or(i64::MAX)));
    let text = format!(
        "SELECT e.seq, e.id, e.body, e.leaf_hash FROM {from} WHERE {} ORDER BY {ordering}.occurred_at {direction}, {ordering}.seq {direction} LIMIT {limit}",
        conditions.join(" AND ")
    );
    Sql { text, parameters }
}

/// Builds the stats query: `SELECT group, COUNT(*) … GROUP BY 1`.
pub(crate) fn stats_query(workspace: &str, filter: &EventFilter, max_seq: u64, group_by: GroupBy) -> Sql {
    let Selection { from, ordering, conditions, parameters } = selection(workspace, filter, Some(max_seq));
    let group = match group_by {
        GroupBy::Action => "e.action".to_string(),
        GroupBy::Actor => "e.actor_id".to_string(),
        GroupBy::TargetType => "e.target_type".to_string(),
        GroupBy::Day => format!("strftime('%Y-%m-%d', {ordering}.occurred_at / 1000, 'unixepoch')"),
        GroupBy::Hour => format!("strftime('%Y-%m-%dT%H:00Z', {ordering}.occurred_at / 1000, 'unixepoch')"),
    };
    let text = format!("SELECT {group}, COUNT(*) FROM {from} WHERE {} GROUP BY 1", conditions.join(" AND "));
    Sql { text, parameters }
}

/// The selection of a filter, bounded by `max_seq`.
fn selection(workspace: &str, filter: &EventFilter, max_seq: Option<u64>) -> Selection {
    let mut parameters: Vec<SqlValue> = vec![SqlValue::Text(workspace.to_string())];
    let mut conditions: Vec<String> = vec!["e.workspace = ?1".to_string()];

    // A record filter drives the query from the record index, whose rows carry
    // the ordering columns; otherwise the events table drives it.
    let (from, ordering) = match &filter.record {
        Some(record) => {
            let record_type = bind(&mut parameters, SqlValue::Text(record.record_type.clone()));
            let record_id = bind(&mut parameters, SqlValue::Text(record.id.clone()));
            conditions
                .push(format!("r.workspace = ?1 AND r.record_type = {record_type} AND r.record_id = {record_id}"));
            ("event_records r JOIN events e ON e.workspace = r.workspace AND e.seq = r.seq", "r")
        }
        None => ("events e", "e"),
    };
    conditions.extend(filter_conditions(filter, ordering, &mut parameters));
    if let Some(max_seq) = max_seq {
        let max_seq = bind(&mut parameters, SqlValue::Integer(i64::try_from(max_seq).unwrap_or(i64::MAX)));
        conditions.push(format!("{ordering}.seq <= {max_seq}"));
    }
    Selection { from, ordering, conditions, parameters }
}

/// The conditions on `e` (and `ordering`, the alias whose `occurred_at` the
/// query reads) that together mean `filter`. A record condition is left to the
/// caller when `ordering` is `r` (the record index drives the query); otherwise
/// it is an `EXISTS` over the record index.
fn filter_conditions(filter: &EventFilter, ordering: &str, parameters: &mut Vec<SqlValue>) -> Vec<String> {
    let mut conditions = Vec::new();
    if let (Some(record), "e") = (&filter.record, ordering) {
        let record_type = bind(parameters, SqlValue::Text(record.record_type.clone()));
        let record_id = bind(parameters, SqlValue::Text(record.id.clone()));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM event_records x WHERE x.workspace = e.workspace AND x.record_type = {record_type} AND x.record_id = {record_id} AND x.seq = e.seq)"
        ));
    }
    if !filter.categories.is_empty() {
        let list: Vec<String> = filter
            .categories
            .iter()
            .map(|category| bind(parameters, SqlValue::Text(category.as_str().to_string())))
            .collect();
        conditions.push(format!("e.category IN ({})", list.join(", ")));
    }
    if !filter.actions.is_empty() {
        let alternatives: Vec<String> = filter
            .actions
            .iter()
            .map(|pattern| match pattern {
                ActionPattern::Exact(action) => {
                    format!("e.action = {}", bind(parameters, SqlValue::Text(action.clone())))
                }
                ActionPattern::Prefix(prefix) => {
                    let lower = bind(parameters, SqlValue::Text(prefix.clone()));
                    let upper = bind(parameters, SqlValue::Text(prefix_upper_bound(prefix)));
                    format!("(e.action >= {lower} AND e.action < {upper})")
                }
            })
            .collect();
        conditions.push(format!("({})", alternatives.join(" OR ")));
    }
    // `IS` compares as `=` does, but also where the column is NULL (`ip`), so
    // that an excluded condition (`NOT (...)`) keeps events without an IP.
    let mut equal = |column: &str, value: Option<String>, parameters: &mut Vec<SqlValue>| {
        if let Some(value) = value {
            conditions.push(format!("{column} IS {}", bind(parameters, SqlValue::Text(value))));
        }
    };
    equal("e.actor_id", filter.actor_id.clone(), parameters);
    equal("e.actor_type", filter.actor_type.map(|actor_type| actor_type.as_str().to_string()), parameters);
    equal("e.target_type", filter.target_type.clone(), parameters);
    equal("e.target_id", filter.target_id.clone(), parameters);
    equal("e.outcome", filter.outcome.map(|outcome| outcome.as_str().to_string()), parameters);
    equal("e.ip", filter.ip.clone(), parameters);

    // One change must meet every part given: a correlated EXISTS over the
    // event's changes.
    if !filter.change.is_empty() {
        let mut parts = vec!["c.workspace = e.workspace".to_string(), "c.seq = e.seq".to_string()];
        for (column, value) in [
            ("c.field", &filter.change.field),
            ("c.from_value", &filter.change.from),
            ("c.to_value", &filter.change.to),
        ] {
            if let Some(value) = value {
                parts.push(format!("{column} = {}", bind(parameters, SqlValue::Text(value.clone()))));
            }
        }
        conditions.push(format!("EXISTS (SELECT 1 FROM event_changes c WHERE {})", parts.join(" AND ")));
    }

    // Each free-text word must prefix one of the event's words.
    for term in &filter.text {
        let lower = bind(parameters, SqlValue::Text(term.clone()));
        let upper = bind(parameters, SqlValue::Text(prefix_upper_bound(term)));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM event_words w WHERE w.workspace = e.workspace AND w.seq = e.seq AND w.word >= {lower} AND w.word < {upper})"
        ));
    }
    // A phrase's words are looked up in the word index (which narrows the
    // candidates), then found in order in the event's search text.
    for phrase in &filter.phrases {
        for word in phrase {
            let word = bind(parameters, SqlValue::Text(word.clone()));
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM event_words w WHERE w.workspace = e.workspace AND w.seq = e.seq AND w.word = {word})"
            ));
        }
        let pattern = bind(parameters, SqlValue::Text(phrase_pattern(phrase)));
        conditions.push(format!("instr(e.search_text, {pattern}) > 0"));
    }
    if let Some(since) = filter.since {
        let since = bind(parameters, SqlValue::Integer(since.as_millis()));
        conditions.push(format!("{ordering}.occurred_at >= {since}"));
    }
    if let Some(until) = filter.until {
        let until = bind(parameters, SqlValue::Integer(until.as_millis()));
        conditions.push(format!("{ordering}.occurred_at < {until}"));
    }
    for required in &filter.all_of {
        conditions.push(format!("({})", conjunction(filter_conditions(required, "e", parameters))));
    }
    for excluded in &filter.none_of {
        conditions.push(format!("NOT ({})", conjunction(filter_conditions(excluded, "e", parameters))));
    }
    conditions
}

/// Conditions joined by `AND`; none is true.
fn conjunction(conditions: Vec<String>) -> String {
    if conditions.is_empty() { "1".to_string() } else { conditions.join(" AND ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound("ticket."), "ticket/");
        assert_eq!(prefix_upper_bound("a"), "b");
    }
}
