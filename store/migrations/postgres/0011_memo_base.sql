-- A first load's memos, one row per partition (issue 17): the memos of a partition written into an empty memo as one
-- value, each field its length in bytes, `:`, and its bytes (idNat, hash of the lines, record hash, facts), as the
-- re-sync reads person_memo's rows through group_concat. Writing 1.7 million rows of person_memo one by one was
-- about 6 % of a national first load (docs/benchmarks.md). The re-syncs write person_memo as before; a row there
-- (a newer memo, or a removal: a row with empty hashes and facts) overrides the base for its person
-- (store/src/memo.rs).
CREATE TABLE person_memo_base (
    part  BIGINT PRIMARY KEY,
    memos BYTEA NOT NULL
);
