//! # mingma-ledger: the transparency-log core of Mingma
//!
//! Mingma publishes every issued health code into an append-only
//! transparency log, so that anyone can check that the log never rewrites
//! history and that a given entry is in it. This crate is the pure,
//! storage-agnostic core of that log:
//!
//! - RFC 6962 / RFC 9162 hashing: [`leaf_hash`], [`node_hash`],
//!   [`empty_root`] and the [`Hash`](struct@Hash) type;
//! - Merkle tree roots, inclusion proofs and consistency proofs, generated
//!   over any [`HashSource`] ([`root_at`], [`inclusion_proof`],
//!   [`consistency_proof`]) with [`MemoryTree`] as the in-memory source;
//! - verification of those proofs ([`verify_inclusion`],
//!   [`verify_consistency`]) with a precise [`ProofError`];
//! - C2SP checkpoints ([`Checkpoint`]) in Ed25519 signed notes
//!   ([`CheckpointSigner`], [`NoteVerifier`], [`SignedNote`]).
//!
//! ## What this crate must never do
//!
//! - **No IO**: no files, network, clocks or environment. Callers pass bytes
//!   in and get values out; a storage backend plugs in through
//!   [`HashSource`].
//! - **No database** and **no async**: the store crate owns persistence and
//!   scheduling; everything here is synchronous, deterministic computation.
//! - **Never hold personal data**: leaves are opaque bytes, hashed by
//!   [`leaf_hash`] and never parsed, logged or kept. The tree only stores
//!   hashes. Whoever builds a leaf is responsible for putting no personal
//!   data in it.
//! - **Never panic on input**: malformed proofs, sizes, indices, notes and
//!   keys are answered with an `Err`, never a panic; there is no `unsafe`.
//!
//! ## Example
//!
//! ```
//! use mingma_ledger::{leaf_hash, verify_inclusion, verify_consistency, MemoryTree};
//!
//! let mut tree = MemoryTree::new();
//! for entry in [&b"a"[..], b"b", b"c", b"d", b"e"] {
//!     tree.push_data(entry);
//! }
//! let root = tree.root();
//! let proof = tree.inclusion_proof(2, 5).unwrap();
//! verify_inclusion(&leaf_hash(b"c"), 2, 5, &proof, &root).unwrap();
//!
//! let old_root = tree.root_at(3).unwrap();
//! let proof = tree.consistency_proof(3, 5).unwrap();
//! verify_consistency(3, 5, &proof, &old_root, &root).unwrap();
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod checkpoint;
mod frontier;
mod hash;
mod merkle;
mod note;
mod verify;

pub use checkpoint::Checkpoint;
pub use frontier::{CompletedNode, Frontier};
pub use hash::{empty_root, leaf_hash, node_hash, Hash, HashParseError};
pub use merkle::{
    consistency_proof, inclusion_proof, root_at, GenerateError, HashSource, MemoryTree,
    NodeOutOfRange,
};
pub use note::{
    ed25519_key_id, is_valid_key_name, CheckpointSigner, NoteError, NoteSignature, NoteVerifier,
    SignedNote, ED25519_SIGNATURE_TYPE, MAX_SIGNATURES,
};
pub use verify::{
    consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof, verify_consistency,
    verify_consistency_bytes, verify_inclusion, verify_inclusion_bytes, HashField, ProofError,
};

/// The Ed25519 key types used by [`CheckpointSigner`] and [`NoteVerifier`],
/// re-exported so callers need not depend on `ed25519-dalek` themselves.
pub use ed25519_dalek::{SigningKey, VerifyingKey};
