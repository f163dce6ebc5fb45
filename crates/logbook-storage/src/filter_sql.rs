//! Translation of an [`EventQuery`] into one SQL statement over the indexed
//! columns, shared by every SQL backend: the schemas have the same tables and
//! columns, and the few places where SQLite and PostgreSQL spell things
//! differently go through a [`Dialect`]. The meaning of each filter is
//! [`logbook_core::EventFilter::matches`]; the conformance suite checks this
//! translation against it, for each backend.

use logbook_core::search::{phrase_pattern, word_prefix_pattern};
use logbook_core::{
    ActionPattern, Category, ChangeFilter, EventFilter, EventQuery, GroupBy, Order, Outcome, RecordKey,
};

/// A parameter of a statement, in a backend-neutral form that each backend
/// converts to its driver's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqlValue {
    /// A text parameter.
    Text(String),
    /// A 64-bit integer parameter.
    Integer(i64),
}

/// The SQL spellings that differ between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite: `?N` placeholders, `instr`, `strftime`.
    Sqlite,
    /// PostgreSQL: `$N` placeholders, `strpos`, `to_char`.
    Postgres,
}

impl Dialect {
    /// The column a page reads after an event's leaf: SQLite's packed body
    /// (`sqlite/packing.rs`); PostgreSQL compresses large rows itself.
    fn packed_column(self) -> &'static str {
        match self {
            Dialect::Sqlite => ", e.packed",
            Dialect::Postgres => "",
        }
    }

    /// The placeholder of the `number`th parameter (counting from 1).
    pub(crate) fn placeholder(self, number: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{number}"),
            Dialect::Postgres => format!("${number}"),
        }
    }

    /// An expression the planner will not use an index for: SQLite's unary `+`.
    /// PostgreSQL plans by statistics and needs no hint.
    fn unindexed(self, expression: &str) -> String {
        match self {
            Dialect::Sqlite => format!("+{expression}"),
            Dialect::Postgres => expression.to_string(),
        }
    }

    /// How a row of a per-event table (`other`) joins its event (`event`): on the
    /// workspace and `seq`, and on PostgreSQL also on the partition key, so that
    /// each probe reads one monthly partition instead of every one.
    fn same_event(self, other: &str, event: &str) -> String {
        let keys = format!("{other}.workspace = {event}.workspace AND {other}.seq = {event}.seq");
        match self {
            Dialect::Sqlite => keys,
            Dialect::Postgres => format!("{keys} AND {other}.received_at = {event}.received_at"),
        }
    }

    /// The join of the rows `alias` of a per-event index table (`event_records`
    /// or `event_changes`, which carry their event's `occurred_at`) to their
    /// events `e`, in the workspace bound to `workspace` (on SQLite, always `?1`).
    /// On SQLite an event's rowid follows from its workspace's number and its
    /// `seq` (`sqlite::rowid_of`), so each row is found directly rather than
    /// through the primary key's index first: at 10M events that index does not
    /// stay in memory, and a timeline of 50 events read 50 of its pages from disk.
    fn indexed_events(self, table: &str, alias: &str, workspace: &str) -> String {
        match self {
            Dialect::Sqlite => {
                debug_assert_eq!(workspace, "?1", "the workspace is a statement's first parameter");
                // The row found must also be the event named: a row moved behind
                // Logbook's back is left out rather than shown in another's place.
                format!(
                    "{table} {alias} JOIN events e ON e.rowid = {} AND e.workspace = {alias}.workspace AND e.seq = {alias}.seq",
                    crate::sqlite::rowid_sql(&format!("{alias}.seq"))
                )
            }
            Dialect::Postgres => format!("{table} {alias} JOIN events e ON {}", self.same_event(alias, "e")),
        }
    }

    /// A condition that `haystack` contains `needle` (both SQL expressions).
    fn contains(self, haystack: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({haystack}, {needle}) > 0"),
            Dialect::Postgres => format!("strpos({haystack}, {needle}) > 0"),
        }
    }

    /// The UTC day (`2026-01-31`) or hour (`2026-01-31T12:00Z`) of a column of
    /// milliseconds since the epoch, as text.
    pub(crate) fn time_bucket(self, milliseconds: &str, hour: bool) -> String {
        match (self, hour) {
            (Dialect::Sqlite, false) => format!("strftime('%Y-%m-%d', {milliseconds} / 1000, 'unixepoch')"),
            (Dialect::Sqlite, true) => format!("strftime('%Y-%m-%dT%H:00Z', {milliseconds} / 1000, 'unixepoch')"),
            (Dialect::Postgres, false) => format!(
                "to_char(to_timestamp(({milliseconds} / 1000)::double precision) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            ),
            (Dialect::Postgres, true) => format!(
                "to_char(to_timestamp(({milliseconds} / 1000)::double precision) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:00\"Z\"')"
            ),
        }
    }
}

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

