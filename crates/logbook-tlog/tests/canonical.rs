//! RFC 8785 canonical forms of random JSON texts, read into a [`Document`],
//! against a reference written from `serde_json` values.

use logbook_tlog::canonical::{canonicalize, canonicalize_document};
use logbook_tlog::json::Document;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

/// Characters that exercise escapes, the UTF-16 order of names and multi-byte
/// UTF-8.
const ALPHABET: [char; 16] = [
    'a', 'b', 'Z', '0', '"', '\\', '/', '\n', '\u{1}', '\u{1f}', '\u{7f}', 'é', '\u{2028}', '\u{e000}', '\u{ffff}',
    '😀',
];

fn random_string(rng: &mut SmallRng) -> String {
    let length = rng.random_range(0..6);
    (0..length).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())]).collect()
}

fn random_value(rng: &mut SmallRng, depth: usize) -> Value {
    let kind = if depth == 0 { rng.random_range(0..4) } else { rng.random_range(0..6) };
    match kind {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => Value::from(rng.random_range(-(1_i64 << 53) + 1..1_i64 << 53) >> rng.random_range(0..53)),
        3 => Value::String(random_string(rng)),
        4 => Value::Array((0..rng.random_range(0..4)).map(|_| random_value(rng, depth - 1)).collect()),
        _ => {
            let members = (0..rng.random_range(0..5)).map(|_| (random_string(rng), random_value(rng, depth - 1)));
            Value::Object(members.collect::<Map<_, _>>())
        }
    }
}

/// RFC 8785 written the plain way: members sorted by their UTF-16 code units,
/// and everything else as `serde_json` writes it, whose string escapes and
/// integers are already what RFC 8785 asks for.
fn reference(value: &Value) -> String {
    match value {
        Value::Array(items) => format!("[{}]", items.iter().map(reference).collect::<Vec<_>>().join(",")),
        Value::Object(members) => {
            let mut members: Vec<_> = members.iter().collect();
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            let members: Vec<_> = members
                .into_iter()
                .map(|(name, value)| format!("{}:{}", Value::String(name.clone()), reference(value)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        other => other.to_string(),
    }
}

#[test]
fn random_texts_have_the_reference_canonical_form() {
    let mut rng = SmallRng::seed_from_u64(8785);
    for round in 0..3000 {
        let value = random_value(&mut rng, 4);
        let want = reference(&value);
        for text in [value.to_string(), serde_json::to_string_pretty(&value).unwrap()] {
            let document = Document::parse(&text).unwrap_or_else(|error| panic!("round {round}: {error}: {text}"));
            let canonical = canonicalize_document(&document).unwrap();
            assert_eq!(String::from_utf8(canonical).unwrap(), want, "round {round}: {text}");
        }
        assert_eq!(String::from_utf8(canonicalize(&value).unwrap()).unwrap(), want, "round {round}");
    }
}

#[test]
fn random_texts_that_are_not_json_are_refused_like_serde_json_refuses_them() {
    let mut rng = SmallRng::seed_from_u64(4627);
    for round in 0..3000 {
        let text = random_value(&mut rng, 3).to_string();
        // Cut the text short, or change one of its bytes to one that JSON gives a meaning.
        let mut bytes = text.into_bytes();
        if rng.random_bool(0.3) {
            bytes.truncate(rng.random_range(0..bytes.len()));
        } else {
            let at = rng.random_range(0..bytes.len());
            let meaningful = b"{}[],:\"\\ 0-.eE\x01x";
            bytes[at] = meaningful[rng.random_range(0..meaningful.len())];
        }
        let Ok(text) = String::from_utf8(bytes) else { continue };
        let serde = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
        assert_eq!(Document::parse(&text).is_ok(), serde, "round {round}: {text:?}");
    }
}

#[test]
fn nesting_is_limited_where_serde_json_limits_it() {
    for depth in [126, 127, 128, 129] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let serde = serde_json::from_str::<Value>(&text).is_ok();
        assert_eq!(Document::parse(&text).is_ok(), serde, "depth {depth}");
    }
}
