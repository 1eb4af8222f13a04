//! Receipts (`mingma-receipt/1`): issued from a store, checked offline with nothing
//! but the log's verifier key and origin; and the signing of the log's checkpoints,
//! which receipts rest on. Shared by the `mingma` command and the server.
//!
//! A receipt (`"format": "mingma-receipt/1"`, documented in the README) proves that a
//! record, or one person's code change, is in the log under a signed checkpoint, and
//! lets its holder open the leaf's salted commitment:
//!
//! - `type: "record"`: the record's leaf (bytes, index), the inclusion proof of that
//!   leaf in the checkpoint's tree, the checkpoint's signed note, and the record's
//!   canonical bytes and salt.
//! - `type: "code_change"`: the same for the batch leaf, plus the change's canonical
//!   bytes and salt and the inclusion proof of its commitment in the batch tree
//!   whose root the batch leaf holds: a two-level proof.
//!
//! A receipt holds the record itself (canonical bytes include the person key and
//! everything the record says): it is for the person it concerns.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use mingma_core::commitment::Salt;
use mingma_core::{canonical_bytes, decode_canonical, RecordId};
use mingma_ledger::{
    empty_root, leaf_hash, verify_consistency, verify_inclusion, Checkpoint, CheckpointSigner,
    Hash, MemoryTree, NoteError, NoteVerifier, ProofError, SignedNote,
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{code_change_commitment, CodeChange, LedgerEntry, Store, StoredCheckpoint};

/// Why a receipt could not be issued, or a checkpoint signed: the store failed, or
/// the request cannot be met (the message says why and what to do).
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
    /// The request cannot be met.
    #[error("{0}")]
    Refused(String),
}

macro_rules! refuse {
    ($($arg:tt)*) => { return Err(ReceiptError::Refused(format!($($arg)*))) };
}
macro_rules! refused {
    ($($arg:tt)*) => { ReceiptError::Refused(format!($($arg)*)) };
}
/// The format name every receipt carries.
pub const FORMAT: &str = "mingma-receipt/1";

// ---------------------------------------------------------------------------------
// The receipt, typed.

/// A receipt, as issued or as read back (every field checked for form, none yet for
/// truth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Index of the leaf in the log.
    pub leaf_index: u64,
    /// The leaf's bytes.
    pub leaf: Vec<u8>,
    /// Size of the checkpointed tree the proof is for.
    pub tree_size: u64,
    /// RFC 9162 inclusion proof of the leaf in that tree.
    pub inclusion_proof: Vec<Hash>,
    /// The checkpoint, a C2SP signed note.
    pub checkpoint: String,
    /// What the leaf commits to, opened.
    pub opening: Opening,
}

/// What the holder can open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// An evidence record: its leaf commits to it directly.
    Record {
        /// The record id.
        id: String,
        /// `mingma_core::canonical_bytes` of the record.
        canonical: Vec<u8>,
        /// The commitment's salt.
        salt: Salt,
    },
    /// One person's code change inside a batch leaf.
    CodeChange {
        /// Position in the batch tree.
        position: u64,
        /// Number of changes in the batch.
        batch_size: u64,
        /// `CodeChange::canonical_bytes` of the change.
        canonical: Vec<u8>,
        /// The commitment's salt.
        salt: Salt,
        /// Inclusion proof of the change's commitment in the batch tree.
        inclusion_proof: Vec<Hash>,
    },
}

#[derive(Serialize)]
struct ReceiptJson<'a> {
    format: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    leaf_index: u64,
    leaf: String,
    tree_size: u64,
    inclusion_proof: Vec<String>,
    checkpoint: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<RecordJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_change: Option<CodeChangeJson>,
}

#[derive(Serialize)]
struct RecordJson<'a> {
    id: &'a str,
    canonical: String,
    salt: String,
}

#[derive(Serialize)]
struct CodeChangeJson {
    position: u64,
    batch_size: u64,
    canonical: String,
    salt: String,
    inclusion_proof: Vec<String>,
}

fn hashes_b64(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_base64).collect()
}

