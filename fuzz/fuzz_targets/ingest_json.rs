//! Any request body given to ingest: the JSON is parsed, split into events as
//! the handler does (one event, or `{"events": [...]}`), and each event
//! validated. An accepted event must then go through everything storing it
//! does without failing: commitments, the canonical form and leaf hash, the
//! search words and text, its description; and the body storage writes must
//! read back to the same event with the same leaf hash. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logbook_core::integrity::{Commitments, LeafPosition, leaf_hash};
use logbook_core::validate::validate_event;
use logbook_core::{Catalog, EventBody, Timestamp, WorkspaceCatalog};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let items = match value {
        Value::Object(mut object) if object.contains_key("events") => match object.remove("events") {
            Some(Value::Array(items)) => items,
            _ => return,
        },
        single => vec![single],
    };
    let document = WorkspaceCatalog::default();
    let catalog = Catalog::new(&document);
    let now = Timestamp::from_millis(1_790_000_000_000);
    for item in items.iter().take(1000) {
        let Ok(body) = validate_event(item, &catalog, now, &Default::default()) else {
            continue;
        };
        let mut counter = 0u8;
        let commitments = Commitments::commit(&body, || {
            counter = counter.wrapping_add(1);
            [counter; 32]
        });
        let position = LeafPosition { workspace: "acme", seq: 7, id: "0190a7f0-0000-7000-8000-000000000000" };
        let hash = leaf_hash(position, &body, &commitments).expect("an accepted event has a canonical form");
        commitments.check_values(&body).expect("fresh commitments match their values");
        let _ = logbook_core::search::searchable_words(&body);
        let _ = logbook_core::search::search_text(&body);
        let _ = logbook_core::catalog::describe(&body, catalog.lookup(&body.action));

        let stored = serde_json::to_string(&body).expect("an event body serialises");
        let read: EventBody = serde_json::from_str(&stored).expect("a stored body reads back");
        assert_eq!(read, body, "a stored body reads back unchanged");
        let again = leaf_hash(position, &read, &commitments).expect("a read body has a canonical form");
        assert_eq!(again, hash, "a stored event verifies when read back");
    }
});
