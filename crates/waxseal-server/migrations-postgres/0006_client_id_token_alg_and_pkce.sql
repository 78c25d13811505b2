-- Two registrations of an OpenID Connect client.
-- id_token_alg: the algorithm of its ID tokens, RS256 (OpenID Connect Core §15.1 requires a provider to offer it)
-- or the server's own; NULL takes the server's signing algorithm.
-- pkce_exempt: a confidential client allowed to leave PKCE out (its secret authenticates the code exchange);
-- never set for a public client, for which PKCE is the only binding of the code to the client.
ALTER TABLE clients ADD COLUMN id_token_alg TEXT;
ALTER TABLE clients ADD COLUMN pkce_exempt BOOLEAN NOT NULL DEFAULT FALSE;