impl Receipt {
    /// The receipt as pretty-printed JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let (kind, record, code_change) = match &self.opening {
            Opening::Record {
                id,
                canonical,
                salt,
            } => (
                "record",
                Some(RecordJson {
                    id,
                    canonical: BASE64.encode(canonical),
                    salt: salt.to_string(),
                }),
                None,
            ),
            Opening::CodeChange {
                position,
                batch_size,
                canonical,
                salt,
                inclusion_proof,
            } => (
                "code_change",
                None,
                Some(CodeChangeJson {
                    position: *position,
                    batch_size: *batch_size,
                    canonical: BASE64.encode(canonical),
                    salt: salt.to_string(),
                    inclusion_proof: hashes_b64(inclusion_proof),
                }),
            ),
        };
        let json = ReceiptJson {
            format: FORMAT,
            kind,
            leaf_index: self.leaf_index,
            leaf: BASE64.encode(&self.leaf),
            tree_size: self.tree_size,
            inclusion_proof: hashes_b64(&self.inclusion_proof),
            checkpoint: &self.checkpoint,
            record,
            code_change,
        };
        // Serialising strings and integers cannot fail.
        let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a receipt, strictly: every field present, of its type, and no other.
    /// Errors name the field.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let Value::Object(map) = value else {
            return Err("not a JSON object".into());
        };
        let mut top = Fields::new(map, "");
        let format = top.string("format")?;
        if format != FORMAT {
            return Err(format!(
                "field `format` is {format:?}; this program reads {FORMAT:?}"
            ));
        }
        let kind = top.string("type")?;
        let leaf_index = top.u64("leaf_index")?;
        let leaf = top.base64("leaf")?;
        let tree_size = top.u64("tree_size")?;
        let inclusion_proof = top.hashes("inclusion_proof")?;
        let checkpoint = top.string("checkpoint")?;
        let opening = match kind.as_str() {
            "record" => {
                let mut f = top.object("record")?;
                let opening = Opening::Record {
                    id: f.string("id")?,
                    canonical: f.base64("canonical")?,
                    salt: f.salt("salt")?,
                };
                f.finish()?;
                opening
            }
            "code_change" => {
                let mut f = top.object("code_change")?;
                let opening = Opening::CodeChange {
                    position: f.u64("position")?,
                    batch_size: f.u64("batch_size")?,
                    canonical: f.base64("canonical")?,
                    salt: f.salt("salt")?,
                    inclusion_proof: f.hashes("inclusion_proof")?,
                };
                f.finish()?;
                opening
            }
            other => {
                return Err(format!(
                    "field `type` is {other:?}; it is \"record\" or \"code_change\""
                ))
            }
        };
        top.finish()?;
        Ok(Self {
            leaf_index,
            leaf,
            tree_size,
            inclusion_proof,
            checkpoint,
            opening,
        })
    }
}

/// The fields of one JSON object, taken one by one.
struct Fields {
    map: Map<String, Value>,
    prefix: String,
}

