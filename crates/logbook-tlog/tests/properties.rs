//! Property tests: proofs and roots computed from stored nodes by `tree` agree with a naive
//! recursive RFC 6962 implementation, verify with `proof`, and stop verifying when any
//! single bit of a proof hash, a root or the leaf hash is flipped.
//!
//! Randomness comes from a seeded `SmallRng`, so every run checks the same trees.

use std::cell::Cell;
use std::collections::HashMap;
use std::convert::Infallible;

use logbook_tlog::hash::{Hash, empty_root, leaf_hash, node_hash};
use logbook_tlog::proof::{verify_consistency, verify_inclusion};
use logbook_tlog::tree::{NodeId, RightEdge, consistency_proof, inclusion_proof, nodes_to_store_on_append, root};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The naive RFC 6962 §2.1 definitions, memoized over leaf ranges so that every proof of
/// every size stays cheap to compute.
struct Naive {
    leaves: Vec<Hash>,
    cache: HashMap<(usize, usize), Hash>,
}

impl Naive {
    fn new(leaves: Vec<Hash>) -> Self {
        Self { leaves, cache: HashMap::new() }
    }

    /// The largest power of two smaller than `n` (for `n > 1`).
    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// MTH(D[a:b]).
    fn mth(&mut self, a: usize, b: usize) -> Hash {
        if let Some(h) = self.cache.get(&(a, b)) {
            return *h;
        }
        let h = match b - a {
            0 => empty_root(),
            1 => self.leaves[a],
            n => {
                let k = Self::split(n);
                let left = self.mth(a, a + k);
                let right = self.mth(a + k, b);
                node_hash(&left, &right)
            }
        };
        self.cache.insert((a, b), h);
        h
    }

    /// PATH(m, D[a:b]).
    fn path(&mut self, m: usize, a: usize, b: usize) -> Vec<Hash> {
        let n = b - a;
        if n <= 1 {
            return Vec::new();
        }
        let k = Self::split(n);
        if m < k {
            let mut p = self.path(m, a, a + k);
            p.push(self.mth(a + k, b));
            p
        } else {
            let mut p = self.path(m - k, a + k, b);
            p.push(self.mth(a, a + k));
            p
        }
    }

    /// SUBPROOF(m, D[a:b], complete).
    fn subproof(&mut self, m: usize, a: usize, b: usize, complete: bool) -> Vec<Hash> {
        let n = b - a;
        if m == n {
            return if complete { Vec::new() } else { vec![self.mth(a, b)] };
        }
        let k = Self::split(n);
        if m <= k {
            let mut p = self.subproof(m, a, a + k, complete);
            p.push(self.mth(a + k, b));
            p
        } else {
            let mut p = self.subproof(m - k, a + k, b, false);
            p.push(self.mth(a, a + k));
            p
        }
    }

    /// PROOF(m, D[0:n]).
    fn consistency(&mut self, m: usize, n: usize) -> Vec<Hash> {
        self.subproof(m, 0, n, true)
    }
}

/// A node store in memory that counts reads and checks that no read goes past the tree
/// size a computation was given.
struct Store {
    nodes: HashMap<NodeId, Hash>,
    reads: Cell<usize>,
}

impl Store {
    fn reader(&self, size: u64) -> impl FnMut(NodeId) -> Result<Hash, Infallible> + '_ {
        move |id: NodeId| {
            self.reads.set(self.reads.get() + 1);
            let end = (u128::from(id.index) + 1) << id.level;
            assert!(end <= u128::from(size), "{id:?} read for size {size}");
            Ok(*self.nodes.get(&id).unwrap_or_else(|| panic!("{id:?} not stored")))
        }
    }

    fn take_reads(&self) -> usize {
        self.reads.replace(0)
    }
}

/// The read budget for one proof of a tree of `size` leaves: two per level plus one.
fn read_budget(size: u64) -> usize {
    2 * (64 - size.leading_zeros() as usize) + 1
}

