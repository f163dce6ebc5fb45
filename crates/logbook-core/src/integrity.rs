//! What makes an event verifiable: its canonical form, the salted commitments
//! that stand in for personal data, and the check that a run of events matches a
//! Merkle tree (DESIGN.md section 5; the exact format is `docs/canonical-form.md`).
//!
//! The leaf of an event is `SHA-256(0x00 || canonical form)`. The canonical form is
//! the RFC 8785 canonical JSON of the stored event (its body, `id`, `workspace`,
//! `seq` and `"v": 1`), in which each personal field present is replaced by
//! `"hmac-sha256:" + base64(HMAC-SHA256(key = salt, message = value))`. Erasing a
//! person later removes the value and the salt but keeps the commitment, so the
//! leaf, and every proof through it, stays the same.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use logbook_tlog::Hash;
use logbook_tlog::json::{Document, Node};
use logbook_tlog::tree::RightEdge;
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventBody};

/// The version of the canonical form, written into every leaf as `"v"`.
pub const CANONICAL_VERSION: u64 = 1;

/// The prefix of a commitment where a personal value stood.
pub const COMMITMENT_PREFIX: &str = "hmac-sha256:";

/// The fields that hold personal data, by their dotted path.
pub const PERSONAL_FIELDS: [&str; 4] = ["actor.name", "actor.email", "context.ip", "context.user_agent"];

/// Why an event's leaf could not be computed or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityError {
    /// The event cannot be written in canonical form (e.g. an integer beyond 2^53).
    #[error("the event has no canonical form: {0}")]
    NotCanonical(String),
    /// A personal field holds a value with no commitment to stand for it.
    #[error("{0} has a value but no commitment")]
    Uncommitted(&'static str),
    /// A personal value is present but the salt that opens its commitment is not.
    #[error("{0} has a value but no salt to check it against (erasure removes both)")]
    SaltMissing(&'static str),
    /// A personal value does not match its commitment.
    #[error("{0} does not match its commitment")]
    CommitmentMismatch(&'static str),
    /// A commitment or salt is not valid base64 of 32 bytes.
    #[error("the commitment of {0} is malformed")]
    MalformedCommitment(String),
}

/// The commitment to one personal value, and the salt that opens it (until erased).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldCommitment {
    /// Base64 of HMAC-SHA256(key = salt, message = value).
    pub commitment: String,
    /// Base64 of the 32-byte salt; absent once the value is erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

/// The commitments of one event's personal fields, keyed by dotted path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Commitments(pub BTreeMap<String, FieldCommitment>);

/// The value of a personal field in an event body.
pub fn personal_value<'a>(body: &'a EventBody, field: &str) -> Option<&'a str> {
    match field {
        "actor.name" => body.actor.name.as_deref(),
        "actor.email" => body.actor.email.as_deref(),
        "context.ip" => body.context.ip.as_deref(),
        "context.user_agent" => body.context.user_agent.as_deref(),
        _ => None,
    }
}

/// HMAC-SHA256 of `value` under `salt`.
pub fn commitment(salt: &[u8], value: &str) -> [u8; 32] {
    crate::mac::hmac_sha256(salt, value.as_bytes())
}

impl Commitments {
    /// Commits to every personal value of `body`, each under a fresh salt from
    /// `salt` (the caller supplies randomness; this crate has none).
    pub fn commit(body: &EventBody, mut salt: impl FnMut() -> [u8; 32]) -> Commitments {
        let mut commitments = BTreeMap::new();
        for field in PERSONAL_FIELDS {
            if let Some(value) = personal_value(body, field) {
                let salt = salt();
                commitments.insert(
                    field.to_string(),
                    FieldCommitment {
                        commitment: STANDARD.encode(commitment(&salt, value)),
                        salt: Some(STANDARD.encode(salt)),
                    },
                );
            }
        }
        Commitments(commitments)
    }

    /// Checks that every personal value still present matches its commitment.
    /// Erasure removes a value and its salt together, so a value without a salt
    /// is as wrong as a value that does not match.
    pub fn check_values(&self, body: &EventBody) -> Result<(), IntegrityError> {
        for field in PERSONAL_FIELDS {
            if let Some(value) = personal_value(body, field) {
                self.check_value(field, value)?;
            }
        }
        Ok(())
    }

    /// Checks one personal value present in an event against its commitment.
    fn check_value(&self, field: &'static str, value: &str) -> Result<(), IntegrityError> {
        let entry = self.0.get(field).ok_or(IntegrityError::Uncommitted(field))?;
        check_committed_value(field, value, &entry.commitment, entry.salt.as_deref())
    }
}

