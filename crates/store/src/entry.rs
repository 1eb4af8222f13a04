//! What a transparency-log leaf says. The first byte of a leaf names its type; the
//! rest is the payload of that type. No leaf holds personal data: records and code
//! changes appear only as salted commitments.
//!
//! | type | entry | payload |
//! |---|---|---|
//! | `0x01` | an evidence record | [`LeafEntry`] bytes (id, kind, owner, times, commitment) |
//! | `0x02` | a batch of code changes | version `0x01`, count (u64 BE), root of the batch tree (32 bytes), ledger size the batch reflects (u64 BE), rule set id and version (u32 BE length + UTF-8 each) |
//! | `0x03` | a retention purge | version `0x01`, count (u64 BE), then each purged leaf index (u64 BE), ascending |
//! | `0x04` | an authority act | opaque to the store: `mingma_authority::SignedAct` bytes (a key, role, data source or rule set registered; a tracing query) |
//! | `0x05` | an appeal step | opaque to the store: `mingma_server::appeals::StepEntry` bytes (a ticket opened, noted, answered, escalated or closed; a caller's consent to a hotline lookup), naming authorities and sources, never a person: the holder and the person acting appear only in a salted commitment |
//!
//! The batch tree of a code-change entry is an RFC 6962 tree whose leaves are the
//! per-person change commitments (see [`crate::CodeChange`]), in the order stored;
//! a holder's receipt for a change is an inclusion proof in the batch tree plus one
//! for the batch leaf in the log.

use mingma_core::commitment::LeafEntry;
use mingma_ledger::Hash;

/// A decoded leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEntry {
    /// An evidence record was appended.
    Record(LeafEntry),
    /// Code states were changed by the derivation engine.
    CodeChanges(CodeChangeBatch),
    /// Scans past the retention window were purged.
    Purge(Purge),
    /// An authority act (the store never reads it; `mingma-authority` does).
    Act(Vec<u8>),
    /// A step of an appeal ticket or a hotline consent (the store never reads it;
    /// the server's `appeals` module does).
    Appeal(Vec<u8>),
}

/// The summary of a batch of code changes that one leaf commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChangeBatch {
    /// How many people's codes changed.
    pub count: u64,
    /// Root of the RFC 6962 tree over the per-person change commitments.
    pub root: Hash,
    /// The ledger size (number of leaves) whose evidence the changes reflect.
    pub reflects: u64,
    /// Rule set id.
    pub rule_set: String,
    /// Rule set version.
    pub rule_set_version: String,
}

/// A retention purge: the leaves whose records were deleted. The leaves themselves
/// stay, so the log still verifies; `ledger verify` tells a purged record from a
/// deleted one by this entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purge {
    /// Leaf indexes of the purged records, ascending.
    pub leaves: Vec<u64>,
}

/// Why leaf bytes are not a ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Empty leaf.
    #[error("empty leaf")]
    Empty,
    /// Unknown entry type byte.
    #[error("unknown ledger entry type 0x{0:02x}")]
    UnknownType(u8),
    /// Unknown payload version.
    #[error("unknown payload version {0}")]
    Version(u8),
    /// The payload is cut short or has bytes left over.
    #[error("malformed {0} payload")]
    Malformed(&'static str),
    /// The record payload does not decode.
    #[error("record entry: {0}")]
    Record(String),
}

const RECORD: u8 = 0x01;
const CODE_CHANGES: u8 = 0x02;
const PURGE: u8 = 0x03;
const ACT: u8 = 0x04;
const APPEAL: u8 = 0x05;
const PAYLOAD_VERSION: u8 = 0x01;