impl Fields {
    fn new(map: Map<String, Value>, prefix: &str) -> Self {
        Self {
            map,
            prefix: prefix.to_owned(),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn take(&mut self, name: &str) -> Result<Value, String> {
        self.map
            .remove(name)
            .ok_or_else(|| format!("field `{}` is missing", self.path(name)))
    }

    fn string(&mut self, name: &str) -> Result<String, String> {
        match self.take(name)? {
            Value::String(s) => Ok(s),
            _ => Err(format!("field `{}` is not a string", self.path(name))),
        }
    }

    fn u64(&mut self, name: &str) -> Result<u64, String> {
        match self.take(name)? {
            Value::Number(n) => n.as_u64().ok_or_else(|| {
                format!(
                    "field `{}` is not a whole number from 0 to 2^64-1",
                    self.path(name)
                )
            }),
            _ => Err(format!("field `{}` is not a number", self.path(name))),
        }
    }

    fn base64(&mut self, name: &str) -> Result<Vec<u8>, String> {
        let text = self.string(name)?;
        BASE64
            .decode(text.as_bytes())
            .map_err(|_| format!("field `{}` is not base64", self.path(name)))
    }

    fn salt(&mut self, name: &str) -> Result<Salt, String> {
        let text = self.string(name)?;
        Salt::parse_hex(&text)
            .map_err(|_| format!("field `{}` is not 64 hexadecimal digits", self.path(name)))
    }

    fn hashes(&mut self, name: &str) -> Result<Vec<Hash>, String> {
        let Value::Array(items) = self.take(name)? else {
            return Err(format!("field `{}` is not an array", self.path(name)));
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Hash::from_base64(&s).map_err(|_| {
                    format!(
                        "field `{}[{i}]` is not the base64 of a 32-byte hash",
                        self.path(name)
                    )
                }),
                _ => Err(format!("field `{}[{i}]` is not a string", self.path(name))),
            })
            .collect()
    }

    fn object(&mut self, name: &str) -> Result<Fields, String> {
        match self.take(name)? {
            Value::Object(map) => Ok(Fields::new(map, &format!("{}.", self.path(name)))),
            _ => Err(format!("field `{}` is not an object", self.path(name))),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(extra) => Err(format!(
                "field `{}{extra}` is not part of a {FORMAT} receipt of this type",
                self.prefix
            )),
        }
    }
}

// ---------------------------------------------------------------------------------
// Checking.

/// Checks a receipt: the checkpoint (signature and origin when `log` is given; when
/// not, only its form, for the self-check of a receipt just issued), the leaf's
/// inclusion under it, and the opening. Returns what it proves, first line
/// `valid: ...`; the error is the precise reason it is not valid.
pub fn check(receipt: &Receipt, log: Option<(&NoteVerifier, &str)>) -> Result<String, String> {
    // 1. The checkpoint.
    let (checkpoint, signed_by) = match log {
        Some((verifier, origin)) => {
            let checkpoint = verifier
                .verify_checkpoint(receipt.checkpoint.as_bytes(), origin)
                .map_err(|e| checkpoint_problem(e, &receipt.checkpoint))?;
            (checkpoint, verifier.name().to_owned())
        }
        None => {
            let note = SignedNote::parse(receipt.checkpoint.as_bytes())
                .map_err(|e| format!("field `checkpoint` is not a signed note: {e}"))?;
            let checkpoint = Checkpoint::parse(&note.text)
                .map_err(|e| format!("field `checkpoint` is not a checkpoint: {e}"))?;
            (checkpoint, "(signature not checked)".to_owned())
        }
    };
    let size = checkpoint.size;
    if receipt.tree_size != size {
        return Err(format!(
            "field `tree_size` says {} but the checkpoint is of a log of size {size}",
            receipt.tree_size
        ));
    }
    // 2. The leaf is in the checkpointed tree.
    let index = receipt.leaf_index;
    verify_inclusion(
        &leaf_hash(&receipt.leaf),
        index,
        size,
        &receipt.inclusion_proof,
        &checkpoint.root,
    )
    .map_err(|e| {
        proof_problem(
            e,
            "the inclusion proof",
            &format!("leaf {index}"),
            size,
            "the checkpoint's root",
        )
    })?;
    // 3. What the leaf says.
    let entry = LedgerEntry::from_bytes(&receipt.leaf)
        .map_err(|e| format!("field `leaf` is not a ledger entry: {e}"))?;
    let mut out = String::new();
    match (&receipt.opening, entry) {
        (
            Opening::Record {
                id,
                canonical,
                salt,
            },
            LedgerEntry::Record(entry),
        ) => {
            if !entry.commitment.opens_bytes(salt, canonical) {
                return Err(format!(
                    "the salt and the record's canonical bytes do not open the commitment in leaf {index} (a wrong salt, or altered record bytes)"
                ));
            }
            let record = decode_canonical(canonical).map_err(|e| {
                format!("field `record.canonical` does not decode as a record: {e}")
            })?;
            let mut mismatches = Vec::new();
            if record.id != entry.record {
                mismatches.push(format!("id `{}` (leaf: `{}`)", record.id, entry.record));
            }
            if record.id.as_str() != id {
                mismatches.push(format!("id `{}` (field `record.id`: `{id}`)", record.id));
            }
            if record.kind() != entry.kind {
                mismatches.push(format!("type {} (leaf: {})", record.kind(), entry.kind));
            }
            if record.authority != entry.authority {
                mismatches.push("owning authority".to_owned());
            }
            if record.effective_at != entry.effective_at {
                mismatches.push(format!(
                    "effective_at {} (leaf: {})",
                    record.effective_at, entry.effective_at
                ));
            }
            if record.recorded_at != entry.recorded_at {
                mismatches.push(format!(
                    "recorded_at {} (leaf: {})",
                    record.recorded_at, entry.recorded_at
                ));
            }
            if !mismatches.is_empty() {
                return Err(format!(
                    "the opened record does not match leaf {index}: {}",
                    mismatches.join(", ")
                ));
            }
            let _ = writeln!(
                out,
                "valid: record {} at leaf {index} of a log of size {size} signed by {signed_by}",
                record.id
            );
            let _ = writeln!(out, "  type:          {}", record.kind());
            if let Some(subject) = record.subject {
                let _ = writeln!(out, "  person:        {}", subject.short());
            }
            if let Some(authority) = &record.authority {
                let _ = writeln!(out, "  owned by:      {authority}");
            }
            let _ = writeln!(out, "  effective at:  {}", record.effective_at);
            let _ = writeln!(out, "  recorded at:   {}", record.recorded_at);
        }
        (
            Opening::CodeChange {
                position,
                batch_size,
                canonical,
                salt,
                inclusion_proof,
            },
            LedgerEntry::CodeChanges(batch),
        ) => {
            if *batch_size != batch.count {
                return Err(format!(
                    "field `code_change.batch_size` says {batch_size} but the batch at leaf {index} has {} changes",
                    batch.count
                ));
            }
            let commitment = code_change_commitment(salt, canonical);
            verify_inclusion(
                &leaf_hash(&commitment),
                *position,
                batch.count,
                inclusion_proof,
                &batch.root,
            )
            .map_err(|e| match e {
                ProofError::RootMismatch { .. } => format!(
                    "the salt and the change's canonical bytes do not open a change at position {position} of the batch in leaf {index} (a wrong salt, altered change bytes, or an altered batch proof)"
                ),
                other => proof_problem(
                    other,
                    "the batch inclusion proof",
                    &format!("position {position}"),
                    batch.count,
                    "the batch root",
                ),
            })?;
            let change = CodeChange::decode_canonical(canonical)
                .map_err(|e| format!("field `code_change.canonical` is not a code change: {e}"))?;
            if change.rule_set() != (batch.rule_set.as_str(), batch.rule_set_version.as_str())
                || change.reflects() != batch.reflects
            {
                let (rule_set, version) = change.rule_set();
                return Err(format!(
                    "the change says rule set {} {} reflecting {} leaves, its batch leaf {} {} reflecting {}",
                    rule_set,
                    version,
                    change.reflects(),
                    batch.rule_set,
                    batch.rule_set_version,
                    batch.reflects
                ));
            }
            let _ = writeln!(
                out,
                "valid: code change of person {} to {} at position {position} of the batch at leaf {index} of a log of size {size} signed by {signed_by}",
                change.person().short(),
                change.colour().name()
            );
            let _ = writeln!(out, "  valid at:      {}", change.valid_at());
            let _ = writeln!(out, "  known at:      {}", change.known_at());
            if let Some(since) = change.since() {
                let _ = writeln!(out, "  since:         {since}");
            }
            if let Some((at, colour)) = change.next_change() {
                let _ = writeln!(out, "  next change:   {at} -> {}", colour.name());
            }
            if let Some(reason) = change.reason() {
                let _ = writeln!(out, "  reason:        {reason}");
            }
            let list = |ids: Vec<String>| ids.join(", ");
            if !change.owners().is_empty() {
                let owners = list(change.owners().iter().map(ToString::to_string).collect());
                let _ = writeln!(out, "  owned by:      {owners}");
            }
            if !change.decisive().is_empty() {
                let decisive = list(change.decisive().iter().map(ToString::to_string).collect());
                let _ = writeln!(out, "  evidence:      {decisive}");
            }
            let (rule_set, version) = change.rule_set();
            let _ = writeln!(out, "  rule set:      {rule_set} {version}");
        }
        (Opening::Record { .. }, other) => {
            return Err(format!(
                "leaf {index} is {}, not a record entry (field `type` says \"record\")",
                entry_name(&other)
            ))
        }
        (Opening::CodeChange { .. }, other) => {
            return Err(format!(
                "leaf {index} is {}, not a code-change batch (field `type` says \"code_change\")",
                entry_name(&other)
            ))
        }
    }
    Ok(out)
}

fn entry_name(entry: &LedgerEntry) -> &'static str {
    match entry {
        LedgerEntry::Record(_) => "a record entry",
        LedgerEntry::CodeChanges(_) => "a code-change batch",
        LedgerEntry::Purge(_) => "a purge entry",
        LedgerEntry::Act(_) => "an authority act",
        LedgerEntry::Appeal(_) => "an appeal step",
    }
}

