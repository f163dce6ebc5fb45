//! A JSON text read into a flat document whose strings and numbers are slices of
//! the text.
//!
//! [`canonical`](crate::canonical) writes such a document. `logbook verify` reads a
//! line of about a kilobyte for every event of a log, and the server writes the
//! canonical form of every event it stores, so reading must be cheap: a
//! [`Document`] is three vectors (nodes, object members, array items) that borrow
//! from the text, with no allocation per string, number or object. Only a string
//! or member name that holds an escape is decoded into a string of its own.
//!
//! Every member is kept in the order it was written, so the canonical form can
//! refuse an object that names a member twice, where `serde_json::Value` keeps
//! the last one silently. Callers may remove, set and add members before writing
//! (the canonical form of an event replaces personal values by commitments).
//! (`serde_json_borrow` has a borrowed tree, but it allocates a vector for every
//! object and its objects can only be read.)

use std::borrow::Cow;
use std::fmt;

use crate::canonical::CanonicalError;

/// The position of a node in its [`Document`].
pub type NodeId = u32;

/// The longest text read: every value, member and item takes at least a byte
/// of it, so their positions fit a [`NodeId`] with room for members added later.
const MAX_TEXT_BYTES: usize = (u32::MAX / 2) as usize;

/// How deeply arrays and objects may nest, as in `serde_json` (which Logbook
/// reads request bodies with): deeper text is refused rather than read with
/// unbounded recursion.
const MAX_DEPTH: usize = 127;

/// One value of a [`Document`].
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'t> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number as written: a token of the JSON number grammar.
    Number(&'t str),
    /// A whole number set by a caller.
    Integer(u64),
    /// A string as written between its quotes, which holds no escape, no quote
    /// and no control character, so it is its own canonical form.
    Plain(&'t str),
    /// A string that held escapes (decoded), or that a caller set.
    Text(Cow<'t, str>),
    /// An array: `len` items from `first` in [`Document`]'s items.
    Array { first: u32, len: u32 },
    /// An object: `len` members from `first` in [`Document`]'s members.
    Object { first: u32, len: u32 },
}

/// A member of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Member<'t> {
    /// Its name, decoded.
    pub name: Cow<'t, str>,
    /// Its value; `None` once removed.
    pub value: Option<NodeId>,
    /// Whether the name was read without escapes (so it holds no quote,
    /// backslash or control character and is its own canonical form).
    pub plain: bool,
}

/// A JSON text, read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document<'t> {
    nodes: Vec<Node<'t>>,
    members: Vec<Member<'t>>,
    items: Vec<NodeId>,
    /// Members added after reading, with the object each belongs to.
    added: Vec<(NodeId, Member<'t>)>,
    /// The value the text holds, read last.
    root: NodeId,
}

/// Why a text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct JsonError {
    /// What is wrong.
    pub message: Cow<'static, str>,
    /// Where, from 1, in bytes.
    pub column: usize,
}

