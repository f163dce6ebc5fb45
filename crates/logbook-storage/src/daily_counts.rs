//! Daily counts: how many events each workspace holds per UTC day, category,
//! action, actor type, target type and outcome, in an `event_counts` table kept
//! in the transaction that stores the events it counts: on SQLite the writer adds
//! an append's [`tally`] (migration 0006); on PostgreSQL a trigger on `events`
//! does the same grouping (migration 0004), so that during a rolling upgrade the
//! events appended by processes of an earlier version are counted too.
//!
//! Stats grouped by day, action or target type whose filter needs nothing finer
//! than those columns and whole days (the viewer's charts, a reporting tool's
//! daily totals) read these rows, a few per day and action, instead of every
//! matching event: over a workspace of half a million events that is a few
//! thousand rows rather than half a million index entries. Any other stats
//! request counts the events themselves (`filter_sql::stats_query`).
//!
//! A request counts the events up to a `seq`, and the counts hold every event in
//! the events table (on SQLite, staged events and their counts move there
//! together, and a read first waits for the events staged before it); so the
//! events after that `seq`, the newest few, are counted in the same statement and
//! taken away. Both parts read one snapshot, so the answer is exact.

use std::collections::HashMap;

use logbook_core::{EventFilter, GroupBy};

use crate::append_plan::EventRow;
use crate::filter_sql::{self, Dialect, Sql, SqlValue};

const MILLIS_PER_DAY: i64 = 86_400_000;

/// The UTC day of an instant in milliseconds: days since 1970-01-01, earlier
/// days negative. (The migrations compute the same in SQL, as [`day_sql`] does.)
fn day_of(millis: i64) -> i64 {
    millis.div_euclid(MILLIS_PER_DAY)
}

/// [`day_of`] in SQL (either dialect), of a column of milliseconds.
fn day_sql(millis: &str) -> String {
    format!("(({millis} - ((({millis} % {MILLIS_PER_DAY}) + {MILLIS_PER_DAY}) % {MILLIS_PER_DAY})) / {MILLIS_PER_DAY})")
}

/// The day an instant begins, when it begins one.
fn whole_day(millis: i64) -> Option<i64> {
    (millis.rem_euclid(MILLIS_PER_DAY) == 0).then(|| day_of(millis))
}

/// One row of the daily counts, as an append adds to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DayGroup<'a> {
    pub(crate) day: i64,
    pub(crate) category: &'static str,
    pub(crate) action: &'a str,
    pub(crate) actor_type: &'static str,
    pub(crate) target_type: &'a str,
    pub(crate) outcome: &'static str,
}

