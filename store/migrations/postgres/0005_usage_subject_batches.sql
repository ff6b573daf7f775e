-- The distinct professionals asked about, written once per flush and client as one row: the 64-bit hashes (xxh3) of
-- the idNats asked about since the last flush, sorted, 8 bytes each (little endian). See the SQLite migration.
CREATE TABLE usage_subject_batch (
    id       BIGSERIAL PRIMARY KEY,
    day      TEXT NOT NULL,
    client   TEXT NOT NULL,
    subjects BYTEA NOT NULL
);
CREATE INDEX usage_subject_batch_day ON usage_subject_batch (day, client);
