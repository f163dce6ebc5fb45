//! The NDJSON export format and its offline verification (`docs/canonical-form.md`
//! section 6): what the server writes, and what `logbook verify` checks with no
//! server, given a checkpoint it trusts.

use std::io::Write as _;
use std::sync::mpsc;

use logbook_tlog::Hash;
use logbook_tlog::checkpoint::Checkpoint;
use logbook_tlog::json::{Document, Node, NodeId};
use logbook_tlog::proof::verify_inclusion;
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::export::verbatim::read_verbatim_line;
use crate::integrity::{
    Commitments, FieldCommitment, Finding, IntegrityError, LogVerifier, Problem, decode_hash, encode_hash,
    object_leaf_input,
};

mod verbatim;

/// One line of an NDJSON export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportLine {
    /// The stored event; `leaf_hash` is the tree's leaf at its `seq`.
    #[serde(flatten)]
    pub event: Event,
    /// The commitments to its personal fields.
    pub commitments: Commitments,
    /// The size of the tree the export was taken at.
    pub tree_size: u64,
    /// For a filtered export: the event's inclusion proof at `tree_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Vec<String>>,
}

/// The parts of a stored event a line of a full export is made of.
#[derive(Debug, Clone, Copy)]
pub struct StoredLineParts<'a> {
    /// The event's id.
    pub id: &'a str,
    /// Its workspace.
    pub workspace: &'a str,
    /// Its position.
    pub seq: u64,
    /// Base64 of the tree's leaf at `seq` (empty where the tree has none).
    pub leaf_hash: &'a str,
    /// The event's body as stored: the compact JSON of an [`crate::EventBody`].
    pub body_json: &'a str,
    /// Its commitments as stored: the compact JSON of [`Commitments`].
    pub commitments_json: &'a str,
    /// The size of the tree the export is taken at.
    pub tree_size: u64,
}

/// Appends the [`ExportLine`] of a stored event to `out`, newline included,
/// from the JSON its row holds, without parsing it: the bytes are those
/// `serde_json` writes for the parsed line. Answers `false`, writing nothing,
/// when a part is not one line of a JSON object (a row changed behind
/// Logbook's back); the caller then reads the row instead.
pub fn splice_export_line(out: &mut Vec<u8>, parts: &StoredLineParts<'_>) -> bool {
    // `memchr` looks for the newline many bytes at a time: this check reads
    // every byte of every exported row.
    let one_line_object =
        |json: &str| json.starts_with('{') && json.ends_with('}') && memchr::memchr(b'\n', json.as_bytes()).is_none();
    if parts.body_json.len() <= 2 || !one_line_object(parts.body_json) || !one_line_object(parts.commitments_json) {
        return false;
    }
    let write_str = |out: &mut Vec<u8>, text: &str| serde_json::to_writer(out, text).expect("writing to a Vec");
    out.extend_from_slice(b"{\"id\":");
    write_str(out, parts.id);
    out.extend_from_slice(b",\"workspace\":");
    write_str(out, parts.workspace);
    write!(out, ",\"seq\":{},\"leaf_hash\":", parts.seq).expect("writing to a Vec");
    write_str(out, parts.leaf_hash);
    out.push(b',');
    out.extend_from_slice(&parts.body_json.as_bytes()[1..parts.body_json.len() - 1]);
    out.extend_from_slice(b",\"commitments\":");
    out.extend_from_slice(parts.commitments_json.as_bytes());
    writeln!(out, ",\"tree_size\":{}}}", parts.tree_size).expect("writing to a Vec");
    true
}

/// The outcome of checking an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// How many events were checked.
    pub events: u64,
    /// Whether the export holds the whole log (else each event was proven alone).
    pub complete: bool,
}

fn finding(seq: Option<u64>, problem: Problem, message: String) -> Finding {
    Finding { seq, problem, message }
}

/// How many lines a worker checks at a time, at least.
const LINES_PER_CHUNK: usize = 2048;

/// How many chunks each worker may hold, waiting or checked, before the reader
/// waits for it: enough to keep every core busy, few enough to bound memory.
const CHUNKS_PER_WORKER: usize = 2;

