-- The embedded schema of the waxseal auth server. Times are Unix seconds.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,          -- argon2id PHC string
    disabled      INTEGER NOT NULL DEFAULT 0,
    scopes        TEXT NOT NULL DEFAULT '', -- space-separated (RFC 6749 §3.3)
    created_at    INTEGER NOT NULL
);

-- A token family is one login session; its id is the access tokens' `sid`.
CREATE TABLE token_families (
    sid         TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,         -- absolute limit
    revoked_at  INTEGER
);
CREATE INDEX token_families_user ON token_families(user_id);

-- Refresh tokens are stored only as the SHA-256 of the opaque token.
CREATE TABLE refresh_tokens (
    hash        BLOB PRIMARY KEY NOT NULL,
    sid         TEXT NOT NULL REFERENCES token_families(sid) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,         -- idle limit
    used_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_sid ON refresh_tokens(sid);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL, -- RFC 7638 thumbprint
    alg         TEXT NOT NULL,
    private_key BLOB NOT NULL,             -- AES-256-GCM: nonce || ciphertext || tag, AAD = kid
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

CREATE TABLE denied_jtis (
    jti         TEXT PRIMARY KEY NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE denied_sids (
    sid         TEXT PRIMARY KEY NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE user_not_before (
    user_id     TEXT PRIMARY KEY NOT NULL,
    not_before  INTEGER NOT NULL
);
