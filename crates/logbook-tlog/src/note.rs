//! C2SP signed notes (`c2sp.org/signed-note`) with Ed25519 keys.
//!
//! A signed note is a text ending in a newline, a blank line, then one or more signature
//! lines `— <key name> <base64(key ID || signature)>`. The key ID is the first four bytes,
//! big-endian, of `SHA-256(key name || "\n" || 0x01 || public key)`, and the signature is
//! Ed25519 over the note text (which includes its final newline).
//!
//! A verifier key is written `<name>+<hex key ID>+<base64(0x01 || public key)>`.
//!
//! Verifying a note ([`verify_note`]) ignores signatures from unknown keys, requires at
//! least one valid signature from a known key, and rejects the whole note if a known key's
//! signature does not verify.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type identifier byte of Ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;

/// The largest signed note accepted, in bytes.
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// The largest number of signature lines accepted in one note.
pub const MAX_SIGNATURES: usize = 100;

/// The prefix of every signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a note, a key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_SIZE`].
    #[error("the note is {len} bytes long, more than the {max} accepted")]
    TooLarge {
        /// The note's length in bytes.
        len: usize,
        /// The largest length accepted.
        max: usize,
    },
    /// The note contains an ASCII control character other than newline.
    #[error("the note contains a control character at byte {offset}")]
    ControlCharacter {
        /// The byte offset of the character.
        offset: usize,
    },
    /// The note text is empty or does not end with a newline.
    #[error("the note text must be non-empty and end with a newline")]
    BadText,
    /// The note has no blank line separating the text from the signatures.
    #[error("the note has no blank line before its signatures")]
    MissingSignatureBlock,
    /// A signature line is malformed.
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine {
        /// The one-based number of the line within the signature block.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("the note has more than {max} signatures")]
    TooManySignatures {
        /// The largest number of signatures accepted.
        max: usize,
    },
    /// A note must carry at least one signature.
    #[error("the note has no signature")]
    NoSignatures,
    /// A key name is empty or contains a space, a plus sign or a control character.
    #[error("invalid key name {0:?}")]
    InvalidKeyName(String),
    /// A verifier key string is malformed.
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    /// A verifier key's key ID does not match its name and public key.
    #[error("the verifier key's ID {declared:08x} does not match its name and key ({computed:08x})")]
    KeyIdMismatch {
        /// The key ID written in the key string.
        declared: u32,
        /// The key ID computed from the name and public key.
        computed: u32,
    },
    /// A verifier key uses a signature type other than Ed25519.
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedAlgorithm(u8),
    /// The bytes of an Ed25519 public key are not a valid key.
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
    /// A signature from a known key does not verify.
    #[error("the signature by {name} ({key_id:08x}) does not verify")]
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// No known key signed the note.
    #[error("the note has no signature from a known key")]
    NoKnownSignature,
}

/// One signature on a note: the signer's key name and key ID, and the signature bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The key name.
    pub name: String,
    /// The key ID (the first four bytes of the signature line's base64 payload).
    pub key_id: u32,
    /// The signature itself, without the key ID.
    pub signature: Vec<u8>,
}

impl Signature {
    /// Returns the signature line, with its final newline.
    pub fn line(&self) -> String {
        let mut payload = Vec::with_capacity(4 + self.signature.len());
        payload.extend_from_slice(&self.key_id.to_be_bytes());
        payload.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, STANDARD.encode(payload))
    }
}

/// A parsed signed note, whose signatures have not been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The note text, including its final newline but not the blank line after it.
    pub text: String,
    /// The signatures, in the order they appear.
    pub signatures: Vec<Signature>,
}

impl Note {
    /// Parses a signed note, checking its format but not its signatures.
    pub fn parse(signed: &str) -> Result<Self, NoteError> {
        check_note_bytes(signed)?;
        let split = signed.rfind("\n\n").ok_or(NoteError::MissingSignatureBlock)?;
        let (text, block) = (&signed[..=split], &signed[split + 2..]);
        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteError::MalformedSignatureLine {
                line: 1,
                reason: "the signature block is empty or lacks a final newline",
            });
        };
        let mut signatures = Vec::new();
        for (i, line) in block.split('\n').enumerate() {
            if i == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures { max: MAX_SIGNATURES });
            }
            signatures.push(parse_signature_line(line, i + 1)?);
        }
        Ok(Self { text: text.to_owned(), signatures })
    }

    /// Returns the signed note: the text, a blank line and the signature lines.
    pub fn serialize(&self) -> Result<String, NoteError> {
        check_text(&self.text)?;
        if self.signatures.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures { max: MAX_SIGNATURES });
        }
        let mut out = self.text.clone();
        out.push('\n');
        for sig in &self.signatures {
            check_name(&sig.name)?;
            out.push_str(&sig.line());
        }
        check_note_bytes(&out)?;
        Ok(out)
    }
}