/// Checks an export, line by line, against a checkpoint already opened with a
/// trusted key. A full export (no line carries a proof) must hold every event of
/// the checkpoint's tree in order; a partial one proves each event alone.
///
/// `texts` is the export in pieces of whole lines, in order: one line each (as
/// `str::lines` gives them) or many (a block read from a file, each line ending
/// in `\n`), so that a reader need not allocate a string for every line.
///
/// What one line says alone (its commitments, its leaf, its proof) is checked by
/// a worker on every core, a chunk of lines at a time, while the next chunks are
/// read; what lines say together (one workspace, every `seq` in order, the root)
/// is then checked in order, so the first line at fault is the one reported.
/// The workers live as long as the check: a thread started for each chunk would
/// also start with an empty allocator cache, and the kernel would zero fresh
/// pages for it every time.
pub fn verify_export<I, L>(texts: I, checkpoint: &Checkpoint) -> Result<ExportReport, Finding>
where
    I: IntoIterator<Item = L>,
    L: AsRef<str> + Send,
{
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut state = ExportState { full: None, partial: false, size: checkpoint.size, events: 0, workspace: None };
    // Fused: a reader that stopped (at a read error) is not asked again.
    let mut texts = texts.into_iter().fuse();
    let mut next_line_number = 0;
    std::thread::scope(|scope| {
        let (mut to_workers, mut from_workers, mut back_to_workers) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..workers {
            let (chunk_sender, chunk_receiver) = mpsc::sync_channel::<(usize, Vec<L>)>(CHUNKS_PER_WORKER);
            let (checked_sender, checked_receiver) = mpsc::sync_channel(CHUNKS_PER_WORKER);
            // The vectors of answers come back to their worker once taken: a
            // fresh one for every chunk grew to a few hundred kilobytes of pages
            // that the kernel zeroed each time (6% of the check's time).
            let (emptied_sender, emptied_receiver) = mpsc::channel::<Vec<Result<Option<CheckedLine>, Finding>>>();
            scope.spawn(move || {
                for (first_line_number, texts) in chunk_receiver {
                    let lines = texts.iter().flat_map(|text| lines_of(text.as_ref()));
                    let mut checked = emptied_receiver.try_recv().unwrap_or_default();
                    checked.extend(
                        lines
                            .enumerate()
                            .map(|(offset, line)| check_line(first_line_number + offset, line, checkpoint)),
                    );
                    if checked_sender.send(checked).is_err() {
                        return;
                    }
                }
            });
            to_workers.push(chunk_sender);
            from_workers.push(checked_receiver);
            back_to_workers.push(emptied_sender);
        }
        // Chunk k goes to worker k % workers, and the answers are taken in the
        // same turn, so they come back in the export's order. Returning early
        // drops the channels, which ends every worker.
        let (mut sent, mut taken) = (0, 0);
        loop {
            let (first_line_number, mut chunk) = (next_line_number, Vec::new());
            while next_line_number - first_line_number < LINES_PER_CHUNK {
                let Some(text) = texts.next() else { break };
                next_line_number += line_count(text.as_ref());
                chunk.push(text);
            }
            let ended = chunk.is_empty();
            if !ended {
                let chunk = (first_line_number, chunk);
                to_workers[sent % workers].send(chunk).expect("a worker takes chunks until the check ends");
                sent += 1;
            }
            while taken < sent && (ended || sent - taken >= workers * CHUNKS_PER_WORKER) {
                let worker = taken % workers;
                let mut checked = from_workers[worker].recv().expect("a worker answers every chunk it takes");
                taken += 1;
                for line in checked.drain(..) {
                    if let Some(line) = line? {
                        state.take(line)?;
                    }
                }
                // A worker that has ended no longer needs it.
                let _ = back_to_workers[worker].send(checked);
            }
            if ended {
                return Ok(());
            }
        }
    })?;
    state.finish(checkpoint)
}

/// A piece of an export without the last line's ending, which is optional:
/// what is left has one line more than it has `\n`s. An empty piece is one blank line.
fn without_last_ending(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

/// The lines of a piece of an export: split at each `\n`, and a `\r` before it
/// dropped.
fn lines_of(text: &str) -> impl Iterator<Item = &str> {
    without_last_ending(text).split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line))
}

/// How many lines [`lines_of`] finds in `text`.
fn line_count(text: &str) -> usize {
    let text = without_last_ending(text);
    // Counted in bytes, 255 at a time, so that the compiler compares a vector
    // of bytes at once (a `usize` count would widen every byte first).
    let newlines_in = |piece: &[u8]| piece.iter().fold(0u8, |count, &byte| count + u8::from(byte == b'\n'));
    text.as_bytes().chunks(255).map(|piece| usize::from(newlines_in(piece))).sum::<usize>() + 1
}

/// What one line says alone, checked.
struct CheckedLine {
    seq: u64,
    workspace: String,
    /// The leaf recomputed from the line's content.
    recomputed: Hash,
    /// The leaf the line claims.
    logged: Option<Hash>,
    /// For a line with a proof: whether it proves the leaf in the checkpoint's tree.
    proven: Option<Result<(), Finding>>,
}

