-- The refresh-token reuse interval: the same columns as the SQLite migration 0005_refresh_reuse_interval.sql (see its
-- comments), in PostgreSQL's types. The checks are added NOT VALID: existing rows hold NULL / 0 anyway, and skipping
-- their validation keeps the migration a catalog change that never scans (and locks) a large refresh_tokens table.
ALTER TABLE refresh_tokens ADD COLUMN parent_hash BYTEA;
ALTER TABLE token_families ADD COLUMN rotated_hash BYTEA;
ALTER TABLE token_families ADD COLUMN rotated_at BIGINT;
ALTER TABLE token_families ADD COLUMN reissues INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_parent_hash_length
    CHECK (octet_length(parent_hash) = 32) NOT VALID;
ALTER TABLE token_families ADD CONSTRAINT token_families_rotated_hash_length
    CHECK (octet_length(rotated_hash) = 32) NOT VALID;
ALTER TABLE token_families ADD CONSTRAINT token_families_reissues_not_negative
    CHECK (reissues >= 0) NOT VALID;
