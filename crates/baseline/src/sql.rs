//! The SQL the baseline runs, as text, so that reports can quote exactly what was
//! measured.
//!
//! Parameters common to the stay-overlap queries: `$2` and `$3` are the window
//! `[from, until)`, `$4` the longest stay the schema accepts in seconds
//! ([`Stays::max_stay_seconds`](crate::Stays::max_stay_seconds)), `$5` the dwell
//! assumed for a venue kind without a row in `venue_kinds`, in seconds.

/// The end of scan `$s`'s stay: its recorded exit if that is after the entry, else
/// the entry plus its venue kind's dwell (`k` is the `venue_kinds` row of the
/// venue, `$5` the default dwell). The same definition as Mingma's derivation.
macro_rules! stay_end {
    ($s:literal) => {
        concat!(
            "CASE WHEN ",
            $s,
            ".left_at > ",
            $s,
            ".entered THEN ",
            $s,
            ".left_at ELSE ",
            $s,
            ".entered + coalesce(k.dwell_seconds, $5::int8) * interval '1 second' END"
        )
    };
}

/// The end of another person's scan `o` at the case's venue, whose dwell `c.dwell`
/// the case's row carries.
macro_rules! o_end {
    () => {
        "CASE WHEN o.left_at > o.entered THEN o.left_at ELSE o.entered + c.dwell END"
    };
}

/// Persons with a stay overlapping `[$2, $3)` at a venue whose `$col` is `$1`.
macro_rules! affected {
    ($col:literal) => {
        concat!(
            "SELECT DISTINCT s.person_id\n",
            "FROM venues v\n",
            "LEFT JOIN venue_kinds k ON k.kind = v.kind\n",
            "JOIN scans s ON s.venue_id = v.id\n",
            "WHERE v.",
            $col,
            " = $1\n",
            "  AND s.entered < $3::timestamptz\n",
            "  AND s.entered > $2::timestamptz - $4::int8 * interval '1 second'\n",
            "  AND ",
            stay_end!("s"),
            " > $2::timestamptz"
        )
    };
}

/// Persons with a scan entered in `[$2, $3)` at a venue whose `$col` is `$1`.
macro_rules! entered {
    ($col:literal) => {
        concat!(
            "SELECT DISTINCT s.person_id\n",
            "FROM venues v\n",
            "JOIN scans s ON s.venue_id = v.id\n",
            "WHERE v.",
            $col,
            " = $1\n",
            "  AND s.entered >= $2::timestamptz\n",
            "  AND s.entered < $3::timestamptz"
        )
    };
}

/// Affected persons of a district: `$1` is the district code. The lower bound on
/// `entered` (the window's start less the longest stay) is implied by the
/// overlap and the `scans_stay_bounded` constraint; it is written out so that the
/// `(venue_id, entered)` index scan is a bounded range.
pub const AFFECTED_IN_DISTRICT: &str = affected!("district_code");

/// Affected persons of a street: `$1` is the street code; otherwise as
/// [`AFFECTED_IN_DISTRICT`].
pub const AFFECTED_IN_STREET: &str = affected!("street_code");

/// Persons with a scan *entered* in `[$2, $3)` in a district (`$1`): the narrower
/// definition of `mingma_store::Store::persons_in_division`.
pub const ENTERED_IN_DISTRICT: &str = entered!("district_code");

/// As [`ENTERED_IN_DISTRICT`], for a street (`$1`).
pub const ENTERED_IN_STREET: &str = entered!("street_code");

