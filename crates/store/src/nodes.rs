//! Proofs over a remote tree in one round trip.
//!
//! The ledger's generation functions read perfect-subtree hashes through the
//! synchronous [`HashSource`]; which nodes they read depends only on sizes and
//! indexes, never on the hashes. So a backend whose reads are network round trips
//! runs the computation twice: once over a source that only notes the nodes asked
//! for, then, after fetching all of them in one query, over those.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;

use mingma_ledger::{GenerateError, Hash, HashSource};

use crate::{Result, StoreError};

/// Maps a generation error to a store error: a range error for bad sizes or indexes,
/// the source's own error otherwise.
pub fn generated<T>(result: std::result::Result<T, GenerateError<StoreError>>) -> Result<T> {
    result.map_err(|e| match e {
        GenerateError::Source(e) => e,
        other => StoreError::Range(other.to_string()),
    })
}

/// A perfect subtree address: (level, index).
pub type NodeAddress = (u32, u64);

struct Noting {
    size: u64,
    asked: RefCell<Vec<NodeAddress>>,
}

impl HashSource for Noting {
    type Error = StoreError;
    fn size(&self) -> u64 {
        self.size
    }
    fn perfect_subtree(&self, level: u32, index: u64) -> Result<Hash> {
        self.asked.borrow_mut().push((level, index));
        Ok(Hash::default())
    }
}

struct Fetched {
    size: u64,
    nodes: HashMap<NodeAddress, Hash>,
}

impl HashSource for Fetched {
    type Error = StoreError;
    fn size(&self) -> u64 {
        self.size
    }
    fn perfect_subtree(&self, level: u32, index: u64) -> Result<Hash> {
        self.nodes.get(&(level, index)).copied().ok_or_else(|| {
            StoreError::Corrupt(format!("ledger node ({level}, {index}) is missing"))
        })
    }
}

/// Runs `compute` over a tree of `size` leaves whose nodes `fetch` reads in one
/// batch (given the addresses, it returns their hashes).
pub async fn with_fetched_nodes<T, Fut>(
    size: u64,
    compute: impl Fn(&dyn HashSource<Error = StoreError>) -> Result<T>,
    fetch: impl FnOnce(Vec<NodeAddress>) -> Fut,
) -> Result<T>
where
    Fut: Future<Output = Result<HashMap<NodeAddress, Hash>>>,
{
    let noting = Noting {
        size,
        asked: RefCell::new(Vec::new()),
    };
    compute(&noting)?;
    let mut asked = noting.asked.into_inner();
    asked.sort_unstable();
    asked.dedup();
    let nodes = fetch(asked).await?;
    compute(&Fetched { size, nodes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mingma_ledger::{leaf_hash, MemoryTree};

    #[test]
    fn two_passes_give_the_proofs_of_the_tree() {
        let tree = MemoryTree::from_leaf_hashes((0u64..77).map(|i| leaf_hash(&i.to_be_bytes())));
        let fetch = |asked: Vec<NodeAddress>| {
            let nodes = asked
                .into_iter()
                .map(|(l, i)| ((l, i), tree.perfect_subtree(l, i).expect("node")))
                .collect();
            std::future::ready(Ok(nodes))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for (index, size) in [(0, 1), (5, 77), (76, 77), (40, 64)] {
            let proof = runtime
                .block_on(with_fetched_nodes(
                    77,
                    |src| generated(mingma_ledger::inclusion_proof(src, index, size)),
                    fetch,
                ))
                .expect("proof");
            assert_eq!(proof, tree.inclusion_proof(index, size).expect("proof"));
        }
        let bad = runtime.block_on(with_fetched_nodes(
            77,
            |src| generated(mingma_ledger::inclusion_proof(src, 80, 77)),
            fetch,
        ));
        assert!(matches!(bad, Err(StoreError::Range(_))));
    }
}
