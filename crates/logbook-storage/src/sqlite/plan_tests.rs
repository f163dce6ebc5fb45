//! The plans SQLite chooses for the feed's statements: a page must walk the time
//! index and stop after its rows, whatever the log's size, and counts over every
//! category must read the time index alone.

use logbook_core::{Category, EventFilter, EventQuery, GroupBy, Order};

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
