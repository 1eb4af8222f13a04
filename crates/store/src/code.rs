//! Code states: the cache of derivation that read paths use, and the changes that
//! the ledger records.
//!
//! A [`CodeChange`] can only be made from a [`Decision`], and a `Decision` only by
//! `mingma_core::derive`: no path sets a colour (principle 1).

use sha2::{Digest, Sha256};
use smol_str::SmolStr;

use mingma_core::commitment::Salt;
use mingma_core::{AuthorityId, Colour, Decision, PersonKey, RecordId, Timestamp};

/// One person's new code, as derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChange {
    person: PersonKey,
    colour: Colour,
    valid_at: Timestamp,
    known_at: Timestamp,
    since: Option<Timestamp>,
    next_change: Option<(Timestamp, Colour)>,
    reason: Option<SmolStr>,
    owners: Vec<AuthorityId>,
    decisive: Vec<RecordId>,
    rule_set: SmolStr,
    rule_set_version: SmolStr,
    reflects: u64,
}

/// A stored code state: the latest change of a person's code, and where the ledger
/// recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeState {
    /// The change.
    pub change: CodeChange,
    /// The leaf of the batch that recorded it.
    pub leaf: u64,
    /// Its position in that batch's tree.
    pub position: u64,
    /// The salt of its commitment, for the holder's receipt.
    pub salt: Salt,
}

impl CodeState {
    /// This state, if it is `person`'s. A stored state that points at another
    /// person's change (a pointer altered outside Mingma) is corrupt: nobody is shown
    /// someone else's code.
    pub fn held_by(self, person: PersonKey) -> crate::Result<Self> {
        if self.change.person() == person {
            Ok(self)
        } else {
            Err(crate::StoreError::Corrupt(format!(
                "the code state of person {} points at a change of person {} ({}/{})",
                person.short(),
                self.change.person().short(),
                self.leaf,
                self.position
            )))
        }
    }
}

const DOMAIN: &[u8] = b"mingma/code-change/v1\0";
/// Domain of [`CodeChange::code_digest`].
const CODE_DOMAIN: &[u8] = b"mingma/code/v1\0";

/// What [`CodeChange::encode`] writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// Every field: the canonical bytes after their version byte.
    Whole,
    /// The fields [`CodeChange::same_code`] compares, for the code digest.
    CodeOnly,
}

/// What recording a batch of code changes did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedBatch {
    /// The ledger leaf of the batch.
    pub leaf: u64,
    /// How many codes changed, by new colour: green, yellow, red.
    pub changed: [usize; 3],
}

impl RecordedBatch {
    /// The batch at `leaf` recording `changes`, counted by colour.
    pub fn of<'a>(leaf: u64, changes: impl IntoIterator<Item = &'a CodeChange>) -> Self {
        let mut changed = [0; 3];
        for change in changes {
            changed[usize::from(colour_byte(change.colour()))] += 1;
        }
        RecordedBatch { leaf, changed }
    }
}

impl CodeChange {
    /// The change a decision makes, reflecting the first `reflects` ledger leaves.
    /// The decision is taken, not copied: its lists move into the change.
    pub fn from_decision(decision: Decision, reflects: u64) -> Self {
        let reason = decision
            .fired
            .first()
            .map(|f| SmolStr::new_static(f.reason.id));
        Self {
            person: decision.subject,
            colour: decision.colour,
            valid_at: decision.valid_at,
            known_at: decision.known_at,
            since: decision.since,
            next_change: decision.next_change.map(|n| (n.at, n.colour)),
            reason,
            owners: decision.owners,
            decisive: decision.decisive_evidence,
            rule_set: decision.rule_set.id,
            rule_set_version: decision.rule_set.version,
            reflects,
        }
    }

    /// Whose code.
    pub fn person(&self) -> PersonKey {
        self.person
    }
    /// The colour.
    pub fn colour(&self) -> Colour {
        self.colour
    }
    /// The moment the decision was derived for.
    pub fn valid_at(&self) -> Timestamp {
        self.valid_at
    }
    /// Only records recorded up to this moment were considered.
    pub fn known_at(&self) -> Timestamp {
        self.known_at
    }
    /// When the colour took effect (赋码时间).
    pub fn since(&self) -> Option<Timestamp> {
        self.since
    }
    /// The next change that will happen by itself, and to which colour.
    pub fn next_change(&self) -> Option<(Timestamp, Colour)> {
        self.next_change
    }
    /// The catalogue id of the decisive reason.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    /// Owning authorities (赋码来源).
    pub fn owners(&self) -> &[AuthorityId] {
        &self.owners
    }
    /// Decisive evidence.
    pub fn decisive(&self) -> &[RecordId] {
        &self.decisive
    }
    /// Rule set id and version.
    pub fn rule_set(&self) -> (&str, &str) {
        (&self.rule_set, &self.rule_set_version)
    }
    /// The number of ledger leaves whose evidence the decision considered.
    pub fn reflects(&self) -> u64 {
        self.reflects
    }