impl LedgerEntry {
    /// The leaf bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            LedgerEntry::Record(entry) => {
                let mut out = vec![RECORD];
                out.extend(entry.to_bytes());
                out
            }
            LedgerEntry::CodeChanges(batch) => {
                let mut out = vec![CODE_CHANGES, PAYLOAD_VERSION];
                out.extend(batch.count.to_be_bytes());
                out.extend(batch.root.as_bytes());
                out.extend(batch.reflects.to_be_bytes());
                for text in [&batch.rule_set, &batch.rule_set_version] {
                    out.extend((text.len() as u32).to_be_bytes());
                    out.extend(text.as_bytes());
                }
                out
            }
            LedgerEntry::Purge(purge) => {
                let mut out = vec![PURGE, PAYLOAD_VERSION];
                out.extend((purge.leaves.len() as u64).to_be_bytes());
                for leaf in &purge.leaves {
                    out.extend(leaf.to_be_bytes());
                }
                out
            }
            LedgerEntry::Act(act) => {
                let mut out = vec![ACT];
                out.extend_from_slice(act);
                out
            }
            LedgerEntry::Appeal(step) => {
                let mut out = vec![APPEAL];
                out.extend_from_slice(step);
                out
            }
        }
    }

    /// Decodes leaf bytes, strictly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntryError> {
        let (&kind, payload) = bytes.split_first().ok_or(EntryError::Empty)?;
        match kind {
            RECORD => LeafEntry::from_bytes(payload)
                .map(LedgerEntry::Record)
                .map_err(|e| EntryError::Record(e.to_string())),
            CODE_CHANGES => {
                let mut r = Reader::new(payload, "code-change");
                r.version()?;
                let count = r.u64()?;
                let root = Hash::from_bytes(r.array::<32>()?);
                let reflects = r.u64()?;
                let rule_set = r.text()?;
                let rule_set_version = r.text()?;
                r.end()?;
                Ok(LedgerEntry::CodeChanges(CodeChangeBatch {
                    count,
                    root,
                    reflects,
                    rule_set,
                    rule_set_version,
                }))
            }
            PURGE => {
                let mut r = Reader::new(payload, "purge");
                r.version()?;
                let count = r.u64()?;
                let mut leaves = Vec::new();
                for _ in 0..count {
                    leaves.push(r.u64()?);
                }
                r.end()?;
                if leaves.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(EntryError::Malformed("purge"));
                }
                Ok(LedgerEntry::Purge(Purge { leaves }))
            }
            ACT if payload.is_empty() => Err(EntryError::Malformed("act")),
            ACT => Ok(LedgerEntry::Act(payload.to_vec())),
            APPEAL if payload.is_empty() => Err(EntryError::Malformed("appeal")),
            APPEAL => Ok(LedgerEntry::Appeal(payload.to_vec())),
            other => Err(EntryError::UnknownType(other)),
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { bytes, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], EntryError> {
        if self.bytes.len() < n {
            return Err(EntryError::Malformed(self.what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EntryError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn version(&mut self) -> Result<(), EntryError> {
        match self.array::<1>()? {
            [PAYLOAD_VERSION] => Ok(()),
            [v] => Err(EntryError::Version(v)),
        }
    }

    fn u64(&mut self) -> Result<u64, EntryError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn text(&mut self) -> Result<String, EntryError> {
        let len = u32::from_be_bytes(self.array()?) as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| EntryError::Malformed(self.what))
    }

    fn end(&self) -> Result<(), EntryError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(EntryError::Malformed(self.what))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_truncations_are_refused() {
        let entries = [
            LedgerEntry::CodeChanges(CodeChangeBatch {
                count: 3,
                root: Hash::from_bytes([7; 32]),
                reflects: 42,
                rule_set: "mingma-default".into(),
                rule_set_version: "2026.1".into(),
            }),
            LedgerEntry::Purge(Purge {
                leaves: vec![1, 5, 9],
            }),
        ];
        for entry in entries {
            let bytes = entry.to_bytes();
            assert_eq!(LedgerEntry::from_bytes(&bytes), Ok(entry.clone()));
            for cut in 0..bytes.len() {
                assert!(
                    LedgerEntry::from_bytes(&bytes[..cut]).is_err(),
                    "cut at {cut}"
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(LedgerEntry::from_bytes(&longer).is_err());
        }
        assert_eq!(
            LedgerEntry::from_bytes(&[0x09]),
            Err(EntryError::UnknownType(0x09))
        );
        let unsorted = LedgerEntry::Purge(Purge { leaves: vec![5, 1] }).to_bytes();
        assert!(LedgerEntry::from_bytes(&unsorted).is_err());
    }
}
