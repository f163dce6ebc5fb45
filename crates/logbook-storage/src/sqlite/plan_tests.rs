//! The plans SQLite chooses for the feed's statements: a page must walk the time
//! index and stop after its rows, whatever the log's size, and counts over every
//! category must read one index alone.

use logbook_core::{ActionPattern, Category, EventFilter, EventQuery, GroupBy, Order};

use crate::filter_sql::{self, Dialect, Sql};

/// The plan SQLite chooses for a statement, one detail per line.
fn plan(sql: &Sql) -> String {
    let connection = rusqlite::Connection::open_in_memory().unwrap();
    super::migrations::migrate(&connection).unwrap();
    let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text)).unwrap();
    let parameters: Vec<rusqlite::types::Value> = sql.parameters.iter().map(super::sqlite_value).collect();
    let details =
        statement.query_map(rusqlite::params_from_iter(parameters.iter()), |row| row.get::<_, String>(3)).unwrap();
    details.map(Result::unwrap).collect::<Vec<_>>().join("\n")
}

/// The columns beyond `(workspace, occurred_at, seq)` that the program SQLite
/// compiles a statement to reads from an index rather than from a row, and
/// whether it seeks the row only once it needs one of the row's own columns.
fn columns_read_from_an_index(sql: &Sql) -> (Vec<i64>, bool) {
    let connection = rusqlite::Connection::open_in_memory().unwrap();
    super::migrations::migrate(&connection).unwrap();
    let mut statement = connection.prepare(&format!("EXPLAIN {}", sql.text)).unwrap();
    let parameters: Vec<rusqlite::types::Value> = sql.parameters.iter().map(super::sqlite_value).collect();
    let program: Vec<(String, i64, i64, Option<String>)> = statement
        .query_map(rusqlite::params_from_iter(parameters.iter()), |row| {
            Ok((row.get(1)?, row.get(2)?, row.get(3)?, row.get::<_, Option<String>>(5).ok().flatten()))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // An index's cursor is opened with its key's description, `k(…)`.
    let index_cursors: Vec<i64> = program
        .iter()
        .filter(|(opcode, _, _, p4)| opcode == "OpenRead" && p4.as_deref().is_some_and(|key| key.starts_with("k(")))
        .map(|(_, cursor, _, _)| *cursor)
        .collect();
    let columns = program
        .iter()
        .filter(|(opcode, cursor, column, _)| opcode == "Column" && index_cursors.contains(cursor) && *column >= 3)
        .map(|(_, _, column, _)| *column)
        .collect();
    (columns, program.iter().any(|(opcode, _, _, _)| opcode == "DeferredSeek"))
}

#[test]
fn a_feed_page_reads_the_time_index_and_sorts_nothing() {
    // With every category visible and no other filter (an admin's feed), a page
    // must walk the time index and stop after `limit` rows, at any log size.
    let filter = EventFilter { categories: Category::ALL.to_vec(), ..EventFilter::default() };
    let query =
        EventQuery { filter: filter.clone(), order: Order::Desc, limit: 51, after: None, max_seq: Some(1_000_000) };
    let page = plan(&filter_sql::page_query(Dialect::Sqlite, "demo", &query));
    assert!(page.contains("events_by_time"), "{page}");
    assert!(!page.contains("TEMP B-TREE"), "{page}");
    let counts = plan(&filter_sql::stats_query(Dialect::Sqlite, "demo", &filter, 1_000_000, GroupBy::Day));
    // A count reads one index and no event row (the category index is the
    // narrowest that covers it).
    assert!(counts.contains("COVERING INDEX"), "{counts}");
}

#[test]
fn filters_read_their_own_index() {
    let check = |filter: EventFilter, index: &str| {
        let query = EventQuery { filter: filter.clone(), order: Order::Desc, limit: 51, after: None, max_seq: Some(9) };
        let page = plan(&filter_sql::page_query(Dialect::Sqlite, "demo", &query));
        assert!(page.contains(index), "{filter:?}: {page}");
        assert!(!page.contains("TEMP B-TREE"), "{filter:?}: {page}");
    };
    let activity = || EventFilter { categories: vec![Category::Activity], ..EventFilter::default() };
    check(EventFilter { ip: Some("203.0.113.7".into()), ..activity() }, "events_by_ip");
    check(EventFilter { actor_id: Some("U-7".into()), ..activity() }, "events_by_actor");
    check(activity(), "events_by_category");
    let counts = plan(&filter_sql::stats_query(Dialect::Sqlite, "demo", &activity(), 9, GroupBy::Day));
    assert!(counts.contains("COVERING INDEX events_by_category"), "{counts}");
}

#[test]
fn broad_filters_walk_the_time_index_for_a_page_and_their_own_for_a_count() {
    // An action prefix or a record type alone matches a large share of the log:
    // through its own index a page would sort every match by time first.
    let everything = || EventFilter { categories: Category::ALL.to_vec(), ..EventFilter::default() };
    let prefix = EventFilter { actions: vec![ActionPattern::Prefix("ticket.".into())], ..everything() };
    let record_type = EventFilter { target_type: Some("ticket".into()), ..everything() };
    for (filter, own_index) in [(prefix, "events_by_action"), (record_type, "events_by_target")] {
        let query = EventQuery { filter: filter.clone(), order: Order::Desc, limit: 51, after: None, max_seq: Some(9) };
        let page = plan(&filter_sql::page_query(Dialect::Sqlite, "demo", &query));
        assert!(page.contains("events_by_time"), "{filter:?}: {page}");
        assert!(!page.contains("TEMP B-TREE"), "{filter:?}: {page}");
        let counts = plan(&filter_sql::stats_query(Dialect::Sqlite, "demo", &filter, 9, GroupBy::Day));
        assert!(counts.contains(&format!("COVERING INDEX {own_index}")), "{filter:?}: {counts}");
    }
    // With free text and an exclusion as well (the query language's
    // `action:ticket.* -actor_type:system refund`), the walk could be long: the
    // prefix keeps its index.
    let with_text = EventFilter {
        actions: vec![ActionPattern::Prefix("ticket.".into())],
        text: vec!["refund".into()],
        none_of: vec![EventFilter { actor_type: Some(logbook_core::ActorType::System), ..EventFilter::default() }],
        ..everything()
    };
    let query = EventQuery { filter: with_text.clone(), order: Order::Desc, limit: 51, after: None, max_seq: Some(9) };
    let page = plan(&filter_sql::page_query(Dialect::Sqlite, "demo", &query));
    assert!(page.contains("events_by_action"), "{with_text:?}: {page}");
}

#[test]
fn coarse_stats_read_the_daily_counts_and_only_the_newest_events() {
    let everything = || EventFilter { categories: Category::ALL.to_vec(), ..EventFilter::default() };
    let midnight = logbook_core::Timestamp::from_millis(20_000 * 86_400_000);
    let coarse = [
        everything(),
        EventFilter { categories: vec![Category::Audit], ..EventFilter::default() },
        EventFilter { actions: vec![ActionPattern::Prefix("ticket.".into())], since: Some(midnight), ..everything() },
        EventFilter { target_type: Some("ticket".into()), until: Some(midnight), ..everything() },
    ];
    for filter in coarse {
        for group_by in [GroupBy::Day, GroupBy::Action, GroupBy::TargetType] {
            let sql = crate::daily_counts::counts_query(Dialect::Sqlite, "demo", &filter, 9, group_by)
                .expect("the daily counts serve it");
            let plan = plan(&sql);
            assert!(plan.contains("SEARCH e USING PRIMARY KEY (workspace=?"), "{filter:?}: {plan}");
            assert!(
                plan.contains("USING INDEX sqlite_autoindex_events_1 (workspace=? AND seq>?)"),
                "{filter:?}: {plan}"
            );
            assert!(!plan.contains("events_by_"), "{filter:?}: {plan}");
        }
    }
    let finer = [
        EventFilter { actor_id: Some("U-7".into()), ..everything() },
        EventFilter { text: vec!["refund".into()], ..everything() },
        EventFilter { since: Some(midnight.plus_millis(1)), ..everything() },
        EventFilter { none_of: vec![EventFilter::default()], ..everything() },
    ];
    for filter in finer {
        assert!(
            crate::daily_counts::counts_query(Dialect::Sqlite, "demo", &filter, 9, GroupBy::Day).is_none(),
            "{filter:?}"
        );
    }
    for group_by in [GroupBy::Hour, GroupBy::Actor] {
        assert!(
            crate::daily_counts::counts_query(Dialect::Sqlite, "demo", &everything(), 9, group_by).is_none(),
            "{group_by:?}"
        );
    }
}

/// The first page of a ticket's timeline.
fn ticket_timeline() -> EventQuery {
    let filter = EventFilter {
        categories: Category::ALL.to_vec(),
        record: Some(logbook_core::RecordKey { record_type: "ticket".into(), id: "T-7".into() }),
        ..EventFilter::default()
    };
    EventQuery { filter, order: Order::Desc, limit: 51, after: None, max_seq: Some(9) }
}

#[test]
fn a_timeline_finds_each_event_by_its_rowid() {
    let query = ticket_timeline();
    let page = plan(&filter_sql::page_query(Dialect::Sqlite, "demo", &query));
    assert!(page.contains("SEARCH r USING PRIMARY KEY (workspace=? AND record_type=? AND record_id=?)"), "{page}");
    assert!(page.contains("SEARCH e USING INTEGER PRIMARY KEY (rowid=?)"), "{page}");
    assert!(!page.contains("TEMP B-TREE"), "{page}");
}

#[test]
fn a_timeline_s_rows_are_found_ahead_in_the_record_index_alone() {
    let query = ticket_timeline();
    let ahead = plan(&filter_sql::record_page_rowids("demo", &query).expect("a record timeline"));
    assert!(ahead.contains("SEARCH r USING PRIMARY KEY (workspace=? AND record_type=? AND record_id=?)"), "{ahead}");
    assert!(!ahead.contains(" e ") && !ahead.contains("TEMP B-TREE"), "{ahead}");
    let feed = EventQuery { filter: EventFilter { record: None, ..query.filter.clone() }, ..query };
    assert!(filter_sql::record_page_rowids("demo", &feed).is_none(), "only a record timeline reads ahead");
}

#[test]
fn a_feed_of_failures_reads_the_index_of_failures() {
    for categories in [Category::ALL.to_vec(), vec![Category::Audit]] {
        let filter =
            EventFilter { categories, outcome: Some(logbook_core::Outcome::Failure), ..EventFilter::default() };
        let query = EventQuery { filter, order: Order::Desc, limit: 51, after: None, max_seq: Some(9) };
        let page = plan(&filter_sql::page_query(Dialect::Sqlite, "demo", &query));
        assert!(page.contains("events_by_failure"), "{page}");
        assert!(!page.contains("TEMP B-TREE"), "{page}");
    }
}

#[test]
fn broad_filters_are_checked_on_the_time_index_before_the_row_is_read() {
    // The time index holds the category, action, actor type, target type and
    // outcome, so a page walking it checks them there and seeks an event's row
    // only once that row matches, not for every entry it passes over.
    let everything = || EventFilter { categories: Category::ALL.to_vec(), ..EventFilter::default() };
    let broad = [
        EventFilter { actions: vec![ActionPattern::Prefix("ticket.".into())], ..everything() },
        EventFilter { target_type: Some("ticket".into()), ..everything() },
        EventFilter { actor_type: Some(logbook_core::ActorType::Api), ..everything() },
    ];
    for filter in broad {
        let query = EventQuery { filter: filter.clone(), order: Order::Desc, limit: 51, after: None, max_seq: Some(9) };
        let sql = filter_sql::page_query(Dialect::Sqlite, "demo", &query);
        assert!(plan(&sql).contains("events_by_time"), "{filter:?}");
        let (columns, deferred_seek) = columns_read_from_an_index(&sql);
        assert!(!columns.is_empty() && deferred_seek, "{filter:?}: {columns:?}");
    }
}

#[test]
fn a_change_to_a_value_is_found_in_the_index_of_changes_by_value() {
    let to = |value: &str| EventFilter {
        categories: Category::ALL.to_vec(),
        actions: vec![ActionPattern::Prefix("ticket.".into())],
        change: logbook_core::ChangeFilter { field: Some("status".into()), from: None, to: Some(value.into()) },
        ..EventFilter::default()
    };
    let query = |filter: EventFilter| EventQuery {
        filter,
        order: Order::Desc,
        limit: 51,
        after: None,
        max_seq: Some(1_000_000),
    };
    // A page walks the index of changes by value in the feed's order and joins
    // each event by rowid; it sorts nothing, and no index of events drives it.
    let page = plan(&filter_sql::page_query(Dialect::Sqlite, "demo", &query(to("solved"))));
    assert!(page.contains("event_changes_by_to"), "{page}");
    assert!(page.contains("INTEGER PRIMARY KEY (rowid=?)"), "{page}");
    assert!(!page.contains("TEMP B-TREE") && !page.contains("events_by_"), "{page}");
    let counts = plan(&filter_sql::stats_query(Dialect::Sqlite, "demo", &to("solved"), 1_000_000, GroupBy::Day));
    assert!(counts.contains("event_changes_by_to"), "{counts}");
    // A value or field too long for that index is looked for as before.
    let long = plan(&filter_sql::page_query(Dialect::Sqlite, "demo", &query(to(&"x".repeat(201)))));
    assert!(!long.contains("event_changes_by_to"), "{long}");
    let long_field = EventFilter {
        change: logbook_core::ChangeFilter { field: Some("f".repeat(201)), ..to("solved").change },
        ..to("solved")
    };
    let long = plan(&filter_sql::page_query(Dialect::Sqlite, "demo", &query(long_field)));
    assert!(!long.contains("event_changes_by_to"), "{long}");
}