/// How many of the appended `events` fall in each group.
pub(crate) fn tally<'a>(events: &'a [EventRow<'_>]) -> Vec<(DayGroup<'a>, i64)> {
    let mut counts: HashMap<DayGroup<'a>, i64> = HashMap::new();
    for row in events {
        let body = &row.event.body;
        let group = DayGroup {
            day: day_of(body.occurred_at.as_millis()),
            category: body.category.as_str(),
            action: &body.action,
            actor_type: body.actor.actor_type.as_str(),
            target_type: &body.target.record_type,
            outcome: body.outcome.as_str(),
        };
        *counts.entry(group).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// The stats statement of either backend: `(group, count)` rows for the events
/// up to `max_seq`, from the daily counts when they can answer, otherwise from
/// the events ([`filter_sql::stats_query`]).
pub(crate) fn stats_query(
    dialect: Dialect,
    workspace: &str,
    filter: &EventFilter,
    max_seq: u64,
    group_by: GroupBy,
) -> Sql {
    counts_query(dialect, workspace, filter, max_seq, group_by)
        .unwrap_or_else(|| filter_sql::stats_query(dialect, workspace, filter, max_seq, group_by))
}

/// The stats statement that reads the daily counts, or `None` when the filter
/// or the grouping needs the events themselves.
pub(crate) fn counts_query(
    dialect: Dialect,
    workspace: &str,
    filter: &EventFilter,
    max_seq: u64,
    group_by: GroupBy,
) -> Option<Sql> {
    // The filter is coarse when it is made of the counts' columns alone; a field
    // added to filters later is left out here, and so counts the events.
    let coarse = *filter
        == EventFilter {
            categories: filter.categories.clone(),
            actions: filter.actions.clone(),
            actor_type: filter.actor_type,
            target_type: filter.target_type.clone(),
            outcome: filter.outcome,
            since: filter.since,
            until: filter.until,
            ..EventFilter::default()
        };
    let first_day = filter.since.map(|since| whole_day(since.as_millis()));
    let end_day = filter.until.map(|until| whole_day(until.as_millis()));
    if !coarse || first_day == Some(None) || end_day == Some(None) {
        return None;
    }
    let day_key = |day: String| dialect.time_bucket(&format!("{day} * {MILLIS_PER_DAY}"), false);
    let (counted_group, event_group) = match group_by {
        GroupBy::Day => (day_key("e.day".to_string()), day_key(day_sql("e.occurred_at"))),
        GroupBy::Action => ("e.action".to_string(), "e.action".to_string()),
        GroupBy::TargetType => ("e.target_type".to_string(), "e.target_type".to_string()),
        GroupBy::Actor | GroupBy::Hour => return None,
    };

    let (conditions, mut parameters) = filter_sql::coarse_conditions(dialect, workspace, filter);
    let mut bind = |value: i64| {
        parameters.push(SqlValue::Integer(value));
        dialect.placeholder(parameters.len())
    };
    let mut counted = conditions.clone();
    let mut later = conditions;
    if let (Some(Some(day)), Some(since)) = (first_day, filter.since) {
        counted.push(format!("e.day >= {}", bind(day)));
        later.push(format!("e.occurred_at >= {}", bind(since.as_millis())));
    }
    if let (Some(Some(day)), Some(until)) = (end_day, filter.until) {
        counted.push(format!("e.day < {}", bind(day)));
        later.push(format!("e.occurred_at < {}", bind(until.as_millis())));
    }
    later.push(format!("e.seq > {}", bind(i64::try_from(max_seq).unwrap_or(i64::MAX))));
    let later_events = match dialect {
        // Through the primary key, `(workspace, seq)`: SQLite would otherwise
        // choose an index that reads the whole workspace.
        Dialect::Sqlite => "events e INDEXED BY sqlite_autoindex_events_1",
        Dialect::Postgres => "events e",
    };

    let text = format!(
        "SELECT group_key, CAST(SUM(events) AS BIGINT) FROM (
             SELECT {counted_group} AS group_key, CAST(SUM(e.events) AS BIGINT) AS events
             FROM event_counts e WHERE {} GROUP BY 1
             UNION ALL
             SELECT {event_group} AS group_key, -COUNT(*) AS events FROM {later_events} WHERE {} GROUP BY 1
         ) AS counts GROUP BY group_key HAVING SUM(events) > 0",
        counted.join(" AND "),
        later.join(" AND ")
    );
    Some(Sql { text, parameters })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_begin_at_utc_midnight_before_and_after_1970() {
        for (millis, day) in [(0, 0), (MILLIS_PER_DAY - 1, 0), (MILLIS_PER_DAY, 1), (-1, -1), (-MILLIS_PER_DAY, -1)] {
            assert_eq!(day_of(millis), day, "{millis}");
            let connection = rusqlite::Connection::open_in_memory().unwrap();
            let in_sql: i64 = connection
                .query_row(&format!("SELECT {}", day_sql(&millis.to_string())), [], |row| row.get(0))
                .unwrap();
            assert_eq!(in_sql, day, "{millis} in SQL");
        }
        assert_eq!(whole_day(3 * MILLIS_PER_DAY), Some(3));
        assert_eq!(whole_day(3 * MILLIS_PER_DAY + 1), None);
        assert_eq!(whole_day(-MILLIS_PER_DAY), Some(-1));
    }
}
