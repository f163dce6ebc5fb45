//! C2SP transparency log checkpoints (`c2sp.org/tlog-checkpoint`).
//!
//! A checkpoint is the text of a signed note made of at least three non-empty lines: the
//! log's origin, the tree size in decimal without leading zeros, and the base64 root hash,
//! optionally followed by non-empty extension lines:
//!
//! ```text
//! example.com/log42
//! 20852163
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::hash::Hash;
use crate::note::{NoteError, Signer, Verifier, verify_note};

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The signed note around the checkpoint was refused.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The checkpoint text does not end with a newline.
    #[error("the checkpoint text does not end with a newline")]
    MissingFinalNewline,
    /// The checkpoint has fewer than three lines.
    #[error("the checkpoint has fewer than three lines")]
    TooFewLines,
    /// The origin is empty or contains a control character.
    #[error("invalid origin {0:?}")]
    InvalidOrigin(String),
    /// The tree size line is not a canonical decimal `u64`.
    #[error("invalid tree size {0:?}")]
    InvalidSize(String),
    /// The root hash line is not the base64 encoding of 32 bytes.
    #[error("invalid root hash {0:?}")]
    InvalidRoot(String),
    /// An extension line is empty or contains a control character.
    #[error("extension line {0} is empty or contains a control character")]
    InvalidExtension(usize),
    /// The checkpoint is for another log.
    #[error("the checkpoint's origin is {found:?}, not {expected:?}")]
    OriginMismatch {
        /// The origin that was expected.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
}

/// The body of a checkpoint: which log, how many leaves, and the root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, naming the log.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The RFC 6962 root hash of the tree.
    pub root: Hash,
}

/// Returns whether `line` is a valid non-empty checkpoint line.
fn valid_line(line: &str) -> bool {
    !line.is_empty() && !line.chars().any(char::is_control)
}

impl Checkpoint {
    /// Builds a checkpoint.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self { origin: origin.into(), size, root }
    }

    /// Checks that the origin can be written on a line of its own: non-empty and without
    /// control characters (newlines included).
    pub fn validate(&self) -> Result<(), CheckpointError> {
        if !valid_line(&self.origin) {
            return Err(CheckpointError::InvalidOrigin(self.origin.clone()));
        }
        Ok(())
    }

    /// Returns the checkpoint text: origin, size and base64 root, each on its own line.
    ///
    /// The origin is not checked here; [`Checkpoint::validate`] does that, and
    /// [`sign_checkpoint`] calls it.
    pub fn format(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root))
    }

    /// Parses a checkpoint text, accepting and dropping any extension lines.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        Self::parse_with_extensions(text).map(|(checkpoint, _)| checkpoint)
    }

    /// Parses a checkpoint text and returns it with its extension lines.
    pub fn parse_with_extensions(text: &str) -> Result<(Self, Vec<String>), CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::MissingFinalNewline)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(CheckpointError::TooFewLines);
        };
        if !valid_line(origin) {
            return Err(CheckpointError::InvalidOrigin(origin.to_owned()));
        }
        let size = parse_size(size)?;
        let root = STANDARD
            .decode(root)
            .ok()
            .and_then(|bytes| Hash::try_from(bytes).ok())
            .ok_or_else(|| CheckpointError::InvalidRoot(root.to_owned()))?;
        let extensions = lines
            .enumerate()
            .map(
                |(i, line)| {
                    if valid_line(line) { Ok(line.to_owned()) } else { Err(CheckpointError::InvalidExtension(i + 1)) }
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Self::new(origin, size, root), extensions))
    }
}

/// Parses a tree size: ASCII decimal digits without leading zeros, fitting in a `u64`.
fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    let invalid = || CheckpointError::InvalidSize(line.to_owned());
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) || (line.len() > 1 && line.starts_with('0')) {
        return Err(invalid());
    }
    line.parse().map_err(|_| invalid())
}