/// Checks a personal value against its commitment and salt as stored (base64).
pub(crate) fn check_committed_value(
    field: &'static str,
    value: &str,
    commitment_text: &str,
    salt: Option<&str>,
) -> Result<(), IntegrityError> {
    let salt = salt.ok_or(IntegrityError::SaltMissing(field))?;
    let malformed = |_| IntegrityError::MalformedCommitment(field.to_string());
    // Salts are 32 bytes: decoded on the stack, as the commitment is encoded,
    // since `logbook verify` checks two or three values on every line.
    let mut salt_buffer = [0; 48];
    let mac = match STANDARD.decode_slice(salt, &mut salt_buffer) {
        Ok(length) => commitment(&salt_buffer[..length], value),
        Err(_) => commitment(&STANDARD.decode(salt).map_err(malformed)?, value),
    };
    let mut encoded = [0; 44];
    let length = STANDARD.encode_slice(mac, &mut encoded).expect("32 bytes are 44 in base64");
    if encoded[..length] != *commitment_text.as_bytes() {
        return Err(IntegrityError::CommitmentMismatch(field));
    }
    Ok(())
}

/// Where an event stands: the parts of its canonical form that are not its body.
#[derive(Debug, Clone, Copy)]
pub struct LeafPosition<'a> {
    /// The workspace.
    pub workspace: &'a str,
    /// The event's `seq`.
    pub seq: u64,
    /// The event's `id`.
    pub id: &'a str,
}

impl<'a> LeafPosition<'a> {
    /// The position of a stored event.
    pub fn of(event: &'a Event) -> LeafPosition<'a> {
        LeafPosition { workspace: &event.workspace, seq: event.seq, id: &event.id }
    }
}

/// The canonical form of a stored event: the exact bytes its leaf hashes.
pub fn leaf_input(
    position: LeafPosition<'_>,
    body: &EventBody,
    commitments: &Commitments,
) -> Result<Vec<u8>, IntegrityError> {
    let text = serde_json::to_string(body).map_err(|error| IntegrityError::NotCanonical(error.to_string()))?;
    let mut document = Document::parse(&text).map_err(|error| IntegrityError::NotCanonical(error.to_string()))?;
    let root = document.root();
    document.set_member(root, "id", Node::Text(position.id.into()));
    document.set_member(root, "workspace", Node::Text(position.workspace.into()));
    document.set_member(root, "seq", Node::Integer(position.seq));
    committed_leaf_input(document, commitments)
}

/// The canonical form of a stored event written as one JSON object (the root
/// of `document`): its body's members with its `id`, `workspace` and `seq`, as
/// a line of an export holds it once the export's own members are taken out.
/// Every member counts, so a member added to the object changes the leaf, and
/// one named twice has no canonical form. The personal values present are
/// first checked against their commitments.
pub fn object_leaf_input(document: Document<'_>, commitments: &Commitments) -> Result<Vec<u8>, IntegrityError> {
    let root = document.root();
    for field in PERSONAL_FIELDS {
        let (parent, key) = field.split_once('.').expect("personal fields are dotted");
        if let Some(value) = document.member(root, parent).and_then(|parent| document.member(parent, key)) {
            let value = document
                .as_str(value)
                .ok_or_else(|| IntegrityError::NotCanonical(format!("{field} is not a string")))?;
            commitments.check_value(field, value)?;
        }
    }
    committed_leaf_input(document, commitments)
}

/// The canonical form of an event object: `"v"` added and each personal value
/// replaced by its commitment.
fn committed_leaf_input(mut document: Document<'_>, commitments: &Commitments) -> Result<Vec<u8>, IntegrityError> {
    let root = document.root();
    if document.member(root, "v").is_some() {
        return Err(IntegrityError::NotCanonical("an event has no member \"v\" of its own".into()));
    }
    document.set_member(root, "v", Node::Integer(CANONICAL_VERSION));
    for field in PERSONAL_FIELDS {
        let (parent, key) = field.split_once('.').expect("personal fields are dotted");
        let slot = document.member(root, parent).filter(|&parent| matches!(document.node(parent), Node::Object { .. }));
        let had_value = slot.is_some_and(|slot| document.member(slot, key).is_some());
        match (commitments.0.get(field), slot) {
            (Some(entry), Some(slot)) => {
                let committed = format!("{COMMITMENT_PREFIX}{}", entry.commitment);
                document.set_member(slot, key, Node::Text(committed.into()));
            }
            (Some(_), None) => return Err(IntegrityError::MalformedCommitment(field.to_string())),
            (None, _) if had_value => return Err(IntegrityError::Uncommitted(field)),
            (None, _) => {}
        }
    }
    logbook_tlog::canonical::canonicalize_document(&document)
        .map_err(|error| IntegrityError::NotCanonical(error.to_string()))
}

/// The RFC 6962 leaf hash of an event at a position.
pub fn leaf_hash(
    position: LeafPosition<'_>,
    body: &EventBody,
    commitments: &Commitments,
) -> Result<Hash, IntegrityError> {
    Ok(logbook_tlog::leaf_hash(&leaf_input(position, body, commitments)?))
}

/// The RFC 6962 leaf hash of a stored event.
pub fn event_leaf_hash(event: &Event, commitments: &Commitments) -> Result<Hash, IntegrityError> {
    leaf_hash(LeafPosition::of(event), &event.body, commitments)
}

/// A hash as the API writes it: standard base64, as in C2SP.
pub fn encode_hash(hash: &Hash) -> String {
    STANDARD.encode(hash)
}

/// Reads a base64 hash of 32 bytes.
pub fn decode_hash(text: &str) -> Option<Hash> {
    STANDARD.decode(text).ok()?.try_into().ok()
}

/// What is wrong at a position of a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The event's content does not hash to the log's leaf at its position (it was
    /// changed, or moved there from another position).
    Changed,
    /// The log has a leaf at this position but no event.
    Missing,
    /// There is an event at a position the log does not have.
    Extra,
    /// Events do not come in `seq` order (a repeat or a step back).
    OutOfOrder,
    /// Every event matches its leaf, but the leaves do not make the expected root.
    RootMismatch,
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// The first bad position, when one can be named.
    pub seq: Option<u64>,
    /// What is wrong.
    pub problem: Problem,
    /// A sentence for people.
    pub message: String,
}

