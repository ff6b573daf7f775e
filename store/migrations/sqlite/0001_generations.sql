-- annuaire store, SQLite flavour. Never edit an applied migration: add a new numbered file
-- (store/migrations/README.md). The PostgreSQL folder carries the same version numbers.

-- One row per ingest attempt, whatever its outcome.
CREATE TABLE ingest_run (
    run            INTEGER PRIMARY KEY AUTOINCREMENT,
    generation     INTEGER,                -- the generation it built, NULL when none
    status         TEXT NOT NULL CHECK (status IN ('running', 'promoted', 'held', 'failed', 'unchanged')),
    source         TEXT NOT NULL,          -- path or URL given
    sha256         TEXT,                   -- of the zip (or of the files, for a folder)
    file_timestamp TEXT,                   -- YYYYMMDDhhmm from the main file's name
    started_at     TEXT NOT NULL,          -- RFC 3339, UTC
    finished_at    TEXT,
    duration_ms    INTEGER,
    rows_read      INTEGER,
    rows_rejected  INTEGER,
    duplicate_rows INTEGER,
    persons        INTEGER,
    created        INTEGER,
    updated        INTEGER,
    deleted        INTEGER,
    diff           TEXT,                   -- JSON: counts per id group (rpps, adeli, other) and reference counts
    report         TEXT,                   -- JSON: files, errors and warnings by kind, unknown codes, first errors
    reason         TEXT                    -- why a run failed or was held
);

-- A generation is one complete state of the directory. Exactly one is served (table serving).
CREATE TABLE generation (
    generation  INTEGER PRIMARY KEY,
    run         INTEGER NOT NULL REFERENCES ingest_run(run),
    state       TEXT NOT NULL CHECK (state IN ('building', 'ready', 'held', 'promoted', 'failed', 'superseded')),
    created_at  TEXT NOT NULL,
    promoted_at TEXT,
    persons     INTEGER
);

-- The pointer readers follow. Promotion is one UPDATE of this row: atomic for every reader.
CREATE TABLE serving (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  INTEGER NOT NULL REFERENCES generation(generation),
    promoted_at TEXT NOT NULL
);

-- Person records, versioned: a version is visible in generation G when valid_from <= G < valid_to
-- (valid_to NULL = still current). A new generation only adds versions for what changed and closes
-- the versions it replaces or deletes, so writes are proportional to the changes and readers of the
-- served generation never see the new one before the pointer moves. A deleted person keeps their
-- versions (soft delete); an id is never given to someone else.
CREATE TABLE person_version (
    idnat      TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to   INTEGER,
    hash       TEXT NOT NULL,              -- xxh3-128 of the canonical JSON record
    record     TEXT NOT NULL,              -- the canonical JSON record (annuaire_schemas::Person)
    PRIMARY KEY (idnat, valid_from)
);
CREATE INDEX person_version_valid_to ON person_version (valid_to);
CREATE INDEX person_version_valid_from ON person_version (valid_from);

-- What each generation changed, for `annuaire changes` and the safety gate.
CREATE TABLE change_log (
    generation INTEGER NOT NULL,
    idnat      TEXT NOT NULL,
    change     TEXT NOT NULL CHECK (change IN ('create', 'update', 'delete')),
    id_group   TEXT NOT NULL,              -- rpps, adeli, other
    PRIMARY KEY (generation, idnat)
);

-- Single flight for syncs: at most one writer builds a generation at a time.
CREATE TABLE sync_lock (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    owner        TEXT,
    host         TEXT,
    pid          INTEGER,
    acquired_at  TEXT
);
INSERT INTO sync_lock (id) VALUES (1);
