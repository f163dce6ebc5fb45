//! The leaf of an export line assembled from slices of its text, for a line
//! written the way Logbook writes it.
//!
//! Logbook stores an event's body with the members of every nested object in
//! canonical order (`event.rs` declares them so), and the export splices that
//! text into each line. Below the line's top level, the text is then already
//! the canonical form of section 2 of `docs/canonical-form.md`, but for the
//! personal values: the leaf is the line's event members in order, with `"v"`
//! added and each personal value replaced by its commitment. Reading the line
//! into a `Document` and writing it out again costs three times what hashing
//! it does.
//!
//! [`read_verbatim_line`] answers only for a line it is sure of, and `None` for
//! anything unusual, including every line that is wrong: such a line is read
//! the general way, which finds the same leaf for a line both can read (the
//! tests check it on lines of many kinds and on randomly changed ones) and
//! says what is wrong with the others.

use logbook_tlog::canonical_text::{
    NestedMember, RawMember, plain_string, small_whole_number, split_object_levels, write_object,
};

use super::ExportMembers;
use crate::integrity::{COMMITMENT_PREFIX, PERSONAL_FIELDS, check_committed_value, decode_hash};

/// The text of [`CANONICAL_VERSION`](crate::integrity::CANONICAL_VERSION), written into every leaf as `"v"` (a test
/// holds them equal).
const VERSION: &str = "1";

/// What a line says, read from its text.
pub(super) struct VerbatimLine<'t> {
    pub(super) seq: u64,
    pub(super) workspace: &'t str,
    pub(super) members: ExportMembers,
    /// The canonical form the leaf hashes.
    pub(super) leaf_input: Vec<u8>,
}

/// Reads an export line whose event members are each in canonical form; `None`
/// for any other line, and for any line with something wrong in it.
pub(super) fn read_verbatim_line(line: &str) -> Option<VerbatimLine<'_>> {
    // Read once, down to the members of each commitment's entry
    // (`commitments` → `actor.name` → `salt`).
    let mut members = Vec::with_capacity(64);
    if !split_object_levels(line, &mut members, 3) {
        return None;
    }
    let (mut leaf_hash, mut commitments, mut tree_size, mut proof) = (None, None, None, None);
    let mut event = Vec::with_capacity(24);
    for (at, nested) in members.iter().enumerate().filter(|(_, nested)| nested.parent.is_none()) {
        let member = nested.member;
        let slot = match member.name {
            "leaf_hash" => &mut leaf_hash,
            "commitments" => &mut commitments,
            "tree_size" => &mut tree_size,
            "proof" => &mut proof,
            // An event has no `"v"` of its own; the general reading says so.
            "v" => return None,
            _ => {
                event.push((at, member));
                continue;
            }
        };
        if slot.replace((at, member.value)).is_some() {
            return None;
        }
    }
    // A proof is read the general way; a null one is no proof.
    if proof.is_some_and(|(_, proof)| proof != "null") {
        return None;
    }
    let commitments = read_commitments(&members, commitments?)?;
    let export_members = ExportMembers {
        logged: decode_hash(plain_string(leaf_hash?.1)?),
        tree_size: small_whole_number(tree_size?.1)?,
        proof: None,
    };
    let find =
        |name: &str| event.iter().find(|(_, member)| member.name == name).map(|&(at, member)| (at, member.value));
    let value_of = |name: &str| find(name).map(|(_, value)| value);
    let seq = small_whole_number(value_of("seq")?)?;
    let workspace = plain_string(value_of("workspace")?)?;
    value_of("id")?.starts_with('"').then_some(())?;

    // The personal values, checked, and the objects that held them written
    // again with commitments in their place.
    let mut committed_objects = Vec::new();
    for parent in personal_parents() {
        if let Some(text) = committed_object(&members, parent, find(parent), &commitments)? {
            committed_objects.push((parent, text));
        }
    }
    let mut canonical: Vec<RawMember<'_>> = event
        .iter()
        .map(|&(_, member)| match committed_objects.iter().find(|(parent, _)| *parent == member.name) {
            Some((_, text)) => RawMember { name: member.name, value: text },
            None => member,
        })
        .collect();
    canonical.push(RawMember { name: "v", value: VERSION });
    let mut leaf_input = Vec::with_capacity(line.len());
    write_object(&mut canonical, &mut leaf_input).then_some(())?;
    Some(VerbatimLine { seq, workspace, members: export_members, leaf_input })
}

