//! Row codecs: what the tables hold, back into the store's types. Every value read
//! is checked; a value Mingma could not have written is a `Corrupt` error naming
//! the row.

use std::collections::HashMap;

use mingma_core::commitment::Salt;
use mingma_core::{
    AuthorityId, Evidence, EvidenceBody, EvidenceKind, Jurisdiction, OfficialId, PersonKey,
    Presence, RecordId, Recorder, Timestamp, VenueId, VenueKind,
};
use mingma_ledger::Hash;
use mingma_store::nodes::NodeAddress;
use mingma_store::{colour_from_byte, CodeChange, CodeState, Result, StoreError, StoredRecord};
use tokio_postgres::Row;

use crate::conn::Conn;
use crate::{backend, corrupt};

pub(crate) fn kind_code(kind: EvidenceKind) -> i16 {
    EvidenceKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(0) as i16
}

pub(crate) fn presence_code(p: Presence) -> i16 {
    Presence::ALL.iter().position(|x| *x == p).unwrap_or(0) as i16
}

pub(crate) fn venue_kind_code(k: VenueKind) -> i16 {
    VenueKind::ALL.iter().position(|x| *x == k).unwrap_or(0) as i16
}

pub(crate) fn time(seconds: i64) -> Result<Timestamp> {
    Timestamp::from_unix_seconds(seconds)
        .ok_or_else(|| corrupt(format!("time {seconds} out of range")))
}

pub(crate) fn salt(bytes: &[u8]) -> Result<Salt> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt("salt is not 32 bytes"))?;
    Ok(Salt::from_bytes(bytes))
}

pub(crate) fn hash(bytes: &[u8]) -> Result<Hash> {
    Hash::from_slice(bytes).map_err(|_| corrupt("hash is not 32 bytes"))
}

pub(crate) fn person_key(bytes: &[u8]) -> Result<PersonKey> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt("person key is not 32 bytes"))?;
    Ok(PersonKey::from_bytes(bytes))
}

/// A leaf index or size as stored (bigint), from the `u64` of the API.
pub(crate) fn index(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored leaf index, size or position: never negative.
pub(crate) fn unsigned(n: i64, what: &str) -> Result<u64> {
    u64::try_from(n).map_err(|_| corrupt(format!("{what} {n} is negative")))
}

pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    column: usize,
) -> Result<T> {
    row.try_get(column).map_err(backend)
}

/// Columns selected for a record row.
pub(crate) const RECORD_COLUMNS: &str = "leaf, canonical, salt, seal";

pub(crate) fn stored_record(row: &Row) -> Result<StoredRecord> {
    let leaf: i64 = get(row, 0)?;
    let bytes: &[u8] = get(row, 1)?;
    let mut evidence = mingma_core::canonical::decode_canonical(bytes)
        .map_err(|e| corrupt(format!("record at leaf {leaf}: {e}")))?;
    let seal: Option<&[u8]> = get(row, 3)?;
    evidence.seal =
        match seal {
            None => None,
            Some(bytes) => Some(mingma_core::Seal::from_bytes(bytes).ok_or_else(|| {
                corrupt(format!("record at leaf {leaf}: the seal is not 72 bytes"))
            })?),
        };
    Ok(StoredRecord {
        evidence,
        leaf: unsigned(leaf, "leaf")?,
        salt: salt(get(row, 2)?).map_err(|e| corrupt(format!("record at leaf {leaf}: {e}")))?,
    })
}

/// A scan row with its venue and the keys of its person and proxy (outer joins, so
/// that a dangling reference is reported rather than the row silently dropped).
pub(crate) const SCAN_SELECT: &str = "SELECT s.leaf, s.id, s.pid, p.key, v.id, v.street, v.kind, \
     s.entered, s.left_at, s.presence, s.recorded_at, s.proxy, pp.key, s.official, s.authority, s.salt \
     FROM scans s LEFT JOIN venues v ON v.vid = s.vid LEFT JOIN persons p ON p.pid = s.pid \
     LEFT JOIN persons pp ON pp.pid = s.proxy";

