//! `logbook verify`: checks an NDJSON export against a signed checkpoint and the
//! log's public key, with no server (`docs/canonical-form.md` §6).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use logbook_core::export::verify_export;
use logbook_tlog::checkpoint::open_checkpoint;
use logbook_tlog::note::Verifier;

/// What to verify.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The NDJSON export (`GET …/export?format=ndjson`).
    #[arg(long)]
    pub export: PathBuf,
    /// The signed checkpoint of the export's tree size (`GET …/checkpoint?size=N`).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The log's verifier key (`GET /v1/log-keys`), e.g. `logbook.local+1a2b3c4d+AbC…`.
    #[arg(long)]
    pub key: String,
}

/// Verifies and prints a verdict; `Ok(false)` when the export does not verify.
pub fn run(args: VerifyArgs) -> anyhow::Result<bool> {
    let verifier =
        Verifier::parse(args.key.trim()).map_err(|error| anyhow::anyhow!("the key is not a verifier key: {error}"))?;
    let checkpoint_text =
        std::fs::read_to_string(&args.checkpoint).with_context(|| format!("reading {}", args.checkpoint.display()))?;
    let file = File::open(&args.export).with_context(|| format!("reading {}", args.export.display()))?;
    let mut lines = BufReader::new(file).lines().peekable();
    let workspace = match lines.peek() {
        Some(Ok(first)) => serde_json::from_str::<serde_json::Value>(first)
            .ok()
            .and_then(|line| line["workspace"].as_str().map(str::to_string))
            .context("the export's first line names no workspace")?,
        Some(Err(error)) => anyhow::bail!("reading {}: {error}", args.export.display()),
        None => anyhow::bail!("{} is empty: there is nothing to verify", args.export.display()),
    };
    let origin = format!("{}/{workspace}", verifier.name());
    let checkpoint = match open_checkpoint(&checkpoint_text, &verifier, &origin) {
        Ok(checkpoint) => checkpoint,
        Err(error) => {
            println!("FAILED: the checkpoint does not verify for {origin} with this key: {error}");
            return Ok(false);
        }
    };
    let mut read_error = None;
    let lines = lines.map_while(|line| line.map_err(|error| read_error = Some(error)).ok());
    let verdict = verify_export(lines, &checkpoint);
    if let Some(error) = read_error {
        anyhow::bail!("reading {}: {error}", args.export.display());
    }
    match verdict {
        Ok(report) => {
            let kind = if report.complete {
                "the whole log, rebuilt to the checkpoint's root"
            } else {
                "each with its inclusion proof"
            };
            println!(
                "OK: {} events of {workspace} verify against the checkpoint of size {} ({kind})",
                report.events, checkpoint.size
            );
            Ok(true)
        }
        Err(finding) => {
            match finding.seq {
                Some(seq) => println!("FAILED at seq {seq}: {:?}: {}", finding.problem, finding.message),
                None => println!("FAILED: {:?}: {}", finding.problem, finding.message),
            }
            Ok(false)
        }
    }
}
