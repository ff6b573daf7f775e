-- Same as migrations/sqlite/0003: usage indicators of the HTTP API, per client service.
CREATE TABLE usage_count (
    day      TEXT NOT NULL,
    client   TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    calls    BIGINT NOT NULL,
    PRIMARY KEY (day, client, endpoint, outcome)
);
CREATE TABLE usage_subject (
    day    TEXT NOT NULL,
    client TEXT NOT NULL,
    idnat  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (day, client, idnat)
);