impl<'t> Document<'t> {
    /// Reads a JSON text: one value, with whitespace around it allowed.
    pub fn parse(text: &'t str) -> Result<Document<'t>, JsonError> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(JsonError { message: "the text is longer than 2 GiB".into(), column: MAX_TEXT_BYTES + 1 });
        }
        let mut reader = Reader {
            text,
            at: 0,
            document: Document {
                nodes: Vec::with_capacity(64),
                members: Vec::with_capacity(48),
                items: Vec::new(),
                added: Vec::new(),
                root: 0,
            },
            pending_members: Vec::with_capacity(32),
            pending_items: Vec::new(),
        };
        reader.document.root = reader.value(0)?;
        reader.skip_whitespace();
        if reader.at < text.len() {
            return Err(reader.error("trailing characters after the value"));
        }
        Ok(reader.document)
    }

    /// The value the text holds.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// A node.
    pub fn node(&self, id: NodeId) -> &Node<'t> {
        &self.nodes[id as usize]
    }

    /// The items of an array node.
    pub fn items(&self, array: NodeId) -> Option<&[NodeId]> {
        match *self.node(array) {
            Node::Array { first, len } => Some(&self.items[first as usize..(first + len) as usize]),
            _ => None,
        }
    }

    /// Every member of an object node, read and added, removed ones included;
    /// `None` if the node is not an object.
    pub fn members(&self, object: NodeId) -> Option<impl Iterator<Item = &Member<'t>>> {
        let Node::Object { first, len } = *self.node(object) else { return None };
        let read = self.members[first as usize..(first + len) as usize].iter();
        let added = self.added.iter().filter(move |(owner, _)| *owner == object).map(|(_, member)| member);
        Some(read.chain(added))
    }

    /// The value of the first member of `object` called `name`.
    pub fn member(&self, object: NodeId, name: &str) -> Option<NodeId> {
        self.members(object)?.find(|member| member.value.is_some() && member.name == name)?.value
    }

    /// The value of the member of `object` called `name`, if it has one (and
    /// `None` if it is not an object); an error if it has two, as readers could
    /// disagree on which counts.
    pub fn only_member(&self, object: NodeId, name: &str) -> Result<Option<NodeId>, CanonicalError> {
        let mut named =
            self.members(object).into_iter().flatten().filter(|member| member.value.is_some() && member.name == name);
        match (named.next(), named.next()) {
            (_, Some(_)) => Err(CanonicalError::DuplicateMember(name.to_string())),
            (found, None) => Ok(found.and_then(|member| member.value)),
        }
    }

    /// The string a node holds.
    pub fn as_str(&self, id: NodeId) -> Option<&str> {
        match self.node(id) {
            Node::Plain(text) => Some(text),
            Node::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The number a node holds, if it is a whole number from 0 to `u64::MAX`
    /// written without fraction or exponent.
    pub fn as_u64(&self, id: NodeId) -> Option<u64> {
        match *self.node(id) {
            Node::Number(token) => token.parse().ok(),
            Node::Integer(number) => Some(number),
            _ => None,
        }
    }

    /// Takes the first member of `object` called `name` out, answering its value.
    pub fn remove_member(&mut self, object: NodeId, name: &str) -> Option<NodeId> {
        let slot = self.member_slot(object, name)?;
        slot.value.take()
    }

    /// Sets the first member of `object` called `name` to `value`, or adds it.
    /// Does nothing if `object` is not an object.
    pub fn set_member(&mut self, object: NodeId, name: impl Into<Cow<'t, str>>, value: Node<'t>) {
        if !matches!(self.node(object), Node::Object { .. }) {
            return;
        }
        let name = name.into();
        self.nodes.push(value);
        let value = Some((self.nodes.len() - 1) as NodeId);
        match self.member_slot(object, &name) {
            Some(slot) => slot.value = value,
            None => self.added.push((object, Member { name, value, plain: false })),
        }
    }

    /// The first live member of `object` called `name`, to change.
    fn member_slot(&mut self, object: NodeId, name: &str) -> Option<&mut Member<'t>> {
        let Node::Object { first, len } = *self.node(object) else { return None };
        let read = self.members[first as usize..(first + len) as usize].iter_mut();
        let added = self.added.iter_mut().filter(|(owner, _)| *owner == object).map(|(_, member)| member);
        read.chain(added).find(|member| member.value.is_some() && member.name == name)
    }
}

/// Reads a text into a [`Document`], depth first. Members and items are
/// gathered on a stack while their container is read, then moved to the
/// document together, so that each container's are contiguous.
struct Reader<'t> {
    text: &'t str,
    at: usize,
    document: Document<'t>,
    pending_members: Vec<Member<'t>>,
    pending_items: Vec<NodeId>,
}

impl<'t> Reader<'t> {
    fn error(&self, message: impl Into<Cow<'static, str>>) -> JsonError {
        JsonError { message: message.into(), column: self.at + 1 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    fn push(&mut self, node: Node<'t>) -> NodeId {
        self.document.nodes.push(node);
        (self.document.nodes.len() - 1) as NodeId
    }

    /// Skips whitespace and the byte `expected`.
    fn expect(&mut self, expected: u8, what: &'static str) -> Result<(), JsonError> {
        self.skip_whitespace();
        if self.peek() != Some(expected) {
            return Err(self.error(what));
        }
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<NodeId, JsonError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => {
                let node = match self.string()? {
                    Cow::Borrowed(text) => Node::Plain(text),
                    decoded => Node::Text(decoded),
                };
                Ok(self.push(node))
            }
            Some(b't') => self.literal("true", Node::Bool(true)),
            Some(b'f') => self.literal("false", Node::Bool(false)),
            Some(b'n') => self.literal("null", Node::Null),
            Some(b'-' | b'0'..=b'9') => {
                let token = self.number()?;
                Ok(self.push(Node::Number(token)))
            }
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("the text ends where a value should be")),
        }
    }

    fn literal(&mut self, word: &'static str, node: Node<'t>) -> Result<NodeId, JsonError> {
        if !self.text[self.at..].starts_with(word) {
            return Err(self.error("expected a value"));
        }
        self.at += word.len();
        Ok(self.push(node))
    }

    fn object(&mut self, depth: usize) -> Result<NodeId, JsonError> {
        let base = self.pending_members.len();
        self.container(depth, b'}', "expected `,` or `}` after a member", |reader| {
            reader.skip_whitespace();
            if reader.peek() != Some(b'"') {
                return Err(reader.error("expected a member name"));
            }
            let name = reader.string()?;
            let plain = matches!(name, Cow::Borrowed(_));
            reader.expect(b':', "expected `:` after a member name")?;
            let value = reader.value(depth)?;
            reader.pending_members.push(Member { name, value: Some(value), plain });
            Ok(())
        })?;
        let (first, len) = settle(&mut self.document.members, &mut self.pending_members, base);
        Ok(self.push(Node::Object { first, len }))
    }

