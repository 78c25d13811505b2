-- Publish before sign: a key is in the JWKS from created_at and signs from activates_at, so caches of the JWKS have
-- seen it before any token carries its kid. It stops signing when a newer key activates and is deleted once every
-- token it signed has expired; both times follow from activates_at, so nothing else is stored.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER NOT NULL DEFAULT 0;
UPDATE signing_keys SET activates_at = created_at;
ALTER TABLE signing_keys DROP COLUMN retired_at;