fn checkpoint_problem(error: NoteError, note: &str) -> String {
    match error {
        NoteError::UnknownKey { name, key_id } => format!(
            "the checkpoint has no signature by key {name}+{key_id:08x}; it is signed by {} (wrong key, or a checkpoint of another log)",
            signers(note)
        ),
        NoteError::BadSignature { name, key_id } => format!(
            "the checkpoint's signature by key {name}+{key_id:08x} does not verify: the checkpoint note was modified"
        ),
        NoteError::WrongOrigin { expected, found } => format!(
            "the checkpoint is for origin {found:?}, not {expected:?} (wrong origin, or a checkpoint of another log)"
        ),
        other => format!("field `checkpoint`: {other}"),
    }
}

fn proof_problem(error: ProofError, proof: &str, what: &str, size: u64, root: &str) -> String {
    match error {
        ProofError::WrongProofLength { got, want } if got < want => format!(
            "{proof} is truncated: it has {got} hashes, {what} in a tree of {size} needs {want}"
        ),
        ProofError::WrongProofLength { got, want } => format!(
            "{proof} has {got} hashes, {what} in a tree of {size} needs {want}"
        ),
        ProofError::IndexOutOfRange { index, size } => {
            format!("{what} is beyond a tree of {size} leaves (index {index})")
        }
        ProofError::RootMismatch {
            expected,
            calculated,
        } => format!(
            "{what} is not in the tree: {proof} leads to root {calculated}, {root} is {expected} (the leaf bytes or the proof were modified)"
        ),
        other => format!("{proof}: {other}"),
    }
}

