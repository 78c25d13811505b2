-- Resource indicators (RFC 8707).
-- resources: the resource servers a token may be asked for (`resource=`), each an absolute URI, with the scopes it
-- accepts (space-separated); a token for one has that URI as its only `aud`.
-- token_families.resource: the resource the session's tokens are for; a refresh keeps it. NULL: the server's own API.
CREATE TABLE resources (
    uri TEXT PRIMARY KEY NOT NULL,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
ALTER TABLE token_families ADD COLUMN resource TEXT;