    fn array(&mut self, depth: usize) -> Result<NodeId, JsonError> {
        let base = self.pending_items.len();
        self.container(depth, b']', "expected `,` or `]` after an item", |reader| {
            let item = reader.value(depth)?;
            reader.pending_items.push(item);
            Ok(())
        })?;
        let (first, len) = settle(&mut self.document.items, &mut self.pending_items, base);
        Ok(self.push(Node::Array { first, len }))
    }

    /// Reads an object or array from its opening bracket to `close`, `element`
    /// reading each member or item.
    fn container(
        &mut self,
        depth: usize,
        close: u8,
        no_separator: &'static str,
        mut element: impl FnMut(&mut Reader<'t>) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("objects and arrays nest too deeply"));
        }
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(byte) if byte == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.error(no_separator)),
            }
        }
    }

    /// Reads a string from its opening quote: borrowed when it holds no escape,
    /// else decoded by `serde_json`, which also checks its escapes.
    fn string(&mut self) -> Result<Cow<'t, str>, JsonError> {
        let start = self.at + 1;
        let bytes = self.text.as_bytes();
        let (mut at, mut escaped) = (start, false);
        loop {
            at += bytes.get(at..).map_or(0, plain_prefix);
            match bytes.get(at) {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    at += 2;
                }
                Some(_) => {
                    self.at = at;
                    return Err(self.error("a control character in a string must be escaped"));
                }
                None => {
                    self.at = bytes.len();
                    return Err(self.error("a string is not closed"));
                }
            }
        }
        self.at = at + 1;
        if !escaped {
            return Ok(Cow::Borrowed(&self.text[start..at]));
        }
        // Escapes are rare in events: let `serde_json` decode them (and refuse a
        // bad escape or a lone surrogate).
        serde_json::from_str::<String>(&self.text[start - 1..=at]).map(Cow::Owned).map_err(|error| JsonError {
            message: format!("a string has a bad escape ({error})").into(),
            column: start,
        })
    }

    /// Reads a number token of the JSON grammar:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<&'t str, JsonError> {
        let start = self.at;
        let bytes = self.text.as_bytes();
        let digits_from = |at: usize| at + bytes[at..].iter().take_while(|byte| byte.is_ascii_digit()).count();
        let mut at = start + usize::from(bytes[start] == b'-');
        match bytes.get(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => at = digits_from(at),
            _ => {
                self.at = at;
                return Err(self.error("a number has no digits"));
            }
        }
        if bytes.get(at) == Some(&b'.') {
            let end = digits_from(at + 1);
            if end == at + 1 {
                self.at = end;
                return Err(self.error("a number has no digits after its decimal point"));
            }
            at = end;
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            let end = digits_from(at);
            if end == at {
                self.at = end;
                return Err(self.error("a number has no digits in its exponent"));
            }
            at = end;
        }
        self.at = at;
        Ok(&self.text[start..at])
    }
}

/// Moves a container's members or items, those of `pending` from `base`, to
/// the end of `settled`, where they lie together: their first position there
/// and their count.
fn settle<T>(settled: &mut Vec<T>, pending: &mut Vec<T>, base: usize) -> (u32, u32) {
    let (first, len) = (settled.len() as u32, (pending.len() - base) as u32);
    settled.extend(pending.drain(base..));
    (first, len)
}

/// How many bytes `bytes` starts with that are neither a quote, a backslash nor
/// a control character: the part of a string that needs no look, found eight
/// bytes at a time.
pub(crate) fn plain_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // The usual bit trick: a byte below 0x20 (or a quote or backslash, made
        // zero by the XOR) borrows in the subtraction and sets its high bit;
        // `!word` clears the high bit of bytes from 0x80 up. A borrow spreads
        // only upwards from a byte that was found, so the lowest bit set (the
        // first byte, read little-endian) is the first byte found.
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let special = has_zero_byte(word ^ (ONES * u64::from(b'"'))) | has_zero_byte(word ^ (ONES * u64::from(b'\\')));
        let found = control | special;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..].iter().take_while(|&&byte| byte != b'"' && byte != b'\\' && byte >= 0x20).count()
}