/// What to issue a receipt for.
pub enum Target {
    /// An evidence record.
    Record(RecordId),
    /// The change at `position` of the code-change batch at leaf `leaf`.
    CodeChange {
        /// The batch leaf.
        leaf: u64,
        /// The position in the batch.
        position: u64,
    },
}

/// Builds a receipt from the store, for the latest checkpoint, and checks it before
/// handing it out.
pub async fn issue<S: Store>(store: &S, target: &Target) -> Result<Receipt, ReceiptError> {
    let (leaf_index, opening) = match target {
        Target::Record(id) => {
            let stored = store.record(id).await?.ok_or_else(|| {
                refused!("no record `{id}` is stored (an unknown id, or a scan purged after its retention window)")
            })?;
            (
                stored.leaf,
                Opening::Record {
                    id: id.to_string(),
                    canonical: canonical_bytes(&stored.evidence),
                    salt: stored.salt,
                },
            )
        }
        Target::CodeChange { leaf, position } => {
            let states = store.code_change_batch(*leaf).await?;
            if states.is_empty() {
                refuse!("leaf {leaf} is not a code-change batch: no changes are stored for it");
            }
            if let Some((i, s)) = states
                .iter()
                .enumerate()
                .find(|(i, s)| s.position != *i as u64)
            {
                refuse!(
                    "the stored batch at leaf {leaf} is corrupt: its change number {i} claims position {}; run `mingma ledger verify`",
                    s.position
                );
            }
            let count = states.len() as u64;
            let state = usize::try_from(*position)
                .ok()
                .and_then(|p| states.get(p))
                .ok_or_else(|| {
                    refused!(
                        "the batch at leaf {leaf} has {count} changes, at positions 0 to {}: there is no position {position}",
                        count - 1
                    )
                })?;
            let tree = MemoryTree::from_leaf_hashes(
                states
                    .iter()
                    .map(|s| leaf_hash(&s.change.commitment(&s.salt))),
            );
            let proof = tree
                .inclusion_proof(*position, count)
                .map_err(|e| refused!("cannot prove position {position} in the batch: {e}"))?;
            (
                *leaf,
                Opening::CodeChange {
                    position: *position,
                    batch_size: count,
                    canonical: state.change.canonical_bytes(),
                    salt: state.salt.clone(),
                    inclusion_proof: proof,
                },
            )
        }
    };
    let checkpoint = covering_checkpoint(store, leaf_index).await?;
    let leaf = store
        .leaves(leaf_index, 1)
        .await?
        .into_iter()
        .find(|l| l.index == leaf_index)
        .ok_or_else(|| {
            refused!("leaf {leaf_index} is missing from the log; run `mingma ledger verify`")
        })?;
    let proof = store
        .inclusion_proof(leaf_index, checkpoint.size)
        .await
        .map_err(|e| refused!("no inclusion proof for leaf {leaf_index}: {e}"))?;
    let receipt = Receipt {
        leaf_index,
        leaf: leaf.data,
        tree_size: checkpoint.size,
        inclusion_proof: proof,
        checkpoint: checkpoint.note,
        opening,
    };
    // The store's answer is checked like anyone else's before it is handed out.
    check(&receipt, None).map_err(|problem| {
        refused!("the store's receipt does not check ({problem}); run `mingma ledger verify`")
    })?;
    Ok(receipt)
}

