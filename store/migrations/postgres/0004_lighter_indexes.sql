-- Same as migrations/sqlite/0004: only closed versions need an index on valid_to.
DROP INDEX person_version_valid_from;
DROP INDEX person_version_valid_to;
CREATE INDEX person_version_closed ON person_version (valid_to) WHERE valid_to IS NOT NULL;
