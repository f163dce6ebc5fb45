//! JSON text that is already in RFC 8785 canonical form, read without building a
//! [`Document`](crate::json::Document).
//!
//! `logbook verify` recomputes the leaf of every line of an export. Logbook
//! writes an event's nested objects with their members in canonical order, so
//! below a line's top level the text usually *is* the canonical form, and the
//! leaf can be assembled from slices of the line: its top-level members put in
//! order, with `"v"` and the commitments put in. [`split_object_levels`] checks that
//! this holds and says where the members are. It answers `false` for any text it
//! is not sure of (whitespace, a float, an escape RFC 8785 would write
//! differently, members out of order, deep nesting), which may well be JSON with
//! a canonical form: the caller then reads it with a `Document` and
//! [`canonicalize_document`](crate::canonical::canonicalize_document), the one
//! place that decides what the canonical form of any text is. So a text this
//! module accepts is one whose canonical form it copies, never one it judges.

use std::cmp::Ordering;

use crate::canonical::{member_name_bytes_order, member_name_order};
use crate::json::plain_prefix;

/// One member of an object as written: its name, which holds no escape, and the
/// text of its value, which is its own canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMember<'t> {
    /// The member's name, without quotes.
    pub name: &'t str,
    /// The value's text.
    pub value: &'t str,
}

/// How deeply arrays and objects may nest, counted as `Document` counts them
/// (an object split is the first level). `Document` allows 127; deeper text is
/// left to it, so that only it decides what is too deep.
const MAX_DEPTH: usize = 64;

/// The most digits of an integer copied as written: 15 digits are below 2^53,
/// as in the canonical writer.
const MAX_INTEGER_DIGITS: usize = 15;

/// A member found by [`split_object_levels`], with the member whose value is
/// the object it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NestedMember<'t> {
    /// The member's name and value.
    pub member: RawMember<'t>,
    /// The position, in the same list, of the member whose value holds this
    /// one; `None` for a member of the object split.
    pub parent: Option<usize>,
}

/// Splits the text of a JSON object into its members, appended to `members`,
/// when the text is written as RFC 8785 writes values: no whitespace, member
/// names without escapes, and every member's value its own canonical form
/// (nested objects' members in canonical order, named once; strings with only
/// the escapes RFC 8785 writes; integers of at most 15 digits as they are
/// written; no fractions or exponents). The object's own members may come in
/// any order and may repeat: the caller orders them.
///
/// The members of objects that are members' values (not array items) are
/// appended too, down to `levels` levels (1: the object's own members only),
/// each with its parent: read in one pass, so a caller that needs the members
/// of a few nested objects reads the text once.
///
/// Answers `false`, with `members` in any state, for any other text.
pub fn split_object_levels<'t>(text: &'t str, members: &mut Vec<NestedMember<'t>>, levels: usize) -> bool {
    let mut reader = CanonicalReader { text, bytes: text.as_bytes(), at: 0 };
    reader.bytes.first() == Some(&b'{')
        && reader.object(1, Some(Record { members, parent: None, levels }), false)
        && reader.at == reader.bytes.len()
}

/// Whether `text` is one JSON value written exactly in its RFC 8785 canonical
/// form, as [`split_object_levels`] checks each member's value.
pub fn is_canonical_value(text: &str) -> bool {
    let mut reader = CanonicalReader { text, bytes: text.as_bytes(), at: 0 };
    reader.value(0, None) && reader.at == reader.bytes.len()
}

