//! RFC 8785 canonical forms of random JSON texts, read into a [`Document`],
//! against a reference written from `serde_json` values by other code than the
//! canonical writer's.

use logbook_tlog::canonical::{CanonicalError, MAX_SAFE_INTEGER, canonicalize, canonicalize_document, format_double};
use logbook_tlog::canonical_text;
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
    let kind = if depth == 0 { rng.random_range(0..5) } else { rng.random_range(0..7) };
    match kind {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => Value::from(rng.random_range(-(1_i64 << 53) + 1..1_i64 << 53) >> rng.random_range(0..53)),
        3 => Value::String(random_string(rng)),
        4 => Value::from(random_double(rng)),
        5 => Value::Array((0..rng.random_range(0..4)).map(|_| random_value(rng, depth - 1)).collect()),
        _ => {
            let members = (0..rng.random_range(0..5)).map(|_| (random_string(rng), random_value(rng, depth - 1)));
            Value::Object(members.collect::<Map<_, _>>())
        }
    }
}

/// A finite double of any size, or a whole one, or zero of either sign.
fn random_double(rng: &mut SmallRng) -> f64 {
    match rng.random_range(0..4) {
        0 => f64::from_bits(rng.random_range(0..0x7ff0_0000_0000_0000)) * if rng.random() { 1.0 } else { -1.0 },
        1 => f64::from(rng.random_range(-1000..1000)) / 8.0,
        2 => rng.random_range(-1e25..1e25_f64).trunc(),
        _ => {
            if rng.random() {
                0.0
            } else {
                -0.0
            }
        }
    }
}

/// RFC 8785 written the plain way: members sorted by their UTF-16 code units,
/// strings and safe integers as `serde_json` writes them (which is what RFC 8785
/// asks for), and other numbers as ECMAScript writes a double.
fn reference(value: &Value) -> String {
    match value {
        Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(integer), _) if integer.unsigned_abs() <= MAX_SAFE_INTEGER => integer.to_string(),
            (_, Some(double)) if !number.is_i64() && !number.is_u64() => format_double(double).unwrap(),
            _ => panic!("an unsafe integer: {number}"),
        },
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

/// Checks that a text read as canonical by `canonical_text` is its own
/// canonical form; answers whether it was.
fn copied_only_if_canonical(text: &str) -> bool {
    if !canonical_text::is_canonical_value(text) {
        return false;
    }
    let document = Document::parse(text).unwrap_or_else(|error| panic!("{error}: {text:?}"));
    assert_eq!(String::from_utf8(canonicalize_document(&document).unwrap()).unwrap(), text);
    true
}

#[test]
fn random_canonical_texts_are_copied_and_others_left_to_the_writer() {
    let mut rng = SmallRng::seed_from_u64(8259);
    let mut copied = 0;
    for _ in 0..3000 {
        let text = reference(&random_value(&mut rng, 4));
        copied += usize::from(copied_only_if_canonical(&text));
        let mut bytes = text.into_bytes();
        let at = rng.random_range(0..bytes.len());
        let meaningful = b"{}[],:\"\\ 0-.eEu\x01x";
        bytes[at] = meaningful[rng.random_range(0..meaningful.len())];
        if let Ok(text) = String::from_utf8(bytes) {
            copied_only_if_canonical(&text);
        }
    }
    // Texts with a fraction or an exponent are left to the writer; the others are copied.
    assert!(copied > 1000, "{copied} of 3000 canonical texts copied");
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
        let serde = serde_json::from_str::<Value>(&text);
        // A number beyond a double's range is kept as written by the reader, and
        // has no canonical form; `serde_json` stops at it.
        if serde.as_ref().is_err_and(|error| error.to_string().starts_with("number out of range")) {
            let document = Document::parse(&text);
            assert!(document.map_or(true, |document| canonicalize_document(&document).is_err()), "{text:?}");
            continue;
        }
        assert_eq!(Document::parse(&text).is_ok(), serde.is_ok(), "round {round}: {text:?}");
    }
}

#[test]
fn a_value_nested_too_deeply_to_read_back_has_no_canonical_form() {
    let deep = (0..200).fold(Value::from(1), |inner, _| Value::Array(vec![inner]));
    assert!(
        matches!(canonicalize(&deep), Err(CanonicalError::Unreadable(reason)) if reason.contains("nest too deeply"))
    );
}

#[test]
fn nesting_is_limited_where_serde_json_limits_it() {
    for depth in [126, 127, 128, 129] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let serde = serde_json::from_str::<Value>(&text).is_ok();
        assert_eq!(Document::parse(&text).is_ok(), serde, "depth {depth}");
    }
}
