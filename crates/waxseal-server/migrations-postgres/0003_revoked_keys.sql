-- Signing keys withdrawn because they leaked (`waxseal keys revoke`). The key's row, and its private half with it,
-- is deleted; this record stays for good, so the key can never be stored again (an import of a dump taken before
-- the revocation is refused) and `waxseal keys list` can say what happened to it.
CREATE TABLE revoked_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT NOT NULL
);
