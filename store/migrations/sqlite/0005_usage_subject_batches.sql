-- The distinct professionals asked about, written once per flush and client as one row: the 64-bit hashes (xxh3) of
-- the idNats asked about since the last flush, sorted, 8 bytes each (little endian). Inserting one row per asked-about
-- professional into a keyed table cost the server a sixth of its CPU under a uniform load (2026-11-30); the report
-- now counts distinct hashes per day and client. Hashes, not idNats: counting is all the records are for. The rows of
-- `usage_subject` written before stay readable and purgeable.
CREATE TABLE usage_subject_batch (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    day      TEXT NOT NULL,
    client   TEXT NOT NULL,
    subjects BLOB NOT NULL
);
CREATE INDEX usage_subject_batch_day ON usage_subject_batch (day, client);
