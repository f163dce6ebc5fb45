//! The C2SP tlog-proof text form (`c2sp.org/tlog-proof@v1`): an offline-verifiable proof
//! that an entry is in a log.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 opaque data>        (optional)
//! index <decimal leaf index>
//! <base64 proof hash, one per line, leaf's sibling first>
//!
//! <signed checkpoint note, verbatim>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint::{Checkpoint, CheckpointError, open_checkpoint};
use crate::hash::Hash;
use crate::note::Verifier;
use crate::proof::{ProofError, verify_inclusion};

/// The first line of every tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Why a tlog-proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogProofError {
    /// The first line is not [`TLOG_PROOF_HEADER`].
    #[error("the proof does not start with {TLOG_PROOF_HEADER:?}")]
    BadHeader,
    /// The `extra` line does not hold valid base64.
    #[error("the extra data is not valid base64")]
    BadExtra,
    /// The `index` line is missing or is not a canonical decimal `u64`.
    #[error("missing or invalid index line")]
    BadIndex,
    /// A proof line is not the base64 encoding of 32 bytes.
    #[error("proof line {0} is not a base64 SHA-256 hash")]
    BadProofHash(usize),
    /// The proof lines are not followed by a blank line and a checkpoint.
    #[error("the proof has no checkpoint after a blank line")]
    MissingCheckpoint,
    /// The checkpoint was refused.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not verify against the checkpoint.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// A parsed tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated extra data, if any.
    pub extra: Option<Vec<u8>>,
    /// The zero-based index of the entry in the log.
    pub index: u64,
    /// The inclusion proof of the entry in the checkpointed tree.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// Returns the text form of the proof.
    pub fn format(&self) -> String {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", STANDARD.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.proof {
            out.push_str(&STANDARD.encode(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses the text form of a proof. The checkpoint is kept verbatim and not checked.
    pub fn parse(text: &str) -> Result<Self, TlogProofError> {
        let mut rest = text;
        let mut next_line = || {
            let (line, tail) = rest.split_once('\n')?;
            rest = tail;
            Some(line)
        };
        if next_line() != Some(TLOG_PROOF_HEADER) {
            return Err(TlogProofError::BadHeader);
        }
        let mut line = next_line().ok_or(TlogProofError::BadIndex)?;
        let extra = match line.strip_prefix("extra ") {
            Some(data) => {
                let extra = STANDARD.decode(data).map_err(|_| TlogProofError::BadExtra)?;
                line = next_line().ok_or(TlogProofError::BadIndex)?;
                Some(extra)
            }
            None => None,
        };
        let index = line
            .strip_prefix("index ")
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n.len() == 1 || !n.starts_with('0')))
            .and_then(|n| n.parse().ok())
            .ok_or(TlogProofError::BadIndex)?;
        let mut proof = Vec::new();
        loop {
            let line = next_line().ok_or(TlogProofError::MissingCheckpoint)?;
            if line.is_empty() {
                break;
            }
            let hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|bytes| Hash::try_from(bytes).ok())
                .ok_or(TlogProofError::BadProofHash(proof.len() + 1))?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(TlogProofError::MissingCheckpoint);
        }
        Ok(Self { extra, index, proof, checkpoint: rest.to_owned() })
    }

    /// Opens the checkpoint with `verifier` for the log `expected_origin`, verifies that
    /// `leaf_hash` is at the proof's index in it, and returns the checkpoint.
    pub fn verify(
        &self,
        leaf_hash: &Hash,
        verifier: &Verifier,
        expected_origin: &str,
    ) -> Result<Checkpoint, TlogProofError> {
        let checkpoint = open_checkpoint(&self.checkpoint, verifier, expected_origin)?;
        verify_inclusion(leaf_hash, self.index, checkpoint.size, &self.proof, &checkpoint.root)?;
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::sign_checkpoint;
    use crate::hash::{leaf_hash, node_hash};
    use crate::note::Signer;

    fn example() -> (TlogProof, Signer, Hash) {
        let signer = Signer::from_seed("example.com/log", &[3; 32]).unwrap();
        let leaves: Vec<Hash> = (0u8..3).map(|i| leaf_hash(&[i])).collect();
        let root = node_hash(&node_hash(&leaves[0], &leaves[1]), &leaves[2]);
        let checkpoint = Checkpoint::new("example.com/log", 3, root);
        let proof = TlogProof {
            extra: Some(b"context".to_vec()),
            index: 1,
            proof: vec![leaves[0], leaves[2]],
            checkpoint: sign_checkpoint(&checkpoint, &signer).unwrap(),
        };
        (proof, signer, leaves[1])
    }

    #[test]
    fn format_parse_and_verify() {
        let (proof, signer, leaf) = example();
        let text = proof.format();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra Y29udGV4dA==\nindex 1\n"));
        let parsed = TlogProof::parse(&text).unwrap();
        assert_eq!(parsed, proof);
        let checkpoint = parsed.verify(&leaf, &signer.verifier(), "example.com/log").unwrap();
        assert_eq!(checkpoint.size, 3);
        assert_eq!(
            parsed.verify(&[0; 32], &signer.verifier(), "example.com/log"),
            Err(TlogProofError::Proof(ProofError::RootMismatch))
        );
        let no_extra = TlogProof { extra: None, ..proof };
        assert_eq!(TlogProof::parse(&no_extra.format()).unwrap(), no_extra);
    }

    #[test]
    fn malformed_proofs_are_refused() {
        let (proof, _, _) = example();
        let text = proof.format();
        for bad in [
            text.replace("tlog-proof@v1", "tlog-proof@v2"),
            text.replace("index 1", "index 01"),
            text.replace("index 1", "index"),
            text.replace("index 1", "idx 1"),
            text.replace("extra Y29udGV4dA==", "extra Y29udGV4dA"),
            text.replace("\n\nexample.com/log\n", "\n"),
            text.split("\n\n").next().unwrap().to_string() + "\n\n",
        ] {
            assert!(TlogProof::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
