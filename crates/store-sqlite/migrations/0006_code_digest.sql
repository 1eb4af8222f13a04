-- Each person's current code carries the digest of what a new change is compared on
-- (`CodeChange::code_digest`) and the leaf of the change it is the digest of:
-- recording a batch compares digests instead of reading every stored change back
-- (two more b-tree descents and seven columns per person). A row whose `code_leaf`
-- is not its `leaf` (stored before this migration, or updated since by a build that
-- does not know these columns) is compared column by column.
ALTER TABLE code_states ADD COLUMN code BLOB;
ALTER TABLE code_states ADD COLUMN code_leaf INTEGER;