/// The `FROM` and `WHERE` of a filtered read, with its parameters and dialect, and the alias
/// (`e`, `r` or `c`) whose `occurred_at` and `seq` order it.
struct Selection {
    dialect: Dialect,
    from: String,
    ordering: &'static str,
    conditions: Vec<String>,
    parameters: Parameters,
}

/// The parameters of a statement being built, the dialect that names them, and
/// whether broad conditions leave their index, to the time walk or to the index
/// of changes by value (see [`Parameters::broad`]).
struct Parameters {
    dialect: Dialect,
    values: Vec<SqlValue>,
    broad_unindexed: bool,
}

impl Parameters {
    /// `column` as a condition that holds for a large share of the log (an action
    /// prefix, a record type) compares it. For a page with no other unindexed
    /// narrowing, unindexed: the page walks the time index and stops after its
    /// rows, rather than sorting every match by time first (a third of a second
    /// at 10M events). A count needs no order, and a page with free text, a
    /// phrase or a change filter may have to walk far to fill itself, so both
    /// keep the index. (With the time index holding these columns, walking it
    /// for free text as well was tried at 10M: 200 query-language pages took
    /// over seven minutes, and the run was stopped; BENCHMARKS.md.) Where the
    /// index of changes by value drives a read, no index of events may.
    fn broad(&self, column: &str) -> String {
        if self.broad_unindexed { self.dialect.unindexed(column) } else { column.to_string() }
    }
}

fn bind(parameters: &mut Parameters, value: SqlValue) -> String {
    parameters.values.push(value);
    parameters.dialect.placeholder(parameters.values.len())
}

/// Builds the page query: `SELECT seq, id, body, leaf_hash FROM …` in feed order
/// (and `packed` on SQLite).
pub(crate) fn page_query(dialect: Dialect, workspace: &str, query: &EventQuery) -> Sql {
    let Selection { from, ordering, conditions, parameters, .. } =
        selection(dialect, workspace, &query.filter, query.max_seq, true);
    page_order(conditions, parameters, ordering, query, |conditions, order_by, limit| {
        format!(
            "SELECT e.seq, e.id, e.body, e.leaf_hash{packed} FROM {from} WHERE {conditions} ORDER BY {order_by} LIMIT {limit}",
            packed = dialect.packed_column()
        )
    })
}

/// How many rows a timeline reads ahead at most.
const MAX_ROWS_AHEAD: usize = 64;

/// For a record timeline on SQLite, the rowids of the events its page reads
/// first, in its order, found in the record index alone, at most
/// [`MAX_ROWS_AHEAD`]; `None` for any other page, a timeline filtered by more
/// than its record and categories included (the index could not tell which
/// rows such a page reads). The store reads those rows ahead, several at once
/// (`sqlite::mod.rs`, `read_rows_ahead`); the page's own query still decides
/// what it shows.
pub(crate) fn record_page_rowids(workspace: &str, query: &EventQuery) -> Option<Sql> {
    let record = query.filter.record.as_ref()?;
    let record_and_categories = EventFilter {
        record: Some(record.clone()),
        categories: query.filter.categories.clone(),
        ..EventFilter::default()
    };
    if query.filter != record_and_categories {
        return None;
    }
    let query = &EventQuery { limit: query.limit.min(MAX_ROWS_AHEAD), ..query.clone() };
    let mut parameters = Parameters { dialect: Dialect::Sqlite, values: Vec::new(), broad_unindexed: false };
    let workspace = bind(&mut parameters, SqlValue::Text(workspace.to_string()));
    let mut conditions = vec![record_condition(&mut parameters, &workspace, record)];
    if let Some(max_seq) = query.max_seq {
        let max_seq = bind(&mut parameters, SqlValue::Integer(i64::try_from(max_seq).unwrap_or(i64::MAX)));
        conditions.push(format!("r.seq <= {max_seq}"));
    }
    Some(page_order(conditions, parameters, "r", query, |conditions, order_by, limit| {
        let rowid = crate::sqlite::rowid_sql("r.seq");
        format!("SELECT {rowid} FROM event_records r WHERE {conditions} ORDER BY {order_by} LIMIT {limit}")
    }))
}

