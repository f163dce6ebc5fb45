//! The NDJSON export format and its offline verification (`docs/canonical-form.md`
//! section 6): what the server writes, and what `logbook verify` checks with no
//! server, given a checkpoint it trusts.

use logbook_tlog::Hash;
use logbook_tlog::checkpoint::Checkpoint;
use logbook_tlog::proof::verify_inclusion;
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::integrity::{Commitments, Finding, LogVerifier, Problem, decode_hash, encode_hash, event_leaf_hash};

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

/// Checks an export, line by line, against a checkpoint already opened with a
/// trusted key. A full export (no line carries a proof) must hold every event of
/// the checkpoint's tree in order; a partial one proves each event alone.
pub fn verify_export<I, L>(lines: I, checkpoint: &Checkpoint) -> Result<ExportReport, Finding>
where
    I: IntoIterator<Item = L>,
    L: AsRef<str>,
{
    let mut full: Option<LogVerifier> = None;
    let mut partial = false;
    let mut events = 0u64;
    let mut workspace: Option<String> = None;
    for (number, line) in lines.into_iter().enumerate() {
        let line = line.as_ref();
        if line.trim().is_empty() {
            continue;
        }
        let line: ExportLine = serde_json::from_str(line).map_err(|error| {
            finding(None, Problem::Changed, format!("line {} is not an export line: {error}", number + 1))
        })?;
        let seq = line.event.seq;
        let first_workspace = workspace.get_or_insert_with(|| line.event.workspace.clone());
        if *first_workspace != line.event.workspace || !checkpoint.origin.ends_with(&format!("/{first_workspace}")) {
            return Err(finding(
                Some(seq),
                Problem::Changed,
                format!(
                    "seq {seq} belongs to workspace {}, not to the checkpoint's log {}",
                    line.event.workspace, checkpoint.origin
                ),
            ));
        }
        if line.tree_size != checkpoint.size {
            return Err(finding(
                Some(seq),
                Problem::RootMismatch,
                format!(
                    "the export was taken at tree size {}, the checkpoint is for size {}; fetch the checkpoint with ?size={}",
                    line.tree_size, checkpoint.size, line.tree_size
                ),
            ));
        }
        let changed = |message: String| finding(Some(seq), Problem::Changed, message);
        line.commitments.check_values(&line.event.body).map_err(|error| changed(format!("seq {seq}: {error}")))?;
        let recomputed =
            event_leaf_hash(&line.event, &line.commitments).map_err(|error| changed(format!("seq {seq}: {error}")))?;
        events += 1;
        match &line.proof {
            Some(proof) => {
                if full.is_some() {
                    return Err(changed(format!("seq {seq} carries a proof in an export without proofs")));
                }
                partial = true;
                let proof: Vec<Hash> = proof
                    .iter()
                    .map(|hash| {
                        decode_hash(hash)
                            .ok_or_else(|| changed(format!("seq {seq}: a proof hash is not base64 of 32 bytes")))
                    })
                    .collect::<Result<_, _>>()?;
                verify_inclusion(&recomputed, seq, checkpoint.size, &proof, &checkpoint.root).map_err(|error| {
                    changed(format!(
                        "seq {seq} is not in the checkpoint's tree as exported ({error}); leaf {}",
                        encode_hash(&recomputed)
                    ))
                })?;
            }
            None if partial => return Err(changed(format!("seq {seq} carries no proof in an export with proofs"))),
            None => {
                let verifier = full.get_or_insert_with(|| LogVerifier::new(checkpoint.size));
                verifier.entry(seq, recomputed, decode_hash(&line.event.leaf_hash))?;
            }
        }
    }
    match full {
        Some(verifier) => Ok(ExportReport { events: verifier.finish(&checkpoint.root)?, complete: true }),
        None if partial => Ok(ExportReport { events, complete: false }),
        None => LogVerifier::new(checkpoint.size)
            .finish(&checkpoint.root)
            .map(|_| ExportReport { events: 0, complete: true }),
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
