-- What the sync knows of each person's raw lines, so that a nightly re-sync parses only the persons whose lines
-- changed (issue 17): the hash of their lines (from every extract, in file order, salted with the versions of the
-- code tables, the record encoding and the parser), the hash of the record those lines gave, and what the person
-- adds to the run's counters (segments, quality report), encoded by the ingest crate. A cache of a pure function:
-- a row is trusted only when the served record's hash is its `record_hash`, so it never needs to follow generations,
-- holds or approvals. Keyed by the sync's partition first, so that a wave of partitions reads its rows in one range.
CREATE TABLE person_memo (
    part        INTEGER NOT NULL,
    idnat       TEXT NOT NULL,
    raw_hash    BLOB NOT NULL,
    record_hash BLOB NOT NULL,
    facts       BLOB NOT NULL,
    PRIMARY KEY (part, idnat)
) WITHOUT ROWID;
