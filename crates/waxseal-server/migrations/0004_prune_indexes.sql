-- Indexes for pruning (`waxseal_server::service` prune pass): each batch finds the rows it deletes by time, without
-- scanning a table. The refresh-token one covers unused tokens only, the only ones pruned on their own.
CREATE INDEX refresh_tokens_unused_expiry ON refresh_tokens(expires_at) WHERE used_at IS NULL;
CREATE INDEX token_families_expiry ON token_families(expires_at);
CREATE INDEX denied_jtis_expiry ON denied_jtis(expires_at);
CREATE INDEX denied_sids_expiry ON denied_sids(expires_at);
CREATE INDEX user_not_before_time ON user_not_before(not_before);

-- The sessions a client started, for ending them when the client is deleted.
CREATE INDEX token_families_client ON token_families(client_id) WHERE client_id IS NOT NULL;
