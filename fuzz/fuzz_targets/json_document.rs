//! Any text read as JSON by `logbook_tlog::json::Document`, which `logbook
//! verify` uses on every line of an export it is given and the server on every
//! event it stores: it must accept exactly the texts `serde_json` accepts, and
//! where no object names a member twice (which `serde_json::Value` would keep
//! silently), write the same canonical form, or refuse it for the same reason,
//! as the value `serde_json` reads; where one does, it must have none.
//! Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logbook_tlog::canonical::{canonicalize, canonicalize_document};
use logbook_tlog::json::{Document, NodeId};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let document = Document::parse(text);
    let value = serde_json::from_str::<Value>(text);
    // serde_json stops at a number beyond the range of a double, where the
    // document keeps its token (and the canonical form refuses it) and reads on:
    // then only the rest of the text decides.
    let out_of_range = value.as_ref().err().is_some_and(|error| error.to_string().contains("number out of range"));
    if !out_of_range {
        assert_eq!(document.is_ok(), value.is_ok(), "{text:?}: {:?} {:?}", document.err(), value.err());
    }
    let (Ok(document), Ok(value)) = (document, value) else {
        return;
    };
    if names_a_member_twice(&document, document.root()) {
        let refused = canonicalize_document(&document).is_err();
        assert!(refused, "{text:?} names a member twice");
    } else {
        assert_eq!(canonicalize_document(&document), canonicalize(&value), "{text:?}");
    }
});

/// Whether an object in `node` names a member twice (and `serde_json::Value`
/// kept only the last).
fn names_a_member_twice(document: &Document<'_>, node: NodeId) -> bool {
    if let Some(members) = document.members(node) {
        let members: Vec<_> = members.collect();
        let twice = members.iter().enumerate().any(|(at, member)| members[..at].iter().any(|m| m.name == member.name));
        return twice
            || members.iter().any(|member| member.value.is_some_and(|value| names_a_member_twice(document, value)));
    }
    document.items(node).is_some_and(|items| items.iter().any(|&item| names_a_member_twice(document, item)))
}