    /// Whether `other` says the same about the code: same colour, since, reason,
    /// owners, decisive evidence and rule set. Re-deriving an unchanged code (after a
    /// crash, or on a timer) must not record a change twice.
    pub fn same_code(&self, other: &CodeChange) -> bool {
        self.person == other.person
            && self.colour == other.colour
            && self.since == other.since
            && self.reason == other.reason
            && self.owners == other.owners
            && self.decisive == other.decisive
            && self.rule_set == other.rule_set
            && self.rule_set_version == other.rule_set_version
    }

    /// A digest of what [`CodeChange::same_code`] compares (person, colour, since,
    /// reason, owners, decisive evidence, rule set and version): two changes have the
    /// same digest exactly when they say the same about the code, barring a SHA-256
    /// collision. A store may keep it with a person's current code and compare it
    /// instead of reading that code back.
    pub fn code_digest(&self) -> [u8; 32] {
        let mut bytes = CODE_DOMAIN.to_vec();
        self.encode(&mut bytes, Encoding::CodeOnly);
        Sha256::digest(&bytes).into()
    }

    /// The canonical bytes that the ledger commits to (version `0x01`; strings and
    /// lists length-prefixed with u32 big-endian, times as i64 big-endian seconds,
    /// absent optionals as a `0x00` flag byte, present ones as `0x01` then the value).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = vec![0x01];
        self.encode(&mut out, Encoding::Whole);
        out
    }

    /// Appends the fields in canonical order, all of them or only those
    /// [`CodeChange::same_code`] compares.
    fn encode(&self, out: &mut Vec<u8>, encoding: Encoding) {
        fn text(out: &mut Vec<u8>, s: &str) {
            out.extend((s.len() as u32).to_be_bytes());
            out.extend(s.as_bytes());
        }
        fn time(out: &mut Vec<u8>, t: Option<Timestamp>) {
            match t {
                Some(t) => {
                    out.push(1);
                    out.extend(t.unix_seconds().to_be_bytes());
                }
                None => out.push(0),
            }
        }
        let whole = encoding == Encoding::Whole;
        out.extend(self.person.as_bytes());
        out.push(colour_byte(self.colour));
        if whole {
            time(out, Some(self.valid_at));
            time(out, Some(self.known_at));
        }
        time(out, self.since);
        if whole {
            match self.next_change {
                Some((at, colour)) => {
                    time(out, Some(at));
                    out.push(colour_byte(colour));
                }
                None => out.push(0),
            }
        }
        match &self.reason {
            Some(reason) => {
                out.push(1);
                text(out, reason);
            }
            None => out.push(0),
        }
        out.extend((self.owners.len() as u32).to_be_bytes());
        for owner in &self.owners {
            text(out, owner.as_str());
        }
        out.extend((self.decisive.len() as u32).to_be_bytes());
        for id in &self.decisive {
            text(out, id.as_str());
        }
        text(out, &self.rule_set);
        text(out, &self.rule_set_version);
        if whole {
            out.extend(self.reflects.to_be_bytes());
        }
    }

    /// The salted commitment the batch tree holds for this change.
    pub fn commitment(&self, salt: &Salt) -> [u8; 32] {
        code_change_commitment(salt, &self.canonical_bytes())
    }

    /// Reads canonical bytes back (for receipts checked offline), strictly: every
    /// truncation, extra byte, unknown version, bad flag, colour, time or id is
    /// refused with what is wrong.
    pub fn decode_canonical(bytes: &[u8]) -> Result<Self, String> {
        let mut c = Cursor(bytes);
        match c.byte("version")? {
            1 => {}
            v => {
                return Err(format!(
                    "version {v} is not supported (this program reads 1)"
                ))
            }
        }
        let person = PersonKey::from_bytes(c.array("person")?);
        let colour = c.colour("colour")?;
        let valid_at = c.optional_time("valid_at")?.ok_or("valid_at is absent")?;
        let known_at = c.optional_time("known_at")?.ok_or("known_at is absent")?;
        let since = c.optional_time("since")?;
        let next_change = match c.optional_time("next_change")? {
            Some(at) => Some((at, c.colour("next_change")?)),
            None => None,
        };
        let reason = if c.flag("reason")? {
            Some(c.text("reason")?.into())
        } else {
            None
        };
        let owners = c
            .texts("owners")?
            .iter()
            .map(|t| AuthorityId::parse(t).map_err(|e| format!("owners: {e}")))
            .collect::<Result<_, _>>()?;
        let decisive = c
            .texts("decisive evidence")?
            .iter()
            .map(|t| RecordId::parse(t).map_err(|e| format!("decisive evidence: {e}")))
            .collect::<Result<_, _>>()?;
        let rule_set = c.text("rule set")?.into();
        let rule_set_version = c.text("rule set version")?.into();
        let reflects = u64::from_be_bytes(c.array("reflects")?);
        if !c.0.is_empty() {
            return Err(format!("{} bytes left over", c.0.len()));
        }
        Ok(Self {
            person,
            colour,
            valid_at,
            known_at,
            since,
            next_change,
            reason,
            owners,
            decisive,
            rule_set,
            rule_set_version,
            reflects,
        })
    }

    /// Rebuilds a stored change. Only store backends call this, with values that a
    /// `from_decision` change wrote.
    #[allow(clippy::too_many_arguments)]
    #[doc(hidden)]
    pub fn from_stored(
        person: PersonKey,
        colour: Colour,
        valid_at: Timestamp,
        known_at: Timestamp,
        since: Option<Timestamp>,
        next_change: Option<(Timestamp, Colour)>,
        reason: Option<String>,
        owners: Vec<AuthorityId>,
        decisive: Vec<RecordId>,
        rule_set: String,
        rule_set_version: String,
        reflects: u64,
    ) -> Self {
        Self {
            person,
            colour,
            valid_at,
            known_at,
            since,
            next_change,
            reason: reason.map(SmolStr::from),
            owners,
            decisive,
            rule_set: rule_set.into(),
            rule_set_version: rule_set_version.into(),
            reflects,
        }
    }
}

