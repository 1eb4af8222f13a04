//! Proof generation checked against a naive recursive transcription of the
//! RFC 9162 definitions (MTH, PATH, PROOF/SUBPROOF), and generated proofs
//! checked by the verifiers, for every index and size up to 64 leaves.

use mingma_ledger::{
    consistency_proof_len, empty_root, inclusion_proof_len, leaf_hash, node_hash,
    verify_consistency, verify_inclusion, GenerateError, Hash, HashSource, MemoryTree, ProofError,
};

const N: u64 = 64;

/// Largest power of two strictly smaller than `n` (n >= 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162 section 2.1.1 MTH over leaf hashes.
fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = split(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// RFC 9162 section 2.1.3.1 PATH(m, D[n]).
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// RFC 9162 section 2.1.4.1 SUBPROOF(m, D[n], b).
fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = h.0;
    b[bit / 8 % 32] ^= 1 << (bit % 8);
    Hash(b)
}

#[test]
fn known_roots_of_reference_tree() {
    // transparency-dev/merkle testonly.RootHashes() for sizes 1..=8.
    let want = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let entries: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    let mut tree = MemoryTree::new();
    assert_eq!(tree.root(), empty_root());
    for (i, e) in entries.iter().enumerate() {
        tree.push_data(e);
        assert_eq!(tree.root().to_hex(), want[i], "size {}", i + 1);
    }
    for (i, w) in want.iter().enumerate() {
        assert_eq!(tree.root_at(i as u64 + 1).unwrap().to_hex(), *w);
    }
}

#[test]
fn roots_match_reference() {
    let d = leaves(N);
    let full = MemoryTree::from_leaf_hashes(d.iter().copied());
    let mut growing = MemoryTree::new();
    for n in 0..=N as usize {
        let want = mth(&d[..n]);
        assert_eq!(full.root_at(n as u64).unwrap(), want, "root_at({n})");
        assert_eq!(growing.root(), want, "root of {n} leaves");
        assert_eq!(growing.len(), n as u64);
        if n < N as usize {
            assert_eq!(growing.push(d[n]), n as u64);
        }
    }
}

#[test]
fn inclusion_proofs_match_reference_and_verify() {
    let d = leaves(N);
    let tree = MemoryTree::from_leaf_hashes(d.iter().copied());
    let mut checked = 0;
    for size in 1..=N {
        let root = mth(&d[..size as usize]);
        for index in 0..size {
            let proof = tree.inclusion_proof(index, size).unwrap();
            assert_eq!(
                proof,
                path(index as usize, &d[..size as usize]),
                "PATH({index}, {size})"
            );
            assert_eq!(inclusion_proof_len(index, size), Ok(proof.len()));
            let leaf = d[index as usize];
            verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
            checked += 1;

            // Every tampering is rejected.
            assert!(verify_inclusion(&flip(&leaf, 3), index, size, &proof, &root).is_err());
            assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&root, 255)).is_err());
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], i * 7);
                assert!(matches!(
                    verify_inclusion(&leaf, index, size, &bad, &root),
                    Err(ProofError::RootMismatch { .. })
                ));
            }
            let mut longer = proof.clone();
            longer.push(root);
            assert!(matches!(
                verify_inclusion(&leaf, index, size, &longer, &root),
                Err(ProofError::WrongProofLength { .. })
            ));
            if let Some((_, shorter)) = proof.split_last() {
                assert!(matches!(
                    verify_inclusion(&leaf, index, size, shorter, &root),
                    Err(ProofError::WrongProofLength { .. })
                ));
            }
            for other in 0..size {
                if other != index {
                    assert!(
                        verify_inclusion(&leaf, other, size, &proof, &root).is_err(),
                        "leaf {index} verified at index {other} of {size}"
                    );
                }
            }
            assert_eq!(
                verify_inclusion(&leaf, size, size, &proof, &root),
                Err(ProofError::IndexOutOfRange { index: size, size })
            );
            if size < N {
                // Same proof, larger claimed size: rejected.
                let bigger = mth(&d[..size as usize + 1]);
                assert!(verify_inclusion(&leaf, index, size + 1, &proof, &bigger).is_err());
            }
        }
    }
    assert_eq!(checked, N * (N + 1) / 2);
}