/// The rows of the record index `r` of `record` in the workspace bound to
/// `workspace`.
fn record_condition(parameters: &mut Parameters, workspace: &str, record: &RecordKey) -> String {
    let record_type = bind(parameters, SqlValue::Text(record.record_type.clone()));
    let record_id = bind(parameters, SqlValue::Text(record.id.clone()));
    format!("r.workspace = {workspace} AND r.record_type = {record_type} AND r.record_id = {record_id}")
}

/// Adds a page's cursor condition on `ordering`'s columns and binds its limit;
/// `text` writes the statement from its conditions, `ORDER BY` and limit.
fn page_order(
    mut conditions: Vec<String>,
    mut parameters: Parameters,
    ordering: &str,
    query: &EventQuery,
    text: impl FnOnce(&str, &str, &str) -> String,
) -> Sql {
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
    let order_by = format!("{ordering}.occurred_at {direction}, {ordering}.seq {direction}");
    Sql { text: text(&conditions.join(" AND "), &order_by, &limit), parameters: parameters.values }
}

/// Builds the stats query: `SELECT group, COUNT(*) … GROUP BY 1`.
pub(crate) fn stats_query(
    dialect: Dialect,
    workspace: &str,
    filter: &EventFilter,
    max_seq: u64,
    group_by: GroupBy,
) -> Sql {
    let Selection { dialect, from, ordering, conditions, parameters } =
        selection(dialect, workspace, filter, Some(max_seq), false);
    let group = match group_by {
        GroupBy::Action => "e.action".to_string(),
        GroupBy::Actor => "e.actor_id".to_string(),
        GroupBy::TargetType => "e.target_type".to_string(),
        GroupBy::Day => dialect.time_bucket(&format!("{ordering}.occurred_at"), false),
        GroupBy::Hour => dialect.time_bucket(&format!("{ordering}.occurred_at"), true),
    };
    let text = format!("SELECT {group}, COUNT(*) FROM {from} WHERE {} GROUP BY 1", conditions.join(" AND "));
    Sql { text, parameters: parameters.values }
}

/// The selection of a filter, bounded by `max_seq`.
fn selection(
    dialect: Dialect,
    workspace: &str,
    filter: &EventFilter,
    max_seq: Option<u64>,
    in_time_order: bool,
) -> Selection {
    let walk_time_index =
        in_time_order && filter.text.is_empty() && filter.phrases.is_empty() && filter.change.is_empty();
    let changes_drive = changes_by_value_drive(filter);
    let mut parameters = Parameters { dialect, values: Vec::new(), broad_unindexed: walk_time_index || changes_drive };
    let workspace = bind(&mut parameters, SqlValue::Text(workspace.to_string()));
    let mut conditions: Vec<String> = vec![format!("e.workspace = {workspace}")];

    // A record filter drives the query from the record index, and a change to a
    // value from the index of changes by value, whose rows carry the ordering
    // columns; otherwise the events table drives it.
    let (from, ordering) = match (&filter.record, changes_drive) {
        (Some(record), _) => {
            conditions.push(record_condition(&mut parameters, &workspace, record));
            (dialect.indexed_events("event_records", "r", &workspace), "r")
        }
        (None, true) => {
            conditions.push(format!(
                "c.workspace = {workspace} AND length(c.field) <= {INDEXED_CHANGE_CHARS} AND length(c.to_value) <= {INDEXED_CHANGE_CHARS}"
            ));
            conditions.extend(change_conditions(&filter.change, "c", &mut parameters));
            // An event with two such changes is one row: its first one.
            let mut earlier = vec![dialect.same_event("d", "c"), "d.position < c.position".to_string()];
            earlier.extend(change_conditions(&filter.change, "d", &mut parameters));
            conditions.push(format!("NOT EXISTS (SELECT 1 FROM event_changes d WHERE {})", earlier.join(" AND ")));
            (dialect.indexed_events("event_changes", "c", &workspace), "c")
        }
        (None, false) => ("events e".to_string(), "e"),
    };
    conditions.extend(filter_conditions(filter, ordering, &mut parameters));
    if let Some(max_seq) = max_seq {
        let max_seq = bind(&mut parameters, SqlValue::Integer(i64::try_from(max_seq).unwrap_or(i64::MAX)));
        // SQLite would otherwise drive the query by this bound (the primary key),
        // which holds nearly every row, and sort them all; unindexed, the feed's
        // order comes from the time index and a page reads only its own rows.
        conditions.push(format!("{} <= {max_seq}", dialect.unindexed(&format!("{ordering}.seq"))));
    }
    Selection { dialect, from, ordering, conditions, parameters }
}

