-- Mingma PostgreSQL schema, version 1. Never edit a migration that shipped: add one.
-- Times are seconds since the epoch (bigint), as in the canonical encoding.

-- The ledger's head: its size. Every group of writes locks this one row first
-- (SELECT ... FOR UPDATE), so appends from every node are serialised and leaf
-- indexes follow commit order.
CREATE TABLE ledger_head (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    size bigint NOT NULL CHECK (size >= 0)
);
INSERT INTO ledger_head (one, size) VALUES (true, 0);

-- The transparency log. A leaf is never updated or deleted.
CREATE TABLE ledger_leaves (
    idx  bigint PRIMARY KEY,
    data bytea NOT NULL,
    hash bytea NOT NULL
);

-- Hashes of the perfect subtrees of two or more leaves, written as they complete.
CREATE TABLE ledger_nodes (
    level integer NOT NULL,
    idx   bigint NOT NULL,
    hash  bytea NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    size bigint PRIMARY KEY,
    root bytea NOT NULL,
    note text NOT NULL
);

-- Person keys, interned: rows elsewhere carry the small integer.
CREATE TABLE persons (
    pid integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key bytea NOT NULL UNIQUE
);

-- Every record id ever appended, scans included, and where its row is: ids are
-- unique across records and scans, and stay taken after a purge (the log still has
-- the purged record's leaf). `entered` is set for scans: it names their partition.
CREATE TABLE record_ids (
    id      text PRIMARY KEY,
    leaf    bigint NOT NULL,
    entered bigint
);

-- Every evidence record except venue scans, as canonical bytes. `about` is the
-- person the record concerns (for acts: the person of the record acted on); NULL
-- for risk areas and acts on them, which every derivation reads.
CREATE TABLE records (
    leaf      bigint PRIMARY KEY,
    id        text NOT NULL UNIQUE,
    kind      smallint NOT NULL,
    about     integer,
    canonical bytea NOT NULL,
    salt      bytea NOT NULL
);
CREATE INDEX records_about ON records (about, leaf);
CREATE INDEX records_common ON records (leaf) WHERE about IS NULL;
-- Close-contact designations (kind 3), which a purge reads for the scans they keep.
CREATE INDEX records_close_contacts ON records (leaf) WHERE kind = 3;

-- A venue as scans saw it (id, street, kind), interned.
CREATE TABLE venues (
    vid    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id     text NOT NULL,
    street integer NOT NULL,
    kind   smallint NOT NULL,
    UNIQUE (id, street, kind)
);
CREATE INDEX venues_street ON venues (street);

-- Venue scans, in typed columns (the canonical bytes are rebuilt from them),
-- partitioned by day of entry (UTC): one partition per day, `scans_YYYYMMDD`, made
-- by the writer when the first scan of that day arrives. Range reads touch only the
-- days they cover, and a purge drops whole days. `official` and `authority` are set
-- only for scans an official entered by hand.
CREATE TABLE scans (
    leaf        bigint NOT NULL,
    entered     bigint NOT NULL,
    pid         integer NOT NULL,
    vid         integer NOT NULL,
    left_at     bigint,
    recorded_at bigint NOT NULL,
    presence    smallint NOT NULL,
    proxy       integer,
    id          text NOT NULL,
    official    text,
    authority   text,
    salt        bytea NOT NULL,
    PRIMARY KEY (leaf, entered)
) PARTITION BY RANGE (entered);
CREATE INDEX scans_venue ON scans (vid, entered);
CREATE INDEX scans_person ON scans (pid, entered);

-- Code changes recorded by the derivation engine, one row per person per batch.
CREATE TABLE code_changes (
    leaf             bigint NOT NULL,
    position         bigint NOT NULL,
    pid              integer NOT NULL,
    colour           smallint NOT NULL,
    valid_at         bigint NOT NULL,
    known_at         bigint NOT NULL,
    since            bigint,
    next_at          bigint,
    next_colour      smallint,
    reason           text,
    owners           text NOT NULL,
    decisive         text NOT NULL,
    rule_set         text NOT NULL,
    rule_set_version text NOT NULL,
    reflects         bigint NOT NULL,
    salt             bytea NOT NULL,
    PRIMARY KEY (leaf, position)
);
CREATE INDEX code_changes_next ON code_changes (next_at) WHERE next_at IS NOT NULL;

-- The current code of each person: a pointer to their latest change.
CREATE TABLE code_states (
    pid      integer PRIMARY KEY,
    leaf     bigint NOT NULL,
    position bigint NOT NULL
);