#[test]
fn consistency_proofs_match_reference_and_verify() {
    let d = leaves(N);
    let tree = MemoryTree::from_leaf_hashes(d.iter().copied());
    let mut checked = 0;
    for size2 in 1..=N {
        let root2 = mth(&d[..size2 as usize]);
        for size1 in 1..=size2 {
            let root1 = mth(&d[..size1 as usize]);
            let proof = tree.consistency_proof(size1, size2).unwrap();
            assert_eq!(
                proof,
                subproof(size1 as usize, &d[..size2 as usize], true),
                "PROOF({size1}, {size2})"
            );
            assert_eq!(consistency_proof_len(size1, size2), Ok(proof.len()));
            verify_consistency(size1, size2, &proof, &root1, &root2).unwrap();
            checked += 1;

            assert!(verify_consistency(size1, size2, &proof, &flip(&root1, 1), &root2).is_err());
            assert!(verify_consistency(size1, size2, &proof, &root1, &flip(&root2, 2)).is_err());
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], i * 5);
                assert!(
                    verify_consistency(size1, size2, &bad, &root1, &root2).is_err(),
                    "tampered node {i} of PROOF({size1}, {size2}) accepted"
                );
            }
            let mut longer = proof.clone();
            longer.push(root1);
            assert!(verify_consistency(size1, size2, &longer, &root1, &root2).is_err());
            if let Some((_, shorter)) = proof.split_last() {
                assert!(matches!(
                    verify_consistency(size1, size2, shorter, &root1, &root2),
                    Err(ProofError::WrongProofLength { .. })
                ));
            }
            if size1 != size2 {
                assert!(verify_consistency(size1, size2, &proof, &root2, &root1).is_err());
                assert!(matches!(
                    verify_consistency(size2, size1, &proof, &root2, &root1),
                    Err(ProofError::SizeOrder { .. })
                ));
                // A root of a different old size is rejected.
                for other in 1..size2 {
                    if other != size1 {
                        let r = mth(&d[..other as usize]);
                        assert!(verify_consistency(size1, size2, &proof, &r, &root2).is_err());
                    }
                }
            }
        }
    }
    assert_eq!(checked, N * (N + 1) / 2);
}

#[test]
fn consistency_edge_cases() {
    let d = leaves(8);
    let tree = MemoryTree::from_leaf_hashes(d.iter().copied());
    let r3 = tree.root_at(3).unwrap();
    let r5 = tree.root_at(5).unwrap();
    assert_eq!(
        verify_consistency(0, 5, &[], &empty_root(), &r5),
        Err(ProofError::EmptyOldTree)
    );
    assert_eq!(
        verify_consistency(0, 0, &[], &empty_root(), &empty_root()),
        Err(ProofError::EmptyOldTree)
    );
    assert_eq!(
        verify_consistency(5, 5, &[r3], &r5, &r5),
        Err(ProofError::NonEmptyProofForEqualSizes { len: 1 })
    );
    assert_eq!(
        verify_consistency(5, 5, &[], &r3, &r5),
        Err(ProofError::RootMismatch {
            expected: r5,
            calculated: r3
        })
    );
    assert_eq!(verify_consistency(5, 5, &[], &r5, &r5), Ok(()));
    let proof = tree.consistency_proof(3, 5).unwrap();
    assert!(matches!(
        verify_consistency(3, 5, &proof, &r5, &r5),
        Err(ProofError::OldRootMismatch { .. })
    ));
    assert_eq!(
        tree.consistency_proof(0, 5),
        Err(GenerateError::EmptyOldTree)
    );
}