/// The conditions of `filter` on `e`'s workspace (the first parameter),
/// category, action, actor type, target type and outcome, and their parameters.
/// For a table with those columns, such as SQLite's daily counts
/// (`daily_counts.rs`), and only for a filter of those fields alone: the
/// caller checks that, and states its time range itself.
pub(crate) fn coarse_conditions(
    dialect: Dialect,
    workspace: &str,
    filter: &EventFilter,
) -> (Vec<String>, Vec<SqlValue>) {
    let mut parameters = Parameters { dialect, values: Vec::new(), broad_unindexed: false };
    let workspace = bind(&mut parameters, SqlValue::Text(workspace.to_string()));
    let mut conditions = vec![format!("e.workspace = {workspace}")];
    let without_time = EventFilter { since: None, until: None, ..filter.clone() };
    conditions.extend(filter_conditions(&without_time, "e", &mut parameters));
    (conditions, parameters.values)
}

/// How many characters a change's field and new value may each have and be in
/// the index of changes by value (`event_changes_by_to`, a partial index): longer
/// ones (descriptions, bodies) are rarely asked for, would swell it, and on
/// PostgreSQL could outgrow the third of a page an index entry may take.
const INDEXED_CHANGE_CHARS: usize = 200;

/// Whether the index of changes by field and new value drives a read: for a
/// change to a value the index holds, unless an actor, record, IP or target's
/// own index narrows the read further.
fn changes_by_value_drive(filter: &EventFilter) -> bool {
    let change = &filter.change;
    let indexed =
        |text: &Option<String>| text.as_ref().is_some_and(|text| text.chars().count() <= INDEXED_CHANGE_CHARS);
    indexed(&change.field)
        && indexed(&change.to)
        && filter.record.is_none()
        && filter.actor_id.is_none()
        && filter.target_id.is_none()
        && filter.ip.is_none()
}

/// The conditions of a change filter on the changes row `alias`.
fn change_conditions(change: &ChangeFilter, alias: &str, parameters: &mut Parameters) -> Vec<String> {
    [("field", &change.field), ("from_value", &change.from), ("to_value", &change.to)]
        .into_iter()
        .filter_map(|(column, value)| {
            let value = value.as_ref()?;
            Some(format!("{alias}.{column} = {}", bind(parameters, SqlValue::Text(value.clone()))))
        })
        .collect()
}

