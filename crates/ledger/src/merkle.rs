//! Merkle tree roots and proof generation over an abstract [`HashSource`],
//! and [`MemoryTree`], an in-memory append-only source.
//!
//! # Node addressing
//!
//! A *perfect subtree* is addressed by `(level, index)`: it has `2^level`
//! leaves and covers leaves `[index << level, (index + 1) << level)`. Level 0
//! holds the leaf hashes. A tree of `n` leaves is made of the perfect
//! subtrees of the binary decomposition of `n`; any other node of the RFC
//! 9162 tree (on its right edge) is recomputed from those. A proof therefore
//! needs `O(log n)` perfect-subtree reads and at most `O(log n)` hashing.

use crate::hash::{empty_root, node_hash, Hash};

/// A read-only view of the perfect subtree hashes of an append-only tree.
///
/// The store crate implements this over its tables; [`MemoryTree`] is the
/// in-memory implementation.
pub trait HashSource {
    /// Error of the underlying storage.
    type Error;

    /// Number of leaves available. Generation functions never ask for a node
    /// that is not entirely below this size.
    fn size(&self) -> u64;

    /// Hash of the perfect subtree of height `level` (`2^level` leaves)
    /// starting at leaf `index << level`. Level 0 returns leaf hashes.
    fn perfect_subtree(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// Why a root or proof could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError<E> {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size asked for.
        size: u64,
    },
    /// The requested tree size exceeds the leaves the source holds.
    #[error("tree size {size} exceeds the {available} leaves available")]
    BeyondTree {
        /// The tree size asked for.
        size: u64,
        /// Leaves the source holds.
        available: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("tree sizes out of order: size1 {size1} > size2 {size2}")]
    SizeOrder {
        /// The old tree size asked for.
        size1: u64,
        /// The new tree size asked for.
        size2: u64,
    },
    /// A consistency proof from the empty tree was asked for; it is not
    /// defined (and `verify_consistency` would reject it).
    #[error("consistency proof from an empty tree (size1 = 0) is meaningless")]
    EmptyOldTree,
    /// The hash source failed.
    #[error("hash source failed: {0}")]
    Source(E),
}

/// `[start, end)` as `u128` so shifts and sums near `u64::MAX` cannot overflow.
fn coverage(level: u32, index: u64) -> (u128, u128) {
    let start = u128::from(index) << level;
    (start, start + (1u128 << level))
}

fn check_size<S: HashSource + ?Sized>(src: &S, size: u64) -> Result<(), GenerateError<S::Error>> {
    let available = src.size();
    if size > available {
        return Err(GenerateError::BeyondTree { size, available });
    }
    Ok(())
}

/// MTH of leaves `[start, end)`, where `start < end` and `start` is a multiple
/// of a power of two larger than `end - start` (true of every node of an RFC
/// 9162 tree). Folds the perfect subtrees of the range from the right.
fn range_root<S: HashSource + ?Sized>(src: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let len = end.saturating_sub(start);
    let mut acc: Option<Hash> = None;
    for level in 0..64u32 {
        if (len >> level) & 1 == 0 {
            continue;
        }
        // Leaves covered by the larger subtrees, left of this one (u128: the
        // shift by level + 1 may be 64). pos < end, so it fits in u64.
        let before = (u128::from(len) >> (level + 1)) << (level + 1);
        let pos = u128::from(start) + before;
        let h = src.perfect_subtree(level, (pos >> level) as u64)?;
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(&h, &right),
        });
    }
    Ok(acc.unwrap_or_else(empty_root))
}

/// Appends to `out` the inclusion path of perfect node `(level, index)`, which
/// lies entirely within `[0, size)`, in the tree of `size` leaves: siblings
/// from bottom to top, skipping levels where the node has no sibling.
fn node_path<S: HashSource + ?Sized>(
    src: &S,
    level: u32,
    index: u64,
    size: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let size128 = u128::from(size);
    let (mut level, mut index) = (level, index);
    // Stop when the node covers the whole tree.
    while level < 64 && !(index == 0 && (1u128 << level) >= size128) {
        let sibling = index ^ 1;
        let (start, end) = coverage(level, sibling);
        if sibling < index || end <= size128 {
            // Left sibling, or a complete right sibling.
            out.push(src.perfect_subtree(level, sibling)?);
        } else if start < size128 {
            // Incomplete right sibling: recompute it from its perfect parts.
            // start < size <= u64::MAX, so the cast is lossless.
            out.push(range_root(src, start as u64, size)?);
        }
        // else: no right sibling at all; the node is promoted unchanged.
        index >>= 1;
        level += 1;
    }
    Ok(())
}

