-- A record about nobody (a risk area, an act on one) concerns everyone with a scan in
-- its area: the engine finds them and re-derives their codes after the record is
-- appended, which at a city's scale takes seconds. Appending such a record marks it
-- pending here, in the same transaction; the re-derivation marks it done. One cut off
-- (a crash, a restart) is found here and done again at start (`Engine::catch_up`).
-- Records about nobody stored before this migration were re-derived when appended.
CREATE TABLE pending_derivations (
    leaf INTEGER PRIMARY KEY
);
