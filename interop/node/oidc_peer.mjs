#!/usr/bin/env node
// oidc-provider (panva), the certified OpenID provider, as the peer that scripts/sign-in-bench.sh measures beside
// waxseal: the same three requests (authorization with a live session, authorization without one, the
// authorization_code grant) on an equivalent configuration.
//
//   * one confidential client (client_secret_basic, one redirect URI, grant type authorization_code), PKCE
//     required (oidc-provider 9 knows S256 only), ID tokens signed ES256 with an EC P-256 key made at start;
//   * the routes renamed to waxseal's (/authorize, /oauth/token), so the benchmark's requests and its Lua script
//     are the same for both servers;
//   * a first-party client like waxseal's: loadExistingGrant grants the openid scope to a signed-in user, so the
//     default interaction policy asks for no consent and a session-holding browser gets its code at once;
//   * a production-like setup: NODE_ENV is left to the caller (the script sets production), devInteractions off,
//     cookies signed, no logging. The one interaction, sign-in, is the small form below (a fixed account and
//     password); it is used once per run, to get a session cookie, and is not in a measured path.
//
// usage: node oidc_peer.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
// Prints "ready" on stdout once listening; server errors go to stderr (the script looks for them).

import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';
const [port, clientId, clientSecret, redirectUri, username, password] = process.argv.slice(2);
if (!password) {
  console.error('usage: node oidc_peer.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

// The in-memory adapter, after oidc-provider's own (lib/adapters/memory_adapter.js) without its two quick-start
// limits that this benchmark would hit and a real deployment would not: its store is an LRU of 1000 entries (fewer
// than the codes minted before the exchange run), and each token saved re-scans every token of its grant (all the
// codes of the one benchmark session: O(n) per request). Here: a Map, and a Set of keys per grant.
const store = new Map(); // model:id → { payload, expiresAt (ms) }
const sessionByUid = new Map();
const grantMembers = new Map(); // grantId → Set of model:id
const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

class MemoryAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    if (this.model === 'Session') sessionByUid.set(payload.uid, id);
    if (payload.grantId && grantable.has(this.model)) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
  }

  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    return entry.payload;
  }

  async findByUid(uid) { return sessionByUid.has(uid) ? this.find(sessionByUid.get(uid)) : undefined; }

  async findByUserCode() { return undefined; } // device flow: not enabled

  async consume(id) {
    const payload = await this.find(id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

const signingKey = {
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
  alg: 'ES256',
  use: 'sig',
  kid: randomBytes(8).toString('base64url'),
};

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  routes: { authorization: '/authorize', token: '/oauth/token' },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    // waxseal's access token is a JWT (typ at+jwt) signed with the same key as the ID token; oidc-provider makes
    // a JWT access token only for a resource server, so there is one, the default resource of every request.
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:waxseal-bench:api',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: 'urn:waxseal-bench:api',
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  // Set, as production would (the defaults print a notice each). A code lives 10 minutes, not 60 s as on waxseal:
  // the benchmark mints all its codes before the exchange run, and node mints them more slowly; the lifetime is
  // one number in the stored code and costs nothing per request.
  ttl: {
    AuthorizationCode: 600,
    AccessToken: 3600,
    IdToken: 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  // The default policy asks for consent unless the grant holds the requested scopes: a first-party client's
  // grant is made here, on the first authorization of a session, and then found again through the session.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      if (grant) return grant;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid');
    grant.addResourceScope('urn:waxseal-bench:api', 'api');
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

function same(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

async function formBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

// The sign-in interaction: GET /interaction/UID shows a form, POST /interaction/UID signs in and hands the
// result back to oidc-provider, which resumes the authorization request.
async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'POST') {
    const form = await formBody(req);
    if (same(form.get('username'), username) && same(form.get('password'), password)) {
      await provider.interactionFinished(req, res, { login: { accountId: username } }, {
        mergeWithLastSubmission: false,
      });
      return;
    }
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>Sign in</title><form method="post" action="/interaction/${uid}">`
    + '<input name="username" autocomplete="username"><input name="password" type="password">'
    + '<button>Sign in</button></form>');
}

const callback = provider.callback();
createServer((req, res) => {
  const match = /^\/interaction\/([\w-]+)$/.exec(req.url);
  if (!match) return callback(req, res);
  interaction(req, res, match[1]).catch((error) => {
    console.error('interaction', error);
    res.writeHead(400).end();
  });
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