/// Root of the tree made of the first `size` leaves of `src`
/// (`SHA-256("")` for `size == 0`).
pub fn root_at<S: HashSource + ?Sized>(
    src: &S,
    size: u64,
) -> Result<Hash, GenerateError<S::Error>> {
    check_size(src, size)?;
    if size == 0 {
        return Ok(empty_root());
    }
    range_root(src, 0, size).map_err(GenerateError::Source)
}

/// RFC 9162 inclusion proof (section 2.1.3.1) for leaf `index` in the tree of
/// the first `size` leaves of `src`.
pub fn inclusion_proof<S: HashSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, GenerateError<S::Error>> {
    check_size(src, size)?;
    if index >= size {
        return Err(GenerateError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::with_capacity(64);
    node_path(src, 0, index, size, &mut out).map_err(GenerateError::Source)?;
    Ok(out)
}

/// RFC 9162 consistency proof (section 2.1.4.1) between the trees of the first
/// `size1` and the first `size2` leaves of `src`. Requires
/// `0 < size1 <= size2`; equal sizes give an empty proof.
pub fn consistency_proof<S: HashSource + ?Sized>(
    src: &S,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, GenerateError<S::Error>> {
    check_size(src, size2)?;
    if size1 > size2 {
        return Err(GenerateError::SizeOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(GenerateError::EmptyOldTree);
    }
    let mut out = Vec::with_capacity(65);
    if size1 == size2 {
        return Ok(out);
    }
    // The rightmost perfect subtree of the old tree: the proof is that node
    // (unless it is the whole old tree, which the verifier already knows)
    // followed by its inclusion path in the new tree.
    let level = size1.trailing_zeros();
    let index = (size1 - 1) >> level;
    if !size1.is_power_of_two() {
        out.push(
            src.perfect_subtree(level, index)
                .map_err(GenerateError::Source)?,
        );
    }
    node_path(src, level, index, size2, &mut out).map_err(GenerateError::Source)?;
    Ok(out)
}

/// A perfect subtree that a [`MemoryTree`] does not (yet) hold was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no complete subtree at level {level}, index {index}")]
pub struct NodeOutOfRange {
    /// Level asked for.
    pub level: u32,
    /// Index on that level asked for.
    pub index: u64,
}

/// In-memory append-only Merkle tree over leaf hashes.
///
/// Keeps, for every level, the hashes of all complete subtrees of that level
/// (`levels[l][i]` covers leaves `[i << l, (i + 1) << l)`), about `2n` hashes
/// in all. Appending costs one leaf write plus amortized one node hash; a root
/// or proof costs `O(log n)` lookups and at most `O(log n)` hashes.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tree with room for `leaves` leaves (and their interior
    /// nodes) without reallocation. If that much memory cannot be reserved,
    /// the tree starts smaller and grows on demand instead.
    pub fn with_capacity(leaves: usize) -> Self {
        let mut levels = Vec::new();
        let mut n = leaves;
        while n > 0 {
            let mut row = Vec::new();
            if row.try_reserve_exact(n).is_err() {
                return MemoryTree::new();
            }
            levels.push(row);
            n /= 2;
        }
        MemoryTree { levels }
    }

    /// Builds a tree from leaf hashes.
    pub fn from_leaf_hashes<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        let mut t = Self::new();
        t.extend(leaves);
        t
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// True when the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a leaf hash and returns its index.
    pub fn push(&mut self, leaf_hash: Hash) -> u64 {
        let index = self.len();
        let mut level = 0usize;
        let mut carry = leaf_hash;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                break;
            };
            row.push(carry);
            // An even count means the last two entries complete a parent.
            match row.as_slice() {
                [.., l, r] if row.len() % 2 == 0 => {
                    carry = node_hash(l, r);
                    level += 1;
                }
                _ => break,
            }
        }
        index
    }

    /// Hashes `data` as a leaf ([`crate::leaf_hash`]), appends it, and returns
    /// its index and leaf hash.
    pub fn push_data(&mut self, data: &[u8]) -> (u64, Hash) {
        let h = crate::hash::leaf_hash(data);
        (self.push(h), h)
    }

    /// The leaf hash at `index`, if present.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        let i = usize::try_from(index).ok()?;
        self.levels.first()?.get(i).copied()
    }

    /// Root of the whole tree.
    pub fn root(&self) -> Hash {
        let size = self.len();
        if size == 0 {
            return empty_root();
        }
        // All nodes read lie within [0, len), so this cannot fail.
        range_root(self, 0, size).unwrap_or_else(|_| empty_root())
    }

    /// Root of the tree made of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, GenerateError<NodeOutOfRange>> {
        root_at(self, size)
    }

    /// Inclusion proof for leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, GenerateError<NodeOutOfRange>> {
        inclusion_proof(self, index, size)
    }

    /// Consistency proof between the trees of the first `size1` and `size2`
    /// leaves.
    pub fn consistency_proof(
        &self,
        size1: u64,
        size2: u64,
    ) -> Result<Vec<Hash>, GenerateError<NodeOutOfRange>> {
        consistency_proof(self, size1, size2)
    }
}

