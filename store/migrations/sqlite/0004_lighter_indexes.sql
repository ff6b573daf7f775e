-- Measured on a national-size load: maintaining two secondary indexes on every inserted version cost
-- more than the rare operations they served. Versions are found by primary key (idnat, valid_from);
-- abandoning or approving a generation goes through change_log. Only closed versions need an index on
-- valid_to (to reopen them), so the index is partial and stays small.
DROP INDEX person_version_valid_from;
DROP INDEX person_version_valid_to;
CREATE INDEX person_version_closed ON person_version (valid_to) WHERE valid_to IS NOT NULL;