/// Checks the size limit and the absence of control characters other than newline.
fn check_note_bytes(s: &str) -> Result<(), NoteError> {
    if s.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge { len: s.len(), max: MAX_NOTE_SIZE });
    }
    if let Some(offset) = s.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::ControlCharacter { offset });
    }
    Ok(())
}

/// Checks that `text` can be the text of a note.
fn check_text(text: &str) -> Result<(), NoteError> {
    check_note_bytes(text)?;
    if !text.ends_with('\n') {
        return Err(NoteError::BadText);
    }
    Ok(())
}

/// Checks that `name` is a valid key name: non-empty, without Unicode spaces, plus signs
/// or control characters.
fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control()) {
        return Err(NoteError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// Parses one signature line, without its newline; `line` numbers it for errors.
fn parse_signature_line(text: &str, line: usize) -> Result<Signature, NoteError> {
    let malformed = |reason| NoteError::MalformedSignatureLine { line, reason };
    let rest = text.strip_prefix(SIGNATURE_PREFIX).ok_or(malformed("it does not start with an em dash and a space"))?;
    let (name, payload) = rest.split_once(' ').ok_or(malformed("it has no space between key name and signature"))?;
    check_name(name).map_err(|_| malformed("invalid key name"))?;
    let payload = STANDARD.decode(payload).map_err(|_| malformed("the signature is not valid base64"))?;
    if payload.len() < 5 {
        return Err(malformed("the signature is too short"));
    }
    let (id, signature) = payload.split_at(4);
    Ok(Signature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes(id.try_into().expect("four bytes")),
        signature: signature.to_vec(),
    })
}

/// Computes a key ID: the first four bytes, big-endian, of
/// `SHA-256(name || "\n" || typed_key)`, where `typed_key` is the signature type byte
/// followed by the encoded public key.
pub fn key_id(name: &str, typed_key: &[u8]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update(typed_key);
    let digest = hasher.finalize();
    u32::from_be_bytes(digest[..4].try_into().expect("four bytes"))
}

/// Returns `0x01 || public_key`, the typed encoding of an Ed25519 public key.
fn typed_key(public_key: &[u8; 32]) -> [u8; 33] {
    let mut typed = [0u8; 33];
    typed[0] = ALG_ED25519;
    typed[1..].copy_from_slice(public_key);
    typed
}

/// An Ed25519 note verifier: a key name, its key ID and a public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Builds a verifier from a key name and a 32-byte Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| NoteError::InvalidPublicKey)?;
        Ok(Self { name: name.to_owned(), key_id: key_id(name, &typed_key(public_key)), key })
    }

    /// Parses a verifier key string `<name>+<hex key ID>+<base64(0x01 || public key)>`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let (name, rest) = vkey.split_once('+').ok_or(NoteError::MalformedVerifierKey("missing '+' after the name"))?;
        let (hex, key64) =
            rest.split_once('+').ok_or(NoteError::MalformedVerifierKey("missing '+' after the key ID"))?;
        check_name(name)?;
        if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NoteError::MalformedVerifierKey("the key ID is not 8 hexadecimal digits"));
        }
        let declared = u32::from_str_radix(hex, 16).map_err(|_| NoteError::MalformedVerifierKey("bad key ID"))?;
        let typed =
            STANDARD.decode(key64).map_err(|_| NoteError::MalformedVerifierKey("the key is not valid base64"))?;
        let (&alg, public_key) = typed.split_first().ok_or(NoteError::MalformedVerifierKey("the key is empty"))?;
        if alg != ALG_ED25519 {
            return Err(NoteError::UnsupportedAlgorithm(alg));
        }
        let public_key: &[u8; 32] = public_key
            .try_into()
            .map_err(|_| NoteError::MalformedVerifierKey("an Ed25519 public key is 32 bytes long"))?;
        let computed = key_id(name, &typed);
        if computed != declared {
            return Err(NoteError::KeyIdMismatch { declared, computed });
        }
        Self::new(name, public_key)
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Returns the 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Returns whether `signature` is a valid signature of `text` by this key.
    pub fn verify(&self, text: &str, signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(text.as_bytes(), &signature).is_ok()
    }
}

