//! `ledger verify`: recompute everything the log claims from what the store holds.
//!
//! 1. Every leaf's hash is the hash of its bytes, and every leaf decodes.
//! 2. Every stored record is the record its leaf commits to (same id, same leaf,
//!    commitment opens with the stored salt); every record leaf has its row, unless a
//!    purge leaf lists it. So altering, deleting, swapping or back-dating a row, or
//!    inserting one without a leaf, is found and named by leaf index.
//! 3. The tree the store serves (its node hashes) is the RFC 6962 tree of the leaves.
//! 4. Every code-change batch leaf commits to the stored changes of that batch.
//! 5. Every stored checkpoint is signed by the log's key (when given), names this
//!    log's origin, and matches the recomputed root at its size; consecutive
//!    checkpoints are consistent.
//! 6. Every cached code state is what derivation gives again on the evidence it
//!    reflected.
//! 7. Every holder's code history, as the store serves it, is their changes in the
//!    batches, oldest first, and their cached code state is the last of them. So a
//!    history rewritten to skip or repeat a change, or a code state pointed back at
//!    an earlier change, is found and named by person.
//!
//! Given a [`Vouch`], step 2 also asks it of every stored record: a record whose
//! recorder must sign and whose seal is missing, forged or someone else's is named,
//! and step 6 re-derives without it (as the engine does), so such a record is
//! reported and colours nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use mingma_core::commitment::LeafEntry;
use mingma_core::{derive_brief, PersonKey, RuleSet};
use mingma_ledger::{leaf_hash, verify_consistency, Hash, HashSource, MemoryTree, NoteVerifier};

use crate::{CodeChange, LedgerEntry, Result, Store};

/// What verification found wrong, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A leaf, or the record it commits to.
    Leaf {
        /// Leaf index.
        index: u64,
        /// What is wrong.
        problem: String,
    },
    /// The served tree differs from the tree of the leaves.
    Tree {
        /// What is wrong.
        problem: String,
    },
    /// A stored checkpoint.
    Checkpoint {
        /// Its tree size.
        size: u64,
        /// What is wrong.
        problem: String,
    },
    /// A cached code state.
    CodeState {
        /// Whose.
        person: PersonKey,
        /// What is wrong.
        problem: String,
    },
    /// A holder's code history as the store serves it.
    History {
        /// Whose.
        person: PersonKey,
        /// What is wrong.
        problem: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Leaf { index, problem } => write!(f, "leaf {index}: {problem}"),
            Finding::Tree { problem } => write!(f, "tree: {problem}"),
            Finding::Checkpoint { size, problem } => {
                write!(f, "checkpoint at size {size}: {problem}")
            }
            Finding::CodeState { person, problem } => {
                write!(f, "code state of person {}: {problem}", person.short())
            }
            Finding::History { person, problem } => {
                write!(f, "code history of person {}: {problem}", person.short())
            }
        }
    }
}

/// What verification checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Leaves checked.
    pub leaves: u64,
    /// Record rows checked against their leaves.
    pub records: u64,
    /// Record leaves whose rows a logged purge removed.
    pub purged: u64,
    /// Code-change batches checked.
    pub batches: u64,
    /// Code states re-derived.
    pub code_states: u64,
    /// Holders' code histories checked against the batches.
    pub histories: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// The appeal-step leaves (index, payload), for a caller that reads them (the
    /// server's format: `mingma ledger verify` checks their officials' signatures).
    pub appeal_steps: Vec<(u64, Vec<u8>)>,
    /// The root of the whole log, recomputed.
    pub root: Option<Hash>,
    /// Everything found wrong, in the order checked (leaves first, by index).
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// Whether nothing was found wrong.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Whose key signs this log's checkpoints, and the log's origin line.
pub struct LogIdentity<'a> {
    /// The verifier of the log's checkpoint signatures.
    pub verifier: &'a NoteVerifier,
    /// The origin line checkpoints must carry.
    pub origin: &'a str,
}

const PAGE: u64 = 4096;

/// Decides whether a stored record counts: one whose recorder must sign (an
/// official, a data source) counts only with a valid seal by a registered key.
/// `mingma_authority::Vouching` is the implementation; the store does not know keys.
pub trait Vouch: Sync {
    /// `Err(why)` if `record` does not count.
    fn vouch(&self, record: &mingma_core::Evidence) -> std::result::Result<(), String>;
}

