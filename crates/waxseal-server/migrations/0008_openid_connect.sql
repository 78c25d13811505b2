-- OpenID Connect sign-in: the authorization code flow with PKCE, the browser's SSO session, remembered consent.

-- Profile claims (userinfo, ID tokens): NULL when not set.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN display_name TEXT;

-- Where a client's browser flows may return (matched exactly), whether it holds no secret (a public client:
-- token_endpoint_auth_method none, PKCE required), and whether it is the operator's own (no consent page).
ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';             -- space-separated
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT ''; -- space-separated
ALTER TABLE clients ADD COLUMN public_client INTEGER NOT NULL DEFAULT 0 CHECK (public_client IN (0, 1));
ALTER TABLE clients ADD COLUMN first_party INTEGER NOT NULL DEFAULT 0 CHECK (first_party IN (0, 1));

-- A browser's sign-in: referenced by a random cookie, stored as its SHA-256. Ending it (logout, /account) ends
-- the token families started from it.
CREATE TABLE sso_sessions (
    id          TEXT PRIMARY KEY NOT NULL,   -- public: the ID tokens' sid, /account's forms
    hash        BLOB NOT NULL UNIQUE,        -- SHA-256 of the cookie's secret
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_time   INTEGER NOT NULL,            -- when the user last entered their password
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    address     TEXT,
    user_agent  TEXT
);
CREATE INDEX sso_sessions_user ON sso_sessions(user_id);
CREATE INDEX sso_sessions_expiry ON sso_sessions(expires_at);

-- The browser session a token family was started from (NULL: not from a browser sign-in).
ALTER TABLE token_families ADD COLUMN sso_id TEXT;
CREATE INDEX token_families_sso ON token_families(sso_id) WHERE sso_id IS NOT NULL;

-- Authorization codes: 256 random bits stored as SHA-256, single use. `sid` is the session the exchange starts,
-- chosen when the code is issued, so that a second presentation can revoke what the first one issued.
CREATE TABLE authorization_codes (
    hash           BLOB PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sso_id         TEXT NOT NULL,
    sid            TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT,                     -- S256; never NULL today (every client uses PKCE)
    scope          TEXT NOT NULL,
    nonce          TEXT,
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
) WITHOUT ROWID;
CREATE INDEX authorization_codes_expiry ON authorization_codes(expires_at);

-- What a user allowed a client, remembered so that consent is asked once per (user, client, scopes).
CREATE TABLE consents (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,               -- space-separated: everything allowed so far
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;
