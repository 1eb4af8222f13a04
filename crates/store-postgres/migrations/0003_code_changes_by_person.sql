-- A holder's history lists their code changes: found by person, not by walking the
-- ledger.
CREATE INDEX code_changes_person ON code_changes (pid, leaf, position);