impl Extend<Hash> for MemoryTree {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, iter: I) {
        for h in iter {
            self.push(h);
        }
    }
}

impl HashSource for MemoryTree {
    type Error = NodeOutOfRange;

    fn size(&self) -> u64 {
        self.len()
    }

    fn perfect_subtree(&self, level: u32, index: u64) -> Result<Hash, NodeOutOfRange> {
        usize::try_from(level)
            .ok()
            .and_then(|l| self.levels.get(l))
            .zip(usize::try_from(index).ok())
            .and_then(|(row, i)| row.get(i))
            .copied()
            .ok_or(NodeOutOfRange { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn tree(n: u64) -> MemoryTree {
        MemoryTree::from_leaf_hashes((0..n).map(|i| leaf_hash(&i.to_be_bytes())))
    }

    #[test]
    fn capacity_is_a_hint() {
        let mut t = MemoryTree::with_capacity(usize::MAX);
        assert!(t.is_empty());
        t.push(leaf_hash(b"a"));
        let mut u = MemoryTree::with_capacity(5);
        u.push(leaf_hash(b"a"));
        assert_eq!(t.root(), u.root());
    }

    #[test]
    fn stores_about_two_n_hashes() {
        let t = tree(1000);
        let total: usize = t.levels.iter().map(Vec::len).sum();
        assert!(total < 2000, "{total}");
        assert_eq!(t.levels.len(), 10); // 2^9 = 512 <= 1000 < 1024
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let t = tree(5);
        assert_eq!(
            t.perfect_subtree(2, 1),
            Err(NodeOutOfRange { level: 2, index: 1 })
        );
        assert_eq!(
            t.perfect_subtree(u32::MAX, u64::MAX),
            Err(NodeOutOfRange {
                level: u32::MAX,
                index: u64::MAX
            })
        );
        assert_eq!(
            t.inclusion_proof(5, 5),
            Err(GenerateError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            t.inclusion_proof(0, 6),
            Err(GenerateError::BeyondTree {
                size: 6,
                available: 5
            })
        );
        assert_eq!(
            t.consistency_proof(3, 2),
            Err(GenerateError::SizeOrder { size1: 3, size2: 2 })
        );
        assert_eq!(t.consistency_proof(0, 2), Err(GenerateError::EmptyOldTree));
        assert_eq!(
            t.consistency_proof(1, u64::MAX),
            Err(GenerateError::BeyondTree {
                size: u64::MAX,
                available: 5
            })
        );
        assert_eq!(t.consistency_proof(5, 5), Ok(vec![]));
        assert_eq!(t.root_at(0), Ok(empty_root()));
        assert_eq!(t.leaf(5), None);
        assert_eq!(t.leaf(u64::MAX), None);
    }

    /// A consistent virtual tree of up to `u64::MAX` identical leaves: the
    /// perfect subtree of level `l` hashes to `H_l`, `H_{l+1} = node(H_l, H_l)`.
    /// Lets generation and verification run at sizes near `u64::MAX`.
    struct Uniform {
        size: u64,
        levels: Vec<Hash>,
    }
    impl Uniform {
        fn new(size: u64) -> Self {
            let mut levels = vec![leaf_hash(b"uniform")];
            for l in 0..64 {
                let h = levels[l];
                levels.push(node_hash(&h, &h));
            }
            Uniform { size, levels }
        }
    }
    impl HashSource for Uniform {
        type Error = std::convert::Infallible;
        fn size(&self) -> u64 {
            self.size
        }
        fn perfect_subtree(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
            assert!(u128::from(index + 1) << level <= u128::from(self.size));
            Ok(self.levels[level as usize])
        }
    }

    #[test]
    fn huge_sizes_generate_and_verify() {
        let src = Uniform::new(u64::MAX);
        for (index, size) in [
            (0, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (1 << 63, u64::MAX),
            ((1 << 63) - 1, 1 << 63),
        ] {
            let proof = inclusion_proof(&src, index, size).unwrap();
            let root = root_at(&src, size).unwrap();
            let leaf = src.perfect_subtree(0, index).unwrap();
            crate::verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
        }
        for (s1, s2) in [
            (1, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (1 << 63, u64::MAX),
            (3, u64::MAX),
            ((1 << 63) + 5, u64::MAX - 7),
        ] {
            let proof = consistency_proof(&src, s1, s2).unwrap();
            let r1 = root_at(&src, s1).unwrap();
            let r2 = root_at(&src, s2).unwrap();
            crate::verify_consistency(s1, s2, &proof, &r1, &r2).unwrap();
        }
    }
}