impl fmt::Display for Document<'_> {
    /// The document's canonical form, or why it has none; for tests and messages.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::canonical::canonicalize_document(self) {
            Ok(bytes) => formatter.write_str(&String::from_utf8_lossy(&bytes)),
            Err(error) => write!(formatter, "<{error}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_refused(text: &str, want: &str) {
        let error = Document::parse(text).expect_err(text);
        assert!(error.to_string().contains(want), "{text}: {error}");
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = r#"{"plain":"abc","escaped":"a\"b","list":[1,-2,2.5e3,true,null],"plain":{}}"#;
        let document = Document::parse(text).unwrap();
        let root = document.root();
        let plain = document.member(root, "plain").unwrap();
        assert_eq!(document.node(plain), &Node::Plain("abc"));
        let escaped = document.member(root, "escaped").unwrap();
        assert_eq!(document.node(escaped), &Node::Text(Cow::Owned("a\"b".into())));
        let list = document.items(document.member(root, "list").unwrap()).unwrap();
        let nodes: Vec<_> = list.iter().map(|&item| document.node(item).clone()).collect();
        assert_eq!(nodes, [Node::Number("1"), Node::Number("-2"), Node::Number("2.5e3"), Node::Bool(true), Node::Null]);
        // Both members named "plain" are kept, in order.
        assert_eq!(document.members(root).unwrap().filter(|member| member.name == "plain").count(), 2);
    }

    #[test]
    fn members_are_set_removed_and_added_by_name() {
        let mut document = Document::parse(r#"{"a":true,"b":null,"a":1}"#).unwrap();
        let root = document.root();
        document.set_member(root, "a", Node::Bool(false));
        document.set_member(root, "c", Node::Integer(7));
        assert_eq!(document.to_string(), "<an object has two members named \"a\">");
        assert_eq!(document.only_member(root, "a"), Err(CanonicalError::DuplicateMember("a".into())));
        assert_eq!(document.remove_member(root, "a").map(|node| document.node(node).clone()), Some(Node::Bool(false)));
        assert!(
            document.only_member(root, "a").unwrap().is_some() && document.only_member(root, "x").unwrap().is_none()
        );
        assert_eq!(document.to_string(), r#"{"a":1,"b":null,"c":7}"#);
        assert!(document.remove_member(root, "a").is_some());
        assert_eq!(document.remove_member(root, "a"), None);
        assert_eq!(document.as_u64(document.member(root, "c").unwrap()), Some(7));
        assert_eq!(document.to_string(), r#"{"b":null,"c":7}"#);
    }

    #[test]
    fn whitespace_and_every_kind_of_value_are_read() {
        let document =
            Document::parse(" {\n\t\"a\" : [ ] , \"b\":{ },\"c\":[0,-0.5,1E+2,\"\\u00e9\\n\"] } \r\n").unwrap();
        assert_eq!(document.to_string(), r#"{"a":[],"b":{},"c":[0,-0.5,100,"é\n"]}"#);
    }

    #[test]
    fn what_is_not_json_is_refused_with_where() {
        check_refused("", "the text ends where a value should be at column 1");
        check_refused("{\"a\":1,}", "expected a member name at column 8");
        check_refused("{\"a\" 1}", "expected `:`");
        check_refused("[1 2]", "expected `,` or `]`");
        check_refused("{\"a\":1} x", "trailing characters");
        check_refused("\"abc", "a string is not closed");
        check_refused("\"a\u{1}b\"", "a control character in a string must be escaped at column 3");
        check_refused("\"abcdefghijk\u{1f}\"", "a control character in a string must be escaped at column 13");
        check_refused("\"\\x\"", "a string has a bad escape");
        check_refused("\"\\ud800\"", "a string has a bad escape");
        check_refused("01", "trailing characters");
        check_refused("-", "a number has no digits");
        check_refused("1.", "no digits after its decimal point");
        check_refused("1e+", "no digits in its exponent");
        check_refused("tru", "expected a value");
        check_refused(&"[".repeat(128), "nest too deeply");
        assert!(Document::parse(&format!("{}{}", "[".repeat(127), "]".repeat(127))).is_ok());
    }

    #[test]
    fn the_plain_prefix_stops_at_the_first_byte_that_needs_a_look() {
        let text = "abcdefgh\u{e9}\u{7f}\u{a0}ijklmnopqrstuvwxyz0123456789 !#~";
        assert_eq!(plain_prefix(text.as_bytes()), text.len());
        for special in [b'"', b'\\', 0x00, 0x01, 0x1f] {
            for position in 0..23 {
                let mut bytes = vec![b'x'; 23];
                bytes[position] = special;
                // A second special byte after the first, and bytes that borrow
                // in the bit trick around it, change nothing.
                if position + 1 < bytes.len() {
                    bytes[position + 1] = 0x01;
                }
                if position > 0 {
                    bytes[position - 1] = 0x21;
                }
                assert_eq!(plain_prefix(&bytes), position, "{special:#x} at {position}");
            }
        }
    }
}
