-- Mingma SQLite schema, version 1. Never edit a migration that shipped: add one.

-- The transparency log. A leaf is never updated or deleted.
CREATE TABLE ledger_leaves (
    idx  INTEGER PRIMARY KEY,
    data BLOB NOT NULL,
    hash BLOB NOT NULL
);

-- Hashes of the perfect subtrees of two or more leaves, written as they complete.
CREATE TABLE ledger_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL
);

-- Person keys, interned: rows elsewhere carry the small integer.
CREATE TABLE persons (
    pid INTEGER PRIMARY KEY,
    key BLOB NOT NULL UNIQUE
);

-- Every evidence record except holder scans, as canonical bytes. `about` is the
-- person the record concerns (for acts: the person of the record acted on); NULL
-- for risk areas and acts on them, which every derivation reads.
CREATE TABLE records (
    leaf      INTEGER PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    kind      INTEGER NOT NULL,
    about     INTEGER,
    canonical BLOB NOT NULL,
    salt      BLOB NOT NULL
);
CREATE INDEX records_about ON records (about, leaf);

-- A venue as scans saw it (id, street, kind), interned.
CREATE TABLE venues (
    vid    INTEGER PRIMARY KEY,
    id     TEXT NOT NULL,
    street INTEGER NOT NULL,
    kind   INTEGER NOT NULL,
    UNIQUE (id, street, kind)
);
CREATE INDEX venues_street ON venues (street);

-- Venue scans, in typed columns (the canonical bytes are rebuilt from them).
-- `official` and `authority` are set only for scans an official entered by hand.
CREATE TABLE scans (
    leaf        INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    pid         INTEGER NOT NULL,
    vid         INTEGER NOT NULL,
    entered     INTEGER NOT NULL,
    left_at     INTEGER,
    presence    INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    proxy       INTEGER,
    official    TEXT,
    authority   TEXT,
    salt        BLOB NOT NULL
);
CREATE INDEX scans_venue ON scans (vid, entered);
CREATE INDEX scans_person ON scans (pid, entered);

-- Code changes recorded by the derivation engine, one row per person per batch.
CREATE TABLE code_changes (
    leaf             INTEGER NOT NULL,
    position         INTEGER NOT NULL,
    pid              INTEGER NOT NULL,
    colour           INTEGER NOT NULL,
    valid_at         INTEGER NOT NULL,
    known_at         INTEGER NOT NULL,
    since            INTEGER,
    next_at          INTEGER,
    next_colour      INTEGER,
    reason           TEXT,
    owners           TEXT NOT NULL,
    decisive         TEXT NOT NULL,
    rule_set         TEXT NOT NULL,
    rule_set_version TEXT NOT NULL,
    reflects         INTEGER NOT NULL,
    salt             BLOB NOT NULL,
    PRIMARY KEY (leaf, position)
);
CREATE INDEX code_changes_next ON code_changes (next_at) WHERE next_at IS NOT NULL;

-- The current code of each person: a pointer to their latest change.
CREATE TABLE code_states (
    pid      INTEGER PRIMARY KEY,
    leaf     INTEGER NOT NULL,
    position INTEGER NOT NULL
);