impl fmt::Display for Verifier {
    /// Writes the verifier key string `<name>+<hex key ID>+<base64(0x01 || public key)>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:08x}+{}", self.name, self.key_id, STANDARD.encode(typed_key(&self.key.to_bytes())))
    }
}

impl FromStr for Verifier {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An Ed25519 note signer: a key name and a signing key.
///
/// Its `Debug` output never shows the secret key.
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Signer {
    /// Builds a signer from a key name and a 32-byte Ed25519 secret seed. Drawing the seed
    /// from a secure random source is the caller's job.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(seed);
        Ok(Self { name: name.to_owned(), key_id: key_id(name, &typed_key(&key.verifying_key().to_bytes())), key })
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Returns the 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Returns the matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier { name: self.name.clone(), key_id: self.key_id, key: self.key.verifying_key() }
    }

    /// Returns the verifier key string to publish for this signer.
    pub fn verifier_key(&self) -> String {
        self.verifier().to_string()
    }

    /// Signs a note text, which must end with a newline and contain no control characters
    /// other than newlines.
    pub fn sign(&self, text: &str) -> Result<Signature, NoteError> {
        check_text(text)?;
        Ok(Signature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }

    /// Signs a note text and returns the signed note with this one signature.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        Note { text: text.to_owned(), signatures: vec![self.sign(text)?] }.serialize()
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A note whose signatures were checked against a set of known verifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The note text, including its final newline.
    pub text: String,
    /// The signatures from known keys, all valid, without duplicates.
    pub verified: Vec<Signature>,
    /// The signatures from unknown keys, which were not checked.
    pub unverified: Vec<Signature>,
}

/// Parses a signed note and checks its signatures against `verifiers`.
///
/// Signatures whose key name and ID do not both match a known verifier are ignored. Every
/// signature from a known verifier must verify, and there must be at least one.
pub fn verify_note(signed: &str, verifiers: &[Verifier]) -> Result<VerifiedNote, NoteError> {
    let note = Note::parse(signed)?;
    let mut verified: Vec<Signature> = Vec::new();
    let mut unverified = Vec::new();
    for sig in note.signatures {
        let known = verifiers.iter().find(|v| v.name == sig.name && v.key_id == sig.key_id);
        match known {
            None => unverified.push(sig),
            Some(v) => {
                if !v.verify(&note.text, &sig.signature) {
                    return Err(NoteError::InvalidSignature { name: sig.name, key_id: sig.key_id });
                }
                if !verified.contains(&sig) {
                    verified.push(sig);
                }
            }
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NoKnownSignature);
    }
    Ok(VerifiedNote { text: note.text, verified, unverified })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str, byte: u8) -> Signer {
        Signer::from_seed(name, &[byte; 32]).unwrap()
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let s = signer("example.com/log", 7);
        let signed = s.sign_note("hello\n\nworld\n").unwrap();
        let v = Verifier::parse(&s.verifier_key()).unwrap();
        assert_eq!(v, s.verifier());
        let note = verify_note(&signed, &[v]).unwrap();
        assert_eq!(note.text, "hello\n\nworld\n");
        assert_eq!(note.verified.len(), 1);
        assert!(note.unverified.is_empty());
        assert_eq!(Note::parse(&signed).unwrap().serialize().unwrap(), signed);
    }

    #[test]
    fn unknown_keys_are_ignored_but_one_known_is_needed() {
        let a = signer("a.example", 1);
        let b = signer("b.example", 2);
        let text = "body\n";
        let signed = Note { text: text.into(), signatures: vec![b.sign(text).unwrap(), a.sign(text).unwrap()] }
            .serialize()
            .unwrap();
        let note = verify_note(&signed, &[a.verifier()]).unwrap();
        assert_eq!(note.verified[0].name, "a.example");
        assert_eq!(note.unverified[0].name, "b.example");
        let c = signer("c.example", 3);
        assert_eq!(verify_note(&signed, &[c.verifier()]), Err(NoteError::NoKnownSignature));
        // Same name, different key: the key ID differs, so the signature is ignored.
        let a2 = signer("a.example", 9);
        assert_eq!(verify_note(&signed, &[a2.verifier()]), Err(NoteError::NoKnownSignature));
    }

