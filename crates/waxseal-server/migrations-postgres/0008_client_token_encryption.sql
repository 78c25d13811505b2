-- Encrypted tokens, per client.
-- encryption_jwk, encryption_enc: the client's public JWK (an asymmetric JWE key-management alg: RSA-OAEP*,
-- ECDH-ES*) and the content encryption its ID tokens are encrypted with (nested JWTs); both NULL: signed only.
-- encrypt_access_tokens: its access tokens are encrypted under the server's own key (dir + A256GCM, derived from
-- the master key), hidden from the client; the server and introspection open them.
ALTER TABLE clients ADD COLUMN encryption_jwk TEXT;
ALTER TABLE clients ADD COLUMN encryption_enc TEXT;
ALTER TABLE clients ADD COLUMN encrypt_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
