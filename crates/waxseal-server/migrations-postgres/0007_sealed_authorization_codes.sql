-- Authorization codes are sealed now (AES-256-GCM under a key derived from the master key): the code carries what
-- its exchange is checked against, so issuing one writes nothing. What is stored is that a code was used: its
-- 256-bit id, the session (`sid`) a second presentation revokes, and when the code expires (the row can go then).
-- Codes issued before this migration (they live a minute) are refused: their rows are dropped.
DROP TABLE authorization_codes;
CREATE TABLE used_codes (
    id          BYTEA PRIMARY KEY,
    sid         TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX used_codes_expiry ON used_codes(expires_at);
