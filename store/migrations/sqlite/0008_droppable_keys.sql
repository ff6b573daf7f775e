-- The keys of person_version and change_log become named unique indexes, not table constraints (issue 17), so that a
-- first load can drop them while it writes and make them once at the end (`store/src/bulk.rs`): 1.7 million inserts
-- in idNat-hash order into two B-trees larger than the page cache rewrote every leaf page in each of the 64 waves'
-- transactions (measured: 35 s of writing against 12 s without them). SQLite cannot drop a table constraint, so the
-- two tables are copied once. The columns, the uniqueness and the other index are unchanged.
CREATE TABLE person_version_0008 (
    idnat      TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to   INTEGER,
    hash       TEXT NOT NULL,              -- xxh3-128 of the canonical JSON record
    record     TEXT NOT NULL               -- the record, packed (encoding 2) or its canonical JSON (encoding 1)
);
INSERT INTO person_version_0008 (idnat, valid_from, valid_to, hash, record)
    SELECT idnat, valid_from, valid_to, hash, record FROM person_version ORDER BY rowid;
DROP TABLE person_version;
ALTER TABLE person_version_0008 RENAME TO person_version;
CREATE UNIQUE INDEX person_version_key ON person_version (idnat, valid_from);
CREATE INDEX person_version_closed ON person_version (valid_to) WHERE valid_to IS NOT NULL;

CREATE TABLE change_log_0008 (
    generation INTEGER NOT NULL,
    idnat      TEXT NOT NULL,
    change     TEXT NOT NULL CHECK (change IN ('create', 'update', 'delete')),
    id_group   TEXT NOT NULL               -- rpps, adeli, other
);
INSERT INTO change_log_0008 (generation, idnat, change, id_group)
    SELECT generation, idnat, change, id_group FROM change_log ORDER BY rowid;
DROP TABLE change_log;
ALTER TABLE change_log_0008 RENAME TO change_log;
CREATE UNIQUE INDEX change_log_key ON change_log (generation, idnat);