    #[test]
    fn a_bad_signature_from_a_known_key_is_an_error() {
        let a = signer("a.example", 1);
        let mut note = Note::parse(&a.sign_note("body\n").unwrap()).unwrap();
        note.signatures[0].signature[0] ^= 1;
        let signed = note.serialize().unwrap();
        assert!(matches!(verify_note(&signed, &[a.verifier()]), Err(NoteError::InvalidSignature { .. })));
        // A changed text fails too.
        let signed = a.sign_note("body\n").unwrap().replacen("body", "bodz", 1);
        assert!(matches!(verify_note(&signed, &[a.verifier()]), Err(NoteError::InvalidSignature { .. })));
    }

    #[test]
    fn malformed_notes_are_refused() {
        let a = signer("a.example", 1);
        let good = a.sign_note("body\n").unwrap();
        let line = good.strip_prefix("body\n\n").unwrap();
        for bad in [
            "body\n".to_string(),
            "body\n\n".to_string(),
            format!("body\n\n{}", line.trim_end()),
            format!("body\n\n{line}\n"),
            format!("body\r\n\n{line}"),
            format!("body\n\n{}", line.replace('\u{2014}', "-")),
            format!("body\n\n{}", line.replacen(' ', "  ", 1)),
            format!("body\n\n{}", line.replacen(' ', "", 1)),
            format!("body\n\n{}", line.replace('=', "")),
            "body\n\n\u{2014} a.example AAAA\n".to_string(),
            "body\n\n\u{2014} a+b AAAAAAA=\n".to_string(),
        ] {
            assert!(Note::parse(&bad).is_err(), "{bad:?}");
        }
        assert!(matches!(a.sign("no newline"), Err(NoteError::BadText)));
        assert!(matches!(a.sign(""), Err(NoteError::BadText)));
        assert!(matches!(a.sign("tab\there\n"), Err(NoteError::ControlCharacter { offset: 3 })));
        let many = format!("body\n\n{}", line.repeat(MAX_SIGNATURES + 1));
        assert_eq!(Note::parse(&many), Err(NoteError::TooManySignatures { max: MAX_SIGNATURES }));
        let big = "x".repeat(MAX_NOTE_SIZE) + "\n";
        assert!(matches!(a.sign(&big), Err(NoteError::TooLarge { .. })));
    }

    #[test]
    fn key_names_and_verifier_keys_are_checked() {
        for name in ["", "a b", "a+b", "a\u{a0}b", "a\tb"] {
            assert!(Signer::from_seed(name, &[1; 32]).is_err(), "{name:?}");
        }
        let vkey = signer("a.example", 1).verifier_key();
        let (name, rest) = vkey.split_once('+').unwrap();
        let (hex, key) = rest.split_once('+').unwrap();
        assert!(Verifier::parse(&format!("{name}+{hex}")).is_err());
        assert!(Verifier::parse(&format!("b.example+{hex}+{key}")).is_err());
        assert!(Verifier::parse(&format!("{name}+0{hex}+{key}")).is_err());
        assert!(Verifier::parse(&format!("{name}+{hex}+{}", &key[1..])).is_err());
        let mut typed = STANDARD.decode(key).unwrap();
        typed[0] = 2;
        let other = STANDARD.encode(&typed);
        assert_eq!(Verifier::parse(&format!("{name}+{hex}+{other}")), Err(NoteError::UnsupportedAlgorithm(2)));
        let upper = format!("{name}+{}+{key}", hex.to_uppercase());
        assert_eq!(Verifier::parse(&upper).unwrap().to_string(), vkey);
    }

    #[test]
    fn debug_hides_the_secret_key() {
        let s = format!("{:?}", signer("a.example", 1));
        assert!(s.contains("a.example"), "{s}");
        assert!(!s.contains("key:"), "{s}");
    }
}