/// The latest stored checkpoint, if it covers `leaf`.
pub async fn covering_checkpoint<S: Store>(
    store: &S,
    leaf: u64,
) -> Result<StoredCheckpoint, ReceiptError> {
    let latest = store
        .checkpoints()
        .await?
        .into_iter()
        .max_by_key(|c| c.size);
    match latest {
        None => refuse!(
            "no checkpoint is stored yet: sign a checkpoint first (`mingma ledger checkpoint`)"
        ),
        Some(c) if c.size <= leaf => refuse!(
            "leaf {leaf} is not covered by a checkpoint yet (the latest is of {} leaves): sign a checkpoint first (`mingma ledger checkpoint`)",
            c.size
        ),
        Some(c) => Ok(c),
    }
}

// ---------------------------------------------------------------------------------
// Checkpoints.

/// What `sign_checkpoint` did.
pub enum Signed {
    /// Signed and stored a new checkpoint; the note.
    New(String),
    /// The log has not grown; the stored checkpoint of its size, by this key.
    Unchanged(String),
}

/// Signs and stores a checkpoint of the whole log, refusing if the latest stored
/// checkpoint is not consistent with the tree the store serves now.
pub async fn sign_checkpoint<S: Store>(
    store: &S,
    signer: &CheckpointSigner,
    origin: &str,
) -> Result<Signed, ReceiptError> {
    // Refuse a bad origin before anything else.
    Checkpoint::new(origin, 0, empty_root())
        .to_text()
        .map_err(|_| refused!("--origin {origin:?}: an origin is one non-empty line of text"))?;
    let size = store.ledger_size().await?;
    if size == 0 {
        refuse!("the log is empty: there is nothing to sign (import evidence first)");
    }
    let root = store.root(size).await?;
    let checkpoints = store.checkpoints().await?;
    if let Some(latest) = checkpoints.last() {
        check_stored_note(latest, signer, origin)?;
        let refuse = |why: String| {
            refused!(
                "refusing to sign: {why}. The stored log was altered; run `mingma ledger verify` to find where"
            )
        };
        if latest.size > size {
            return Err(refuse(format!(
                "the latest checkpoint is of {} leaves but the log now has {size}",
                latest.size
            )));
        }
        if latest.size == 0 {
            if latest.root != empty_root() {
                return Err(refuse(
                    "the stored checkpoint of the empty log has a root other than the empty root"
                        .into(),
                ));
            }
        } else {
            let proof = store
                .consistency_proof(latest.size, size)
                .await
                .map_err(|e| {
                    refuse(format!(
                        "no consistency proof from the latest checkpoint (size {}) to size {size}: {e}",
                        latest.size
                    ))
                })?;
            verify_consistency(latest.size, size, &proof, &latest.root, &root).map_err(|e| {
                refuse(format!(
                    "the log of {size} leaves (root {root}) is not consistent with the latest checkpoint (size {}, root {}): {e}",
                    latest.size, latest.root
                ))
            })?;
        }
        if latest.size == size {
            return match signer.verifier().verify_checkpoint(&latest.note, origin) {
                Ok(_) => Ok(Signed::Unchanged(latest.note.clone())),
                Err(_) => Err(refused!(
                    "a checkpoint of the log at its current size ({size}) is already stored, signed by {}; the log has not grown since, so there is nothing new to sign",
                    signers(&latest.note)
                )),
            };
        }
    }
    let note = signer
        .sign_checkpoint(&Checkpoint::new(origin, size, root))
        .map_err(|e| refused!("cannot sign the checkpoint: {e}"))?;
    store
        .add_checkpoint(StoredCheckpoint {
            size,
            root,
            note: note.clone(),
        })
        .await
        .map_err(|e| refused!("the store refused the checkpoint: {e}"))?;
    // The store keeps one checkpoint per size: if another signer stored one of this
    // size first, that one stands and ours was not stored.
    let stored = store
        .checkpoints()
        .await?
        .into_iter()
        .find(|c| c.size == size);
    match stored {
        Some(c) if c.note == note => Ok(Signed::New(note)),
        Some(c) => refuse!(
            "another checkpoint of size {size} was stored meanwhile, signed by {}; it stands and this one was not stored",
            signers(&c.note)
        ),
        None => refuse!("the store accepted the checkpoint of size {size} but does not list it"),
    }
}