/// Returns `n` distinct random leaf hashes (each leaf's data starts with its index, so no
/// two are equal and a proof for one index cannot pass for another).
fn random_leaves(rng: &mut SmallRng, n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| {
            let len = rng.random_range(0..40);
            let mut data = (i as u64).to_be_bytes().to_vec();
            data.extend((0..len).map(|_| rng.random::<u8>()));
            leaf_hash(&data)
        })
        .collect()
}

/// Builds the node store for `leaves`, alternating between single appends that read
/// from the store and `RightEdge` batches of random length, and checks both agree.
fn build(rng: &mut SmallRng, leaves: &[Hash]) -> Store {
    let mut nodes: HashMap<NodeId, Hash> = HashMap::new();
    let mut size = 0usize;
    while size < leaves.len() {
        let batch = rng.random_range(1..=64).min(leaves.len() - size);
        if rng.random_bool(0.5) {
            for leaf in &leaves[size..size + batch] {
                let new = nodes_to_store_on_append(size as u64, *leaf, |id| nodes.get(&id).copied().ok_or(id)).unwrap();
                nodes.extend(new);
                size += 1;
            }
        } else {
            let mut edge = RightEdge::load(size as u64, |id| nodes.get(&id).copied().ok_or(id)).unwrap();
            let new = edge.extend(leaves[size..size + batch].iter().copied());
            for (id, hash) in new {
                assert!(nodes.insert(id, hash).is_none(), "{id:?} written twice");
            }
            size += batch;
            assert_eq!(edge.size(), size as u64);
        }
    }
    // Every complete subtree is stored, and nothing else.
    let n = leaves.len() as u64;
    let expected: u64 = (0..64).map(|level| n >> level).sum();
    assert_eq!(nodes.len() as u64, expected);
    Store { nodes, reads: Cell::new(0) }
}

/// Asserts that `check` accepts the values as given and rejects them with any single bit
/// of any of them flipped. Each value has `bits` of its bit positions tried (all 256 when
/// `bits` is `None`), bits 0 and 255 always among them.
fn assert_bit_flips_fail(
    rng: &mut SmallRng,
    values: &[Hash],
    bits: Option<usize>,
    check: impl Fn(&[Hash]) -> bool,
    what: &str,
) {
    assert!(check(values), "{what}: does not verify unmodified");
    let mut values = values.to_vec();
    for i in 0..values.len() {
        let positions: Vec<usize> = match bits {
            None => (0..256).collect(),
            Some(n) => [0, 255].into_iter().chain((0..n).map(|_| rng.random_range(0..256))).collect(),
        };
        for bit in positions {
            values[i][bit / 8] ^= 1 << (bit % 8);
            assert!(!check(&values), "{what}: value {i} bit {bit} flipped still verifies");
            values[i][bit / 8] ^= 1 << (bit % 8);
        }
    }
}

