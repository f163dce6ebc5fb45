//! Any text given as `query` is either read into a filter that can be evaluated,
//! or refused with a position inside the text (or just past its end); it never
//! panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logbook_core::query_language::parse_query;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_query(text) {
        Ok(filter) => {
            // The filter means something for every event: evaluate it on one.
            let _ = filter.matches(&sample_event());
            let _ = filter.clone().and(filter);
        }
        Err(error) => {
            let length = text.chars().count();
            assert!(error.position >= 1 && error.position <= length.max(1000) + 1, "{error} in {text:?}");
            assert!(!error.message.is_empty());
        }
    }
});

fn sample_event() -> logbook_core::EventBody {
    let value = serde_json::json!({
        "action": "ticket.status_changed",
        "actor": {"id": "U-7", "name": "Ana Lee"},
        "target": {"type": "ticket", "id": "T-42", "name": "Printer on fire"},
        "related": [{"type": "group", "id": "billing"}],
        "changes": [{"field": "status", "from": "open", "to": "solved"}],
        "context": {"ip": "203.0.113.7"},
    });
    let document = logbook_core::WorkspaceCatalog::default();
    let catalog = logbook_core::Catalog::new(&document);
    let now = logbook_core::Timestamp::from_millis(1_790_000_000_000);
    logbook_core::validate::validate_event(&value, &catalog, now, &Default::default()).expect("a valid event")
}