pub(crate) fn stored_scan(row: &Row) -> Result<StoredRecord> {
    let leaf: i64 = get(row, 0)?;
    let bad = |what: &str| corrupt(format!("scan at leaf {leaf}: {what}"));
    let id: &str = get(row, 1)?;
    let pid: i32 = get(row, 2)?;
    let subject: Option<&[u8]> = get(row, 3)?;
    let venue: Option<&str> = get(row, 4)?;
    let street: Option<i32> = get(row, 5)?;
    let venue_kind: Option<i16> = get(row, 6)?;
    let entered: i64 = get(row, 7)?;
    let left_at: Option<i64> = get(row, 8)?;
    let presence: i16 = get(row, 9)?;
    let recorded_at: i64 = get(row, 10)?;
    let proxy: Option<i32> = get(row, 11)?;
    let proxy_key: Option<&[u8]> = get(row, 12)?;
    let official: Option<&str> = get(row, 13)?;
    let authority: Option<&str> = get(row, 14)?;
    let salt_bytes: &[u8] = get(row, 15)?;
    let (Some(venue), Some(street), Some(venue_kind)) = (venue, street, venue_kind) else {
        return Err(bad("its venue is missing"));
    };
    let subject = subject.ok_or_else(|| bad(&format!("person {pid} is missing")))?;
    let recorded_by = match (official, proxy) {
        (Some(official), _) => {
            Recorder::Official(OfficialId::parse(official).map_err(|e| bad(&e.to_string()))?)
        }
        (None, Some(proxy)) => Recorder::Proxy(person_key(
            proxy_key.ok_or_else(|| bad(&format!("proxy {proxy} is missing")))?,
        )?),
        (None, None) => Recorder::Holder,
    };
    let authority = authority
        .map(AuthorityId::parse)
        .transpose()
        .map_err(|e| bad(&e.to_string()))?;
    let evidence = Evidence {
        seal: None,
        id: RecordId::parse(id).map_err(|e| bad(&e.to_string()))?,
        subject: Some(person_key(subject).map_err(|e| bad(&e.to_string()))?),
        recorded_by,
        authority,
        legal_basis: None,
        effective_at: time(entered).map_err(|e| bad(&e.to_string()))?,
        recorded_at: time(recorded_at).map_err(|e| bad(&e.to_string()))?,
        body: EvidenceBody::VenueScan {
            venue: VenueId::parse(venue).map_err(|e| bad(&e.to_string()))?,
            street: Jurisdiction::parse(&format!("{street:09}"))
                .map_err(|e| bad(&e.to_string()))?,
            venue_kind: *usize::try_from(venue_kind)
                .ok()
                .and_then(|k| VenueKind::ALL.get(k))
                .ok_or_else(|| bad("venue kind"))?,
            left_at: left_at
                .map(time)
                .transpose()
                .map_err(|e| bad(&e.to_string()))?,
            presence: *usize::try_from(presence)
                .ok()
                .and_then(|p| Presence::ALL.get(p))
                .ok_or_else(|| bad("presence"))?,
        },
    };
    Ok(StoredRecord {
        evidence,
        leaf: unsigned(leaf, "leaf")?,
        salt: salt(salt_bytes).map_err(|e| bad(&e.to_string()))?,
    })
}

/// A code change row with its person's key.
pub(crate) const CODE_CHANGE_SELECT: &str = "SELECT cc.leaf, cc.position, cc.pid, p.key, cc.colour, \
     cc.valid_at, cc.known_at, cc.since, cc.next_at, cc.next_colour, cc.reason, cc.owners, cc.decisive, \
     cc.rule_set, cc.rule_set_version, cc.reflects, cc.salt \
     FROM code_changes cc LEFT JOIN persons p ON p.pid = cc.pid";

pub(crate) fn code_state(row: &Row) -> Result<CodeState> {
    let leaf: i64 = get(row, 0)?;
    let position: i64 = get(row, 1)?;
    let bad = |what: &str| corrupt(format!("code change {leaf}/{position}: {what}"));
    let pid: i32 = get(row, 2)?;
    let key: Option<&[u8]> = get(row, 3)?;
    let colour: i16 = get(row, 4)?;
    let valid_at: i64 = get(row, 5)?;
    let known_at: i64 = get(row, 6)?;
    let since: Option<i64> = get(row, 7)?;
    let next_at: Option<i64> = get(row, 8)?;
    let next_colour: Option<i16> = get(row, 9)?;
    let reason: Option<String> = get(row, 10)?;
    let owners: &str = get(row, 11)?;
    let decisive: &str = get(row, 12)?;
    let rule_set: String = get(row, 13)?;
    let version: String = get(row, 14)?;
    let reflects: i64 = get(row, 15)?;
    let salt_bytes: &[u8] = get(row, 16)?;
    let colour_of = |c: i16| {
        u8::try_from(c)
            .ok()
            .and_then(colour_from_byte)
            .ok_or_else(|| bad("colour"))
    };
    let at = |t: i64| time(t).map_err(|e| bad(&e.to_string()));
    let next_change = match (next_at, next_colour) {
        (Some(t), Some(c)) => Some((at(t)?, colour_of(c)?)),
        (None, None) => None,
        _ => return Err(bad("next change")),
    };
    let key = key.ok_or_else(|| bad(&format!("person {pid} is missing")))?;
    let change = CodeChange::from_stored(
        person_key(key).map_err(|e| bad(&e.to_string()))?,
        colour_of(colour)?,
        at(valid_at)?,
        at(known_at)?,
        since.map(at).transpose()?,
        next_change,
        reason,
        split_ids(owners, AuthorityId::parse).map_err(|e| bad(&e))?,
        split_ids(decisive, RecordId::parse).map_err(|e| bad(&e))?,
        rule_set,
        version,
        unsigned(reflects, "reflects").map_err(|e| bad(&e.to_string()))?,
    );
    Ok(CodeState {
        change,
        leaf: unsigned(leaf, "leaf")?,
        position: unsigned(position, "position")?,
        salt: salt(salt_bytes).map_err(|e| bad(&e.to_string()))?,
    })
}

