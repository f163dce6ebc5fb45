//! RFC 8785 JSON Canonicalization Scheme (JCS), written from a [`Document`] read
//! from JSON text.
//!
//! The canonical form has no whitespace, object members sorted by the UTF-16 code units
//! of their names, strings with only the escapes RFC 8785 requires, and numbers written
//! the way ECMAScript's `Number.prototype.toString` writes the IEEE 754 double.
//!
//! Integers are only accepted within the I-JSON safe range, `±(2^53 - 1)`: beyond it two
//! different integers could share one canonical form, which would let a changed value go
//! unnoticed. Numbers with a fraction or an exponent are read as a double and written as
//! ECMAScript would. A string read without escapes is written as it was read, and a
//! small integer as its token: both are their own canonical form.

use std::io::Write as _;

use serde_json::{Number, Value};

use crate::json::{Document, Node, NodeId};

/// The largest integer magnitude accepted: `2^53 - 1`.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// An integer is outside the I-JSON safe range `±(2^53 - 1)`.
    #[error("integer {0} is outside the range of exactly representable JSON numbers")]
    UnsafeInteger(String),
    /// A number is not finite, or cannot be represented as a double.
    #[error("number {0} cannot be represented as a finite double")]
    NonFiniteNumber(String),
    /// An object names a member twice, so readers could disagree on its value.
    #[error("an object has two members named {0:?}")]
    DuplicateMember(String),
    /// A value's JSON text cannot be read back (it nests more deeply than the
    /// JSON reader allows).
    #[error("the value cannot be read as JSON: {0}")]
    Unreadable(String),
}

/// Returns the RFC 8785 canonical form of a `serde_json` value as UTF-8 bytes.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let text = value.to_string();
    let document = Document::parse(&text).map_err(|error| CanonicalError::Unreadable(error.to_string()))?;
    canonicalize_document(&document)
}

/// Returns the RFC 8785 canonical form of a document as UTF-8 bytes; an object
/// that names a member twice has none.
pub fn canonicalize_document(document: &Document<'_>) -> Result<Vec<u8>, CanonicalError> {
    // An event's canonical form is one to two kilobytes: start there.
    let mut writer = CanonicalWriter { out: Vec::with_capacity(2048), members: Vec::with_capacity(32) };
    writer.value(document, document.root())?;
    Ok(writer.out)
}

/// Writes canonical JSON into `out`. `members` holds, for every object being
/// written, its members to sort, one object's above its parent's.
struct CanonicalWriter<'d> {
    out: Vec<u8>,
    members: Vec<(&'d str, NodeId, bool)>,
}

impl<'d> CanonicalWriter<'d> {
    fn value(&mut self, document: &'d Document<'_>, id: NodeId) -> Result<(), CanonicalError> {
        match document.node(id) {
            Node::Null => self.out.extend_from_slice(b"null"),
            Node::Bool(flag) => self.out.extend_from_slice(if *flag { b"true" } else { b"false" }),
            Node::Number(token) => write_number_token(&mut self.out, token)?,
            Node::Integer(number) => write_number_token(&mut self.out, &number.to_string())?,
            Node::Plain(text) => write_plain_string(&mut self.out, text),
            Node::Text(text) => write_string(&mut self.out, text),
            Node::Array { .. } => {
                self.out.push(b'[');
                for (index, &item) in document.items(id).expect("an array").iter().enumerate() {
                    if index > 0 {
                        self.out.push(b',');
                    }
                    self.value(document, item)?;
                }
                self.out.push(b']');
            }
            Node::Object { .. } => {
                let base = self.members.len();
                let live = document
                    .members(id)
                    .expect("an object")
                    .filter_map(|member| Some((&*member.name, member.value?, member.plain)));
                self.members.extend(live);
                self.members[base..].sort_unstable_by(|(a, ..), (b, ..)| member_name_order(a, b));
                self.out.push(b'{');
                for index in base..self.members.len() {
                    let (name, value, plain) = self.members[index];
                    if index > base {
                        if self.members[index - 1].0 == name {
                            return Err(CanonicalError::DuplicateMember(name.to_string()));
                        }
                        self.out.push(b',');
                    }
                    if plain {
                        write_plain_string(&mut self.out, name);
                    } else {
                        write_string(&mut self.out, name);
                    }
                    self.out.push(b':');
                    self.value(document, value)?;
                }
                self.out.push(b'}');
                self.members.truncate(base);
            }
        }
        Ok(())
    }
}