/// The members of an export line that are the export's, not the event's.
struct ExportMembers {
    /// The leaf the line claims, if its `leaf_hash` is base64 of 32 bytes.
    logged: Option<Hash>,
    tree_size: u64,
    proof: Option<Vec<String>>,
}

impl ExportMembers {
    /// The export's members, taken out of a line's object: what is left is the
    /// stored event, every member of which the leaf covers. A line that names
    /// one of them twice is refused, as readers could disagree on which counts.
    /// The line's commitments come beside them.
    fn take_from(document: &mut Document<'_>) -> Result<(ExportMembers, Commitments), String> {
        let root = document.root();
        let mut take = |name: &str| {
            let found = document.only_member(root, name).map_err(|_| format!("it has two members named {name:?}"))?;
            Ok::<_, String>(found.and(document.remove_member(root, name)))
        };
        let (leaf_hash, commitments, tree_size, proof) =
            (take("leaf_hash")?, take("commitments")?, take("tree_size")?, take("proof")?);
        let document = &*document;
        let leaf_hash = leaf_hash.and_then(|node| document.as_str(node)).ok_or("its leaf_hash is not a string")?;
        let logged = decode_hash(leaf_hash);
        let tree_size =
            tree_size.and_then(|node| document.as_u64(node)).ok_or("its tree_size is not a whole number")?;
        let commitments = commitments
            .and_then(|node| read_commitments(document, node))
            .ok_or("its commitments are not an object of commitments and salts")?;
        let proof = match proof.filter(|&node| *document.node(node) != Node::Null) {
            None => None,
            Some(node) => Some(
                document
                    .items(node)
                    .and_then(|items| items.iter().map(|&item| Some(document.as_str(item)?.to_string())).collect())
                    .ok_or("its proof is not a list of hashes")?,
            ),
        };
        Ok((ExportMembers { logged, tree_size, proof }, commitments))
    }
}

/// Reads a line's `commitments`: each member an object with a string
/// `commitment` and a string `salt` (absent or null once erased). A member or
/// field named twice is refused, like anywhere else in a line.
fn read_commitments(document: &Document<'_>, node: NodeId) -> Option<Commitments> {
    let mut commitments = Commitments::default();
    for member in document.members(node)? {
        let entry = member.value?;
        let commitment = document.as_str(document.only_member(entry, "commitment").ok()??)?.to_string();
        let salt = match document.only_member(entry, "salt").ok()? {
            Some(salt) if *document.node(salt) != Node::Null => Some(document.as_str(salt)?.to_string()),
            _ => None,
        };
        let field = FieldCommitment { commitment, salt };
        if commitments.0.insert(member.name.to_string(), field).is_some() {
            return None;
        }
    }
    Some(commitments)
}

/// Checks what line `number` (from 0) says alone; `None` for a blank line.
///
/// A line written the way Logbook writes it has its leaf assembled from slices
/// of its text ([`verbatim`]); any other line is read as a [`Document`].
fn check_line(number: usize, line: &str, checkpoint: &Checkpoint) -> Result<Option<CheckedLine>, Finding> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let read = match read_verbatim_line(line) {
        Some(read) => ReadLine {
            seq: read.seq,
            workspace: read.workspace.to_string(),
            members: read.members,
            leaf_input: Ok(read.leaf_input),
        },
        None => read_line_document(number, line)?,
    };
    let ReadLine { seq, workspace, members, leaf_input } = read;
    if !checkpoint.origin.strip_suffix(workspace.as_str()).is_some_and(|log_name| log_name.ends_with('/')) {
        return Err(other_workspace(seq, &workspace, checkpoint));
    }
    if members.tree_size != checkpoint.size {
        return Err(finding(
            Some(seq),
            Problem::RootMismatch,
            format!(
                "the export was taken at tree size {}, the checkpoint is for size {}; fetch the checkpoint with ?size={}",
                members.tree_size, checkpoint.size, members.tree_size
            ),
        ));
    }
    let changed = |message: String| finding(Some(seq), Problem::Changed, message);
    let recomputed = leaf_input
        .map(|input| logbook_tlog::leaf_hash(&input))
        .map_err(|error| changed(format!("seq {seq}: {error}")))?;
    let proven = members.proof.as_ref().map(|proof| {
        let proof: Vec<Hash> = proof
            .iter()
            .map(|hash| {
                decode_hash(hash).ok_or_else(|| changed(format!("seq {seq}: a proof hash is not base64 of 32 bytes")))
            })
            .collect::<Result<_, _>>()?;
        verify_inclusion(&recomputed, seq, checkpoint.size, &proof, &checkpoint.root).map_err(|error| {
            changed(format!(
                "seq {seq} is not in the checkpoint's tree as exported ({error}); leaf {}",
                encode_hash(&recomputed)
            ))
        })
    });
    Ok(Some(CheckedLine { seq, workspace, recomputed, logged: members.logged, proven }))
}

