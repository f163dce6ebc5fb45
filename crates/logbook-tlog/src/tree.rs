//! Storage-agnostic RFC 6962 Merkle tree maths over stored complete subtrees.
//!
//! # Node storage scheme
//!
//! A log stores the hash of every *complete* subtree, addressed by [`NodeId`]
//! `(level, index)`: level 0 holds the leaf hashes, and node `(level, i)` is the root of
//! the perfect subtree covering leaves `[i * 2^level, (i + 1) * 2^level)`. A node is
//! written once, as soon as its last leaf is appended, and never changes afterwards.
//! Roots of incomplete (partial) subtrees are never stored: they are recomputed from
//! the O(log n) complete subtrees they are made of.
//!
//! Every function here takes a `read` callback that fetches one stored node, so the same
//! code runs against a database, a file or a map in memory. No function ever reads a node
//! outside `[0, size)` for the `size` it is given, so proofs and roots can be computed
//! for any size up to the current one.
//!
//! Appending one leaf creates the leaf node plus one node per level that it completes
//! ([`nodes_to_store_on_append`]). A writer appending many leaves at once keeps a
//! [`RightEdge`] in memory: the O(log n) hashes of the complete subtrees that make up
//! the whole tree, which is all that is needed to compute every new node and the new
//! root without reading anything back.

use std::convert::Infallible;

use crate::hash::{Hash, empty_root, node_hash};

/// The address of a stored complete subtree.
///
/// Node `(level, index)` covers leaves `[index * 2^level, (index + 1) * 2^level)`; level 0
/// nodes are leaf hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// The height of the subtree: 0 for a leaf, 1 for the parent of two leaves, and so on.
    pub level: u8,
    /// The position of the subtree among the subtrees of the same level, from the left.
    pub index: u64,
}

impl NodeId {
    /// Returns the node at `level` and `index`.
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// Returns the level 0 node holding the hash of leaf number `index`.
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// Returns the parent of this node.
    pub const fn parent(self) -> Self {
        Self { level: self.level + 1, index: self.index >> 1 }
    }

    /// Returns the other child of this node's parent.
    pub const fn sibling(self) -> Self {
        Self { level: self.level, index: self.index ^ 1 }
    }

    /// Returns the last leaf this node covers: the leaf whose append completes
    /// it. The nodes one append completes share it, so a store keyed by it
    /// keeps them side by side, in the order they were completed. A node past
    /// leaf 2^64 - 1, which no log reaches, answers `u64::MAX`.
    pub fn last_leaf(self) -> u64 {
        if self.level >= 64 {
            return u64::MAX;
        }
        // At most 2^64 << 63, within 128 bits.
        let end = (u128::from(self.index) + 1) << self.level;
        u64::try_from(end - 1).unwrap_or(u64::MAX)
    }
}

/// An error from the tree functions: a bad argument, or a failed node read.
#[derive(Debug, thiserror::Error)]
pub enum TreeError<E> {
    /// The leaf index is not smaller than the tree size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size the proof was asked for.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeGreater {
        /// The old (first) tree size.
        old_size: u64,
        /// The new (second) tree size.
        new_size: u64,
    },
    /// A consistency proof was asked from the empty tree, which proves nothing.
    #[error("a consistency proof needs a non-empty old tree")]
    EmptyOldTree,
    /// The tree already holds `u64::MAX` leaves and cannot grow.
    #[error("the tree is full and cannot hold another leaf")]
    TreeFull,
    /// The number of hashes given for a right edge does not match the tree size.
    #[error("a tree of size {size} has {want} right-edge hashes, not {got}")]
    WrongEdgeLength {
        /// The tree size.
        size: u64,
        /// The number of hashes given.
        got: usize,
        /// The number of hashes expected: the number of bits set in `size`.
        want: usize,
    },
    /// The storage callback failed to read a node.
    #[error("reading tree node (level {}, index {}) failed", node.level, node.index)]
    Storage {
        /// The node that could not be read.
        node: NodeId,
        /// The storage error.
        #[source]
        source: E,
    },
}

/// Reads one node through the storage callback, wrapping its error.
fn get<E>(read: &mut impl FnMut(NodeId) -> Result<Hash, E>, node: NodeId) -> Result<Hash, TreeError<E>> {
    read(node).map_err(|source| TreeError::Storage { node, source })
}

