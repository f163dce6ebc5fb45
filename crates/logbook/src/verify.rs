//! `logbook verify`: checks an NDJSON export against a signed checkpoint and the
//! log's public key, with no server (`docs/canonical-form.md` §6).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
    let mut reader = BufReader::new(file);
    let pool = BlockPool::default();
    let mut blocks = std::iter::from_fn(move || next_block(&mut reader, &pool).transpose()).peekable();
    let workspace = match blocks.peek() {
        Some(Ok(first)) => serde_json::from_str::<serde_json::Value>(first.as_ref().lines().next().unwrap_or_default())
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
    let blocks = blocks.map_while(|block| block.map_err(|error| read_error = Some(error)).ok());
    let verdict = verify_export(blocks, &checkpoint);
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

/// About how many bytes of the export are read at a time.
const BLOCK_BYTES: u64 = 1 << 20;

/// The buffers of blocks the check is done with, for the next reads: a fresh
/// mebibyte for every block would be pages the kernel zeroes every time.
#[derive(Clone, Default)]
struct BlockPool(Arc<Mutex<Vec<Vec<u8>>>>);

impl BlockPool {
    /// The most buffers kept; more are in flight only briefly.
    const KEPT: usize = 64;

    fn take(&self) -> Vec<u8> {
        let kept = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        kept.unwrap_or_else(|| Vec::with_capacity(BLOCK_BYTES as usize + 4096))
    }
}

/// A block of whole lines, whose buffer goes back to its pool when dropped.
struct Block {
    text: String,
    pool: BlockPool,
}

impl AsRef<str> for Block {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        let mut buffer = std::mem::take(&mut self.text).into_bytes();
        buffer.clear();
        let mut kept = self.pool.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.len() < BlockPool::KEPT {
            kept.push(buffer);
        }
    }
}

/// The next block of whole lines of the export, about [`BLOCK_BYTES`] long:
/// read a block at a time, the lines need no string each.
fn next_block(reader: &mut impl BufRead, pool: &BlockPool) -> std::io::Result<Option<Block>> {
    let mut block = pool.take();
    reader.by_ref().take(BLOCK_BYTES).read_to_end(&mut block)?;
    if !block.is_empty() && !block.ends_with(b"\n") {
        reader.read_until(b'\n', &mut block)?;
    }
    if block.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8(block)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "the export is not UTF-8 text"))?;
    Ok(Some(Block { text, pool: pool.clone() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_hold_whole_lines() {
        let line = format!("{}\n", "x".repeat(1000));
        let text = format!("{}last line without an end", line.repeat(3000));
        let mut reader = std::io::Cursor::new(text.clone());
        let (pool, mut blocks) = (BlockPool::default(), Vec::new());
        while let Some(block) = next_block(&mut reader, &pool).unwrap() {
            blocks.push(block.text.clone());
            // Every block after the first reuses the buffer of the one before.
            drop(block);
            assert_eq!(pool.0.lock().unwrap().len(), 1);
        }
        assert!(blocks.len() > 1, "a file of 3 MB is read in blocks");
        assert!(blocks[..blocks.len() - 1].iter().all(|block| block.ends_with('\n')));
        assert_eq!(blocks.concat(), text);
        let not_text = next_block(&mut std::io::Cursor::new(vec![b'{', 0xff, b'\n']), &pool).err().expect("not UTF-8");
        assert_eq!(not_text.kind(), std::io::ErrorKind::InvalidData);
    }
}
