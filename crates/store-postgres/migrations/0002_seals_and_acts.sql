-- Mingma PostgreSQL schema, version 2. Never edit a migration that shipped: add one.

-- The seal (key id and Ed25519 signature, 72 bytes) of the official or data source
-- vouching for a record; NULL for records nobody signs. Derivation counts a record
-- whose recorder must sign only with a valid seal.
ALTER TABLE records ADD COLUMN seal bytea;

-- Leaves that are authority acts (type 0x04): the act is the leaf itself.
CREATE TABLE acts (
    leaf bigint PRIMARY KEY
);
