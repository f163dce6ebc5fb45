//! Any text read as JSON by `logbook_tlog::json::Document`, which `logbook
//! verify` uses on every line of an export it is given and the server on every
//! event it stores. It must accept the texts `serde_json` accepts and refuse
//! the others (but for numbers beyond a double's range, which `serde_json`
//! refuses and the document keeps as written, with no canonical form). Where no
//! object names a member twice (which `serde_json::Value` would keep silently),
//! its canonical form must be the one a plain reference writes from the value
//! `serde_json` reads; where one does, it must have none. A text that
//! `canonical_text` reads as canonical (which `logbook verify` then copies into
//! a leaf) must be exactly that canonical form. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logbook_tlog::canonical::{CanonicalError, MAX_SAFE_INTEGER, canonicalize_document, format_double};
use logbook_tlog::canonical_text;
use logbook_tlog::json::{Document, NodeId};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let document = Document::parse(text);
    let value = serde_json::from_str::<Value>(text);
    if canonical_text::is_canonical_value(text) {
        let canonical = document.as_ref().map(canonicalize_document);
        assert!(matches!(canonical, Ok(Ok(ref bytes)) if bytes == text.as_bytes()), "{text:?} is read as canonical");
    }
    if value.as_ref().is_err_and(|error| error.to_string().starts_with("number out of range")) {
        let canonical = document.map(|document| canonicalize_document(&document));
        assert!(!matches!(canonical, Ok(Ok(_))), "{text:?} has a number beyond a double's range");
        return;
    }
    assert_eq!(document.is_ok(), value.is_ok(), "{text:?}: {:?} {:?}", document.err(), value.err());
    let (Ok(document), Ok(value)) = (document, value) else {
        return;
    };
    let canonical = canonicalize_document(&document).map(|bytes| String::from_utf8(bytes).expect("UTF-8"));
    if names_a_member_twice(&document, document.root()) {
        assert!(canonical.is_err(), "{text:?} names a member twice");
    } else {
        assert_eq!(canonical, reference(&value), "{text:?}");
    }
});

/// RFC 8785 written the plain way from a `serde_json` value: members sorted by
/// their UTF-16 code units, strings as `serde_json` writes them (which is what
/// RFC 8785 asks for), integers within ±(2^53 − 1) as they are, other integers
/// refused, and every other number as ECMAScript writes a double.
fn reference(value: &Value) -> Result<String, CanonicalError> {
    Ok(match value {
        Value::Number(number) if number.is_i64() || number.is_u64() => match number.as_i64() {
            Some(integer) if integer.unsigned_abs() <= MAX_SAFE_INTEGER => integer.to_string(),
            _ => return Err(CanonicalError::UnsafeInteger(number.to_string())),
        },
        Value::Number(number) => format_double(number.as_f64().expect("a double"))?,
        Value::Array(items) => format!("[{}]", items.iter().map(reference).collect::<Result<Vec<_>, _>>()?.join(",")),
        Value::Object(members) => {
            let mut members: Vec<_> = members.iter().collect();
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            let members = members
                .into_iter()
                .map(|(name, value)| Ok(format!("{}:{}", Value::String(name.clone()), reference(value)?)))
                .collect::<Result<Vec<_>, CanonicalError>>()?;
            format!("{{{}}}", members.join(","))
        }
        other => other.to_string(),
    })
}

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