/// Signs a checkpoint and returns the signed note text.
pub fn sign_checkpoint(checkpoint: &Checkpoint, signer: &Signer) -> Result<String, CheckpointError> {
    checkpoint.validate()?;
    Ok(signer.sign_note(&checkpoint.format())?)
}

/// Verifies a signed checkpoint with `verifier`, checks that it is for the log named
/// `expected_origin`, and returns it.
///
/// Signatures from other keys (witnesses, for example) are ignored; the verifier's own
/// signature must be present and valid. Extension lines are accepted and dropped.
pub fn open_checkpoint(
    signed: &str,
    verifier: &Verifier,
    expected_origin: &str,
) -> Result<Checkpoint, CheckpointError> {
    let note = verify_note(signed, std::slice::from_ref(verifier))?;
    let checkpoint = Checkpoint::parse(&note.text)?;
    if checkpoint.origin != expected_origin {
        return Err(CheckpointError::OriginMismatch { expected: expected_origin.to_owned(), found: checkpoint.origin });
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::empty_root;

    const ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

    #[test]
    fn format_and_parse_round_trip() {
        let text = format!("example.com/behind-the-sofa\n20852163\n{ROOT}\n");
        let checkpoint = Checkpoint::parse(&text).unwrap();
        assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size, 20852163);
        assert_eq!(checkpoint.format(), text);
        let empty = Checkpoint::new("o", 0, empty_root());
        assert_eq!(Checkpoint::parse(&empty.format()).unwrap(), empty);
    }

    #[test]
    fn extension_lines_are_kept_apart() {
        let text = format!("o\n1\n{ROOT}\next one\next two\n");
        let (checkpoint, ext) = Checkpoint::parse_with_extensions(&text).unwrap();
        assert_eq!(checkpoint.size, 1);
        assert_eq!(ext, vec!["ext one", "ext two"]);
    }

    #[test]
    fn strict_parsing() {
        let max = format!("o\n{}\n{ROOT}\n", u64::MAX);
        assert_eq!(Checkpoint::parse(&max).unwrap().size, u64::MAX);
        for bad in [
            format!("o\n1\n{ROOT}"),
            "o\n1\n".to_string(),
            format!("\n1\n{ROOT}\n"),
            format!("o\n01\n{ROOT}\n"),
            format!("o\n00\n{ROOT}\n"),
            format!("o\n+1\n{ROOT}\n"),
            format!("o\n-1\n{ROOT}\n"),
            format!("o\n 1\n{ROOT}\n"),
            format!("o\n\n{ROOT}\n"),
            format!("o\n18446744073709551616\n{ROOT}\n"),
            "o\n1\nAAAA\n".to_string(),
            format!("o\n1\n{}\n", ROOT.trim_end_matches('=')),
            format!("o\n1\n{ROOT}\n\n"),
            format!("o\n1\n{ROOT}\next\n\nmore\n"),
            format!("o\r\n1\n{ROOT}\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sign_and_open() {
        let signer = Signer::from_seed("example.com/log", &[5; 32]).unwrap();
        let checkpoint = Checkpoint::new("example.com/log", 42, [7; 32]);
        let signed = sign_checkpoint(&checkpoint, &signer).unwrap();
        let opened = open_checkpoint(&signed, &signer.verifier(), "example.com/log").unwrap();
        assert_eq!(opened, checkpoint);
        assert!(matches!(
            open_checkpoint(&signed, &signer.verifier(), "example.com/other"),
            Err(CheckpointError::OriginMismatch { .. })
        ));
        let other = Signer::from_seed("example.com/log", &[6; 32]).unwrap();
        assert_eq!(
            open_checkpoint(&signed, &other.verifier(), "example.com/log"),
            Err(CheckpointError::Note(NoteError::NoKnownSignature))
        );
        let bad = Checkpoint::new("two\nlines", 1, [0; 32]);
        assert!(matches!(sign_checkpoint(&bad, &signer), Err(CheckpointError::InvalidOrigin(_))));
    }
}
