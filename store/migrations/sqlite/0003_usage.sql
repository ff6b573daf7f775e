-- Usage indicators of the HTTP API, per client service: calls per day, endpoint and outcome, and the
-- distinct professionals asked about. Written in batches by the server (not per request).
CREATE TABLE usage_count (
    day      TEXT NOT NULL,            -- YYYY-MM-DD, UTC
    client   TEXT NOT NULL,            -- client name from the config file
    endpoint TEXT NOT NULL,            -- claims, claims_batch, eligibility, resolve, services ...
    outcome  TEXT NOT NULL,            -- ok, not_found, eligible, refused, bad_request, forbidden ...
    calls    INTEGER NOT NULL,
    PRIMARY KEY (day, client, endpoint, outcome)
);
CREATE TABLE usage_subject (
    day    TEXT NOT NULL,
    client TEXT NOT NULL,
    idnat  TEXT NOT NULL,
    PRIMARY KEY (day, client, idnat)
);
