//! Packed event rows (`packing.rs`): they read back as the same text, the
//! dictionary holds no personal value, a dictionary rolled back is never packed
//! with, and a packed row that does not unpack is reported, not misread.

use logbook_core::integrity::{PERSONAL_FIELDS, personal_value};
use rusqlite::Connection;

use super::packing::Packer;
use super::staging::Destination;
use super::staging_tests::{database, events};
use super::{DATABASE_FILE, SqliteStorage, append_events};
use crate::{NewEvent, NewWorkspace, Storage, StorageError, StoredEvent};

const EVENTS: usize = 600;

/// Appends `events` to workspace `acme` of a new store in `directory` that trains
/// after `train_after` events, in batches of 50, and answers every stored row.
async fn store(directory: &std::path::Path, train_after: usize, events: &[NewEvent]) -> Vec<StoredEvent> {
    let storage = SqliteStorage::open_training_after(directory, train_after).unwrap();
    let workspace =
        NewWorkspace { id: "acme".into(), name: "acme".into(), created_at: logbook_core::Timestamp::from_millis(0) };
    storage.create_workspace(workspace).await.unwrap();
    for batch in events.chunks(50) {
        storage.append("acme", batch.to_vec()).await.unwrap();
    }
    storage.stored_events("acme", 0, usize::MAX).await.unwrap()
}

fn open(directory: &std::path::Path) -> Connection {
    Connection::open(directory.join(DATABASE_FILE)).unwrap()
}

/// The bytes the rows of events `from_seq` on take for their body and commitments.
fn row_bytes(connection: &Connection, from_seq: i64) -> i64 {
    let sql = "SELECT SUM(length(body) + length(personal) + IFNULL(length(packed), 0)) FROM events WHERE seq >= ?1";
    connection.query_row(sql, [from_seq], |row| row.get(0)).unwrap()
}

