-- What the sync knows of each person's raw lines, so that a nightly re-sync parses only the persons whose lines
-- changed (issue 17). See the SQLite migration.
CREATE TABLE person_memo (
    part        BIGINT NOT NULL,
    idnat       TEXT COLLATE "C" NOT NULL,
    raw_hash    BYTEA NOT NULL,
    record_hash BYTEA NOT NULL,
    facts       BYTEA NOT NULL,
    PRIMARY KEY (part, idnat)
);
