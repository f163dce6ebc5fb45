//! A record timeline's rows read ahead are the rows its page then reads, in the
//! same order, whatever its order, cursor and bound.

use logbook_core::{Category, EventFilter, EventQuery, Order, Position, RecordKey, Timestamp};
use rusqlite::Connection;

use super::staging::Destination;
use super::staging_tests::{append, database, events};
use super::{SEQS_PER_WORKSPACE, sqlite_value};
use crate::filter_sql::{self, Dialect, Sql};

/// The first column of every row `sql` returns.
fn first_column(connection: &Connection, sql: &Sql) -> Vec<i64> {
    let mut statement = connection.prepare(&sql.text).unwrap();
    let parameters: Vec<rusqlite::types::Value> = sql.parameters.iter().map(sqlite_value).collect();
    let rows = statement.query_map(rusqlite::params_from_iter(parameters.iter()), |row| row.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
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
                    let ahead_seqs: Vec<i64> = ahead.iter().map(|rowid| rowid % SEQS_PER_WORKSPACE).collect();
                    assert_eq!(ahead_seqs, page, "{query:?}");
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