/// Checks a run of events, in `seq` order, against the leaves a log holds and then
/// against the log's root. Used by the server's `verify` and by `logbook verify`.
#[derive(Debug)]
pub struct LogVerifier {
    size: u64,
    next: u64,
    edge: RightEdge,
}

impl LogVerifier {
    /// A verifier of a log of `size` leaves, starting at `seq` 0.
    pub fn new(size: u64) -> LogVerifier {
        LogVerifier { size, next: 0, edge: RightEdge::new() }
    }

    /// How many events have been checked.
    pub fn checked(&self) -> u64 {
        self.next
    }

    /// Checks the next event: its `seq`, the leaf recomputed from its content, and
    /// the leaf the log holds at that position (`None` when it holds none).
    pub fn entry(&mut self, seq: u64, recomputed: Hash, logged: Option<Hash>) -> Result<(), Finding> {
        let finding = |seq: u64, problem: Problem, message: String| Finding { seq: Some(seq), problem, message };
        if seq < self.next {
            return Err(finding(seq, Problem::OutOfOrder, format!("seq {seq} comes after seq {}", self.next - 1)));
        }
        if seq > self.next {
            return Err(finding(self.next, Problem::Missing, format!("the event at seq {} is missing", self.next)));
        }
        if seq >= self.size {
            return Err(finding(seq, Problem::Extra, format!("seq {seq} is beyond the log's {} leaves", self.size)));
        }
        let Some(logged) = logged else {
            return Err(finding(seq, Problem::Extra, format!("the log has no leaf for seq {seq}")));
        };
        if recomputed != logged {
            return Err(finding(
                seq,
                Problem::Changed,
                format!(
                    "the event at seq {seq} does not match the log's leaf (changed, or moved from another position)"
                ),
            ));
        }
        self.edge.append(logged);
        self.next += 1;
        Ok(())
    }

