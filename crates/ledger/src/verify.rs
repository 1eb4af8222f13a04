//! Verification of RFC 9162 inclusion and consistency proofs.
//!
//! Every function here takes untrusted input (sizes, indices, proofs, roots)
//! and answers with `Ok` or a [`ProofError`]; none of them panics, whatever
//! the input.

use std::fmt;

use crate::hash::{node_hash, Hash};

/// Which input of a `*_bytes` verifier was not a 32-byte hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashField {
    /// The leaf hash of an inclusion proof.
    LeafHash,
    /// The root of an inclusion proof.
    Root,
    /// The root of the older (smaller) tree of a consistency proof.
    OldRoot,
    /// The root of the newer (larger) tree of a consistency proof.
    NewRoot,
    /// The proof node at this position.
    ProofNode(usize),
}

impl fmt::Display for HashField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashField::LeafHash => f.write_str("leaf hash"),
            HashField::Root => f.write_str("root"),
            HashField::OldRoot => f.write_str("old root"),
            HashField::NewRoot => f.write_str("new root"),
            HashField::ProofNode(i) => write!(f, "proof node {i}"),
        }
    }
}

/// Why an inclusion or consistency proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// The proof has the wrong number of nodes for the given index and sizes.
    #[error("wrong proof length: got {got} nodes, want {want}")]
    WrongProofLength {
        /// Nodes in the proof given.
        got: usize,
        /// Nodes a valid proof has for these parameters.
        want: usize,
    },
    /// The root computed from the proof is not the root given (for a
    /// consistency proof: the root of the newer tree).
    #[error("root mismatch: proof yields {calculated}, expected {expected}")]
    RootMismatch {
        /// The root the caller expected.
        expected: Hash,
        /// The root the proof reconstructs.
        calculated: Hash,
    },
    /// The old root computed from a consistency proof is not the old root given.
    #[error("old root mismatch: proof yields {calculated}, expected {expected}")]
    OldRootMismatch {
        /// The old root the caller expected.
        expected: Hash,
        /// The old root the proof reconstructs.
        calculated: Hash,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("tree sizes out of order: size1 {size1} > size2 {size2}")]
    SizeOrder {
        /// The old tree size given.
        size1: u64,
        /// The new tree size given.
        size2: u64,
    },
    /// A consistency proof from the empty tree was given; it proves nothing
    /// (every tree is an extension of the empty tree) and is not defined.
    #[error("consistency proof from an empty tree (size1 = 0) is meaningless")]
    EmptyOldTree,
    /// For equal tree sizes the proof must be empty.
    #[error("tree sizes are equal but the proof has {len} nodes")]
    NonEmptyProofForEqualSizes {
        /// Nodes in the proof given.
        len: usize,
    },
    /// An input meant to be a hash is not 32 bytes long (only from the
    /// `*_bytes` verifiers).
    #[error("{field} is {len} bytes, a hash is 32")]
    MalformedHash {
        /// Which input.
        field: HashField,
        /// Its length in bytes.
        len: usize,
    },
}

/// Number of proof nodes below and above the level where the paths to leaf
/// `index` and leaf `size - 1` diverge. Requires `index < size`.
///
/// Returns `(inner, border)`: `inner` nodes are siblings on either side,
/// `border` nodes are all left siblings (one per set bit of the index above
/// the divergence level).
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let last = size.saturating_sub(1);
    let inner = 64 - (index ^ last).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner as usize, border as usize)
}

/// Length of the RFC 9162 inclusion proof for leaf `index` in a tree of
/// `size` leaves, or an error when `index >= size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    Ok(inner + border)
}

/// Length of the RFC 9162 consistency proof between tree sizes `size1` and
/// `size2` (`0 < size1 <= size2`).
pub fn consistency_proof_len(size1: u64, size2: u64) -> Result<usize, ProofError> {
    let (_, _, _, want) = consistency_shape(size1, size2)?;
    Ok(want)
}

/// Shape of a consistency proof: `(seeded, shift, inner, total length)`.
/// `seeded` is true when `size1` is a power of two, in which case the proof
/// does not repeat the old root.
fn consistency_shape(size1: u64, size2: u64) -> Result<(bool, u32, usize, usize), ProofError> {
    if size2 < size1 {
        return Err(ProofError::SizeOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if size1 == size2 {
        return Ok((true, 0, 0, 0));
    }
    // Height of the rightmost perfect subtree of the old tree.
    let shift = size1.trailing_zeros();
    let (inner_full, border) = decompose(size1 - 1, size2);
    // The paths to leaves size1-1 and size2-1 diverge above `shift` (see the
    // module tests); saturating keeps this panic-free regardless.
    let inner = inner_full.saturating_sub(shift as usize);
    let seeded = size1.is_power_of_two();
    let want = usize::from(!seeded) + inner + border;
    Ok((seeded, shift, inner, want))
}

/// Recomputes the tree root from a leaf hash and its inclusion proof.
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want: inner + border,
        });
    }
    let (inner_nodes, border_nodes) = proof.split_at(inner);
    let mut r = *leaf_hash;
    for (level, p) in inner_nodes.iter().enumerate() {
        // level < 64 because inner <= 64.
        if index.checked_shr(level as u32).unwrap_or(0) & 1 == 0 {
            r = node_hash(&r, p);
        } else {
            r = node_hash(p, &r);
        }
    }
    for p in border_nodes {
        r = node_hash(p, &r);
    }
    Ok(r)
}

/// Verifies that `leaf_hash` is the leaf at `index` of the tree of `size`
/// leaves whose root is `root` (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if calculated != *root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            calculated,
        });
    }
    Ok(())
}

