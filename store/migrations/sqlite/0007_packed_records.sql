-- Records are stored packed (encoding 2, issue 17): a zstd frame of the canonical JSON made with a frozen dictionary
-- (`store/src/record.rs`), about ten times smaller at national size, as a BLOB in `person_version.record`. SQLite keeps
-- a BLOB as it is in a column declared TEXT, so the table is not rebuilt: rows written before keep their text
-- (encoding 1), which the readers still read; the hash is of the canonical JSON in both.
SELECT 1;