#[test]
fn larger_tree_samples_match_reference() {
    // Non-power-of-two sizes with deep right edges, against the naive reference.
    let n = 1000u64;
    let d = leaves(n);
    let tree = MemoryTree::from_leaf_hashes(d.iter().copied());
    let mut x = 12345u64;
    let mut next = |m: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % m
    };
    for _ in 0..60 {
        let size = 1 + next(n);
        let index = next(size);
        let size1 = 1 + next(size);
        let ds = &d[..size as usize];
        let proof = tree.inclusion_proof(index, size).unwrap();
        assert_eq!(proof, path(index as usize, ds));
        verify_inclusion(&d[index as usize], index, size, &proof, &mth(ds)).unwrap();
        let proof = tree.consistency_proof(size1, size).unwrap();
        assert_eq!(proof, subproof(size1 as usize, ds, true));
        verify_consistency(size1, size, &proof, &mth(&d[..size1 as usize]), &mth(ds)).unwrap();
    }
}

/// A source backed by leaves only (as a store might be), computing perfect
/// subtrees on demand, to show generation does not depend on MemoryTree.
struct LeavesOnly(Vec<Hash>);

impl HashSource for LeavesOnly {
    type Error = String;
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn perfect_subtree(&self, level: u32, index: u64) -> Result<Hash, String> {
        let start = (index << level) as usize;
        let end = start + (1usize << level);
        self.0
            .get(start..end)
            .map(mth)
            .ok_or_else(|| format!("no subtree {level}/{index}"))
    }
}

#[test]
fn generic_source_agrees_with_memory_tree() {
    let d = leaves(37);
    let src = LeavesOnly(d.clone());
    let tree = MemoryTree::from_leaf_hashes(d.iter().copied());
    for size in 1..=37 {
        assert_eq!(
            mingma_ledger::root_at(&src, size),
            Ok(tree.root_at(size).unwrap())
        );
        for index in 0..size {
            assert_eq!(
                mingma_ledger::inclusion_proof(&src, index, size),
                Ok(tree.inclusion_proof(index, size).unwrap())
            );
            let size1 = index + 1;
            assert_eq!(
                mingma_ledger::consistency_proof(&src, size1, size),
                Ok(tree.consistency_proof(size1, size).unwrap())
            );
        }
    }
    assert_eq!(
        mingma_ledger::inclusion_proof(&src, 0, 38),
        Err(GenerateError::BeyondTree {
            size: 38,
            available: 37
        })
    );
}

#[test]
fn garbage_input_is_an_error_never_a_panic() {
    use mingma_ledger::{verify_consistency_bytes, verify_inclusion_bytes};
    let mut x = 0x2545f4914f6cdd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let interesting = [
        0,
        1,
        2,
        3,
        7,
        8,
        9,
        63,
        64,
        65,
        1 << 32,
        1 << 63,
        u64::MAX - 1,
        u64::MAX,
    ];
    let pick = move |r: u64| {
        if r.is_multiple_of(3) {
            interesting[(r / 3 % interesting.len() as u64) as usize]
        } else {
            r >> (r % 64)
        }
    };
    let mut accepted = 0;
    for _ in 0..20_000 {
        let (a, b) = (pick(next()), pick(next()));
        let proof: Vec<Vec<u8>> = (0..next() % 70)
            .map(|_| {
                let len = if next() % 4 == 0 {
                    (next() % 40) as usize
                } else {
                    32
                };
                (0..len).map(|_| next() as u8).collect()
            })
            .collect();
        let h = |n: u64| -> Vec<u8> { (0..32).map(|i| (n >> (i % 8)) as u8).collect() };
        let (r1, r2) = (h(next()), h(next()));
        accepted += usize::from(verify_inclusion_bytes(&r1, a, b, &proof, &r2).is_ok());
        accepted += usize::from(verify_consistency_bytes(a, b, &proof, &r1, &r2).is_ok());
        // Typed API on the well-formed subset.
        let typed: Vec<Hash> = proof
            .iter()
            .filter_map(|p| Hash::from_slice(p).ok())
            .collect();
        let (t1, t2) = (
            Hash::from_slice(&r1).unwrap(),
            Hash::from_slice(&r2).unwrap(),
        );
        accepted += usize::from(verify_inclusion(&t1, a, b, &typed, &t2).is_ok());
        accepted += usize::from(verify_consistency(a, b, &typed, &t1, &t2).is_ok());
        let _ = inclusion_proof_len(a, b);
        let _ = consistency_proof_len(a, b);
    }
    assert_eq!(accepted, 0, "random garbage verified");
}
