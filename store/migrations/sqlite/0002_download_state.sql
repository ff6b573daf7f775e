-- What was last fetched from each URL, for conditional GET (If-None-Match / If-Modified-Since).
-- Written only once the extract it describes has been ingested (promoted or held), so an extract that
-- failed to ingest is fetched again, not answered 304.
CREATE TABLE download_state (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    file_name     TEXT,
    sha256        TEXT NOT NULL,
    bytes         INTEGER NOT NULL,
    fetched_at    TEXT NOT NULL
);