/// Verifies `store` (see the module documentation). `rules` re-derives the code
/// states; a state made under another rule set version is reported, not skipped.
/// Without `vouch`, seals are not checked (the caller must check them: `mingma
/// ledger verify` always does).
pub async fn verify<S: Store>(
    store: &S,
    log: Option<LogIdentity<'_>>,
    rules: &RuleSet,
    vouch: Option<&dyn Vouch>,
) -> Result<VerifyReport> {
    let mut refused: BTreeSet<mingma_core::RecordId> = BTreeSet::new();
    let mut report = VerifyReport::default();
    let mut tree = MemoryTree::new();
    let mut records: BTreeMap<u64, LeafEntry> = BTreeMap::new();
    let mut batches: Vec<(u64, crate::CodeChangeBatch)> = Vec::new();
    let mut purged: BTreeSet<u64> = BTreeSet::new();

    // 1. Leaves.
    let size = store.ledger_size().await?;
    let mut next = 0;
    while next < size {
        let page = store.leaves(next, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for leaf in page {
            if leaf.index != next {
                report.findings.push(Finding::Leaf {
                    index: next,
                    problem: format!("missing (the next stored leaf is {})", leaf.index),
                });
                return Ok(report);
            }
            let hash = leaf_hash(&leaf.data);
            if hash != leaf.hash {
                report.findings.push(Finding::Leaf {
                    index: leaf.index,
                    problem: "stored hash is not the hash of the stored bytes".into(),
                });
            }
            tree.push(hash);
            match LedgerEntry::from_bytes(&leaf.data) {
                Ok(LedgerEntry::Record(entry)) => {
                    records.insert(leaf.index, entry);
                }
                Ok(LedgerEntry::CodeChanges(batch)) => batches.push((leaf.index, batch)),
                // Acts are checked by replaying them (`mingma_authority::Registry`).
                Ok(LedgerEntry::Act(_)) => {}
                // Appeal steps commit to the server's tickets; they are handed to the
                // caller, which knows their format.
                Ok(LedgerEntry::Appeal(step)) => report.appeal_steps.push((leaf.index, step)),
                Ok(LedgerEntry::Purge(purge)) => {
                    for index in purge.leaves {
                        if index >= leaf.index {
                            report.findings.push(Finding::Leaf {
                                index: leaf.index,
                                problem: format!(
                                    "purge lists leaf {index}, which is not before it"
                                ),
                            });
                        }
                        purged.insert(index);
                    }
                }
                Err(e) => report.findings.push(Finding::Leaf {
                    index: leaf.index,
                    problem: format!("does not decode: {e}"),
                }),
            }
            next += 1;
        }
    }
    report.leaves = next;

    // 2. Rows against leaves: every record leaf has its row, unchanged...
    for (index, entry) in &records {
        let problem = match store.record(&entry.record).await {
            Ok(Some(row)) => {
                report.records += 1;
                if row.leaf != *index {
                    Some(format!(
                        "the stored row of record `{}` claims leaf {} (rows swapped or replaced)",
                        entry.record, row.leaf
                    ))
                } else if *entry != LeafEntry::for_record(&row.evidence, &row.salt) {
                    Some(format!(
                        "record `{}` no longer matches its commitment (altered or back-dated)",
                        entry.record
                    ))
                } else if purged.contains(index) {
                    Some(format!(
                        "record `{}` is still stored although a purge removed it",
                        entry.record
                    ))
                } else if let Some(Err(why)) = vouch.map(|v| v.vouch(&row.evidence)) {
                    refused.insert(row.evidence.id.clone());
                    Some(format!("does not count and colours no code: {why}"))
                } else {
                    None
                }
            }
            Ok(None) if purged.contains(index) => {
                report.purged += 1;
                None
            }
            Ok(None) => Some(format!(
                "record `{}` is missing and no purge removed it",
                entry.record
            )),
            Err(e) => Some(format!("record `{}` cannot be read: {e}", entry.record)),
        };
        if let Some(problem) = problem {
            report.findings.push(Finding::Leaf {
                index: *index,
                problem,
            });
        }
    }
    // ...and every row has its leaf (a row inserted outside the ledger has none).
    let mut from = 0;
    loop {
        let page = match store.records_from(from, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                report.findings.push(Finding::Tree {
                    problem: format!("stored rows from leaf {from} cannot be read: {e}"),
                });
                break;
            }
        };
        let Some(last) = page.last().map(|r| r.leaf) else {
            break;
        };
        for row in page {
            let claimed = records.get(&row.leaf).map(|e| &e.record);
            if claimed != Some(&row.evidence.id) {
                report.findings.push(Finding::Leaf {
                    index: row.leaf,
                    problem: match claimed {
                        Some(id) => format!(
                            "holds record `{id}`, but the row stored at this leaf is `{}`",
                            row.evidence.id
                        ),
                        None => format!(
                            "record `{}` is stored at this leaf, which is not its record entry (inserted outside the ledger?)",
                            row.evidence.id
                        ),
                    },
                });
            }
        }
        from = last + 1;
    }
    report.findings.sort_by_key(|f| match f {
        Finding::Leaf { index, .. } => *index,
        _ => u64::MAX,
    });

    // 3. The served tree: every stored perfect-subtree hash is the recomputed one.
    let root = tree.root();
    report.root = Some(root);
    'levels: for level in 1..64u32 {
        let expected = size >> level;
        if expected == 0 {
            break;
        }
        let mut index = 0;
        while index < expected {
            let page = store.nodes(level, index, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for (at, hash) in page {
                let want = tree.perfect_subtree(level, at).ok();
                if at != index || want != Some(hash) {
                    report.findings.push(Finding::Tree {
                        problem: format!(
                            "stored node at level {level}, index {at} is not the hash of its leaves"
                        ),
                    });
                    break 'levels;
                }
                index += 1;
            }
        }
        if index != expected {
            report.findings.push(Finding::Tree {
                problem: format!(
                    "level {level} has {index} stored nodes, the leaves make {expected}"
                ),
            });
            break;
        }
    }
    if size > 0 {
        let served = store.root(size).await?;
        if served != root {
            report.findings.push(Finding::Tree {
                problem: format!("the store serves root {served}, the leaves give {root}"),
            });
        }
    }

    // 4. Code-change batches, and each person's changes in them, oldest first.
    let mut histories: BTreeMap<PersonKey, Vec<(u64, u64)>> = BTreeMap::new();
    for (index, batch) in &batches {
        report.batches += 1;
        let changes = store.code_change_batch(*index).await?;
        for c in &changes {
            histories
                .entry(c.change.person())
                .or_default()
                .push((c.leaf, c.position));
        }
        let batch_tree = MemoryTree::from_leaf_hashes(
            changes
                .iter()
                .map(|c| leaf_hash(&c.change.commitment(&c.salt))),
        );
        if changes.len() as u64 != batch.count || batch_tree.root() != batch.root {
            report.findings.push(Finding::Leaf {
                index: *index,
                problem: format!(
                    "the {} stored code changes of this batch are not the {} it commits to",
                    changes.len(),
                    batch.count
                ),
            });
        }
    }

    // 5. Checkpoints.
    let checkpoints = store.checkpoints().await?;
    let mut previous: Option<(u64, Hash)> = None;
    for stored in &checkpoints {
        report.checkpoints += 1;
        let mut problems = Vec::new();
        if let Some(log) = &log {
            match log
                .verifier
                .verify_checkpoint(stored.note.as_bytes(), log.origin)
            {
                Ok(checkpoint)
                    if checkpoint.size != stored.size || checkpoint.root != stored.root =>
                {
                    problems
                        .push("the signed note says another size or root than stored".to_owned())
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("signature or note: {e}")),
            }
        }
        match tree.root_at(stored.size) {
            Ok(at) if at == stored.root => {}
            Ok(at) => problems.push(format!("root {} is not the log's root {at}", stored.root)),
            Err(e) => problems.push(e.to_string()),
        }
        if let Some((size1, root1)) = previous.filter(|(size1, _)| *size1 > 0) {
            match store.consistency_proof(size1, stored.size).await {
                Ok(proof) => {
                    if let Err(e) =
                        verify_consistency(size1, stored.size, &proof, &root1, &stored.root)
                    {
                        problems.push(format!(
                            "not consistent with the checkpoint at size {size1}: {e}"
                        ));
                    }
                }
                Err(e) => problems.push(format!("no consistency proof from size {size1}: {e}")),
            }
        }
        for problem in problems {
            report.findings.push(Finding::Checkpoint {
                size: stored.size,
                problem,
            });
        }
        previous = Some((stored.size, stored.root));
    }

    // 6. Code states.
    let states = store.code_states().await?;
    for state in &states {
        report.code_states += 1;
        let change = &state.change;
        let person = change.person();
        if change.rule_set() != (rules.id.as_str(), rules.version.as_str()) {
            let (id, version) = change.rule_set();
            report.findings.push(Finding::CodeState {
                person,
                problem: format!(
                    "made under rule set {id} {version}, which is not the one given to re-derive"
                ),
            });
            continue;
        }
        let evidence: Vec<_> = store
            .evidence_about(person)
            .await?
            .into_iter()
            .filter(|r| r.leaf < change.reflects() && !refused.contains(&r.evidence.id))
            .map(|r| r.evidence)
            .collect();
        let decision = derive_brief(
            &evidence,
            &person,
            change.valid_at(),
            change.known_at(),
            rules,
        );
        let again = CodeChange::from_decision(decision, change.reflects());
        if !again.same_code(change) {
            report.findings.push(Finding::CodeState {
                person,
                problem: format!(
                    "stored {} ({}) but the evidence it reflects gives {} ({}), valid at {}",
                    change.colour(),
                    change.reason().unwrap_or("-"),
                    again.colour(),
                    again.reason().unwrap_or("-"),
                    change.valid_at()
                ),
            });
        }
    }

    // 7. Histories, and the code states at their ends.
    let mut holders: BTreeMap<PersonKey, usize> = BTreeMap::new();
    for state in &states {
        *holders.entry(state.change.person()).or_default() += 1;
    }
    for (person, count) in &holders {
        if *count > 1 {
            report.findings.push(Finding::CodeState {
                person: *person,
                problem: format!("{count} stored code states hold this person's changes"),
            });
        }
    }
    for (person, batched) in &histories {
        report.histories += 1;
        holders.remove(person);
        match store.code_changes_of(*person).await {
            Ok(served) => {
                let served: Vec<(u64, u64)> = served.iter().map(|c| (c.leaf, c.position)).collect();
                if served != *batched {
                    report.findings.push(Finding::History {
                        person: *person,
                        problem: format!(
                            "serves the changes at {} but the batches hold {}",
                            at_list(&served),
                            at_list(batched)
                        ),
                    });
                }
            }
            Err(e) => report.findings.push(Finding::History {
                person: *person,
                problem: format!("cannot be read: {e}"),
            }),
        }
        let latest = batched.last().copied();
        let state = store.code_state(*person).await;
        let problem = match state.and_then(|s| s.map(|s| s.held_by(*person)).transpose()) {
            Ok(Some(state)) if Some((state.leaf, state.position)) != latest => Some(format!(
                "is the change at {}, not the latest in the batches ({})",
                at_list(&[(state.leaf, state.position)]),
                at_list(&latest.into_iter().collect::<Vec<_>>())
            )),
            Ok(Some(_)) => None,
            Ok(None) => Some("is missing, though the batches change this code".to_owned()),
            Err(e) => Some(format!("cannot be read: {e}")),
        };
        if let Some(problem) = problem {
            report.findings.push(Finding::CodeState {
                person: *person,
                problem,
            });
        }
    }
    for person in holders.into_keys() {
        report.findings.push(Finding::CodeState {
            person,
            problem: "no batch holds a change of this person's code".into(),
        });
    }
    Ok(report)
}

/// `(leaf, position)` pairs as `leaf/position, …` (`none` if empty).
fn at_list(at: &[(u64, u64)]) -> String {
    if at.is_empty() {
        return "none".into();
    }
    at.iter()
        .map(|(leaf, position)| format!("{leaf}/{position}"))
        .collect::<Vec<_>>()
        .join(", ")
}
