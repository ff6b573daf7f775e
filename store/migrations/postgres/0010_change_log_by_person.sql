-- A person's changes, found by idNat: a person's history (`history_of`: `annuaire record`, FHIR `_history` of one
-- professional) and the removed persons' check that no later generation deleted them again (`removed_page`) looked
-- them up through change_log_key (generation, idnat), a scan of every generation's changes for each lookup, which
-- grows by every night's changes. Re-syncs write a few thousand rows a night into it; a first load writes none
-- (migration 0009).
CREATE INDEX change_log_person ON change_log (idnat, generation);
