//! Verification of RFC 9162 (RFC 6962) inclusion and consistency proofs.
//!
//! Hashes are taken as byte slices rather than [`tyalias@Hash`] so that a verifier can be handed
//! whatever it was sent: any hash that is not exactly 32 bytes long is rejected with a
//! specific error, except that the two roots of a consistency check between equal sizes
//! are compared as given. A consistency proof from the empty tree is always rejected, even
//! to the empty tree, because it proves nothing.
//!
//! The algorithms are those of RFC 9162 §2.1.3.2 and §2.1.4.2, written in the equivalent
//! form that first computes the exact expected proof length, so that truncated or padded
//! proofs are reported as such.

use crate::hash::{HASH_SIZE, Hash, node_hash};

/// Why a proof failed to verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not smaller than the tree size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("old tree size {size1} is larger than new tree size {size2}")]
    SizeDecreased {
        /// The old tree size.
        size1: u64,
        /// The new tree size.
        size2: u64,
    },
    /// A consistency proof from the empty tree proves nothing and is rejected.
    #[error("a consistency proof from the empty tree is not accepted")]
    EmptyOldTree,
    /// The leaf hash is not 32 bytes long.
    #[error("the leaf hash is {0} bytes long, not 32")]
    BadLeafHashLength(usize),
    /// A root hash is not 32 bytes long.
    #[error("a root hash is {0} bytes long, not 32")]
    BadRootLength(usize),
    /// A proof hash is not 32 bytes long.
    #[error("proof hash {position} is {len} bytes long, not 32")]
    BadProofHashLength {
        /// The zero-based position of the hash in the proof.
        position: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// The proof does not have the number of hashes the sizes call for.
    #[error("the proof has {got} hashes, but {want} are needed")]
    WrongProofLength {
        /// The number of hashes in the proof.
        got: usize,
        /// The number of hashes the tree sizes and index call for.
        want: usize,
    },
    /// The root computed from an inclusion proof, or one of two roots of equal-size
    /// trees, does not match.
    #[error("the root computed from the proof does not match the expected root")]
    RootMismatch,
    /// The old root computed from a consistency proof does not match.
    #[error("the old root computed from the consistency proof does not match")]
    OldRootMismatch,
    /// The new root computed from a consistency proof does not match.
    #[error("the new root computed from the consistency proof does not match")]
    NewRootMismatch,
}

/// Converts a slice to a [`tyalias@Hash`], or returns `None` if it is not 32 bytes long.
fn to_hash(bytes: &[u8]) -> Option<Hash> {
    bytes.try_into().ok()
}

/// Checks that every proof hash is 32 bytes long and converts them.
fn proof_hashes<P: AsRef<[u8]>>(proof: &[P]) -> Result<Vec<Hash>, ProofError> {
    proof
        .iter()
        .enumerate()
        .map(|(position, h)| {
            let h = h.as_ref();
            to_hash(h).ok_or(ProofError::BadProofHashLength { position, len: h.len() })
        })
        .collect()
}

/// Splits the inclusion proof of `index` in a tree of `size` leaves into its inner part
/// (siblings below the point where the paths to `index` and to the last leaf meet) and
/// its border part (left siblings above that point), returning both lengths.
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner as usize, border as usize)
}

/// Hashes `seed` up through the inner proof hashes, on the side given by each bit of
/// `index`.
fn chain_inner(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        seed = if (index >> i) & 1 == 0 { node_hash(&seed, h) } else { node_hash(h, &seed) };
    }
    seed
}