/// Salts for `n` records or changes, from one read of the operating system's random
/// source (each salt is 32 bytes, never reused).
pub fn new_salts(n: usize) -> crate::Result<Vec<Salt>> {
    let mut bytes = vec![0u8; n * 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| crate::StoreError::Backend(format!("no random source: {e}")))?;
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut salt = [0u8; 32];
            salt.copy_from_slice(c);
            Salt::from_bytes(salt)
        })
        .collect())
}

/// The ledger entry of a batch of code changes, each committed with its salt: the
/// root of the batch tree over the commitments, in order. All changes must come
/// from one rule set; `None` for an empty batch.
pub fn batch_entry<'a>(
    changes: impl ExactSizeIterator<Item = (&'a CodeChange, &'a Salt)>,
    reflects: u64,
) -> crate::Result<Option<crate::LedgerEntry>> {
    let changes: Vec<(&CodeChange, &Salt)> = changes.collect();
    let count = changes.len() as u64;
    let mut rule_set: Option<(String, String)> = None;
    for (change, _) in &changes {
        let (id, version) = change.rule_set();
        match &rule_set {
            None => rule_set = Some((id.to_owned(), version.to_owned())),
            Some((i, v)) if (i.as_str(), v.as_str()) != (id, version) => {
                return Err(crate::StoreError::Backend(
                    "one batch of code changes must come from one rule set".into(),
                ))
            }
            Some(_) => {}
        }
    }
    // Each commitment is hashed over the change's canonical bytes: for a large batch
    // (a declaration's half a million) on every core, while the writer waits.
    let leaves = in_parallel(&changes, |(change, salt)| {
        mingma_ledger::leaf_hash(&change.commitment(salt))
    });
    let mut tree = mingma_ledger::MemoryTree::with_capacity(leaves.len());
    for leaf in leaves {
        tree.push(leaf);
    }
    Ok(rule_set.map(|(rule_set, rule_set_version)| {
        crate::LedgerEntry::CodeChanges(crate::CodeChangeBatch {
            count,
            root: tree.root(),
            reflects,
            rule_set,
            rule_set_version,
        })
    }))
}

/// Below this many items, [`in_parallel`] maps on the calling thread: starting
/// threads costs more than the work.
const PARALLEL_FROM: usize = 4_096;

