// node oidc-provider configured as waxseal is in scripts/oidc-provider-bench.sh: one client with the
// client_credentials grant and client_secret_basic, access tokens as ES256 JWTs (`typ: at+jwt`, RFC 9068) through
// the resource indicators feature, which is how oidc-provider issues JWT access tokens.
//
// usage: PORT=18181 CLIENT_ID=... CLIENT_SECRET=... node server.js
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const { PORT, CLIENT_ID, CLIENT_SECRET } = process.env;
if (!PORT || !CLIENT_ID || !CLIENT_SECRET) {
  console.error('server.js: set PORT, CLIENT_ID and CLIENT_SECRET');
  process.exit(2);
}

// A fresh P-256 key per run, as waxseal's data directory gets one.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };
// oidc-provider wants the resource indicator to be an absolute URI; it is also the tokens' `aud`.
const audience = 'https://api.example';

const provider = new Provider(`http://127.0.0.1:${PORT}`, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    // The only key is ES256; oidc-provider checks this default (RS256) against the keys even though no ID token
    // is issued here.
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [key] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Every token is for the one API, as waxseal's `aud`; no `resource` parameter needed.
      defaultResource: () => audience,
      getResourceServerInfo: () => ({
        audience,
        scope: '',
        accessTokenTTL: 900,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});

provider.listen(Number(PORT), '127.0.0.1', () => {
  console.log(`oidc-provider listening on http://127.0.0.1:${PORT}`);
});