/// The tracing query, one statement joining `scans` to itself: `c` are the case's
/// (`$1`) stays that overlap the window `[$2, $3)` (found through `(person_id,
/// entered)`), widened by the margin `$6` seconds on both sides to `[lo, hi)`;
/// `o` the other persons' scans at the same venue whose stay overlaps a widened
/// stay (found through `(venue_id, entered)`, a range bounded by the longest stay
/// `$4`). One row per (person, venue): the earliest start and the latest end of
/// the overlaps with the widened stays.
///
/// The case's stays are a `MATERIALIZED` CTE: inlined, the join to `venues` (for
/// the dwell) would put `v.id` into the same equivalence class as `o.venue_id`,
/// and PostgreSQL 15 then adds a second, redundant bitmap scan of the venue's
/// whole index range to every probe.
pub const TRACE: &str = concat!(
    "WITH c AS MATERIALIZED (\n",
    "  SELECT s.venue_id,\n",
    "         s.entered - $6::int8 * interval '1 second' AS lo,\n",
    "         ",
    stay_end!("s"),
    " + $6::int8 * interval '1 second' AS hi,\n",
    "         coalesce(k.dwell_seconds, $5::int8) * interval '1 second' AS dwell\n",
    "  FROM scans s\n",
    "  JOIN venues v ON v.id = s.venue_id\n",
    "  LEFT JOIN venue_kinds k ON k.kind = v.kind\n",
    "  WHERE s.person_id = $1\n",
    "    AND s.entered < $3::timestamptz\n",
    "    AND s.entered > $2::timestamptz - $4::int8 * interval '1 second'\n",
    "    AND ",
    stay_end!("s"),
    " > $2::timestamptz\n",
    ")\n",
    "SELECT o.person_id, o.venue_id,\n",
    "       min(greatest(o.entered, c.lo)) AS overlap_from,\n",
    "       max(least(",
    o_end!(),
    ", c.hi)) AS overlap_until\n",
    "FROM c\n",
    "JOIN scans o\n",
    "  ON o.venue_id = c.venue_id\n",
    " AND o.entered < c.hi\n",
    " AND o.entered > c.lo - $4::int8 * interval '1 second'\n",
    "WHERE o.person_id <> $1\n",
    "  AND ",
    o_end!(),
    " > c.lo\n",
    "GROUP BY o.person_id, o.venue_id\n",
    "ORDER BY o.person_id, o.venue_id"
);

/// One client-side batch of scans: four parallel arrays, one statement, hence one
/// committed transaction.
pub const INSERT_BATCH: &str = "INSERT INTO scans (person_id, venue_id, entered, left_at)\n\
     SELECT * FROM unnest($1::int8[], $2::int8[], $3::timestamptz[], $4::timestamptz[])";

/// Venues, as four parallel arrays.
pub const INSERT_VENUES: &str = "INSERT INTO venues (id, street_code, district_code, kind)\n\
     SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int2[])";

/// The bulk load's COPY (binary format).
pub const COPY_SCANS: &str =
    "COPY scans (person_id, venue_id, entered, left_at) FROM STDIN (FORMAT binary)";

/// The two indexes on `scans` (also rebuilt by the bulk load).
pub const SCAN_INDEXES: &str = "\
CREATE INDEX scans_venue_entered ON scans (venue_id, entered);
CREATE INDEX scans_person_entered ON scans (person_id, entered);";

/// Drops [`SCAN_INDEXES`] (before a bulk load).
pub const DROP_SCAN_INDEXES: &str = "\
DROP INDEX IF EXISTS scans_venue_entered;
DROP INDEX IF EXISTS scans_person_entered;";

/// Bytes per scan: everything the `scans` table occupies (heap, indexes, free
/// space and visibility maps, TOAST) over its row count.
pub const BYTES_PER_SCAN: &str = "SELECT pg_total_relation_size('scans')::float8 / \
     greatest((SELECT count(*) FROM scans), 1)::float8";

/// The schema: `venues`, `venue_kinds` and `scans` with their indexes.
/// `max_stay_seconds` bounds a recorded stay (`scans_stay_bounded`).
pub fn schema(max_stay_seconds: i64) -> String {
    format!(
        "\
CREATE TABLE venues (
    id            bigint   PRIMARY KEY,
    street_code   bigint   NOT NULL,
    district_code bigint   NOT NULL,
    kind          smallint
);
CREATE INDEX venues_district_street ON venues (district_code, street_code);
CREATE INDEX venues_street ON venues (street_code);
CREATE TABLE venue_kinds (
    kind          smallint PRIMARY KEY,
    dwell_seconds bigint   NOT NULL CHECK (dwell_seconds > 0 AND dwell_seconds <= {max_stay_seconds})
);
CREATE TABLE scans (
    person_id bigint      NOT NULL,
    venue_id  bigint      NOT NULL,
    entered   timestamptz NOT NULL,
    left_at   timestamptz,
    CONSTRAINT scans_stay_bounded
        CHECK (left_at IS NULL OR left_at <= entered + interval '{max_stay_seconds} seconds')
);
{SCAN_INDEXES}"
    )
}
