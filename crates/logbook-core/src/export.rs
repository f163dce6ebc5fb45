//! The NDJSON export format and its offline verification (`docs/canonical-form.md`
//! section 6): what the server writes, and what `logbook verify` checks with no
//! server, given a checkpoint it trusts.

use logbook_tlog::Hash;
use logbook_tlog::checkpoint::Checkpoint;
use logbook_tlog::proof::verify_inclusion;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::Event;
use crate::integrity::{Commitments, Finding, LogVerifier, Problem, decode_hash, encode_hash, object_leaf_input};

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
    let one_line_object = |json: &str| json.starts_with('{') && json.ends_with('}') && !json.contains('\n');
    if parts.body_json.len() <= 2 || !one_line_object(parts.body_json) || !one_line_object(parts.commitments_json) {
        return false;
    }
    let write_str = |out: &mut Vec<u8>, text: &str| serde_json::to_writer(out, text).expect("writing to a Vec");
    out.extend_from_slice(b"{\"id\":");
    write_str(out, parts.id);
    out.extend_from_slice(b",\"workspace\":");
    write_str(out, parts.workspace);
    out.extend_from_slice(format!(",\"seq\":{},\"leaf_hash\":", parts.seq).as_bytes());
    write_str(out, parts.leaf_hash);
    out.push(b',');
    out.extend_from_slice(&parts.body_json.as_bytes()[1..parts.body_json.len() - 1]);
    out.extend_from_slice(b",\"commitments\":");
    out.extend_from_slice(parts.commitments_json.as_bytes());
    out.extend_from_slice(format!(",\"tree_size\":{}}}\n", parts.tree_size).as_bytes());
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

/// How many lines are checked together, spread over the machine's cores.
const LINES_PER_CHUNK: usize = 4096;

/// Checks an export, line by line, against a checkpoint already opened with a
/// trusted key. A full export (no line carries a proof) must hold every event of
/// the checkpoint's tree in order; a partial one proves each event alone.
///
/// What one line says alone (its commitments, its leaf, its proof) is checked on
/// every core, a chunk of lines at a time, while the next chunk is read; what
/// lines say together (one workspace, every `seq` in order, the root) is then
/// checked in order, so the first line at fault is the one reported.
pub fn verify_export<I, L>(lines: I, checkpoint: &Checkpoint) -> Result<ExportReport, Finding>
where
    I: IntoIterator<Item = L>,
    L: AsRef<str> + Send + Sync,
{
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut state = ExportState { full: None, partial: false, size: checkpoint.size, events: 0, workspace: None };
    let mut lines = lines.into_iter().enumerate();
    std::thread::scope(|scope| {
        let mut checking = None;
        loop {
            let chunk: Vec<(usize, L)> = lines.by_ref().take(LINES_PER_CHUNK).collect();
            if let Some(checked_chunk) = checking.take().map(std::thread::ScopedJoinHandle::join) {
                for checked in checked_chunk.expect("checking a line does not panic") {
                    if let Some(line) = checked? {
                        state.take(line)?;
                    }
                }
            }
            if chunk.is_empty() {
                return Ok(());
            }
            checking = Some(scope.spawn(move || check_lines(&chunk, checkpoint, threads)));
        }
    })?;
    state.finish(checkpoint)
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

/// Checks `chunk` on up to `threads` threads; the answers are in the chunk's order.
fn check_lines<L: AsRef<str> + Sync>(
    chunk: &[(usize, L)],
    checkpoint: &Checkpoint,
    threads: usize,
) -> Vec<Result<Option<CheckedLine>, Finding>> {
    let check = |part: &[(usize, L)]| -> Vec<_> {
        part.iter().map(|(number, line)| check_line(*number, line.as_ref(), checkpoint)).collect()
    };
    if threads <= 1 || chunk.len() < 2 {
        return check(chunk);
    }
    let part_size = chunk.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = chunk.chunks(part_size).map(|part| scope.spawn(move || check(part))).collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("checking a line does not panic")).collect()
    })
}

/// The members of an export line that are the export's, not the event's.
#[derive(Deserialize)]
struct ExportMembers {
    leaf_hash: String,
    commitments: Commitments,
    tree_size: u64,
    #[serde(default)]
    proof: Option<Vec<String>>,
}

impl ExportMembers {
    /// The export's members, taken out of a line's object: what is left is the
    /// stored event, every member of which the leaf covers.
    fn take_from(object: &mut Map<String, Value>) -> Result<ExportMembers, serde_json::Error> {
        let members: Map<String, Value> = ["leaf_hash", "commitments", "tree_size", "proof"]
            .into_iter()
            .filter_map(|name| object.remove(name).map(|value| (name.to_string(), value)))
            .collect();
        serde_json::from_value(Value::Object(members))
    }
}

/// Checks what line `number` (from 0) says alone; `None` for a blank line.
///
/// The line is read as a JSON object, not as an [`ExportLine`]: the leaf is
/// recomputed from the members the line holds, so a member added to a line is
/// caught as a change, and no typed event is built and written out again.
fn check_line(number: usize, line: &str, checkpoint: &Checkpoint) -> Result<Option<CheckedLine>, Finding> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let not_a_line =
        |detail: &str| finding(None, Problem::Changed, format!("line {} is not an export line: {detail}", number + 1));
    let mut object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(not_a_line("it is not a JSON object")),
        Err(error) => return Err(not_a_line(&error.to_string())),
    };
    let members = ExportMembers::take_from(&mut object).map_err(|error| not_a_line(&error.to_string()))?;
    let seq = object.get("seq").and_then(Value::as_u64).ok_or_else(|| not_a_line("its seq is not a whole number"))?;
    let workspace = match object.get("workspace") {
        Some(Value::String(workspace)) => workspace.clone(),
        _ => return Err(not_a_line("its workspace is not a string")),
    };
    if !object.get("id").is_some_and(Value::is_string) {
        return Err(not_a_line("its id is not a string"));
    }
    if !checkpoint.origin.ends_with(&format!("/{workspace}")) {
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
    let recomputed = object_leaf_input(object, &members.commitments)
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
    let logged = decode_hash(&members.leaf_hash);
    Ok(Some(CheckedLine { seq, workspace, recomputed, logged, proven }))
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
