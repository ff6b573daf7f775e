-- A generation begun when nothing at all is stored (a first load: no version, no change) can only create persons:
-- its creations are then not written to change_log, one row per person, but read from its versions (every version
-- with valid_from = the generation is one), and the generation says so here (issue 17: writing those 1.7 million rows
-- was about a tenth of a national first load, measured in docs/benchmarks.md). Such a generation has no other change.
-- Every reader of change_log (store/src/reads.rs, store/src/generations.rs) reads both. 0 = its changes are all in
-- change_log, as for every generation before this migration.
ALTER TABLE generation ADD COLUMN implicit_creates INTEGER NOT NULL DEFAULT 0;
