//! Pure verifiable-log primitives for Logbook.
//!
//! This crate holds everything the server and the offline `logbook verify` tool need to
//! agree on, and nothing that touches the outside world: it reads no files, opens no
//! sockets, looks at no clock and draws no randomness.
//!
//! - [`hash`]: RFC 6962 leaf and node hashing.
//! - [`tree`]: storage-agnostic Merkle tree maths over stored complete subtrees: which
//!   nodes to store on append, roots, inclusion and consistency proofs.
//! - [`proof`]: RFC 9162 verification of inclusion and consistency proofs.
//! - [`note`]: C2SP signed notes with Ed25519 keys.
//! - [`checkpoint`]: C2SP tlog-checkpoint bodies, signed and opened as notes.
//! - [`tlog_proof`]: the C2SP tlog-proof text form.
//! - [`canonical`]: RFC 8785 JSON canonicalization, of a [`json::Document`] that
//!   borrows its strings from the text it was read from.
//! - [`canonical_text`]: text already in canonical form, split into its members
//!   without a [`json::Document`], so that `logbook verify` can copy it.

pub mod canonical;
pub mod canonical_text;
pub mod checkpoint;
pub mod hash;
pub mod json;
pub mod note;
pub mod proof;
pub mod tlog_proof;
pub mod tree;

pub use hash::{Hash, empty_root, leaf_hash, node_hash};
