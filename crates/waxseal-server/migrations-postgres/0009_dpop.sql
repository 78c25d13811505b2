-- DPoP (RFC 9449).
-- token_families.dpop_jkt: the thumbprint of the DPoP key a public client's refresh token is bound to (§5); a
-- refresh of the family needs a proof by that key. NULL: not bound (a confidential client, or no proof).
-- clients.require_dpop: the client's token requests must carry a DPoP proof (dpop_bound_access_tokens).
ALTER TABLE token_families ADD COLUMN dpop_jkt TEXT;
ALTER TABLE clients ADD COLUMN require_dpop BOOLEAN NOT NULL DEFAULT FALSE;
