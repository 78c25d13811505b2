-- Web origins (CORS): the origins whose pages may read this client's answers from the token, userinfo and revoke
-- endpoints, each as a browser sends it in `Origin` (scheme://host[:port]). Space-separated; empty: a public client
-- gets the origins of its http(s) redirect URIs, a confidential one none.
ALTER TABLE clients ADD COLUMN web_origins TEXT NOT NULL DEFAULT '';