/// The conditions on `e` (and `ordering`, the alias whose `occurred_at` the
/// query reads) that together mean `filter`. A record or change condition is
/// left to the caller when `ordering` is `r` or `c` (the record index or the
/// index of changes by value drives the query); otherwise it is an `EXISTS`.
fn filter_conditions(filter: &EventFilter, ordering: &str, parameters: &mut Parameters) -> Vec<String> {
    let mut conditions = Vec::new();
    if let (Some(record), "e") = (&filter.record, ordering) {
        let record_type = bind(parameters, SqlValue::Text(record.record_type.clone()));
        let record_id = bind(parameters, SqlValue::Text(record.id.clone()));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM event_records x WHERE {} AND x.record_type = {record_type} AND x.record_id = {record_id})",
            parameters.dialect.same_event("x", "e")
        ));
    }
    // Every event has one of the categories, so asking for all of them is no
    // condition at all; leaving it out lets counts read only the time index.
    let every_category = Category::ALL.iter().all(|category| filter.categories.contains(category));
    if !filter.categories.is_empty() && !every_category {
        let list: Vec<String> = filter
            .categories
            .iter()
            .map(|category| bind(parameters, SqlValue::Text(category.as_str().to_string())))
            .collect();
        // The category index serves readers of one category when nothing else
        // narrows the read; when something does (an actor, a record, an IP,
        // failures…),
        // that index is the selective one, and SQLite must not be tempted by
        // this one, which holds about half of the workspace.
        // (An action prefix or a record type alone narrows only where it keeps
        // its index: see `Parameters::broad`.)
        let broadly_narrowed =
            !parameters.broad_unindexed && (filter.target_type.is_some() || !filter.actions.is_empty());
        let narrowed = filter.actor_id.is_some()
            || filter.target_id.is_some()
            || filter.record.is_some()
            || ordering == "c"
            || filter.ip.is_some()
            || filter.actions.iter().any(|pattern| matches!(pattern, ActionPattern::Exact(_)))
            || filter.outcome == Some(Outcome::Failure)
            || broadly_narrowed;
        let column = if narrowed { parameters.dialect.unindexed("e.category") } else { "e.category".to_string() };
        conditions.push(format!("{column} IN ({})", list.join(", ")));
    }
    if !filter.actions.is_empty() {
        let alternatives: Vec<String> = filter
            .actions
            .iter()
            .map(|pattern| match pattern {
                ActionPattern::Exact(action) => {
                    // Where changes drive the read, the action index must not.
                    let column =
                        if ordering == "c" { parameters.dialect.unindexed("e.action") } else { "e.action".to_string() };
                    format!("{column} = {}", bind(parameters, SqlValue::Text(action.clone())))
                }
                ActionPattern::Prefix(prefix) => {
                    let lower = bind(parameters, SqlValue::Text(prefix.clone()));
                    let upper = bind(parameters, SqlValue::Text(prefix_upper_bound(prefix)));
                    let action = parameters.broad("e.action");
                    format!("({action} >= {lower} AND {action} < {upper})")
                }
            })
            .collect();
        conditions.push(format!("({})", alternatives.join(" OR ")));
    }
    // Plain `=`, which indexes serve (`events_by_ip` is a partial index on
    // `ip IS NOT NULL`, which `=` implies and `IS` would not); a NULL column makes
    // the comparison NULL, which exclusions below read as "does not match".
    let mut equal = |column: &str, value: Option<String>, parameters: &mut Parameters| {
        if let Some(value) = value {
            conditions.push(format!("{column} = {}", bind(parameters, SqlValue::Text(value))));
        }
    };
    equal("e.actor_id", filter.actor_id.clone(), parameters);
    equal("e.actor_type", filter.actor_type.map(|actor_type| actor_type.as_str().to_string()), parameters);
    // With an id, the target index finds the record's few events; a record type
    // alone is a large share of the log.
    let target_type_column =
        if filter.target_id.is_some() { "e.target_type".to_string() } else { parameters.broad("e.target_type") };
    equal(&target_type_column, filter.target_type.clone(), parameters);
    equal("e.target_id", filter.target_id.clone(), parameters);
    equal("e.ip", filter.ip.clone(), parameters);
    // An outcome is written as itself (one of two fixed words), so that SQLite
    // sees the condition of its partial index of failures (migration 0006).
    if let Some(outcome) = filter.outcome {
        conditions.push(format!("e.outcome = '{}'", outcome.as_str()));
    }

    // One change must meet every part given: a correlated EXISTS over the
    // event's changes.
    if !filter.change.is_empty() && ordering != "c" {
        let mut parts = vec![parameters.dialect.same_event("x", "e")];
        parts.extend(change_conditions(&filter.change, "x", parameters));
        conditions.push(format!("EXISTS (SELECT 1 FROM event_changes x WHERE {})", parts.join(" AND ")));
    }

    // Each free-text word must prefix one of the event's words: in the search
    // text every word follows a space, so that is a substring test.
    for term in &filter.text {
        let pattern = bind(parameters, SqlValue::Text(word_prefix_pattern(term)));
        conditions.push(parameters.dialect.contains("e.search_text", &pattern));
    }
    // A phrase's words must appear whole and in order within one part.
    for phrase in &filter.phrases {
        let pattern = bind(parameters, SqlValue::Text(phrase_pattern(phrase)));
        conditions.push(parameters.dialect.contains("e.search_text", &pattern));
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
        // An event matches an excluded filter only when every condition is true;
        // NULL (an event without an IP asked about its IP) counts as false.
        conditions
            .push(format!("NOT COALESCE(({}), FALSE)", conjunction(filter_conditions(excluded, "e", parameters))));
    }
    conditions
}

/// Conditions joined by `AND`; none is true.
fn conjunction(conditions: Vec<String>) -> String {
    if conditions.is_empty() { "TRUE".to_string() } else { conditions.join(" AND ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound("ticket."), "ticket/");
        assert_eq!(prefix_upper_bound("a"), "b");
    }

    /// The same filter reads the same in both dialects but for their spellings.
    #[test]
    fn dialects_differ_only_in_spelling() {
        let filter =
            EventFilter { ip: Some("10.0.0.1".into()), phrases: vec![vec!["ana".into()]], ..Default::default() };
        let sqlite = stats_query(Dialect::Sqlite, "acme", &filter, 9, GroupBy::Day);
        let postgres = stats_query(Dialect::Postgres, "acme", &filter, 9, GroupBy::Day);
        assert_eq!(sqlite.parameters, postgres.parameters);
        assert!(sqlite.text.contains("e.ip = ?2") && sqlite.text.contains("instr(e.search_text, ?3) > 0"));
        assert!(postgres.text.contains("e.ip = $2"), "{}", postgres.text);
        assert!(postgres.text.contains("strpos(e.search_text, $3) > 0") && postgres.text.contains("to_char("));
    }
}
