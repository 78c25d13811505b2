-- Dynamic client registration (RFC 7591).
-- clients.registered: added through POST /register rather than by the operator; such a client is deleted by the
-- prune task once unused for the configured time. Operator-added clients (0) never expire.
-- clients.last_used_at: Unix seconds of its last authorization or token request, written at most once a day; NULL:
-- not used since it was registered (its created_at counts).
ALTER TABLE clients ADD COLUMN registered INTEGER NOT NULL DEFAULT 0 CHECK (registered IN (0, 1));
ALTER TABLE clients ADD COLUMN last_used_at INTEGER;