/// Verifies that the tree of `size2` leaves with root `root2` extends the
/// tree of `size1` leaves with root `root1` (RFC 9162 section 2.1.4.2).
///
/// Requires `0 < size1 <= size2`; for `size1 == size2` the proof must be
/// empty and the roots equal. `size1 == 0` is rejected with
/// [`ProofError::EmptyOldTree`], as in the reference implementation: a client
/// holding the empty tree has nothing to check.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    let (seeded, shift, inner, want) = consistency_shape(size1, size2)?;
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::NonEmptyProofForEqualSizes { len: proof.len() });
        }
        if root1 != root2 {
            return Err(ProofError::RootMismatch {
                expected: *root2,
                calculated: *root1,
            });
        }
        return Ok(());
    }
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let (seed, rest) = match (seeded, proof.split_first()) {
        (true, _) => (root1, proof),
        (false, Some((first, rest))) => (first, rest),
        // Unreachable: want >= 1 when not seeded, and the length matched.
        (false, None) => {
            return Err(ProofError::WrongProofLength { got: 0, want });
        }
    };
    let (inner_nodes, border_nodes) = rest.split_at(inner.min(rest.len()));
    // Position of the seed node on its level.
    let mask = (size1 - 1) >> shift;
    let mut old = *seed;
    let mut new = *seed;
    for (i, p) in inner_nodes.iter().enumerate() {
        if mask.checked_shr(i as u32).unwrap_or(0) & 1 == 1 {
            // Left sibling: part of both trees.
            old = node_hash(p, &old);
            new = node_hash(p, &new);
        } else {
            // Right sibling: only in the new tree.
            new = node_hash(&new, p);
        }
    }
    for p in border_nodes {
        old = node_hash(p, &old);
        new = node_hash(p, &new);
    }
    if old != *root1 {
        return Err(ProofError::OldRootMismatch {
            expected: *root1,
            calculated: old,
        });
    }
    if new != *root2 {
        return Err(ProofError::RootMismatch {
            expected: *root2,
            calculated: new,
        });
    }
    Ok(())
}

fn parse_hash(bytes: &[u8], field: HashField) -> Result<Hash, ProofError> {
    Hash::from_slice(bytes).map_err(|_| ProofError::MalformedHash {
        field,
        len: bytes.len(),
    })
}

fn parse_proof<P: AsRef<[u8]>>(proof: &[P]) -> Result<Vec<Hash>, ProofError> {
    proof
        .iter()
        .enumerate()
        .map(|(i, p)| parse_hash(p.as_ref(), HashField::ProofNode(i)))
        .collect()
}

/// [`verify_inclusion`] over raw byte strings, for proofs decoded from the
/// wire whose hash lengths have not been checked yet.
///
/// A hash input that is not 32 bytes long is rejected with
/// [`ProofError::MalformedHash`] after the index and length checks.
pub fn verify_inclusion_bytes<P: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
    root: &[u8],
) -> Result<(), ProofError> {
    let want = inclusion_proof_len(index, size)?;
    let leaf = parse_hash(leaf_hash, HashField::LeafHash)?;
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let proof = parse_proof(proof)?;
    let root = parse_hash(root, HashField::Root)?;
    verify_inclusion(&leaf, index, size, &proof, &root)
}

/// [`verify_consistency`] over raw byte strings, for proofs decoded from the
/// wire whose hash lengths have not been checked yet.
///
/// Mirrors the reference implementation (transparency-dev/merkle): when
/// `size1 == size2` the proof must be empty and the two roots are compared
/// byte for byte, whatever their length; otherwise every input must be a
/// 32-byte hash ([`ProofError::MalformedHash`]).
pub fn verify_consistency_bytes<P: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    proof: &[P],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), ProofError> {
    let want = consistency_proof_len(size1, size2)?;
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::NonEmptyProofForEqualSizes { len: proof.len() });
        }
        if root1 == root2 {
            return Ok(());
        }
        let r1 = parse_hash(root1, HashField::OldRoot)?;
        let r2 = parse_hash(root2, HashField::NewRoot)?;
        return Err(ProofError::RootMismatch {
            expected: r2,
            calculated: r1,
        });
    }
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let proof = parse_proof(proof)?;
    let r1 = parse_hash(root1, HashField::OldRoot)?;
    let r2 = parse_hash(root2, HashField::NewRoot)?;
    verify_consistency(size1, size2, &proof, &r1, &r2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistency_paths_diverge_above_shift() {
        // The saturating_sub in consistency_shape never actually saturates.
        for size2 in 1..300u64 {
            for size1 in 1..size2 {
                let shift = size1.trailing_zeros() as usize;
                let (inner_full, _) = decompose(size1 - 1, size2);
                assert!(inner_full > shift, "{size1} {size2}");
            }
        }
    }

    #[test]
    fn extreme_sizes_do_not_panic() {
        let h = Hash::default();
        let max = u64::MAX;
        for (index, size) in [(0, max), (max - 1, max), (max, max), (1 << 63, max)] {
            let _ = verify_inclusion(&h, index, size, &[h; 3], &h);
            let _ = inclusion_proof_len(index, size);
        }
        for (s1, s2) in [
            (1, max),
            (max - 1, max),
            (max, max),
            (1 << 63, max),
            (3, max),
        ] {
            let _ = verify_consistency(s1, s2, &[h; 3], &h, &h);
            let _ = consistency_proof_len(s1, s2);
            let empty: [Hash; 0] = [];
            let _ = verify_consistency(s1, s2, &empty, &h, &h);
        }
        // Last leaf of a 2^64-1 leaf tree: one left sibling per set bit.
        assert_eq!(inclusion_proof_len(max - 1, max), Ok(63));
        assert_eq!(consistency_proof_len(max - 1, max), Ok(64));
    }
}