/// What a line says, read, before it is checked against the checkpoint.
struct ReadLine {
    seq: u64,
    workspace: String,
    members: ExportMembers,
    /// The canonical form of its event, or why it has none.
    leaf_input: Result<Vec<u8>, IntegrityError>,
}

/// Reads a line as a JSON object, not as an [`ExportLine`]: the leaf is
/// recomputed from the members the line holds, so a member added to a line is
/// caught as a change, and no typed event is built and written out again. The
/// object is a [`Document`], whose strings are slices of the line.
fn read_line_document(number: usize, line: &str) -> Result<ReadLine, Finding> {
    let not_a_line =
        |detail: &str| finding(None, Problem::Changed, format!("line {} is not an export line: {detail}", number + 1));
    let mut document = Document::parse(line).map_err(|error| not_a_line(&error.to_string()))?;
    let root = document.root();
    if !matches!(document.node(root), Node::Object { .. }) {
        return Err(not_a_line("it is not a JSON object"));
    }
    let seq = document
        .member(root, "seq")
        .and_then(|seq| document.as_u64(seq))
        .ok_or_else(|| not_a_line("its seq is not a whole number"))?;
    let (members, commitments) = ExportMembers::take_from(&mut document)
        .map_err(|detail| finding(Some(seq), Problem::Changed, format!("line {} (seq {seq}): {detail}", number + 1)))?;
    let workspace = match document.member(root, "workspace").and_then(|workspace| document.as_str(workspace)) {
        Some(workspace) => workspace.to_string(),
        None => return Err(not_a_line("its workspace is not a string")),
    };
    if document.member(root, "id").and_then(|id| document.as_str(id)).is_none() {
        return Err(not_a_line("its id is not a string"));
    }
    let leaf_input = object_leaf_input(document, &commitments);
    Ok(ReadLine { seq, workspace, members, leaf_input })
}

fn other_workspace(seq: u64, workspace: &str, checkpoint: &Checkpoint) -> Finding {
    finding(
        Some(seq),
        Problem::Changed,
        format!("seq {seq} belongs to workspace {workspace}, not to the checkpoint's log {}", checkpoint.origin),
    )
}

/// What the lines checked so far say together.
struct ExportState {
    /// The whole log, rebuilt, when lines carry no proofs.
    full: Option<LogVerifier>,
    /// Whether lines carry proofs.
    partial: bool,
    /// The checkpoint's tree size.
    size: u64,
    events: u64,
    workspace: Option<String>,
}

impl ExportState {
    /// Takes the next line, checked alone, in order.
    fn take(&mut self, line: CheckedLine) -> Result<(), Finding> {
        let seq = line.seq;
        let first_workspace = self.workspace.get_or_insert_with(|| line.workspace.clone());
        if *first_workspace != line.workspace {
            return Err(finding(
                Some(seq),
                Problem::Changed,
                format!(
                    "seq {seq} belongs to workspace {}, not to {first_workspace} like the first line",
                    line.workspace
                ),
            ));
        }
        let changed = |message: String| finding(Some(seq), Problem::Changed, message);
        self.events += 1;
        match line.proven {
            Some(proven) => {
                if self.full.is_some() {
                    return Err(changed(format!("seq {seq} carries a proof in an export without proofs")));
                }
                self.partial = true;
                proven
            }
            None if self.partial => Err(changed(format!("seq {seq} carries no proof in an export with proofs"))),
            None => {
                let verifier = self.full.get_or_insert_with(|| LogVerifier::new(self.size));
                verifier.entry(seq, line.recomputed, line.logged)
            }
        }
    }

    /// The verdict once every line is taken.
    fn finish(self, checkpoint: &Checkpoint) -> Result<ExportReport, Finding> {
        match self.full {
            Some(verifier) => Ok(ExportReport { events: verifier.finish(&checkpoint.root)?, complete: true }),
            None if self.partial => Ok(ExportReport { events: self.events, complete: false }),
            None => LogVerifier::new(checkpoint.size)
                .finish(&checkpoint.root)
                .map(|_| ExportReport { events: 0, complete: true }),
        }
    }
}
/// The columns of a CSV export, in order: the seeds' table plus what identifies
/// each event.
pub const CSV_COLUMNS: [&str; 14] = [
    "date",
    "done_by",
    "actor_type",
    "event",
    "item_type",
    "item_id",
    "item_name",
    "from",
    "to",
    "ip",
    "outcome",
    "description",
    "id",
    "seq",
];