/// `f` of each item, in order, computed on every core for many items. For the
/// hashing a large batch of code changes needs in the writer, which runs alone
/// (every other core idle) while a declaration waits for it.
pub fn in_parallel<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < PARALLEL_FROM || threads < 2 {
        return items.iter().map(f).collect();
    }
    let share = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(share)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<U>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for part in parts {
            // A panic in `f` is a bug: it is passed on, as a map on one thread would.
            match part.join() {
                Ok(values) => out.extend(values),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// The commitment a batch tree holds for a change, from its canonical bytes:
/// SHA-256 over `mingma/code-change/v1` 0x00, the 32-byte salt and the bytes.
pub fn code_change_commitment(salt: &Salt, canonical: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(DOMAIN);
    hash.update(salt.as_bytes());
    hash.update(canonical);
    hash.finalize().into()
}

/// Reads canonical bytes, naming what is cut short or malformed.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("cut short in {what}"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn byte(&mut self, what: &str) -> Result<u8, String> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }

    fn flag(&mut self, what: &str) -> Result<bool, String> {
        match self.byte(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("{what}: presence flag {b} is neither 0 nor 1")),
        }
    }

    fn colour(&mut self, what: &str) -> Result<Colour, String> {
        let b = self.byte(what)?;
        colour_from_byte(b).ok_or_else(|| format!("{what}: {b} is not a colour"))
    }

    fn optional_time(&mut self, what: &str) -> Result<Option<Timestamp>, String> {
        if !self.flag(what)? {
            return Ok(None);
        }
        let seconds = i64::from_be_bytes(self.array(what)?);
        Timestamp::from_unix_seconds(seconds)
            .map(Some)
            .ok_or_else(|| format!("{what}: {seconds} is outside 2000-2099"))
    }

    fn text(&mut self, what: &str) -> Result<String, String> {
        let len = u32::from_be_bytes(self.array(what)?) as usize;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
    }

    fn texts(&mut self, what: &str) -> Result<Vec<String>, String> {
        let n = u32::from_be_bytes(self.array(what)?) as usize;
        // Each item takes at least 4 bytes: a larger count is a lie.
        if n.saturating_mul(4) > self.0.len() {
            return Err(format!("cut short in {what}"));
        }
        (0..n).map(|_| self.text(what)).collect()
    }
}

/// The byte a colour is stored as.
pub fn colour_byte(colour: Colour) -> u8 {
    match colour {
        Colour::Green => 0,
        Colour::Yellow => 1,
        Colour::Red => 2,
    }
}