#[tokio::test]
async fn packed_rows_read_back_as_the_text_they_pack_in_under_half_the_bytes() {
    let (packed_directory, text_directory) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let appended = events(EVENTS);
    let packed = store(packed_directory.path(), 100, &appended).await;
    let text = store(text_directory.path(), usize::MAX, &appended).await;
    // Some events repeat an idempotency key, and are stored once.
    assert!(packed.len() > EVENTS * 3 / 4, "{} rows", packed.len());
    assert_eq!(packed, text);
    let (packed, text) = (open(packed_directory.path()), open(text_directory.path()));
    // The first batches are the samples; every row from the training on is packed.
    let (last_text, first_packed, text_rows): (i64, i64, i64) = packed
        .query_row(
            "SELECT (SELECT MAX(seq) FROM events WHERE packed IS NULL), (SELECT MIN(seq) FROM events WHERE packed \
             IS NOT NULL), (SELECT COUNT(*) FROM events WHERE packed IS NULL)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert!(last_text < first_packed && (50..100).contains(&text_rows), "{last_text} {first_packed} {text_rows}");
    let (packed_bytes, text_bytes) = (row_bytes(&packed, first_packed), row_bytes(&text, first_packed));
    assert!(packed_bytes * 2 < text_bytes, "{packed_bytes} bytes packed, {text_bytes} as text");
}

#[tokio::test]
async fn the_dictionary_holds_no_personal_value() {
    let directory = tempfile::tempdir().unwrap();
    // One person acts in every event, and their values are found nowhere but
    // in the personal fields: without blanking, they are the most frequent text.
    let appended: Vec<NewEvent> = events(EVENTS)
        .into_iter()
        .map(|mut event| {
            let body = &mut event.body;
            body.actor.name = Some("Zelda Quartermaine".into());
            body.actor.email = Some("zelda.quartermaine@example.org".into());
            body.context.ip = Some("203.0.113.77".into());
            body.context.user_agent = Some("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101".into());
            event.commitments = logbook_core::integrity::Commitments::commit(body, || [7; 32]);
            event
        })
        .collect();
    store(directory.path(), 300, &appended).await;
    let dictionary: Vec<u8> =
        open(directory.path()).query_row("SELECT dictionary FROM dictionaries", [], |row| row.get(0)).unwrap();
    let contains = |value: &str| dictionary.windows(value.len()).any(|window| window == value.as_bytes());
    let mut checked = 0;
    for event in &appended {
        for entry in event.commitments.0.values() {
            assert!(!contains(&entry.commitment), "the dictionary holds a commitment");
            assert!(!entry.salt.as_deref().is_some_and(contains), "the dictionary holds a salt");
        }
        for field in PERSONAL_FIELDS {
            if let Some(value) = personal_value(&event.body, field).filter(|value| value.len() >= 8) {
                assert!(!contains(value), "the dictionary holds {field} {value}");
                checked += 1;
            }
        }
    }
    assert!(checked > EVENTS, "{checked} values checked");
}

#[test]
fn a_dictionary_rolled_back_is_never_packed_with() {
    let connection = database();
    let (mut packer, appended) = (Packer::new(40), events(200));
    connection.execute_batch("BEGIN").unwrap();
    append_events(&connection, &mut packer, Destination::Indexed, "acme", &appended[..50]).unwrap();
    connection.execute_batch("ROLLBACK").unwrap();
    let dictionaries = |connection: &Connection| -> i64 {
        connection.query_row("SELECT COUNT(*) FROM dictionaries", [], |row| row.get(0)).unwrap()
    };
    assert_eq!(dictionaries(&connection), 0);
    // The next append learns again: its first 40 events stay text, and the
    // rest are packed with the dictionary stored beside them.
    connection.execute_batch("BEGIN").unwrap();
    append_events(&connection, &mut packer, Destination::Indexed, "acme", &appended[..30]).unwrap();
    let rows = |connection: &Connection, condition: &str| -> i64 {
        let sql = format!("SELECT COUNT(*) FROM events WHERE {condition}");
        connection.query_row(&sql, [], |row| row.get(0)).unwrap()
    };
    let text_rows = rows(&connection, "packed IS NULL");
    assert_eq!((dictionaries(&connection), rows(&connection, "packed IS NOT NULL")), (0, 0));
    append_events(&connection, &mut packer, Destination::Indexed, "acme", &appended[30..60]).unwrap();
    connection.execute_batch("COMMIT").unwrap();
    assert_eq!(dictionaries(&connection), 1);
    assert_eq!(rows(&connection, "packed IS NULL"), text_rows);
    assert!(rows(&connection, "packed IS NOT NULL") > 0);
    let mut missing = connection
        .prepare("SELECT COUNT(*) FROM events WHERE packed IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dictionaries)")
        .unwrap();
    assert_eq!(missing.query_row([], |row| row.get::<_, i64>(0)).unwrap(), 0);
    // A dictionary stored by another under the same number is taken up, not
    // mistaken for the one this packer holds.
    let samples: Vec<String> =
        (0..400).map(|at| format!("{{\"another\":{at},\"store\":\"its sample number {}\"}}", at * 7919)).collect();
    let other = zstd::dict::from_samples(&samples, 4096).expect("another dictionary");
    let other_id = zstd::zstd_safe::get_dict_id_from_dict(&other).expect("an id").get();
    connection
        .execute("UPDATE dictionaries SET zstd_id = ?1, dictionary = ?2", rusqlite::params![other_id, other])
        .unwrap();
    append_events(&connection, &mut packer, Destination::Indexed, "beta", &appended[60..70]).unwrap();
    let mut packed = connection.prepare("SELECT packed FROM events WHERE workspace = 'beta'").unwrap();
    let stored: u32 = connection.query_row("SELECT zstd_id FROM dictionaries", [], |row| row.get(0)).unwrap();
    for frame in packed.query_map([], |row| row.get::<_, Vec<u8>>(0)).unwrap() {
        let named = zstd::zstd_safe::get_dict_id_from_frame(&frame.unwrap()).map(|id| id.get());
        assert_eq!(named, Some(stored));
    }
}

#[tokio::test]
async fn a_packed_row_that_does_not_unpack_is_reported_corrupt() {
    let directory = tempfile::tempdir().unwrap();
    store(directory.path(), 100, &events(200)).await;
    let connection = open(directory.path());
    let damages = [
        ("UPDATE events SET packed = substr(packed, 1, length(packed) - 9) WHERE seq = 150", "does not unpack"),
        ("UPDATE events SET body = '{}' WHERE seq = 151", "also holds text"),
        ("UPDATE events SET packed = X'00' WHERE seq = 152", "names no dictionary"),
        ("UPDATE dictionaries SET zstd_id = zstd_id + 1", "which the store does not hold"),
    ];
    for (seq, (damage, why)) in (150..).zip(damages) {
        assert_eq!(connection.execute(damage, []).unwrap(), 1, "{damage}");
        // A new store, so that no dictionary is remembered from before.
        let storage = SqliteStorage::open(directory.path()).unwrap();
        let read = storage.stored_events("acme", seq, 1).await;
        match read {
            Err(StorageError::Corrupt(message)) => {
                assert!(message.contains(&format!("event {seq}")) && message.contains(why), "{message}")
            }
            other => panic!("{damage}: {other:?}"),
        }
    }
    // With its dictionary back, every row before the damaged ones reads.
    connection.execute("UPDATE dictionaries SET zstd_id = zstd_id - 1", []).unwrap();
    let storage = SqliteStorage::open(directory.path()).unwrap();
    assert_eq!(storage.stored_events("acme", 0, 150).await.unwrap().len(), 150);
}