    /// Finishes: every position must have been seen and the leaves must make `root`.
    pub fn finish(self, root: &Hash) -> Result<u64, Finding> {
        if self.next < self.size {
            return Err(Finding {
                seq: Some(self.next),
                problem: Problem::Missing,
                message: format!("the event at seq {} is missing", self.next),
            });
        }
        if self.edge.root() != *root {
            return Err(Finding {
                seq: None,
                problem: Problem::RootMismatch,
                message: "every event matches its leaf, but the leaves do not make the checkpoint's root".into(),
            });
        }
        Ok(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, ActorType, Category, Context, Outcome, RecordRef};
    use crate::timestamp::Timestamp;

    fn event() -> Event {
        Event {
            id: "01a200e4-9d53-70f7-8a0f-71e5811bef4a".into(),
            workspace: "acme".into(),
            seq: 0,
            leaf_hash: String::new(),
            body: EventBody {
                action: "ticket.status_changed".into(),
                category: Category::Activity,
                occurred_at: Timestamp::from_millis(1_790_000_000_000),
                received_at: Timestamp::from_millis(1_790_000_000_123),
                actor: Actor {
                    actor_type: ActorType::User,
                    id: "U-7".into(),
                    name: Some("Ana Silva".into()),
                    email: Some("ana@example.com".into()),
                    role: None,
                },
                target: RecordRef {
                    record_type: "ticket".into(),
                    id: "T-42".into(),
                    name: Some("Refund not received".into()),
                },
                related: vec![],
                changes: vec![crate::event::Change {
                    field: "status".into(),
                    from: "open".into(),
                    to: "solved".into(),
                }],
                outcome: Outcome::Success,
                context: Context { ip: Some("192.0.2.10".into()), ..Context::default() },
                description: None,
                metadata: Default::default(),
                idempotency_key: None,
            },
        }
    }

    /// The worked example of docs/canonical-form.md: fixed salts, so fixed bytes.
    #[test]
    fn worked_example_of_the_spec() {
        let event = event();
        let mut next_salt = 0u8;
        let commitments = Commitments::commit(&event.body, || {
            next_salt += 1;
            [next_salt; 32]
        });
        let input =
            String::from_utf8(leaf_input(LeafPosition::of(&event), &event.body, &commitments).unwrap()).unwrap();
        let spec = include_str!("../../../docs/canonical-form.md");
        assert!(spec.contains(&input), "docs/canonical-form.md must show the canonical form:\n{input}");
        let hash = encode_hash(&event_leaf_hash(&event, &commitments).unwrap());
        assert!(spec.contains(&hash), "docs/canonical-form.md must show the leaf hash {hash}");
    }

    #[test]
    fn erasure_keeps_the_leaf() {
        let mut event = event();
        let commitments = Commitments::commit(&event.body, || [9; 32]);
        let before = event_leaf_hash(&event, &commitments).unwrap();
        commitments.check_values(&event.body).unwrap();
        event.body.actor.name = None;
        event.body.context.ip = None;
        let mut erased = commitments.clone();
        for entry in erased.0.values_mut() {
            entry.salt = None;
        }
        assert_eq!(event_leaf_hash(&event, &erased).unwrap(), before);
        event.body.actor.email = Some("someone@else.example".into());
        assert_eq!(commitments.check_values(&event.body), Err(IntegrityError::CommitmentMismatch("actor.email")));
        assert_eq!(
            erased.check_values(&event.body),
            Err(IntegrityError::SaltMissing("actor.email")),
            "a value without its salt"
        );
        assert_eq!(event_leaf_hash(&event, &Commitments::default()), Err(IntegrityError::Uncommitted("actor.email")));
    }

    #[test]
    fn any_change_changes_the_leaf() {
        let event = event();
        let commitments = Commitments::commit(&event.body, || [1; 32]);
        let original = event_leaf_hash(&event, &commitments).unwrap();
        let mut moved = event.clone();
        moved.seq = 1;
        let mut edited = event.clone();
        edited.body.changes[0].to = "pending".into();
        let mut renamed = event.clone();
        renamed.body.actor.name = Some("Someone Else".into());
        assert_ne!(event_leaf_hash(&moved, &commitments).unwrap(), original);
        assert_ne!(event_leaf_hash(&edited, &commitments).unwrap(), original);
        let renamed_commitments = Commitments::commit(&renamed.body, || [1; 32]);
        assert_ne!(event_leaf_hash(&renamed, &renamed_commitments).unwrap(), original);
    }

    #[test]
    fn the_verifier_names_the_first_bad_position() {
        let leaves: Vec<Hash> = (0..5u8).map(|n| logbook_tlog::leaf_hash(&[n])).collect();
        let mut edge = RightEdge::new();
        edge.extend(leaves.iter().copied());
        let root = edge.root();
        let run = |entries: &[(u64, Hash, Option<Hash>)]| {
            let mut verifier = LogVerifier::new(5);
            for (seq, recomputed, logged) in entries {
                verifier.entry(*seq, *recomputed, *logged)?;
            }
            verifier.finish(&root)
        };
        let good: Vec<_> = (0..5).map(|n| (n as u64, leaves[n], Some(leaves[n]))).collect();
        assert_eq!(run(&good), Ok(5));
        let check = |entries: Vec<(u64, Hash, Option<Hash>)>, seq: Option<u64>, problem: Problem| {
            let finding = run(&entries).unwrap_err();
            assert_eq!((finding.seq, finding.problem), (seq, problem), "{}", finding.message);
        };
        let mut changed = good.clone();
        changed[2].1 = leaves[3];
        check(changed, Some(2), Problem::Changed);
        let mut missing = good.clone();
        missing.remove(3);
        check(missing, Some(3), Problem::Missing);
        check(good[..4].to_vec(), Some(4), Problem::Missing);
        let mut extra = good.clone();
        extra.push((5, leaves[0], None));
        check(extra, Some(5), Problem::Extra);
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        check(swapped, Some(1), Problem::Missing);
        let mut repeated = good.clone();
        repeated.insert(2, good[1]);
        check(repeated, Some(1), Problem::OutOfOrder);
        let mut forged = good.clone();
        forged[4] = (4, leaves[0], Some(leaves[0]));
        check(forged, None, Problem::RootMismatch);
    }
}
