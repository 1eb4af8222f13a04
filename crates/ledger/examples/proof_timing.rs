//! Proof generation timing on a large tree (10 million leaves, about 640 MB of
//! hashes). A measurement, not a test: run it in release mode,
//!
//! ```text
//! cargo run -p mingma-ledger --release --example proof_timing
//! ```
//!
//! Set `LEDGER_PERF_LEAVES` to change the tree size.

use std::time::Instant;

use mingma_ledger::{leaf_hash, verify_consistency, verify_inclusion, MemoryTree};

fn main() {
    let n: u64 = std::env::var("LEDGER_PERF_LEAVES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let t = Instant::now();
    let mut tree = MemoryTree::with_capacity(n as usize);
    for i in 0..n {
        tree.push(leaf_hash(&i.to_le_bytes()));
    }
    let build = t.elapsed();
    let root = tree.root();
    eprintln!(
        "built {n} leaves in {build:?} ({:.0} ns/append)",
        build.as_nanos() as f64 / n as f64
    );

    let mut x = 0x9e3779b97f4a7c15u64;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    const PROOFS: u32 = 20_000;

    // Inclusion proofs in the full tree and in random earlier trees.
    let queries: Vec<(u64, u64)> = (0..PROOFS)
        .map(|i| {
            let size = if i % 2 == 0 { n } else { 1 + next(n) };
            (next(size), size)
        })
        .collect();
    let t = Instant::now();
    let mut total = 0usize;
    for &(index, size) in &queries {
        total += tree.inclusion_proof(index, size).unwrap().len();
    }
    let per = t.elapsed() / PROOFS;
    eprintln!(
        "inclusion proof: {per:?} per proof (avg {} nodes)",
        total / PROOFS as usize
    );

    let t = Instant::now();
    for &(index, size) in queries.iter().step_by(2) {
        let proof = tree.inclusion_proof(index, size).unwrap();
        verify_inclusion(&tree.leaf(index).unwrap(), index, size, &proof, &root).unwrap();
    }
    eprintln!(
        "inclusion proof + verify (full tree): {:?} per proof",
        t.elapsed() / (PROOFS / 2)
    );

    let pairs: Vec<(u64, u64)> = (0..PROOFS)
        .map(|i| {
            let size2 = if i % 2 == 0 { n } else { 1 + next(n) };
            (1 + next(size2), size2)
        })
        .collect();
    let t = Instant::now();
    for &(size1, size2) in &pairs {
        tree.consistency_proof(size1, size2).unwrap();
    }
    let per = t.elapsed() / PROOFS;
    eprintln!("consistency proof: {per:?} per proof");

    let t = Instant::now();
    for &(size1, size2) in pairs.iter().take(2_000) {
        let proof = tree.consistency_proof(size1, size2).unwrap();
        let r1 = tree.root_at(size1).unwrap();
        let r2 = tree.root_at(size2).unwrap();
        verify_consistency(size1, size2, &proof, &r1, &r2).unwrap();
    }
    eprintln!(
        "consistency proof + 2 roots + verify: {:?} per proof",
        t.elapsed() / 2_000
    );
}
