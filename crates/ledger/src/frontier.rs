//! [`Frontier`]: what an appender keeps of a tree to add leaves and know its root —
//! the hashes of the perfect subtrees of the binary decomposition of its size, at
//! most 64 of them.
//!
//! Each append reports the perfect subtrees it completes, so a store can persist
//! every perfect-subtree hash as it is made and later serve proofs through
//! [`crate::HashSource`] with O(log n) reads.

use crate::hash::{empty_root, node_hash, Hash};
use crate::merkle::HashSource;

/// A perfect subtree completed by an append: `2^level` leaves starting at leaf
/// `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedNode {
    /// Height of the subtree (0 is the leaf itself).
    pub level: u32,
    /// Index of the subtree among those of its height.
    pub index: u64,
    /// Its hash.
    pub hash: Hash,
}

/// The right edge of an append-only RFC 9162 tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Perfect subtree hashes from the largest (leftmost) to the smallest.
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of the first `size` leaves of `source`: one read per set bit of
    /// `size`.
    pub fn from_source<S: HashSource + ?Sized>(source: &S, size: u64) -> Result<Self, S::Error> {
        let mut peaks = Vec::new();
        let mut start: u64 = 0;
        for level in (0..64u32).rev() {
            if (size >> level) & 1 == 1 {
                peaks.push(source.perfect_subtree(level, start >> level)?);
                start += 1u64 << level;
            }
        }
        Ok(Self { size, peaks })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root hash of the tree (`SHA-256("")` when empty).
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(mut acc) = peaks.next().copied() else {
            return empty_root();
        };
        for left in peaks {
            acc = node_hash(left, &acc);
        }
        acc
    }

    /// Appends a leaf hash; returns the perfect subtrees it completes, the leaf
    /// itself (level 0) first, then each parent made whole, bottom up.
    pub fn push(&mut self, leaf_hash: Hash) -> Vec<CompletedNode> {
        let index = self.size;
        let mut completed = vec![CompletedNode {
            level: 0,
            index,
            hash: leaf_hash,
        }];
        let mut hash = leaf_hash;
        let mut level = 0u32;
        // Each trailing one bit of the old size is a peak that merges with the new node.
        while (index >> level) & 1 == 1 {
            let Some(left) = self.peaks.pop() else {
                break;
            };
            hash = node_hash(&left, &hash);
            level += 1;
            completed.push(CompletedNode {
                level,
                index: index >> level,
                hash,
            });
        }
        self.peaks.push(hash);
        self.size += 1;
        completed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{leaf_hash, MemoryTree};

    #[test]
    fn agrees_with_the_memory_tree_at_every_size() {
        let mut frontier = Frontier::new();
        let mut tree = MemoryTree::new();
        assert_eq!(frontier.root(), tree.root());
        for i in 0u64..300 {
            let leaf = leaf_hash(&i.to_be_bytes());
            let completed = frontier.push(leaf);
            tree.push(leaf);
            assert_eq!(frontier.root(), tree.root(), "size {}", i + 1);
            for node in completed {
                assert_eq!(
                    tree.perfect_subtree(node.level, node.index).unwrap(),
                    node.hash,
                    "node {node:?}"
                );
            }
            let rebuilt = Frontier::from_source(&tree, i + 1).unwrap();
            assert_eq!(rebuilt, frontier);
        }
    }

    #[test]
    fn reports_every_completed_subtree_once() {
        let mut frontier = Frontier::new();
        let mut count = 0;
        for i in 0u64..1024 {
            count += frontier.push(leaf_hash(&i.to_be_bytes())).len();
        }
        // A perfect tree of 1024 leaves has 2047 perfect subtrees.
        assert_eq!(count, 2047);
    }
}
