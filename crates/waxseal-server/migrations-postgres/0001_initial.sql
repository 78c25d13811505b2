-- The PostgreSQL schema of the waxseal auth server: the same tables as the SQLite migrations (../migrations) at
-- 0004, in PostgreSQL's types. Times are Unix seconds (BIGINT); digests and sealed keys are BYTEA.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,            -- argon2id PHC string
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    scopes        TEXT NOT NULL DEFAULT '', -- space-separated (RFC 6749 §3.3)
    created_at    BIGINT NOT NULL
);

-- OAuth 2.0 clients (RFC 6749 §2); the secret is stored only as its SHA-256.
CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    secret_hash BYTEA NOT NULL CHECK (octet_length(secret_hash) = 32),
    name        TEXT NOT NULL,
    grant_types TEXT NOT NULL,            -- space-separated: password refresh_token client_credentials
    scopes      TEXT NOT NULL DEFAULT '', -- space-separated
    created_at  BIGINT NOT NULL
);

-- A token family is one login session; its id is the access tokens' `sid`. client_id and scope are NULL for a
-- POST /login session.
CREATE TABLE token_families (
    sid         TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,          -- absolute limit
    revoked_at  BIGINT,
    client_id   TEXT,
    scope       TEXT
);
CREATE INDEX token_families_user ON token_families(user_id);
CREATE INDEX token_families_expiry ON token_families(expires_at);
CREATE INDEX token_families_client ON token_families(client_id) WHERE client_id IS NOT NULL;

-- Refresh tokens are stored only as the SHA-256 of the opaque token.
CREATE TABLE refresh_tokens (
    hash        BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),
    sid         TEXT NOT NULL REFERENCES token_families(sid) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,          -- idle limit
    used_at     BIGINT
);
CREATE INDEX refresh_tokens_sid ON refresh_tokens(sid);
CREATE INDEX refresh_tokens_unused_expiry ON refresh_tokens(expires_at) WHERE used_at IS NULL;

-- Published from created_at, signing from activates_at (see the keyring module).
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,         -- RFC 7638 thumbprint (random for HMAC keys)
    alg          TEXT NOT NULL,
    private_key  BYTEA NOT NULL,           -- AES-256-GCM: nonce || ciphertext || tag, AAD = kid
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL
);

CREATE TABLE denied_jtis (
    jti         TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX denied_jtis_expiry ON denied_jtis(expires_at);

CREATE TABLE denied_sids (
    sid         TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX denied_sids_expiry ON denied_sids(expires_at);

CREATE TABLE user_not_before (
    user_id     TEXT PRIMARY KEY,
    not_before  BIGINT NOT NULL
);
CREATE INDEX user_not_before_time ON user_not_before(not_before);