/// The objects that hold personal fields (`actor`, `context`), each once.
fn personal_parents() -> impl Iterator<Item = &'static str> {
    let parent = |field: &'static str| field.split_once('.').expect("personal fields are dotted").0;
    PERSONAL_FIELDS.iter().enumerate().filter_map(move |(at, &field)| {
        let named_before = PERSONAL_FIELDS[..at].iter().any(|&before| parent(before) == parent(field));
        (!named_before).then_some(parent(field))
    })
}

/// One entry of a line's `commitments`, as written.
#[derive(Debug, Clone, Copy)]
struct LineCommitment<'t> {
    field: &'t str,
    commitment: &'t str,
    salt: Option<&'t str>,
}

/// The members of the object that is the value of member `parent`, with their
/// positions. Members are written down in the order of the text, so those
/// below `parent` follow it and end at the first member whose parent comes
/// before it: looking no further keeps a line of many entries linear to read.
fn children<'m, 't>(
    members: &'m [NestedMember<'t>],
    parent: usize,
) -> impl Iterator<Item = (usize, RawMember<'t>)> + 'm {
    let below = members.iter().enumerate().skip(parent + 1);
    let below = below.take_while(move |(_, nested)| nested.parent.is_some_and(|above| above >= parent));
    below.filter(move |(_, nested)| nested.parent == Some(parent)).map(|(at, nested)| (at, nested.member))
}

/// Reads the export's `commitments` (member `at` of the line), each entry with
/// a plain string `commitment` and a plain string `salt` (or none, or null,
/// once erased).
fn read_commitments<'t>(members: &[NestedMember<'t>], (at, text): (usize, &str)) -> Option<Vec<LineCommitment<'t>>> {
    text.starts_with('{').then_some(())?;
    let mut commitments = Vec::with_capacity(4);
    for (field_at, field) in children(members, at) {
        field.value.starts_with('{').then_some(())?;
        let value_of = |name: &str| {
            children(members, field_at).find(|(_, member)| member.name == name).map(|(_, member)| member.value)
        };
        let commitment = plain_string(value_of("commitment")?)?;
        let salt = match value_of("salt") {
            None | Some("null") => None,
            Some(salt) => Some(plain_string(salt)?),
        };
        commitments.push(LineCommitment { field: field.name, commitment, salt });
    }
    Some(commitments)
}

