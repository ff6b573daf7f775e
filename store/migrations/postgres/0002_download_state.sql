-- Same as migrations/sqlite/0002: what was last fetched from each URL, for conditional GET.
CREATE TABLE download_state (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    file_name     TEXT,
    sha256        TEXT NOT NULL,
    bytes         BIGINT NOT NULL,
    fetched_at    TEXT NOT NULL
);