/// Writes an object of members, each with a name that holds no quote, backslash
/// or control character and a value in canonical form, as RFC 8785 writes it:
/// members sorted. Answers `false`, having written nothing, when two members
/// share a name (such an object has no canonical form).
pub fn write_object(members: &mut [RawMember<'_>], out: &mut Vec<u8>) -> bool {
    members.sort_unstable_by(|a, b| member_name_order(a.name, b.name));
    if members.windows(2).any(|pair| pair[0].name == pair[1].name) {
        return false;
    }
    out.push(b'{');
    for (index, member) in members.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(member.name.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(member.value.as_bytes());
    }
    out.push(b'}');
    true
}

/// The text of a string value written with no escape, without its quotes:
/// `None` for any other value.
pub fn plain_string(value: &str) -> Option<&str> {
    let text = value.strip_prefix('"')?.strip_suffix('"')?;
    (plain_prefix(text.as_bytes()) == text.len()).then_some(text)
}

/// The number that a value of at most 15 digits and no sign stands for:
/// `None` for any other value.
pub fn small_whole_number(value: &str) -> Option<u64> {
    let digits = (1..=MAX_INTEGER_DIGITS).contains(&value.len()) && value.bytes().all(|byte| byte.is_ascii_digit());
    digits.then(|| value.parse().ok()).flatten()
}

/// A cursor over text that is read only as far as it is canonical.
struct CanonicalReader<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
}

/// Where the members of an object being read are written down.
struct Record<'r, 't> {
    members: &'r mut Vec<NestedMember<'t>>,
    /// The member whose value the object is.
    parent: Option<usize>,
    /// How many levels from this object down are written down (at least 1).
    levels: usize,
}