/// The latest stored checkpoint must say what its row says, name this origin, and,
/// if it carries a signature by this key, verify.
fn check_stored_note(
    latest: &StoredCheckpoint,
    signer: &CheckpointSigner,
    origin: &str,
) -> Result<(), ReceiptError> {
    let what = format!("the latest stored checkpoint (size {})", latest.size);
    let note = SignedNote::parse(&latest.note)
        .map_err(|e| refused!("refusing to sign: {what} is not a signed note: {e}"))?;
    let body = Checkpoint::parse(&note.text)
        .map_err(|e| refused!("refusing to sign: {what} is not a checkpoint: {e}"))?;
    if body.size != latest.size || body.root != latest.root {
        refuse!(
            "refusing to sign: {what} says size {} and root {} in its note but {} and {} in the store: the checkpoints were altered",
            body.size,
            body.root,
            latest.size,
            latest.root
        );
    }
    if body.origin != origin {
        refuse!(
            "refusing to sign: {what} is for origin {:?}, not {origin:?}; a log keeps one origin (check --origin)",
            body.origin
        );
    }
    match signer.verifier().verify(&note) {
        Ok(()) | Err(NoteError::UnknownKey { .. }) => Ok(()),
        Err(e) => refuse!("refusing to sign: {what}: {e}: the stored note was altered"),
    }
}

/// Who signed a note, for messages (unverified).
pub fn signers(note: &str) -> String {
    match SignedNote::parse(note) {
        Ok(note) => {
            let names: Vec<String> = note
                .signatures
                .iter()
                .map(|s| format!("{}+{:08x}", s.name, s.key_id))
                .collect();
            if names.is_empty() {
                "no key".into()
            } else {
                format!("key {}", names.join(", "))
            }
        }
        Err(_) => "an unreadable note".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_receipts_name_the_field() {
        let receipt = Receipt {
            leaf_index: 3,
            leaf: vec![1, 2, 3],
            tree_size: 9,
            inclusion_proof: vec![leaf_hash(b"a"), leaf_hash(b"b")],
            checkpoint: "o\n9\nAAAA\n\n— k AAAA\n".into(),
            opening: Opening::CodeChange {
                position: 1,
                batch_size: 2,
                canonical: vec![1],
                salt: Salt::from_bytes([3; 32]),
                inclusion_proof: vec![leaf_hash(b"c")],
            },
        };
        let json = receipt.to_json();
        assert_eq!(Receipt::from_json(&json), Ok(receipt));
        let value: Value = serde_json::from_str(&json).unwrap();
        let cases: [(&str, Value, &str); 7] = [
            ("leaf_index", Value::from("x"), "field `leaf_index`"),
            ("leaf", Value::from("%%"), "field `leaf` is not base64"),
            (
                "inclusion_proof",
                Value::from(vec!["AAAA"]),
                "field `inclusion_proof[0]`",
            ),
            ("format", Value::from("mingma-receipt/2"), "field `format`"),
            ("type", Value::from("purge"), "field `type`"),
            ("extra", Value::from(1), "field `extra` is not part"),
            (
                "code_change",
                Value::from(1),
                "field `code_change` is not an object",
            ),
        ];
        for (field, replacement, expected) in cases {
            let mut v = value.clone();
            v[field] = replacement;
            let err = Receipt::from_json(&v.to_string()).unwrap_err();
            assert!(err.contains(expected), "{field}: {err}");
        }
        let mut v = value.clone();
        v["code_change"]["salt"] = Value::from("00");
        let err = Receipt::from_json(&v.to_string()).unwrap_err();
        assert!(err.contains("field `code_change.salt`"), "{err}");
        let mut v = value;
        v.as_object_mut().unwrap().remove("checkpoint");
        let err = Receipt::from_json(&v.to_string()).unwrap_err();
        assert!(err.contains("field `checkpoint` is missing"), "{err}");
        assert!(Receipt::from_json("{")
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(Receipt::from_json("[]")
            .unwrap_err()
            .contains("not a JSON object"));
    }
}
