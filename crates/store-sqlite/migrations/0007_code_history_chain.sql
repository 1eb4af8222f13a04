-- A batch of code changes wrote four b-trees per change: the row, the index by
-- person (for the holder's history), the index by next change (for the scheduler)
-- and the person's current state. A declaration reaching most of a city touched
-- nearly every page of the two indexes. Both go:
--
-- * each change names the person's change before it (NULL for their first), so a
--   holder's history is walked back from their current state, one lookup by key a
--   change, instead of an index by person kept up for every change;
-- * the scheduler's due list is kept on the current state, where only a code in
--   force can be due, instead of over every change ever recorded.

ALTER TABLE code_changes ADD COLUMN previous_leaf INTEGER;
ALTER TABLE code_changes ADD COLUMN previous_position INTEGER;

CREATE TEMP TABLE code_chain AS
    SELECT leaf, position,
           lag(leaf) OVER person AS previous_leaf,
           lag(position) OVER person AS previous_position
    FROM code_changes
    WINDOW person AS (PARTITION BY pid ORDER BY leaf, position);
UPDATE code_changes
    SET previous_leaf = code_chain.previous_leaf,
        previous_position = code_chain.previous_position
    FROM code_chain
    WHERE code_chain.previous_leaf IS NOT NULL
      AND code_changes.leaf = code_chain.leaf
      AND code_changes.position = code_chain.position;
DROP TABLE code_chain;
DROP INDEX code_changes_person;

ALTER TABLE code_states ADD COLUMN next_at INTEGER;
UPDATE code_states SET next_at = (
    SELECT c.next_at FROM code_changes c
    WHERE c.leaf = code_states.leaf AND c.position = code_states.position
);
CREATE INDEX code_states_next ON code_states (next_at) WHERE next_at IS NOT NULL;
DROP INDEX code_changes_next;