impl<'t> CanonicalReader<'t> {
    fn next_byte(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    /// Reads one value in canonical form, moving past it; an object's members
    /// are written down in `record`.
    fn value(&mut self, depth: usize, record: Option<Record<'_, 't>>) -> bool {
        match self.bytes.get(self.at) {
            Some(b'"') => self.string(),
            Some(b'{') => self.object(depth + 1, record, true),
            Some(b'[') => self.array(depth + 1),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.bytes[self.at..].starts_with(word);
        if found {
            self.at += word.len();
        }
        found
    }

    /// An object whose members are named once each, in canonical order (or,
    /// unless `ordered`, in any order and perhaps more than once).
    fn object(&mut self, depth: usize, mut record: Option<Record<'_, 't>>, ordered: bool) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.at += 1;
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            return true;
        }
        let mut previous: Option<(usize, usize)> = None;
        loop {
            let Some(name) = self.plain_name() else { return false };
            if let Some(previous) = previous.filter(|_| ordered) {
                let (before, this) = (&self.bytes[previous.0..previous.1], &self.bytes[name.0..name.1]);
                if member_name_bytes_order(before, this) != Ordering::Less {
                    return false;
                }
            }
            previous = Some(name);
            let start = self.at;
            // The reader only moves past whole ASCII tokens, so the name and
            // the value are whole characters of the text.
            let slot = record.as_mut().map(|record| {
                let member = RawMember { name: &self.text[name.0..name.1], value: "" };
                record.members.push(NestedMember { member, parent: record.parent });
                record.members.len() - 1
            });
            let inner = match (&mut record, slot) {
                (Some(record), Some(slot)) if record.levels > 1 => {
                    Some(Record { members: &mut *record.members, parent: Some(slot), levels: record.levels - 1 })
                }
                _ => None,
            };
            if !self.value(depth, inner) {
                return false;
            }
            if let (Some(record), Some(slot)) = (&mut record, slot) {
                record.members[slot].member.value = &self.text[start..self.at];
            }
            match self.next_byte() {
                Some(b',') => continue,
                Some(b'}') => return true,
                _ => return false,
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.at += 1;
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            return true;
        }
        loop {
            if !self.value(depth, None) {
                return false;
            }
            match self.next_byte() {
                Some(b',') => continue,
                Some(b']') => return true,
                _ => return false,
            }
        }
    }

    /// A member name without escapes and the colon after it: the name's
    /// position, without its quotes.
    fn plain_name(&mut self) -> Option<(usize, usize)> {
        if self.bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at + 1;
        self.at = start + plain_prefix(&self.bytes[start..]);
        let end = self.at;
        (self.bytes.get(end) == Some(&b'"') && self.bytes.get(end + 1) == Some(&b':')).then(|| {
            self.at = end + 2;
            (start, end)
        })
    }

    /// A string whose escapes are the ones RFC 8785 writes: `\"`, `\\`, the five
    /// short forms of control characters, and `\u00xx` (lowercase) for the others.
    fn string(&mut self) -> bool {
        self.at += 1;
        loop {
            self.at += plain_prefix(&self.bytes[self.at..]);
            match self.next_byte() {
                Some(b'"') => return true,
                Some(b'\\') => {
                    if !self.canonical_escape() {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }

    fn canonical_escape(&mut self) -> bool {
        match self.next_byte() {
            Some(b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r') => true,
            Some(b'u') => {
                let Some(&[b'0', b'0', high @ (b'0' | b'1'), low]) = self.bytes.get(self.at..self.at + 4) else {
                    return false;
                };
                let low = match low {
                    b'0'..=b'9' => low - b'0',
                    b'a'..=b'f' => low - b'a' + 10,
                    _ => return false,
                };
                self.at += 4;
                // The ones with a short form are written short.
                let code = (high - b'0') * 16 + low;
                !matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)
            }
            _ => false,
        }
    }

    /// An integer as the canonical form writes it: no leading zero, no `-0`,
    /// at most [`MAX_INTEGER_DIGITS`] digits, no fraction or exponent after it.
    fn integer(&mut self) -> bool {
        let negative = self.bytes[self.at] == b'-';
        let start = self.at + usize::from(negative);
        let digits = self.bytes[start..].iter().take_while(|byte| byte.is_ascii_digit()).count();
        self.at = start + digits;
        let leading_zero = digits > 1 && self.bytes[start] == b'0';
        let negative_zero = negative && digits == 1 && self.bytes[start] == b'0';
        let fraction_or_exponent = matches!(self.bytes.get(self.at), Some(b'.' | b'e' | b'E'));
        (1..=MAX_INTEGER_DIGITS).contains(&digits) && !leading_zero && !negative_zero && !fraction_or_exponent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::canonicalize_document;
    use crate::json::Document;

    /// Checks whether `text` is read as canonical, and that what is read as
    /// canonical is the canonical form `Document` writes.
    fn check(text: &str, canonical: bool) {
        assert_eq!(is_canonical_value(text), canonical, "{text:?}");
        if canonical {
            let document = Document::parse(text).expect("canonical text is JSON");
            assert_eq!(canonicalize_document(&document).unwrap(), text.as_bytes());
        }
    }

    #[test]
    fn canonical_values_are_recognised() {
        check(r#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#, true);
        check(r#"{}"#, true);
        check(r#"[]"#, true);
        check(r#""tab\there, quote\" backslash\\ and \u001f""#, true);
        check(r#""ünïcødé 🎉 \u0000""#, true);
        check("-12", true);
        check("0", true);
        check("999999999999999", true);
        // UTF-16 order puts U+1F389 (a surrogate pair) before U+FB01.
        check("{\"\u{1f389}\":1,\"\u{fb01}\":2}", true);
    }

    #[test]
    fn anything_else_is_left_to_the_document() {
        check(r#"{"b":1,"a":2}"#, false);
        check(r#"{"a":1,"a":2}"#, false);
        check(r#"{"a": 1}"#, false);
        check(r#" {}"#, false);
        check(r#"{"\u0061":1}"#, false);
        check(r#""\/""#, false);
        check(r#""\u0041""#, false);
        check(r#""\u000a""#, false);
        check(r#""\u001F""#, false);
        check(r#""\x""#, false);
        check("\"raw\ttab\"", false);
        check("1.5", false);
        check("1e3", false);
        check("-0", false);
        check("007", false);
        check("1000000000000000", false);
        check("-", false);
        check("tru", false);
        check(r#""unterminated"#, false);
        check(r#"{"a":1"#, false);
        check(r#"[1,]"#, false);
        check(r#"{"a":1}x"#, false);
        check(&format!("{}{}", "[".repeat(65), "]".repeat(65)), false);
        check(&format!("{}{}", "[".repeat(64), "]".repeat(64)), true);
    }

    #[test]
    fn members_are_written_in_canonical_order() {
        let mut members = vec![
            RawMember { name: "seq", value: "3" },
            RawMember { name: "\u{fb01}", value: "2" },
            RawMember { name: "actor", value: "{}" },
            RawMember { name: "\u{1f389}", value: "1" },
        ];
        let mut out = Vec::new();
        assert!(write_object(&mut members, &mut out));
        assert_eq!(String::from_utf8(out).unwrap(), "{\"actor\":{},\"seq\":3,\"\u{1f389}\":1,\"\u{fb01}\":2}");
        let mut twice = [RawMember { name: "a", value: "1" }, RawMember { name: "a", value: "2" }];
        let mut out = Vec::new();
        assert!(!write_object(&mut twice, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn plain_strings_and_small_whole_numbers_are_read() {
        assert_eq!(plain_string(r#""bench-00""#), Some("bench-00"));
        assert_eq!(plain_string(r#""""#), Some(""));
        for other in [r#""a\"b""#, "7", r#""open"#, "\"", "null"] {
            assert_eq!(plain_string(other), None, "{other:?}");
        }
        assert_eq!(small_whole_number("300005"), Some(300_005));
        assert_eq!(small_whole_number("0"), Some(0));
        for other in ["-1", "", "1.0", "1000000000000000", r#""7""#] {
            assert_eq!(small_whole_number(other), None, "{other:?}");
        }
    }

    #[test]
    fn nested_objects_split_in_the_same_pass() {
        let text = r#"{"seq":3,"actor":{"id":"U-1","x":{"y":[{"z":1}]}},"related":[{"id":"R"}],"seq":4}"#;
        let mut members = Vec::new();
        assert!(split_object_levels(text, &mut members, 3));
        let found: Vec<_> =
            members.iter().map(|nested| (nested.parent, nested.member.name, nested.member.value)).collect();
        assert_eq!(
            found,
            [
                (None, "seq", "3"),
                (None, "actor", r#"{"id":"U-1","x":{"y":[{"z":1}]}}"#),
                (Some(1), "id", r#""U-1""#),
                (Some(1), "x", r#"{"y":[{"z":1}]}"#),
                (Some(3), "y", r#"[{"z":1}]"#),
                (None, "related", r#"[{"id":"R"}]"#),
                (None, "seq", "4"),
            ]
        );
        // Nested objects are checked as closely as anywhere else.
        assert!(!split_object_levels(r#"{"actor":{"type":"user","id":"U-1"}}"#, &mut Vec::new(), 3));
        assert!(!split_object_levels(r#"{"a":{"b":1,"b":2}}"#, &mut Vec::new(), 2));
    }

    #[test]
    fn objects_split_into_members_in_any_order() {
        let mut members = Vec::new();
        assert!(split_object_levels(r#"{"seq":3,"actor":{"id":"U-1","type":"user"},"seq":4}"#, &mut members, 1));
        let pairs: Vec<_> =
            members.iter().map(|nested| (nested.parent, nested.member.name, nested.member.value)).collect();
        assert_eq!(pairs, [(None, "seq", "3"), (None, "actor", r#"{"id":"U-1","type":"user"}"#), (None, "seq", "4")]);
        members.clear();
        assert!(split_object_levels("{}", &mut members, 1));
        assert!(members.is_empty());
        for refused in [r#"{"actor":{"type":"user","id":"U-1"}}"#, r#"{"a":1} "#, "[]", r#"{"a":1.0}"#, ""] {
            assert!(!split_object_levels(refused, &mut Vec::new(), 1), "{refused:?}");
        }
    }
}