/// One CSV cell: RFC 4180 quoting, and a leading `'` on text a spreadsheet would
/// run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return).
pub fn csv_cell(text: &str) -> String {
    let neutralised =
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() };
    if neutralised.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", neutralised.replace('"', "\"\""))
    } else {
        neutralised
    }
}

/// The header line of a CSV export, with its CRLF.
pub fn csv_header() -> String {
    format!("{}\r\n", CSV_COLUMNS.join(","))
}

/// One event as a CSV line, with its CRLF. `label` is the action's catalog label
/// and `description` the event's description as people read it. Several changes
/// show as `field: value` pairs joined by `; `.
pub fn csv_line(event: &Event, label: &str, description: &str) -> String {
    let body = &event.body;
    let side = |pick: fn(&crate::event::Change) -> &serde_json::Value| match body.changes.as_slice() {
        [] => String::new(),
        [only] => crate::filter::value_text(pick(only)),
        many => many
            .iter()
            .map(|change| format!("{}: {}", change.field, crate::filter::value_text(pick(change))))
            .collect::<Vec<_>>()
            .join("; "),
    };
    let cells = [
        body.occurred_at.to_rfc3339(),
        body.actor.name.clone().unwrap_or_else(|| body.actor.id.clone()),
        body.actor.actor_type.as_str().to_string(),
        label.to_string(),
        body.target.record_type.clone(),
        body.target.id.clone(),
        body.target.name.clone().unwrap_or_default(),
        side(|change| &change.from),
        side(|change| &change.to),
        body.context.ip.clone().unwrap_or_default(),
        body.outcome.as_str().to_string(),
        description.to_string(),
        event.id.clone(),
        event.seq.to_string(),
    ];
    let mut line = cells.iter().map(|cell| csv_cell(cell)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spliced_line_is_the_line_serde_writes() {
        let body: crate::EventBody = serde_json::from_value(serde_json::json!({
            "action": "ticket.status_changed", "category": "activity",
            "occurred_at": "2026-01-31T12:00:00.000Z", "received_at": "2026-01-31T12:00:01.000Z",
            "actor": {"type": "user", "id": "U-1", "name": "Ana \"Lee\""},
            "target": {"type": "ticket", "id": "T-1"},
            "changes": [{"field": "status", "from": "open", "to": "solved"}],
            "context": {"ip": "10.0.0.1"}, "metadata": {"n": 1.5}
        }))
        .unwrap();
        let commitments = Commitments::commit(&body, || [7; 32]);
        let event =
            Event { id: "e-1".into(), workspace: "acme\\x".into(), seq: 41, leaf_hash: "bGVhZg==".into(), body };
        let line = ExportLine { event, commitments, tree_size: 42, proof: None };
        let body_json = serde_json::to_string(&line.event.body).unwrap();
        let commitments_json = serde_json::to_string(&line.commitments).unwrap();
        let parts = StoredLineParts {
            id: &line.event.id,
            workspace: &line.event.workspace,
            seq: line.event.seq,
            leaf_hash: &line.event.leaf_hash,
            body_json: &body_json,
            commitments_json: &commitments_json,
            tree_size: line.tree_size,
        };
        let mut spliced = Vec::new();
        assert!(splice_export_line(&mut spliced, &parts));
        assert_eq!(String::from_utf8(spliced).unwrap(), format!("{}\n", serde_json::to_string(&line).unwrap()));
        // A row changed into something else is left to be read.
        for body_json in ["{}", "[1]", "{\"a\":\n1}", ""] {
            let mut out = Vec::new();
            assert!(!splice_export_line(&mut out, &StoredLineParts { body_json, ..parts }), "{body_json}");
            assert!(out.is_empty());
        }
    }

    fn check(input: &str, expected: &str) {
        assert_eq!(csv_cell(input), expected, "cell {input:?}");
    }

    #[test]
    fn cells_are_quoted_and_formulas_neutralised() {
        check("plain", "plain");
        check("a,b", "\"a,b\"");
        check("say \"hi\"", "\"say \"\"hi\"\"\"");
        check("two\nlines", "\"two\nlines\"");
        check("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\"");
        check("+1", "'+1");
        check("-2", "'-2");
        check("@SUM(A1)", "'@SUM(A1)");
        check("\tcmd", "'\tcmd");
        check("\r=1", "\"'\r=1\"");
        check("", "");
    }
}
