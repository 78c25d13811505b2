-- The refresh-token reuse interval (`--refresh-reuse-interval`): a client whose refresh answer was lost may present
-- the token it just rotated again, for a while and a bounded number of times, and get a new pair in the same session.
-- Only the family's most recently rotated token qualifies, so each family records which one that is, and each token
-- the token it was issued for: a token whose parent is no longer the family's most recently rotated one belongs to a
-- superseded branch, and presenting it counts as reuse. Every column is NULL / 0 for rows written before this
-- migration, which then behave as before (their first rotation sets them).
ALTER TABLE refresh_tokens ADD COLUMN parent_hash BLOB;        -- SHA-256 of the token this one was issued for; NULL: a session's first
ALTER TABLE token_families ADD COLUMN rotated_hash BLOB;       -- SHA-256 of the token rotated most recently
ALTER TABLE token_families ADD COLUMN rotated_at INTEGER;      -- when it was rotated (its first presentation)
ALTER TABLE token_families ADD COLUMN reissues INTEGER NOT NULL DEFAULT 0; -- pairs it yielded since, within the interval