/// RFC 8785 §3.2.3 orders member names by their UTF-16 code units. UTF-8 bytes
/// order by code point, which is the same order but for one case, decided at the
/// first byte that differs: UTF-16 writes U+10000 and up (lead bytes from 0xF0)
/// as surrogates from U+D800, so they come before U+E000 to U+FFFF (lead bytes
/// 0xEE and 0xEF).
pub(crate) fn member_name_order(a: &str, b: &str) -> std::cmp::Ordering {
    member_name_bytes_order(a.as_bytes(), b.as_bytes())
}

/// [`member_name_order`] of names given as their UTF-8 bytes.
pub(crate) fn member_name_bytes_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        None => a.len().cmp(&b.len()),
        Some(at) => match (a[at], b[at]) {
            (x, y) if x >= 0xF0 && (0xEE..0xF0).contains(&y) => std::cmp::Ordering::Less,
            (x, y) if y >= 0xF0 && (0xEE..0xF0).contains(&x) => std::cmp::Ordering::Greater,
            (x, y) => x.cmp(&y),
        },
    }
}

/// Appends a string that needs no escape (one read without escapes) in quotes.
fn write_plain_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Appends `s` as a JSON string, escaping only what RFC 8785 §3.2.2.2 requires.
fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    // Most strings need no escape at all: copy them whole.
    if !s.bytes().any(|byte| byte == b'"' || byte == b'\\' || byte < 0x20) {
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    let mut buffer = [0; 4];
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{09}' => out.extend_from_slice(b"\\t"),
            '\u{0a}' => out.extend_from_slice(b"\\n"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            '\u{0d}' => out.extend_from_slice(b"\\r"),
            c if c < '\u{20}' => {
                write!(out, "\\u{:04x}", c as u32).expect("writing to a Vec cannot fail");
            }
            c => out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes()),
        }
    }
    out.push(b'"');
}

/// Appends the canonical text of a number token of the JSON grammar. A whole
/// number of at most 15 digits is below 2^53 and written as it is; anything
/// else is read as `serde_json` reads it (a double, if it has a fraction or an
/// exponent or is beyond 64 bits) and written from that.
fn write_number_token(out: &mut Vec<u8>, token: &str) -> Result<(), CanonicalError> {
    if token.len() <= 15 && token.bytes().all(|byte| byte.is_ascii_digit()) {
        out.extend_from_slice(token.as_bytes());
        return Ok(());
    }
    let number: Number = serde_json::from_str(token).map_err(|_| CanonicalError::NonFiniteNumber(token.to_string()))?;
    out.extend_from_slice(number_to_string(&number)?.as_bytes());
    Ok(())
}

/// Returns the canonical text of a JSON number.
fn number_to_string(n: &Number) -> Result<String, CanonicalError> {
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(CanonicalError::UnsafeInteger(n.to_string()));
        }
        return Ok(i.to_string());
    }
    if n.as_u64().is_some() {
        // Every u64 that is not also an i64 is far beyond the safe range.
        return Err(CanonicalError::UnsafeInteger(n.to_string()));
    }
    match n.as_f64() {
        Some(f) => format_double(f),
        None => Err(CanonicalError::NonFiniteNumber(n.to_string())),
    }
}

