//! RFC 6962 hashing: SHA-256 with domain separation between leaves and interior nodes.
//!
//! A leaf hash is `SHA-256(0x00 || data)`, an interior node hash is
//! `SHA-256(0x01 || left || right)` and the root of the empty tree is `SHA-256("")`.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The size of a [`tyalias@Hash`] in bytes.
pub const HASH_SIZE: usize = 32;

/// Returns the RFC 6962 leaf hash of `data`: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

/// Returns the RFC 6962 interior node hash of two children: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Returns the root hash of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(hex(&empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn leaf_and_node_hashes_match_the_reference_tree() {
        // These are the roots of the trees of size 1 and 2 in testdata/rfc6962/README.md.
        let l0 = leaf_hash(b"");
        assert_eq!(hex(&l0), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
        let l1 = leaf_hash(&[0x00]);
        assert_eq!(hex(&node_hash(&l0, &l1)), "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
    }
}
