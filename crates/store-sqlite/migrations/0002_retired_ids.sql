-- Ids of records a retention purge removed: they stay taken, so an id names one
-- record forever (and one leaf).
CREATE TABLE retired_ids (
    id   TEXT PRIMARY KEY,
    leaf INTEGER NOT NULL
) WITHOUT ROWID;