/// The text of `parent` (`actor` or `context`) with each personal value
/// replaced by its commitment, once the value is checked against it:
/// `Some(None)` when `parent` has no personal value and no commitment, `None`
/// when a value does not check or a commitment has no place to go.
fn committed_object(
    line: &[NestedMember<'_>],
    parent: &str,
    found: Option<(usize, &str)>,
    commitments: &[LineCommitment<'_>],
) -> Option<Option<String>> {
    let fields =
        PERSONAL_FIELDS.iter().filter_map(|field| Some((*field, field.strip_prefix(parent)?.strip_prefix('.')?)));
    let mut replaced = Vec::new();
    let (mut members, mut is_object) = (Vec::with_capacity(8), false);
    if let Some((at, _)) = found.filter(|(_, text)| text.starts_with('{')) {
        members.extend(children(line, at).map(|(_, member)| member));
        is_object = true;
    }
    let text = found.map(|(_, text)| text);
    for (field, key) in fields {
        let value = members.iter().find(|member| member.name == key).map(|member| member.value);
        match (commitments.iter().find(|entry| entry.field == field), value) {
            (Some(entry), value) => {
                if let Some(value) = value {
                    check_committed_value(field, plain_string(value)?, entry.commitment, entry.salt).ok()?;
                }
                let mut committed = String::with_capacity(COMMITMENT_PREFIX.len() + entry.commitment.len() + 2);
                for piece in ["\"", COMMITMENT_PREFIX, entry.commitment, "\""] {
                    committed.push_str(piece);
                }
                replaced.push((key, committed));
            }
            (None, Some(_)) => return None,
            (None, None) => {}
        }
    }
    if replaced.is_empty() {
        return Some(None);
    }
    if !is_object {
        return None;
    }
    members.retain(|member| replaced.iter().all(|(key, _)| *key != member.name));
    members.extend(replaced.iter().map(|(name, value)| RawMember { name, value }));
    let mut out = Vec::with_capacity(text.map_or(0, str::len) + 64);
    write_object(&mut members, &mut out).then_some(())?;
    Some(Some(String::from_utf8(out).expect("written from UTF-8 text")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventBody;
    use crate::export::{StoredLineParts, read_line_document, splice_export_line};
    use crate::integrity::Commitments;

    /// Checks that a line is read from its text (or not), and that what is read
    /// from the text is what the general reading finds.
    fn check(line: &str, read_from_text: bool) {
        assert_eq!(readings_agree(line), read_from_text, "{line}: read from its text");
    }

    /// Whether a line is read from its text; if it is, checks that the general
    /// reading finds the same.
    fn readings_agree(line: &str) -> bool {
        let general = read_line_document(0, line);
        let Some(verbatim) = read_verbatim_line(line) else {
            return false;
        };
        let general = general.unwrap_or_else(|_| panic!("{line} is an export line"));
        let general_input = general.leaf_input.expect("the general reading finds a leaf");
        assert_eq!(String::from_utf8(verbatim.leaf_input).unwrap(), String::from_utf8(general_input).unwrap());
        assert_eq!((verbatim.seq, verbatim.workspace), (general.seq, general.workspace.as_str()));
        let (verbatim, general) = (verbatim.members, general.members);
        assert_eq!((verbatim.logged, verbatim.tree_size), (general.logged, general.tree_size));
        assert_eq!((verbatim.proof, general.proof), (None, None));
        true
    }

    /// The export line of an event, as the server splices it from the JSON
    /// storage keeps (`serde_json` of the body and of its commitments).
    fn exported_line(body: serde_json::Value, erase: &[&str]) -> String {
        let body: EventBody = serde_json::from_value(body).unwrap();
        let mut salt = 0;
        let mut commitments = Commitments::commit(&body, || {
            salt += 1;
            [salt; 32]
        });
        for field in erase {
            commitments.0.get_mut(*field).expect("a committed field").salt = None;
        }
        let body_json = serde_json::to_string(&body).unwrap();
        let commitments_json = serde_json::to_string(&commitments).unwrap();
        let parts = StoredLineParts {
            id: "01a205ef-7b75-7672-b818-b64f98334fb8",
            workspace: "acme",
            seq: 7,
            leaf_hash: "V3JaYbu/rVn2sElx0djAVElMUgfxr3EewRL72YI3lQE=",
            body_json: &body_json,
            commitments_json: &commitments_json,
            tree_size: 8,
        };
        let mut line = Vec::new();
        assert!(splice_export_line(&mut line, &parts));
        String::from_utf8(line).unwrap().trim_end().to_string()
    }

    fn full_body() -> serde_json::Value {
        serde_json::json!({
            "action": "ticket.status_changed", "category": "activity",
            "occurred_at": "2026-01-31T12:00:00.000Z", "received_at": "2026-01-31T12:00:01.000Z",
            "actor": {"type": "user", "id": "U-1", "name": "Ana Lee", "email": "ana@example.com", "role": "agent"},
            "target": {"type": "ticket", "id": "T-1", "name": "Refund \"urgent\"\tnow"},
            "related": [{"type": "queue", "id": "Q-1", "name": "Billing"}, {"type": "customer", "id": "C-9"}],
            "changes": [
                {"field": "status", "from": "open", "to": "solved"},
                {"field": "tags", "from": ["a"], "to": {"z": 1, "b": [null, true, -3]}}
            ],
            "outcome": "success",
            "context": {"ip": "10.0.0.1", "user_agent": "Mozilla/5.0 🦀", "request_id": "r-1", "session_id": "s-1"},
            "description": "Ana solved T-1", "idempotency_key": "k-1",
            "metadata": {"ünï": "cødé", "nested": {"b": 2, "a": [1, "x"]}, "empty": {}}
        })
    }

    #[test]
    fn lines_logbook_writes_are_read_from_their_text() {
        check(&exported_line(full_body(), &[]), true);
        let mut erased = full_body();
        erased["actor"].as_object_mut().unwrap().remove("name");
        erased["context"].as_object_mut().unwrap().remove("ip");
        // Erasure keeps the commitment in the leaf and drops value and salt.
        let line = exported_line(full_body(), &["actor.name", "context.ip"]);
        let erased_line = exported_line(erased, &[]);
        let commitments = |line: &str| line[line.find(",\"commitments\"").unwrap()..].to_string();
        let erased_line = erased_line.replace(&commitments(&erased_line), &commitments(&line));
        check(&erased_line, true);
        let minimal = serde_json::json!({
            "action": "api_key.created", "category": "audit",
            "occurred_at": "2026-01-31T12:00:00.000Z", "received_at": "2026-01-31T12:00:01.000Z",
            "actor": {"type": "system", "id": "operator"}, "target": {"type": "api_key", "id": "k"}
        });
        check(&exported_line(minimal, &[]), true);
        // A proof of null is no proof.
        check(&exported_line(full_body(), &[]).replace(",\"tree_size\"", ",\"proof\":null,\"tree_size\""), true);
    }

    #[test]
    fn the_version_and_the_parents_of_personal_fields_are_the_integrity_module_s() {
        assert_eq!(VERSION, crate::integrity::CANONICAL_VERSION.to_string());
        assert_eq!(personal_parents().collect::<Vec<_>>(), ["actor", "context"]);
    }

    #[test]
    fn other_lines_are_left_to_the_general_reading() {
        let line = exported_line(full_body(), &[]);
        let edits = [
            // Another writer's whitespace or member order.
            (",\"seq\":7", ", \"seq\":7"),
            ("{\"email\":\"ana@example.com\",\"id\":\"U-1\"", "{\"id\":\"U-1\",\"email\":\"ana@example.com\""),
            // What RFC 8785 writes otherwise: a fraction, another escape.
            ("\"z\":1", "\"z\":1.0"),
            ("Refund \\\"urgent\\\"\\tnow", "Refund \\u0022urgent\\u0022\\tnow"),
            // A personal value with an escape is decoded before it is checked.
            ("Ana Lee", "Ana\\u0020Lee"),
            // Lines with something wrong.
            ("\"Ana Lee\"", "\"Ana Lea\""),
            (",\"seq\":7", ",\"seq\":7,\"v\":1"),
            (",\"seq\":7", ",\"seq\":7,\"seq\":8"),
            (",\"tree_size\"", ",\"tree_size\":8,\"tree_size\""),
            (",\"tree_size\"", ",\"proof\":[],\"tree_size\""),
            ("\"salt\":\"AQEB", "\"salt\":null,\"x\":\"AQEB"),
            ("\"actor.email\":", "\"actor.emails\":"),
            (",\"workspace\":\"acme\"", ""),
            (",\"seq\":7", ",\"seq\":\"7\""),
            ("\"id\":\"01a2", "\"id\":1,\"x\":\"01a2"),
            ("{\"email\":\"ana@example.com\",", "\"U-1\",\"x\":{"),
        ];
        for (from, to) in edits {
            assert_eq!(line.matches(from).count(), 1, "{from:?}");
            check(&line.replacen(from, to, 1), false);
        }
        check("[]", false);
        check("{}", false);
    }

    #[test]
    fn members_below_an_object_end_where_its_text_ends() {
        let line = r#"{"a":{"b":{"c":1},"d":2},"e":{"f":3},"g":{"h":{"i":4}}}"#;
        let mut members = Vec::new();
        assert!(split_object_levels(line, &mut members, 3));
        let names = |parent| children(&members, parent).map(|(_, member)| member.name).collect::<Vec<_>>();
        assert_eq!(
            (names(0), names(1), names(4), names(6), names(7)),
            (vec!["b", "d"], vec!["c"], vec!["f"], vec!["h"], vec!["i"])
        );
        // A line of many erased entries (no salt to find) is read, and alike.
        let many: Vec<_> = (0..5_000).map(|at| format!("\"a{at:05}\":{{\"commitment\":\"c\"}}")).collect();
        let line = exported_line(full_body(), &[]).replacen(
            "\"commitments\":{",
            &format!("\"commitments\":{{{},", many.join(",")),
            1,
        );
        check(&line, true);
    }

    #[test]
    fn lines_changed_at_random_are_read_alike_or_left_to_the_general_reading() {
        use rand::rngs::SmallRng;
        use rand::{Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(6962);
        let line = exported_line(full_body(), &[]).into_bytes();
        let mut read_from_text = 0;
        for _ in 0..20_000 {
            let mut bytes = line.clone();
            for _ in 0..rng.random_range(1..3) {
                let at = rng.random_range(0..bytes.len());
                match rng.random_range(0..3) {
                    0 => drop(bytes.remove(at)),
                    1 => bytes.insert(at, bytes[at]),
                    _ => {
                        let meaningful = b"{}[],:\"\\ 0-.eEav\t";
                        bytes[at] = meaningful[rng.random_range(0..meaningful.len())];
                    }
                }
            }
            if let Ok(text) = String::from_utf8(bytes) {
                read_from_text += usize::from(readings_agree(&text));
            }
        }
        // Many changes are to names and values that stay valid: those lines
        // are read from their text, and must agree.
        assert!(read_from_text > 2_000, "{read_from_text} lines read from their text");
    }
}
