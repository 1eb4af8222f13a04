-- Mingma SQLite schema, version 3. Never edit a migration that shipped: add one.

-- Scans are found by venue and time and by person and time through an in-memory
-- read model (src/scan_index.rs), built at open from this table and kept current by
-- the writer. The two on-disk indexes made every appended scan dirty about two random
-- pages (WAL write amplification); without them, appended scan rows go where the
-- last one went (the table is ordered by leaf).
DROP INDEX IF EXISTS scans_venue;
DROP INDEX IF EXISTS scans_person;