/// Ids are joined with `,`, which no id may contain.
pub(crate) fn join_ids<T: std::fmt::Display>(ids: &[T]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn split_ids<T, E: std::fmt::Display>(
    text: &str,
    parse: impl Fn(&str) -> std::result::Result<T, E>,
) -> std::result::Result<Vec<T>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|s| parse(s).map_err(|e| e.to_string()))
        .collect()
}

/// One record by id: a record row, or a scan row found through `record_ids` (the
/// id's leaf and entry time name its partition). Both queries go out at once.
pub(crate) async fn read_record(conn: &Conn, id: &str) -> Result<Option<StoredRecord>> {
    let record_sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE id = $1");
    let scan_sql = format!(
        "{SCAN_SELECT} WHERE s.leaf = (SELECT leaf FROM record_ids WHERE id = $1) \
         AND s.entered = (SELECT entered FROM record_ids WHERE id = $1)"
    );
    let (record, scan) =
        tokio::try_join!(async { conn.query_opt(&record_sql, &[&id]).await }, async {
            conn.query_opt(&scan_sql, &[&id]).await
        },)?;
    if let Some(row) = record {
        return stored_record(&row).map(Some);
    }
    if let Some(row) = scan {
        return stored_scan(&row).map(Some);
    }
    // Not where its id says: a scan row altered behind the store's back (its entry
    // time changed) is still found by its leaf, so verification can name it.
    let scan_sql = format!(
        "{SCAN_SELECT} WHERE s.leaf = (SELECT leaf FROM record_ids WHERE id = $1 AND entered IS NOT NULL) \
         ORDER BY s.entered LIMIT 1"
    );
    conn.query_opt(&scan_sql, &[&id])
        .await?
        .map(|row| stored_scan(&row))
        .transpose()
}

/// Reads perfect-subtree hashes (level 0 from the leaves) in one query, with the
/// ledger's size; `Range` if the tree asked for is larger than the ledger.
pub(crate) async fn fetch_nodes(
    conn: &Conn,
    asked: Vec<NodeAddress>,
    tree_size: u64,
) -> Result<HashMap<NodeAddress, Hash>> {
    let mut leaves = Vec::new();
    let (mut levels, mut indexes) = (Vec::new(), Vec::new());
    for (level, i) in asked {
        if level == 0 {
            leaves.push(index(i));
        } else {
            levels.push(i32::try_from(level).unwrap_or(i32::MAX));
            indexes.push(index(i));
        }
    }
    let rows = conn
        .query(
            "SELECT -1, size, NULL::bytea FROM ledger_head \
             UNION ALL SELECT 0, idx, hash FROM ledger_leaves WHERE idx = ANY($1) \
             UNION ALL SELECT n.level, n.idx, n.hash FROM ledger_nodes n \
               JOIN unnest($2::int[], $3::bigint[]) AS a(level, idx) ON n.level = a.level AND n.idx = a.idx",
            &[&leaves, &levels, &indexes],
        )
        .await?;
    let mut nodes = HashMap::with_capacity(rows.len());
    let mut available = None;
    for row in &rows {
        let level: i32 = get(row, 0)?;
        let at: i64 = get(row, 1)?;
        if level < 0 {
            available = Some(unsigned(at, "ledger size")?);
            continue;
        }
        let bytes: Option<&[u8]> = get(row, 2)?;
        let bytes = bytes.ok_or_else(|| corrupt("a ledger node has no hash"))?;
        let address = (
            u32::try_from(level).map_err(|_| corrupt("ledger node level"))?,
            unsigned(at, "ledger node index")?,
        );
        nodes.insert(
            address,
            hash(bytes).map_err(|_| {
                corrupt(format!(
                    "ledger node ({}, {}) is not 32 bytes",
                    address.0, address.1
                ))
            })?,
        );
    }
    let available = available.ok_or_else(|| corrupt("the ledger head row is missing"))?;
    if tree_size > available {
        return Err(StoreError::Range(format!(
            "tree size {tree_size} exceeds the {available} leaves available"
        )));
    }
    Ok(nodes)
}

/// The street-code range `[low, high)` of a division: streets are 9-digit codes
/// whose prefix is the division's code.
pub(crate) fn street_range(division: Jurisdiction) -> (i32, i32) {
    let digits = division.to_string();
    let shift = 9u32.saturating_sub(digits.len() as u32);
    let code: i64 = digits.parse().unwrap_or(0);
    let scale = 10i64.pow(shift);
    let clamp = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
    (clamp(code * scale), clamp((code + 1) * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migration_knows_the_close_contact_kind_code() {
        // migrations/0001_initial.sql has a partial index on `kind = 3`.
        assert_eq!(kind_code(EvidenceKind::CloseContact), 3);
        assert!(include_str!("../migrations/0001_initial.sql").contains("WHERE kind = 3"));
    }

    #[test]
    fn street_ranges() {
        let j = |c: &str| Jurisdiction::parse(c).expect("division");
        assert_eq!(street_range(j("41")), (410_000_000, 420_000_000));
        assert_eq!(street_range(j("410102")), (410_102_000, 410_103_000));
        assert_eq!(street_range(j("410102001")), (410_102_001, 410_102_002));
    }
}
