-- A person's records other than scans (tests, cases, orders, the acts on them) were
-- found through `records_about (about, leaf)` and then read one by one from `records`,
-- whose key is the leaf: a person's records are spread over the whole log (recorded
-- days apart), so each was a b-tree descent to a page of its own. Deriving a
-- declaration's people read them that way: at 1,000,000 people, 2.7 records each.
-- The index now carries what derivation reads of a record (its canonical bytes and
-- seal), so a person's records sit together in it, in leaf order, and people in
-- order of their ids are read in one pass. It costs the space of those records again
-- (about 4 % of a 1M store, where scans, which are not in `records`, are most of it).
DROP INDEX records_about;
CREATE INDEX records_about ON records (about, leaf, canonical, seal);