/// The colour a stored byte stands for.
pub fn colour_from_byte(byte: u8) -> Option<Colour> {
    match byte {
        0 => Some(Colour::Green),
        1 => Some(Colour::Yellow),
        2 => Some(Colour::Red),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mingma_core::{derive, read_evidence_file, PseudonymKey, RuleSet};

    const EXAMPLE: &str = include_str!("../../../examples/zhengzhou-2022.jsonl");

    /// The example's time of derivation.
    fn example_time() -> Timestamp {
        Timestamp::parse("2022-06-14T12:00:00+08:00").expect("time")
    }

    /// The code change of every person in the example file, derived at
    /// [`example_time`] and reflecting 42 leaves.
    fn example_changes() -> Vec<CodeChange> {
        let key = PseudonymKey::from_bytes([7; 32]);
        let file = read_evidence_file(EXAMPLE, &key).expect("the example reads");
        let rules = RuleSet::default_rules().expect("rules");
        let at = example_time();
        file.subjects
            .keys()
            .map(|person| {
                CodeChange::from_decision(derive(&file.records, person, at, at, &rules), 42)
            })
            .collect()
    }

    #[test]
    fn canonical_bytes_read_back_and_commitments_agree() {
        let changes = example_changes();
        assert!(changes.iter().any(|c| c.colour() == Colour::Red));
        assert!(changes.iter().any(|c| c.colour() == Colour::Green));
        for (i, change) in changes.iter().enumerate() {
            let salt = Salt::from_bytes([i as u8; 32]);
            let bytes = change.canonical_bytes();
            assert_eq!(
                code_change_commitment(&salt, &bytes),
                change.commitment(&salt)
            );
            assert_eq!(CodeChange::decode_canonical(&bytes).as_ref(), Ok(change));
            for cut in 0..bytes.len() {
                assert!(
                    CodeChange::decode_canonical(&bytes[..cut]).is_err(),
                    "cut at {cut}"
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(CodeChange::decode_canonical(&longer).is_err());
        }
    }

    /// Stores keep the code digest and the canonical bytes: a build that encoded
    /// either differently would see every stored code as changed (and record each
    /// again), or fail to verify the ledger. These pin both for one change; a new
    /// encoding needs a new domain or version, and a migration.
    #[test]
    fn the_code_digest_and_canonical_bytes_are_pinned() {
        let at = |s: &str| Timestamp::parse(s).expect("time");
        let change = CodeChange {
            person: PersonKey::from_bytes([0x5a; 32]),
            colour: Colour::Red,
            valid_at: at("2022-06-14T12:00:00+08:00"),
            known_at: at("2022-06-14T12:00:00+08:00"),
            since: Some(at("2022-06-13T09:30:00+08:00")),
            next_change: Some((at("2022-06-20T09:30:00+08:00"), Colour::Green)),
            reason: Some("high_risk_area_stay".into()),
            owners: vec![AuthorityId::parse("hc-4101").expect("authority")],
            decisive: vec![
                RecordId::parse("ra-410105").expect("id"),
                RecordId::parse("scan-1").expect("id"),
            ],
            rule_set: "mingma-default".into(),
            rule_set_version: "2026.2".into(),
            reflects: 42,
        };
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(&change.code_digest()),
            "7b61ec5557961803288bf5126ab9b1ef133ebc45a83085581b7e1a459b3914b6"
        );
        assert_eq!(
            hex(&Sha256::digest(change.canonical_bytes())),
            "b24c9207625d9fc37166cd1c6ac5f4b0b92d9336a77f570b948827e89c861dc3"
        );
    }

    #[test]
    fn a_map_in_parallel_keeps_the_order_of_its_items() {
        for n in [
            0,
            1,
            PARALLEL_FROM - 1,
            PARALLEL_FROM,
            3 * PARALLEL_FROM + 7,
        ] {
            let items: Vec<u64> = (0..n as u64).collect();
            let doubled: Vec<u64> = items.iter().map(|x| x * 2 + 1).collect();
            assert_eq!(in_parallel(&items, |x| x * 2 + 1), doubled, "{n} items");
        }
    }

    #[test]
    fn the_code_digest_is_equal_exactly_when_the_code_is_the_same() {
        let red = example_changes()
            .into_iter()
            .find(|c| c.colour() == Colour::Red && !c.decisive().is_empty())
            .expect("a red code");
        let at = example_time();
        let later = at.plus(mingma_core::Span::hours(1));
        // What `same_code` ignores leaves the digest as it is.
        let mut same = red.clone();
        same.valid_at = later;
        same.known_at = later;
        same.next_change = Some((later, Colour::Green));
        same.reflects = 43;
        assert!(same.same_code(&red));
        assert_eq!(same.code_digest(), red.code_digest());
        // Each field it compares changes the digest, and so do regroupings of the
        // same characters.
        let id = |s: &str| RecordId::parse(s).expect("id");
        let authority = |s: &str| AuthorityId::parse(s).expect("authority");
        type Vary<'a> = Box<dyn Fn(&mut CodeChange) + 'a>;
        let variants: Vec<Vary> = vec![
            Box::new(|c| c.person = PersonKey::from_bytes([9; 32])),
            Box::new(|c| c.colour = Colour::Yellow),
            Box::new(|c| c.since = None),
            Box::new(|c| c.since = Some(later)),
            Box::new(|c| c.reason = None),
            Box::new(|c| c.reason = Some("other".into())),
            Box::new(|c| c.owners.clear()),
            Box::new(|c| c.owners = vec![authority("ab")]),
            Box::new(|c| c.owners = vec![authority("a"), authority("b")]),
            Box::new(|c| c.decisive.push(id("x1"))),
            Box::new(|c| c.decisive = vec![id("x1x2")]),
            Box::new(|c| c.decisive = vec![id("x1"), id("x2")]),
            Box::new(|c| c.rule_set = format!("{}x", c.rule_set).into()),
            Box::new(|c| c.rule_set_version = format!("{}x", c.rule_set_version).into()),
        ];
        let mut seen = vec![red.code_digest()];
        for (i, vary) in variants.iter().enumerate() {
            let mut other = red.clone();
            vary(&mut other);
            assert!(!other.same_code(&red), "variant {i}");
            assert!(!seen.contains(&other.code_digest()), "variant {i}");
            seen.push(other.code_digest());
        }
    }
}