/// Builds a random tree of `n` leaves and checks its roots, inclusion proofs and
/// consistency proofs against the naive implementation and the verifier: for every size,
/// index and old size when `all_sizes` is set, for a random sample of them otherwise.
/// For each size checked, one inclusion proof and one consistency proof also go through
/// the bit-flip check.
fn check_tree(rng: &mut SmallRng, n: usize, all_sizes: bool) {
    let leaves = random_leaves(rng, n);
    let store = build(rng, &leaves);
    let mut naive = Naive::new(leaves.clone());

    let sizes: Vec<usize> = if all_sizes {
        (1..=n).collect()
    } else {
        let mut s: Vec<usize> = (0..12).map(|_| rng.random_range(1..=n)).collect();
        s.extend([1, n / 2, n]);
        s
    };
    for &size in &sizes {
        let size64 = size as u64;
        let tree_root = root(size64, store.reader(size64)).unwrap();
        assert_eq!(tree_root, naive.mth(0, size), "root of size {size}");
        assert!(store.take_reads() <= 64);

        let indices: Vec<usize> =
            if all_sizes { (0..size).collect() } else { (0..20).map(|_| rng.random_range(0..size)).collect() };
        for &index in &indices {
            let proof = inclusion_proof(index as u64, size64, store.reader(size64)).unwrap();
            let reads = store.take_reads();
            assert!(reads <= read_budget(size64), "{reads} reads for {index}/{size}");
            assert_eq!(proof, naive.path(index, 0, size), "inclusion {index}/{size}");
            assert_eq!(verify_inclusion(&leaves[index], index as u64, size64, &proof, &tree_root), Ok(()));
            if index + 1 < size {
                assert!(verify_inclusion(&leaves[index], index as u64 + 1, size64, &proof, &tree_root).is_err());
            }
        }

        let olds: Vec<usize> =
            if all_sizes { (1..=size).collect() } else { (0..20).map(|_| rng.random_range(1..=size)).collect() };
        for &old in &olds {
            let old64 = old as u64;
            let proof = consistency_proof(old64, size64, store.reader(size64)).unwrap();
            let reads = store.take_reads();
            assert!(reads <= read_budget(size64), "{reads} reads for {old}->{size}");
            let want = if old == size { Vec::new() } else { naive.consistency(old, size) };
            assert_eq!(proof, want, "consistency {old}->{size}");
            let old_root = naive.mth(0, old);
            assert_eq!(verify_consistency(old64, size64, &proof, &old_root, &tree_root), Ok(()), "{old}->{size}");
        }

        // Bit flips on one random inclusion proof and one random consistency proof: every
        // bit for the full size of a small tree and for every 50th size, a sample of bits
        // otherwise.
        let bits = if (size == n && n <= 40) || size % 50 == 0 { None } else { Some(6) };
        let index = rng.random_range(0..size);
        let proof = inclusion_proof(index as u64, size64, store.reader(size64)).unwrap();
        let mut values = vec![leaves[index], tree_root];
        values.extend(&proof);
        assert_bit_flips_fail(
            rng,
            &values,
            bits,
            |v| verify_inclusion(&v[0], index as u64, size64, &v[2..], &v[1]).is_ok(),
            &format!("inclusion {index}/{size}"),
        );
        let old = rng.random_range(1..=size);
        let proof = consistency_proof(old as u64, size64, store.reader(size64)).unwrap();
        let mut values = vec![naive.mth(0, old), tree_root];
        values.extend(&proof);
        assert_bit_flips_fail(
            rng,
            &values,
            bits,
            |v| verify_consistency(old as u64, size64, &v[2..], &v[0], &v[1]).is_ok(),
            &format!("consistency {old}->{size}"),
        );
        store.take_reads();
    }
}

#[test]
fn all_proofs_of_all_sizes_up_to_300() {
    let mut rng = SmallRng::seed_from_u64(0x6c6f67626f6f6b);
    check_tree(&mut rng, 300, true);
}

#[test]
fn sampled_proofs_of_larger_trees() {
    let mut rng = SmallRng::seed_from_u64(42);
    for n in [511, 512, 513, 1000, 4097] {
        check_tree(&mut rng, n, false);
    }
}

#[test]
fn small_trees_built_from_scratch() {
    // Every size from 1 to 40 as its own tree, so that proofs at the current size are
    // checked right after the writes that produced them.
    let mut rng = SmallRng::seed_from_u64(7);
    for n in 1..=40 {
        check_tree(&mut rng, n, true);
    }
}

#[test]
fn right_edge_root_matches_naive_after_every_append() {
    let mut rng = SmallRng::seed_from_u64(99);
    let leaves = random_leaves(&mut rng, 600);
    let mut naive = Naive::new(leaves.clone());
    let mut edge = RightEdge::new();
    assert_eq!(edge.root(), empty_root());
    for (i, leaf) in leaves.iter().enumerate() {
        let new = edge.append(*leaf);
        // One node per level completed: the leaf, then one per trailing one bit of i.
        assert_eq!(new.len(), 1 + i.trailing_ones() as usize);
        assert_eq!(edge.root(), naive.mth(0, i + 1));
    }
}