/// Formats a double as ECMAScript's `Number.prototype.toString` does (ECMA-262
/// `Number::toString`, radix 10), which RFC 8785 §3.2.2.3 prescribes.
///
/// Fails for NaN and infinities, which JSON cannot represent.
pub fn format_double(value: f64) -> Result<String, CanonicalError> {
    if !value.is_finite() {
        return Err(CanonicalError::NonFiniteNumber(value.to_string()));
    }
    if value == 0.0 {
        // Both zeros are written "0".
        return Ok("0".to_owned());
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let (digits, exponent) = shortest_digits(value.abs());
    // In ECMA-262 terms: the value is 0.digits × 10^n, with k digits.
    let k = digits.len() as i32;
    let n = exponent + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let exp_sign = if n - 1 < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{exp_sign}{}", (n - 1).abs())
        } else {
            format!("{first}.{rest}e{exp_sign}{}", (n - 1).abs())
        }
    };
    Ok(format!("{sign}{body}"))
}

/// Splits the output of Rust's `{:e}` formatting, "d.ddde[-]x", into its significant
/// digits and its decimal exponent.
fn split_scientific(sci: &str) -> (String, i32) {
    let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` always writes an exponent");
    let digits = mantissa.chars().filter(|&c| c != '.').collect();
    let exponent = exponent.parse().expect("`{:e}` writes a decimal exponent");
    (digits, exponent)
}

/// Returns the shortest significant digits that round-trip to `value` (positive and
/// finite), and the decimal exponent of the first digit, as ECMAScript chooses them.
fn shortest_digits(value: f64) -> (String, i32) {
    // Rust's `{:e}` gives the shortest round-tripping digits, and of those the closest to
    // the exact value, as ECMAScript requires.
    let (digits, exponent) = split_scientific(&format!("{value:e}"));
    let k = digits.len();
    // When two shortest candidates are exactly equally close, ECMAScript takes the one
    // with an even last digit while Rust rounds up. That can only happen when the exact
    // value has exactly one more significant digit, a 5, so look closer only then.
    let (longer, _) = split_scientific(&format!("{value:.k$e}"));
    if !longer.ends_with('5') {
        return (digits, exponent);
    }
    // A double's exact decimal expansion has at most 767 significant digits, so this
    // prints it in full.
    let (exact, exact_exponent) = split_scientific(&format!("{value:.1100e}"));
    let (head, tail) = exact.split_at(k);
    if !tail.starts_with('5') || tail[1..].bytes().any(|b| b != b'0') {
        return (digits, exponent);
    }
    let last = head.as_bytes()[k - 1] - b'0';
    let (even, even_exponent) =
        if last.is_multiple_of(2) { (head.to_owned(), exact_exponent) } else { increment(head, exact_exponent) };
    let round_trips =
        format!("{}.{}e{even_exponent}", &even[..1], &even[1..]).parse::<f64>().is_ok_and(|parsed| parsed == value);
    if round_trips { (even.trim_end_matches('0').to_owned(), even_exponent) } else { (digits, exponent) }
}

/// Adds one to the last of the decimal `digits` whose first digit has decimal exponent
/// `exponent`, carrying into a new leading digit if needed.
fn increment(digits: &str, exponent: i32) -> (String, i32) {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return (String::from_utf8(bytes).expect("ASCII digits"), exponent);
        }
    }
    bytes.insert(0, b'1');
    bytes.pop();
    (String::from_utf8(bytes).expect("ASCII digits"), exponent + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: &Value) -> String {
        String::from_utf8(canonicalize(v).unwrap()).expect("canonical JSON is UTF-8")
    }

    #[test]
    fn rfc8785_appendix_b_numbers() {
        let table: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for &(bits, want) in table {
            let f = f64::from_bits(bits);
            assert_eq!(format_double(f).unwrap(), want, "{bits:016x}");
            if let Some(n) = Number::from_f64(f) {
                assert_eq!(canon(&Value::Number(n)), want, "{bits:016x}");
            }
        }
        for bits in [0x7fffffffffffffff_u64, 0x7ff0000000000000, 0xfff0000000000000] {
            assert!(format_double(f64::from_bits(bits)).is_err());
        }
    }

    #[test]
    fn common_numbers() {
        let v: Value =
            serde_json::from_str("[0, -0, 1, -1, 42, 1.0, 1.5, 0.1, 100, 1e3, 123e-2, -0.0, 1e-7, 1e21, 1e20, 9007199254740991, -9007199254740991]")
                .unwrap();
        assert_eq!(
            canon(&v),
            "[0,0,1,-1,42,1,1.5,0.1,100,1000,1.23,0,1e-7,1e+21,100000000000000000000,9007199254740991,-9007199254740991]"
        );
    }

    #[test]
    fn unsafe_integers_are_refused() {
        for text in ["9007199254740992", "-9007199254740992", "18446744073709551615", "-9223372036854775808"] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert!(matches!(canonicalize(&v), Err(CanonicalError::UnsafeInteger(_))), "{text}");
        }
    }

    #[test]
    fn rfc8785_main_example() {
        let v: Value = serde_json::from_str(
            r#"{
              "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }"#,
        )
        .unwrap();
        assert_eq!(
            canon(&v),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    #[test]
    fn a_text_read_as_json_has_the_same_canonical_form_as_its_value() {
        let text =
            r#"{"numbers":[333333333.33333329,1E30,-0,4.50],"b":{"z":"\u20ac","a":"plain"},"a":[{"y":null,"x":true}]}"#;
        let document = Document::parse(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(canonicalize_document(&document).unwrap(), canonicalize(&value).unwrap());
    }

    #[test]
    fn a_member_named_twice_has_no_canonical_form() {
        for text in [r#"{"a":1,"b":2,"a":1}"#, r#"{"outer":{"x":1,"x":2}}"#, r#"[{"\u0061":1,"a":1}]"#] {
            let document = Document::parse(text).unwrap();
            assert!(
                matches!(canonicalize_document(&document), Err(CanonicalError::DuplicateMember(name)) if name.ends_with('a') || name == "x"),
                "{text}"
            );
        }
    }

    #[test]
    fn rfc8785_sorting_example() {
        let v: Value = serde_json::from_str(
            r#"{
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }"#,
        )
        .unwrap();
        let out = canon(&v);
        let order: Vec<&str> = out.split(',').map(|m| m.split(':').nth(1).unwrap().trim_matches(['"', '}'])).collect();
        assert_eq!(
            order,
            [
                "Carriage Return",
                "One",
                "Control",
                "Latin Small Letter O With Diaeresis",
                "Euro Sign",
                "Emoji",
                "Hebrew Letter Dalet With Dagesh"
            ]
        );
        assert!(out.starts_with("{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":"));
    }

    #[test]
    fn member_names_are_ordered_by_utf16_code_units() {
        // Characters from each range whose UTF-8 and UTF-16 orders could differ.
        let alphabet = [
            'a',
            'z',
            '\u{7f}',
            '\u{80}',
            '\u{7ff}',
            '\u{800}',
            '\u{d7ff}',
            '\u{e000}',
            '\u{ffff}',
            '\u{10000}',
            '\u{1f600}',
        ];
        let names: Vec<String> = (0..alphabet.len().pow(2))
            .map(|index| [alphabet[index % alphabet.len()], alphabet[index / alphabet.len()]].iter().collect())
            .chain(alphabet.iter().map(char::to_string))
            .collect();
        for a in &names {
            for b in &names {
                assert_eq!(member_name_order(a, b), a.encode_utf16().cmp(b.encode_utf16()), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn strings_and_nesting() {
        let v = json!({"b": [1, {"z": null, "a": "\u{1f}\u{7f}\u{2028}"}], "a": {}});
        assert_eq!(canon(&v), "{\"a\":{},\"b\":[1,{\"a\":\"\\u001f\u{7f}\u{2028}\",\"z\":null}]}");
        assert_eq!(canonicalize(&json!("x")).unwrap(), b"\"x\"");
    }
}