/// Returns the complete subtrees that make up leaves `[0, size)`, from left (largest) to
/// right (smallest): one node per bit set in `size`.
///
/// Their hashes, folded from right to left with [`node_hash`], give the root of the tree
/// of that size.
pub fn covering_nodes(size: u64) -> Vec<NodeId> {
    range_nodes(0, size)
}

/// Returns the complete subtrees that make up leaves `[start, end)`, left to right.
///
/// The range must be a subtree in the RFC 6962 sense: `start` is a multiple of a power of
/// two that is at least `end - start` (or `start` is 0).
fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::with_capacity((end - start).count_ones() as usize);
    let mut pos = start;
    let len = end - start;
    for level in (0..64u8).rev() {
        if (len >> level) & 1 == 1 {
            nodes.push(NodeId::new(level, pos >> level));
            pos += 1 << level;
        }
    }
    nodes
}

/// Folds the hashes of adjacent complete subtrees, given left to right and each at most as
/// large as the one before, into the root of the subtree they make up.
fn fold_right(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

/// Computes the hash of the subtree covering leaves `[start, end)` from the complete
/// subtrees it is made of; `start < end` and the range is a subtree as in [`range_nodes`].
fn range_hash<E>(start: u64, end: u64, read: &mut impl FnMut(NodeId) -> Result<Hash, E>) -> Result<Hash, TreeError<E>> {
    let hashes = range_nodes(start, end).into_iter().map(|node| get(read, node)).collect::<Result<Vec<_>, _>>()?;
    Ok(fold_right(&hashes).unwrap_or_else(empty_root))
}

/// Returns the nodes to store when appending leaf number `size_before` with hash `leaf`:
/// the leaf itself at level 0, then each parent that the leaf completes, bottom to top.
///
/// This reads one existing node per level completed (the left siblings on the way up),
/// so at most 64 reads and O(log n) on average. To append many leaves without reading
/// back what was just computed, use [`RightEdge`] instead.
pub fn nodes_to_store_on_append<E>(
    size_before: u64,
    leaf: Hash,
    mut read: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Vec<(NodeId, Hash)>, TreeError<E>> {
    if size_before == u64::MAX {
        return Err(TreeError::TreeFull);
    }
    let mut node = NodeId::leaf(size_before);
    let mut hash = leaf;
    let mut nodes = vec![(node, hash)];
    while node.index & 1 == 1 {
        let left = get(&mut read, node.sibling())?;
        hash = node_hash(&left, &hash);
        node = node.parent();
        nodes.push((node, hash));
    }
    Ok(nodes)
}

/// Returns the root hash of the tree holding the first `size` leaves.
///
/// This reads one node per bit set in `size` (at most 64); the empty tree's root,
/// `SHA-256("")`, needs no read.
pub fn root<E>(size: u64, mut read: impl FnMut(NodeId) -> Result<Hash, E>) -> Result<Hash, TreeError<E>> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(0, size, &mut read)
}

/// Returns the RFC 9162 inclusion proof (audit path) of leaf `index` in the tree of
/// `size` leaves: sibling hashes from the leaf's level up to the root's children.
///
/// `size` may be any size up to the number of leaves stored. This reads O(log n) nodes:
/// one per proof hash, plus the O(log n) complete subtrees of the one partial subtree a
/// proof may contain.
pub fn inclusion_proof<E>(
    index: u64,
    size: u64,
    mut read: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Vec<Hash>, TreeError<E>> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(index, 0, size, &mut proof, &mut read)?;
    Ok(proof)
}

/// Returns the RFC 9162 consistency proof between the trees of `old_size` and `new_size`
/// leaves.
///
/// Both sizes may be anything up to the number of leaves stored. The proof between equal
/// sizes is empty; a proof from the empty tree is refused ([`TreeError::EmptyOldTree`]),
/// because it proves nothing and verifiers reject it. This reads O(log n) nodes.
pub fn consistency_proof<E>(
    old_size: u64,
    new_size: u64,
    mut read: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Vec<Hash>, TreeError<E>> {
    if old_size > new_size {
        return Err(TreeError::OldSizeGreater { old_size, new_size });
    }
    if old_size == 0 {
        return Err(TreeError::EmptyOldTree);
    }
    if old_size == new_size {
        return Ok(Vec::new());
    }
    // The largest complete subtree ending at old_size is shared by both trees. The proof
    // is its hash (omitted when it is the whole old tree, which the verifier knows as the
    // old root) followed by its inclusion proof in the new tree.
    let level = old_size.trailing_zeros() as u8;
    let index = (old_size - 1) >> level;
    let mut proof = Vec::new();
    if index != 0 {
        proof.push(get(&mut read, NodeId::new(level, index))?);
    }
    path(index, level, new_size, &mut proof, &mut read)?;
    Ok(proof)
}

/// Appends to `proof` the inclusion proof of node `(level, index)` in the tree of `size`
/// leaves.
///
/// The proof has an inner part, the siblings below the point where the paths to the node
/// and to the last leaf meet (the only one of them that can be a partial subtree is the
/// highest right sibling), and a border part, the left siblings above that point, which
/// are all complete.
fn path<E>(
    index: u64,
    level: u8,
    size: u64,
    proof: &mut Vec<Hash>,
    read: &mut impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<(), TreeError<E>> {
    let last = (size - 1) >> level;
    let inner = 64 - (index ^ last).leading_zeros();
    for i in 0..inner {
        let node = NodeId::new(level + i as u8, (index >> i) ^ 1);
        let width = 1u64 << node.level;
        let start = node.index << node.level;
        let end = start.saturating_add(width).min(size);
        let hash = if end - start == width { get(read, node)? } else { range_hash(start, end, read)? };
        proof.push(hash);
    }
    let mut i = inner;
    while let Some(above) = index.checked_shr(i).filter(|&above| above != 0) {
        if above & 1 == 1 {
            proof.push(get(read, NodeId::new(level + i as u8, above - 1))?);
        }
        i += 1;
    }
    Ok(())
}

/// The right edge of a tree held in memory: the hashes of the complete subtrees that make
/// up the whole tree (one per bit set in its size, as in [`covering_nodes`]).
///
/// With it, a writer can append any number of leaves and get every new node to store and
/// the new root, keeping only O(log n) hashes in memory and reading nothing back. Load it
/// once with [`RightEdge::load`] (O(log n) reads), then call [`RightEdge::append`] or
/// [`RightEdge::extend`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RightEdge {
    size: u64,
    /// The hashes of the nodes of `covering_nodes(size)`, largest (leftmost) first.
    hashes: Vec<Hash>,
}

impl RightEdge {
    /// Returns the right edge of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the right edge of the tree holding the first `size` leaves from storage.
    pub fn load<E>(size: u64, mut read: impl FnMut(NodeId) -> Result<Hash, E>) -> Result<Self, TreeError<E>> {
        let hashes =
            covering_nodes(size).into_iter().map(|node| get(&mut read, node)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { size, hashes })
    }

    /// Builds the right edge of a tree of `size` leaves from the hashes of its
    /// [`covering_nodes`], largest first.
    pub fn from_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self, TreeError<Infallible>> {
        let want = size.count_ones() as usize;
        if hashes.len() != want {
            return Err(TreeError::WrongEdgeLength { size, got: hashes.len(), want });
        }
        Ok(Self { size, hashes })
    }

    /// Returns the number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns the covering nodes of the tree and their hashes, largest first.
    pub fn nodes(&self) -> Vec<(NodeId, Hash)> {
        covering_nodes(self.size).into_iter().zip(self.hashes.iter().copied()).collect()
    }

    /// Returns the root hash of the tree.
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes).unwrap_or_else(empty_root)
    }

    /// Appends one leaf and returns the nodes to store, as [`nodes_to_store_on_append`]
    /// does, without reading anything.
    ///
    /// # Panics
    ///
    /// Panics if the tree already holds `u64::MAX` leaves.
    pub fn append(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut nodes = Vec::new();
        self.append_into(leaf, &mut nodes);
        nodes
    }

    /// Appends one leaf and pushes the nodes to store onto `nodes`.
    ///
    /// # Panics
    ///
    /// Panics if the tree already holds `u64::MAX` leaves.
    pub fn append_into(&mut self, leaf: Hash, nodes: &mut Vec<(NodeId, Hash)>) {
        assert!(self.size < u64::MAX, "the tree is full");
        let mut node = NodeId::leaf(self.size);
        let mut hash = leaf;
        nodes.push((node, hash));
        // Each trailing one bit of the size is a complete subtree at the end of the edge
        // that the new leaf's path completes.
        while node.index & 1 == 1 {
            let left = self.hashes.pop().expect("the right edge has one hash per bit set in the size");
            hash = node_hash(&left, &hash);
            node = node.parent();
            nodes.push((node, hash));
        }
        self.hashes.push(hash);
        self.size += 1;
    }

    /// Appends the leaves in order and returns every node to store, in the order they
    /// were created.
    ///
    /// # Panics
    ///
    /// Panics if the tree would grow past `u64::MAX` leaves.
    pub fn extend(&mut self, leaves: impl IntoIterator<Item = Hash>) -> Vec<(NodeId, Hash)> {
        let mut nodes = Vec::new();
        for leaf in leaves {
            self.append_into(leaf, &mut nodes);
        }
        nodes
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::hash::leaf_hash;

    /// The nodes one append completes share their last leaf: appending leaf
    /// 5 completes leaf 5 and node 1/2, which covers leaves 4 and 5.
    #[test]
    fn a_node_s_last_leaf_is_the_append_that_completes_it() {
        let mut store = HashMap::new();
        for leaf in 0..64u64 {
            let nodes =
                nodes_to_store_on_append(leaf, leaf_hash(&leaf.to_be_bytes()), |id| store.get(&id).copied().ok_or(id))
                    .unwrap();
            for (node, hash) in nodes {
                assert_eq!(node.last_leaf(), leaf, "{node:?}");
                store.insert(node, hash);
            }
        }
        assert_eq!(NodeId::new(2, 1).last_leaf(), 7);
        assert_eq!(NodeId::new(0, u64::MAX).last_leaf(), u64::MAX);
        assert_eq!(NodeId::new(200, 3).last_leaf(), u64::MAX);
    }

    fn build(n: u64) -> HashMap<NodeId, Hash> {
        let mut store = HashMap::new();
        for i in 0..n {
            let nodes =
                nodes_to_store_on_append(i, leaf_hash(&i.to_be_bytes()), |id| store.get(&id).copied().ok_or(id))
                    .unwrap();
            store.extend(nodes);
        }
        store
    }

    #[test]
    fn covering_nodes_follow_the_bits_of_the_size() {
        assert_eq!(covering_nodes(0), vec![]);
        assert_eq!(covering_nodes(6), vec![NodeId::new(2, 0), NodeId::new(1, 2)]);
        assert_eq!(covering_nodes(7), vec![NodeId::new(2, 0), NodeId::new(1, 2), NodeId::new(0, 6)]);
        assert_eq!(covering_nodes(u64::MAX).len(), 64);
    }

    #[test]
    fn append_stores_every_complete_subtree() {
        let store = build(8);
        assert_eq!(store.len(), 8 + 4 + 2 + 1);
        assert!(store.contains_key(&NodeId::new(3, 0)));
    }

    #[test]
    fn right_edge_matches_single_appends() {
        let store = build(37);
        let mut edge = RightEdge::load(20, |id| store.get(&id).copied().ok_or(id)).unwrap();
        let nodes = edge.extend((20..37u64).map(|i| leaf_hash(&i.to_be_bytes())));
        for (id, hash) in nodes {
            assert_eq!(store[&id], hash, "{id:?}");
        }
        assert_eq!(edge.root(), root(37, |id| store.get(&id).copied().ok_or(id)).unwrap());
        let rebuilt = RightEdge::from_hashes(37, edge.nodes().iter().map(|n| n.1).collect());
        assert_eq!(rebuilt.unwrap(), edge);
    }

    #[test]
    fn bad_arguments_are_refused() {
        let store = build(5);
        let read = |id| store.get(&id).copied().ok_or(id);
        assert!(matches!(inclusion_proof(5, 5, read), Err(TreeError::IndexOutOfRange { index: 5, size: 5 })));
        assert!(matches!(consistency_proof(4, 3, read), Err(TreeError::OldSizeGreater { .. })));
        assert!(matches!(consistency_proof(0, 3, read), Err(TreeError::EmptyOldTree)));
        assert!(matches!(nodes_to_store_on_append(u64::MAX, [0; 32], read), Err(TreeError::TreeFull)));
        assert!(matches!(RightEdge::from_hashes(3, vec![[0; 32]]), Err(TreeError::WrongEdgeLength { want: 2, .. })));
    }

    #[test]
    fn storage_errors_name_the_missing_node() {
        let err = root(3, Err::<Hash, _>).unwrap_err();
        match err {
            TreeError::Storage { node, source } => {
                assert_eq!(node, NodeId::new(1, 0));
                assert_eq!(source, node);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
