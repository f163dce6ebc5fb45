//! A record timeline's rows read ahead are the rows its page then reads, in the
//! same order, whatever its order, cursor and bound.

use logbook_core::{Category, EventFilter, EventQuery, Order, Position, RecordKey, Timestamp};
use rusqlite::Connection;

use super::sqlite_value;
use super::staging::Destination;
use super::staging_tests::{append, database, events};
use crate::filter_sql::{self, Dialect, Sql};

/// The first column of every row `sql` returns.
fn first_column(connection: &Connection, sql: &Sql) -> Vec<i64> {
    let mut statement = connection.prepare(&sql.text).unwrap();
    let parameters: Vec<rusqlite::types::Value> = sql.parameters.iter().map(sqlite_value).collect();
    let rows = statement.query_map(rusqlite::params_from_iter(parameters.iter()), |row| row.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// The rowids of `acme`'s events `seqs`.
fn rowids(connection: &Connection, seqs: &[i64]) -> Vec<i64> {
    let mut statement = connection.prepare("SELECT rowid FROM events WHERE workspace = 'acme' AND seq = ?1").unwrap();
    seqs.iter().map(|seq| statement.query_row([seq], |row| row.get(0)).unwrap()).collect()
}

#[test]
fn the_rows_read_ahead_are_the_page_s_rows() {
    let connection = database();
    let appended = events(300);
    append(&connection, Destination::Indexed, "acme", &appended[..150]);
    append(&connection, Destination::Indexed, "beta", &appended[150..]);
    let records: Vec<(String, String)> = connection
        .prepare("SELECT DISTINCT record_type, record_id FROM event_records WHERE workspace = 'acme' ORDER BY 1, 2")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(records.len() > 10, "the workload names many records");
    let mut pages = 0;
    for (record_type, id) in records {
        let filter = EventFilter {
            categories: Category::ALL.to_vec(),
            record: Some(RecordKey { record_type, id }),
            ..EventFilter::default()
        };
        for order in [Order::Desc, Order::Asc] {
            for max_seq in [None, Some(70)] {
                let mut query = EventQuery { filter: filter.clone(), order, limit: 3, after: None, max_seq };
                loop {
                    let page = first_column(&connection, &filter_sql::page_query(Dialect::Sqlite, "acme", &query));
                    let ahead = first_column(&connection, &filter_sql::record_page_rowids("acme", &query).unwrap());
                    assert_eq!(ahead, rowids(&connection, &page), "{query:?}");
                    pages += 1;
                    let Some(&last) = page.last() else { break };
                    let occurred_at: i64 = connection
                        .query_row(
                            "SELECT occurred_at FROM events WHERE workspace = 'acme' AND seq = ?1",
                            [last],
                            |row| row.get(0),
                        )
                        .unwrap();
                    let seq = u64::try_from(last).unwrap();
                    query.after = Some(Position { occurred_at: Timestamp::from_millis(occurred_at), seq });
                }
            }
        }
    }
    assert!(pages > 100, "{pages} pages");
}

#[test]
fn at_most_64_rows_are_read_ahead_and_only_for_a_record_alone() {
    let connection = database();
    append(&connection, Destination::Indexed, "acme", &events(1000));
    let (record_type, id): (String, String) = connection
        .query_row(
            "SELECT record_type, record_id FROM event_records WHERE workspace = 'acme'
             GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let filter = EventFilter {
        categories: vec![Category::Activity],
        record: Some(RecordKey { record_type, id }),
        ..EventFilter::default()
    };
    let query = EventQuery { filter: filter.clone(), order: Order::Desc, limit: 1000, after: None, max_seq: None };
    let everything =
        EventQuery { filter: EventFilter { categories: Category::ALL.to_vec(), ..filter.clone() }, ..query.clone() };
    let page = first_column(&connection, &filter_sql::page_query(Dialect::Sqlite, "acme", &everything));
    assert!(page.len() > 64, "the busiest record has {} events", page.len());
    for query in [&query, &everything] {
        let ahead = first_column(&connection, &filter_sql::record_page_rowids("acme", query).unwrap());
        assert_eq!(ahead, rowids(&connection, &page[..64]), "the first 64 rows of the record");
    }
    let narrower = [
        EventFilter { actions: vec![logbook_core::ActionPattern::parse("ticket.*").unwrap()], ..filter.clone() },
        EventFilter { since: Some(Timestamp::from_millis(0)), ..filter.clone() },
        EventFilter { text: vec!["refund".into()], ..filter.clone() },
    ];
    for filter in narrower {
        let query = EventQuery { filter, ..query.clone() };
        assert!(filter_sql::record_page_rowids("acme", &query).is_none(), "{query:?}");
    }
}
