-- SQLite's keys of person_version and change_log became named unique indexes that a first load drops while it writes
-- (issue 17, `store/src/bulk.rs`). PostgreSQL keeps its primary keys: COPY into them is not the bottleneck there, and
-- the answers of both backends are the same.
SELECT 1;
