-- Records are stored packed (encoding 2, issue 17): a zstd frame of the canonical JSON made with a frozen dictionary
-- (`store/src/record.rs`), about ten times smaller at national size. Binary, so `bytea`. Rows written before keep their
-- text as UTF-8 bytes (encoding 1), which the readers still read; the hash is of the canonical JSON in both.
ALTER TABLE person_version ALTER COLUMN record TYPE BYTEA USING convert_to(record, 'UTF8');