/// Hashes `seed` up through the inner proof hashes that are left siblings only, which
/// gives the root of the old tree in a consistency proof.
fn chain_inner_right(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

/// Hashes `seed` up through the border proof hashes, which are all left siblings.
fn chain_border_right(seed: Hash, proof: &[Hash]) -> Hash {
    proof.iter().fold(seed, |acc, h| node_hash(h, &acc))
}

/// Computes the root implied by an inclusion proof of `leaf_hash` at `index` in a tree of
/// `size` leaves.
pub fn root_from_inclusion_proof<P: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let leaf = to_hash(leaf_hash).ok_or(ProofError::BadLeafHashLength(leaf_hash.len()))?;
    let proof = proof_hashes(proof)?;
    let (inner, border) = decompose(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::WrongProofLength { got: proof.len(), want: inner + border });
    }
    let hash = chain_inner(leaf, &proof[..inner], index);
    Ok(chain_border_right(hash, &proof[inner..]))
}

/// Verifies that `proof` proves leaf hash `leaf_hash` to be leaf number `index` in the
/// tree of `size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion<P: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
    root: &[u8],
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if root.len() != HASH_SIZE {
        return Err(ProofError::BadRootLength(root.len()));
    }
    if computed[..] != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that `proof` proves the tree of `size1` leaves with root `root1` to be a
/// prefix of the tree of `size2` leaves with root `root2` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots; an old size of 0 is always rejected.
pub fn verify_consistency<P: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    proof: &[P],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizeDecreased { size1, size2 });
    }
    if size1 == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength { got: proof.len(), want: 0 });
        }
        if root1 != root2 {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    let root1 = to_hash(root1).ok_or(ProofError::BadRootLength(root1.len()))?;
    let root2 = to_hash(root2).ok_or(ProofError::BadRootLength(root2.len()))?;
    let proof = proof_hashes(proof)?;

    // The largest complete subtree ending at size1 is common to both trees; the proof is
    // its hash (left out when it is the whole old tree) and its inclusion proof in the new
    // tree, with everything counted in units of that subtree's width.
    let level = size1.trailing_zeros();
    let index = (size1 - 1) >> level;
    let (inner, border) = decompose(index, ((size2 - 1) >> level) + 1);
    let (seed, rest) = if index == 0 {
        (root1, &proof[..])
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => {
                return Err(ProofError::WrongProofLength { got: 0, want: 1 + inner + border });
            }
        }
    };
    if rest.len() != inner + border {
        return Err(ProofError::WrongProofLength { got: proof.len(), want: proof.len() - rest.len() + inner + border });
    }
    let (inner_hashes, border_hashes) = rest.split_at(inner);

    let hash1 = chain_inner_right(seed, inner_hashes, index);
    let hash1 = chain_border_right(hash1, border_hashes);
    if hash1 != root1 {
        return Err(ProofError::OldRootMismatch);
    }
    let hash2 = chain_inner(seed, inner_hashes, index);
    let hash2 = chain_border_right(hash2, border_hashes);
    if hash2 != root2 {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn two_leaf_tree() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let root = node_hash(&a, &b);
        assert_eq!(verify_inclusion(&a, 0, 2, &[b], &root), Ok(()));
        assert_eq!(verify_inclusion(&b, 1, 2, &[a], &root), Ok(()));
        assert_eq!(verify_inclusion(&b, 0, 2, &[a], &root), Err(ProofError::RootMismatch));
        assert_eq!(verify_inclusion(&b, 2, 2, &[a], &root), Err(ProofError::IndexOutOfRange { index: 2, size: 2 }));
        assert_eq!(verify_inclusion(&b, 1, 2, &[a, a], &root), Err(ProofError::WrongProofLength { got: 2, want: 1 }));
        assert_eq!(
            verify_inclusion(&b, 1, 2, &[&a[..31]], &root),
            Err(ProofError::BadProofHashLength { position: 0, len: 31 })
        );
        assert_eq!(verify_consistency(1, 2, &[b], &a, &root), Ok(()));
        assert_eq!(verify_consistency(1, 2, &[a], &a, &root), Err(ProofError::NewRootMismatch));
        assert_eq!(verify_consistency(0, 2, &[b], &a, &root), Err(ProofError::EmptyOldTree));
    }
}
