-- RFC 7662: a client introspects its own tokens; one marked here (a resource server) also every client's access
-- tokens. Off for every existing client: before this, any client could introspect any token.
ALTER TABLE clients ADD COLUMN may_introspect INTEGER NOT NULL DEFAULT 0 CHECK (may_introspect IN (0, 1));
