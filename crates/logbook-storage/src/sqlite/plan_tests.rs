//! The plans SQLite chooses for the feed's statements: a page must walk the time
//! index and stop after its rows, whatever the log's size, and counts over every
//! category must read the time index alone.

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
    assert!(counts.contains("COVERING INDEX events_by_time"), "{counts}");
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
    // With free text as well, the walk could be long: the prefix keeps its index.
    let with_text = EventFilter {
        actions: vec![ActionPattern::Prefix("ticket.".into())],
        text: vec!["refund".into()],
        ..everything()
    };
    let query = EventQuery { filter: with_text.clone(), order: Order::Desc, limit: 51, after: None, max_seq: Some(9) };
    let page = plan(&filter_sql::page_query(Dialect::Sqlite, "demo", &query));
    assert!(page.contains("events_by_action"), "{with_text:?}: {page}");
}
