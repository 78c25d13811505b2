#!/usr/bin/env node
// A relying party for waxseal's OpenID Connect interop test, written against openid-client 6 (panva) exactly as
// its documentation has an application use it: discovery, PKCE (S256), nonce and state, the authorization URL, the
// authorization code grant (which checks the callback's state and iss, and the ID token: signature from jwks_uri,
// iss, aud, azp, exp, iat, nonce), userinfo with the expected subject, a refresh token grant and the end-session
// URL. Nothing of the library is patched or stubbed.
//
// The one thing an application would not do is the part between the authorization URL and the callback: a person
// signs in on the server's page. Here the script plays that browser with fetch: redirects seen, not followed
// (redirect: 'manual'), a small cookie jar, the page's forms read with regular expressions and posted back with
// the server's own Origin, as a browser posts them. The 303 to redirect_uri is not fetched: its Location is the
// callback URL handed to authorizationCodeGrant.
//
// The issuer in the tests is http://127.0.0.1:PORT. openid-client refuses plain-HTTP requests unless told
// otherwise; its documented way is the `allowInsecureRequests` execute option given to discovery(), used here.
// Nothing else is relaxed.
//
// Inputs, as options or environment variables (options win):
//   --issuer URL                    OIDC_ISSUER
//   --client-id ID                  OIDC_CLIENT_ID
//   --client-secret SECRET          OIDC_CLIENT_SECRET            (absent: a public client, auth method none)
//   --auth-method METHOD            OIDC_AUTH_METHOD              client_secret_basic (default with a secret),
//                                                                 client_secret_post, none (default without)
//   --redirect-uri URL              OIDC_REDIRECT_URI
//   --post-logout-redirect-uri URL  OIDC_POST_LOGOUT_REDIRECT_URI (optional: then the logout is walked too)
//   --username NAME                 OIDC_USERNAME
//   --password PASSWORD             OIDC_PASSWORD
//   --scope SCOPE                   OIDC_SCOPE                    default "openid profile email offline_access"
//   --tamper state|verifier         OIDC_TAMPER                   a negative run: expect another state than the
//                                                                 callback carries, or send another PKCE verifier
//   --dpop                          OIDC_DPOP=1                   DPoP (RFC 9449): an ES256 key pair made by
//                                                                 openid-client, every token request and resource
//                                                                 request with its proofs (openid-client retries a
//                                                                 use_dpop_nonce answer once with the server's nonce),
//                                                                 dpop_jkt in the authorization request, and GET
//                                                                 /api/me (fetchProtectedResource) besides userinfo
//   --flow code|client-credentials  OIDC_FLOW                     default code; client-credentials needs only the
//                                                                 issuer, the client and its secret: the grant, then
//                                                                 /api/me twice (two proofs, one per request)
//   --info                                                        print the installed versions and exit
//
// Output: one JSON object on stdout. On success {"ok": true, "claims", "userinfo", "refresh", "end_session_url",
// ...} and exit 0; on failure {"ok": false, "stage", "error", ...} (and a one-line message on stderr), exit 1.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const HTTP_TIMEOUT_MS = 15_000;
const MAX_BROWSER_STEPS = 10;

const require = createRequire(import.meta.url);

function installedVersion(name) {
  try {
    return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
  } catch {
    return null;
  }
}

function versions() {
  return {
    'openid-client': installedVersion('openid-client'),
    oauth4webapi: installedVersion('oauth4webapi'),
    jose: installedVersion('jose'),
    node: process.versions.node,
  };
}

// --- the result -----------------------------------------------------------------------------------------------------

let stage = 'arguments';

class Failure extends Error {}

function describe(error) {
  const out = { ok: false, stage, error: error instanceof Error ? error.message : String(error) };
  if (error && typeof error === 'object') {
    for (const key of ['name', 'code', 'status', 'error_description']) {
      if (error[key] !== undefined && typeof error[key] !== 'object') out[key] = error[key];
    }
    // openid-client's ResponseBodyError carries the OAuth error code (`invalid_grant`, ...) as `error`.
    if (typeof error.error === 'string') out.oauth_error = error.error;
    if (error.cause !== undefined) {
      out.cause = error.cause instanceof Error
        ? { name: error.cause.name, message: error.cause.message, code: error.cause.code }
        : error.cause;
    }
  }
  return out;
}

function finish(result, code) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = code;
}

// --- inputs ---------------------------------------------------------------------------------------------------------

function inputs() {
  const { values } = parseArgs({
    options: {
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'auth-method': { type: 'string' },
      'redirect-uri': { type: 'string' },
      'post-logout-redirect-uri': { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      scope: { type: 'string' },
      tamper: { type: 'string' },
      dpop: { type: 'boolean' },
      flow: { type: 'string' },
      info: { type: 'boolean' },
    },
    strict: true,
  });
  const env = process.env;
  const pick = (option, variable) => values[option] ?? (env[variable] || undefined);
  const input = {
    info: values.info ?? false,
    issuer: pick('issuer', 'OIDC_ISSUER'),
    clientId: pick('client-id', 'OIDC_CLIENT_ID'),
    clientSecret: pick('client-secret', 'OIDC_CLIENT_SECRET'),
    authMethod: pick('auth-method', 'OIDC_AUTH_METHOD'),
    redirectUri: pick('redirect-uri', 'OIDC_REDIRECT_URI'),
    postLogoutRedirectUri: pick('post-logout-redirect-uri', 'OIDC_POST_LOGOUT_REDIRECT_URI'),
    username: pick('username', 'OIDC_USERNAME'),
    password: pick('password', 'OIDC_PASSWORD'),
    scope: pick('scope', 'OIDC_SCOPE') ?? 'openid profile email offline_access',
    tamper: pick('tamper', 'OIDC_TAMPER'),
    dpop: values.dpop ?? env.OIDC_DPOP === '1',
    flow: pick('flow', 'OIDC_FLOW') ?? 'code',
  };
  if (input.info) return input;
  if (!['code', 'client-credentials'].includes(input.flow)) {
    throw new Failure(`unknown --flow ${input.flow} (code or client-credentials)`);
  }
  const needed = input.flow === 'code'
    ? ['issuer', 'clientId', 'redirectUri', 'username', 'password']
    : ['issuer', 'clientId', 'clientSecret'];
  const missing = needed.filter((k) => !input[k]);
  if (missing.length) throw new Failure(`missing input: ${missing.join(', ')}`);
  input.authMethod ??= input.clientSecret ? 'client_secret_basic' : 'none';
  if (!['client_secret_basic', 'client_secret_post', 'none'].includes(input.authMethod)) {
    throw new Failure(`unknown --auth-method ${input.authMethod}`);
  }
  if (input.authMethod !== 'none' && !input.clientSecret) {
    throw new Failure(`--auth-method ${input.authMethod} needs --client-secret`);
  }
  if (input.tamper !== undefined && !['state', 'verifier'].includes(input.tamper)) {
    throw new Failure(`unknown --tamper ${input.tamper} (state or verifier)`);
  }
  return input;
}

// --- the browser ----------------------------------------------------------------------------------------------------

// The character references an HTML escaper writes (askama: &#38; &#34; &#39; &#60; &#62;, or the named ones).
const NAMED = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function unescapeHtml(text) {
  return text.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);/g, (whole, entity) => {
    if (entity[0] === '#') {
      const point = entity[1] === 'x' || entity[1] === 'X'
        ? Number.parseInt(entity.slice(2), 16)
        : Number.parseInt(entity.slice(1), 10);
      try {
        return String.fromCodePoint(point);
      } catch {
        return whole;
      }
    }
    return NAMED[entity] ?? whole;
  });
}

function attribute(tag, name) {
  const match = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, 'i').exec(tag);
  return match ? unescapeHtml(match[1] ?? match[2]) : undefined;
}

// Every form of the page: its action (absolute), its named inputs with their values, its named buttons.
function forms(html, pageUrl) {
  const found = [];
  for (const [, open, body] of html.matchAll(/(<form\b[^>]*>)([\s\S]*?)<\/form>/gi)) {
    const fields = [];
    for (const [tag] of body.matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(tag, 'name');
      if (name !== undefined) fields.push([name, attribute(tag, 'value') ?? '']);
    }
    const buttons = [];
    for (const [tag] of body.matchAll(/<button\b[^>]*>/gi)) {
      const name = attribute(tag, 'name');
      if (name !== undefined) buttons.push([name, attribute(tag, 'value') ?? '']);
    }
    found.push({
      action: new URL(attribute(open, 'action') ?? '', pageUrl),
      method: (attribute(open, 'method') ?? 'get').toLowerCase(),
      fields,
      buttons,
    });
  }
  return found;
}

class Browser {
  constructor() {
    this.jar = new Map();
  }

  cookieHeader() {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  absorb(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a));
      if (expired || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  async request(url, init = {}) {
    const headers = new Headers(init.headers);
    headers.set('user-agent', 'waxseal-oidc-rp-interop/1.0');
    headers.set('accept', 'text/html');
    const cookies = this.cookieHeader();
    if (cookies) headers.set('cookie', cookies);
    const response = await fetch(url, {
      ...init,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    this.absorb(response);
    const body = await response.text();
    return { url: new URL(url), status: response.status, location: response.headers.get('location'), body };
  }

  get(url) {
    return this.request(url);
  }

  // Posts the form's fields, with `set` replacing or adding values, form-encoded, with the page's Origin.
  post(form, set) {
    const fields = form.fields.filter(([name]) => !(name in set));
    fields.push(...Object.entries(set));
    return this.request(form.action, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: form.action.origin,
      },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

function pageSummary(page) {
  const alert = /<p class="alert"[^>]*>([\s\S]*?)<\/p>/i.exec(page.body);
  const title = /<title>([\s\S]*?)<\/title>/i.exec(page.body);
  const text = alert ? alert[1] : title ? title[1] : page.body.slice(0, 200);
  return `HTTP ${page.status} at ${page.url.pathname}: ${unescapeHtml(text.replace(/\s+/g, ' ').trim())}`;
}

// From the authorization URL to the redirect back to `redirectUri`: signs in, allows on the consent page, follows
// the server's own redirects. Returns the callback URL (the 303's Location), not fetched, and the pages passed.
async function signInThroughBrowser(browser, authorizationUrl, input) {
  const walked = { signed_in: false, consented: false };
  let page = await browser.get(authorizationUrl);
  const seen = [];
  for (let step = 0; step < MAX_BROWSER_STEPS; step += 1) {
    seen.push(`${page.status} ${page.url.pathname}`);
    if (page.status >= 300 && page.status < 400 && page.location) {
      const next = new URL(page.location, page.url);
      if (next.href.startsWith(input.redirectUri) && next.origin === new URL(input.redirectUri).origin) {
        return { callbackUrl: next, walked };
      }
      if (next.origin !== page.url.origin) throw new Failure(`redirected off the server to ${next.href}`);
      page = await browser.get(next);
      continue;
    }
    const all = forms(page.body, page.url);
    const signIn = all.find((f) => f.action.pathname.endsWith('/signin'));
    const consent = all.find((f) => f.action.pathname.endsWith('/consent'));
    if (page.status === 200 && signIn && !seen.slice(0, -1).some((s) => s.endsWith('/signin'))) {
      stage = 'browser: sign-in';
      walked.signed_in = true;
      page = await browser.post(signIn, { username: input.username, password: input.password });
    } else if (page.status === 200 && consent) {
      stage = 'browser: consent';
      const allow = consent.buttons.find(([name, value]) => name === 'decision' && value === 'allow');
      if (!allow) throw new Failure('the consent page has no allow button');
      walked.consented = true;
      page = await browser.post(consent, { [allow[0]]: allow[1] });
    } else {
      throw new Failure(`the browser walk stopped: ${pageSummary(page)} (after ${seen.join(' -> ')})`);
    }
  }
  throw new Failure(`no redirect to ${input.redirectUri} after ${MAX_BROWSER_STEPS} steps: ${seen.join(' -> ')}`);
}

// RP-initiated logout as the browser sees it: the end-session URL, the confirmation form, the redirect back.
async function logOutThroughBrowser(browser, endSessionUrl, postLogoutRedirectUri) {
  let page = await browser.get(endSessionUrl);
  for (let step = 0; step < MAX_BROWSER_STEPS; step += 1) {
    if (page.status >= 300 && page.status < 400 && page.location) {
      const next = new URL(page.location, page.url);
      if (next.href.startsWith(postLogoutRedirectUri)) return next;
      if (next.origin !== page.url.origin) throw new Failure(`logout redirected off the server to ${next.href}`);
      page = await browser.get(next);
      continue;
    }
    const form = forms(page.body, page.url).find((f) => f.action.pathname.endsWith('/session/end'));
    if (page.status !== 200 || !form) throw new Failure(`the logout stopped: ${pageSummary(page)}`);
    page = await browser.post(form, {});
  }
  throw new Failure(`no redirect to ${postLogoutRedirectUri} after ${MAX_BROWSER_STEPS} steps`);
}

// --- DPoP -----------------------------------------------------------------------------------------------------------

// The key pair and handle as openid-client's documentation has an application make them; the thumbprint (RFC 7638)
// computed by jose, the library openid-client itself depends on.
async function dpopSetUp(client, config) {
  const jose = await import('jose');
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey), 'sha256');
  return { handle: client.getDPoPHandle(config, keyPair), jkt };
}

// The payload of a JWT, unverified: to report what the server put in the access token (cnf.jkt), not to trust it.
function accessTokenClaims(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return {};
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

// GET /api/me with the access token and a fresh proof, as openid-client calls any protected resource.
async function apiMe(client, config, metadata, accessToken, withDPoP) {
  stage = 'GET /api/me';
  const url = new URL('api/me', metadata.issuer.endsWith('/') ? metadata.issuer : `${metadata.issuer}/`);
  const response = await client.fetchProtectedResource(config, accessToken, url, 'GET', null, undefined, withDPoP);
  const body = await response.json();
  if (response.status !== 200) throw new Failure(`GET /api/me answered ${response.status}: ${JSON.stringify(body)}`);
  return { status: response.status, sub: body.sub ?? null, client_id: body.client_id ?? null, cnf: body.cnf ?? null };
}

async function clientCredentials(client, config, metadata, dpop, withDPoP) {
  stage = 'client credentials grant';
  const tokens = await client.clientCredentialsGrant(config, {}, withDPoP);
  const first = dpop ? await apiMe(client, config, metadata, tokens.access_token, withDPoP) : null;
  const second = dpop ? await apiMe(client, config, metadata, tokens.access_token, withDPoP) : null;
  finish({
    ok: true,
    versions: versions(),
    issuer: metadata.issuer,
    token: { token_type: tokens.token_type, scope: tokens.scope, expires_in: tokens.expiresIn() },
    dpop: dpop
      ? { jkt: dpop.jkt, access_token_cnf: accessTokenClaims(tokens.access_token).cnf ?? null, api_me: [first, second] }
      : null,
  }, 0);
}

// --- the relying party ----------------------------------------------------------------------------------------------

async function main() {
  const input = inputs();
  if (input.info) {
    finish({ ok: true, versions: versions() }, 0);
    return;
  }
  stage = 'import openid-client';
  const client = await import('openid-client');

  stage = 'discovery';
  const clientAuth = {
    client_secret_basic: () => client.ClientSecretBasic(input.clientSecret),
    client_secret_post: () => client.ClientSecretPost(input.clientSecret),
    none: () => client.None(),
  }[input.authMethod]();
  const config = await client.discovery(
    new URL(input.issuer),
    input.clientId,
    input.redirectUri
      ? { redirect_uris: [input.redirectUri], token_endpoint_auth_method: input.authMethod }
      : { token_endpoint_auth_method: input.authMethod },
    clientAuth,
    // Plain HTTP to a loopback issuer in the tests: openid-client's documented opt-in, nothing else relaxed.
    { execute: [client.allowInsecureRequests], timeout: HTTP_TIMEOUT_MS / 1000 },
  );
  const metadata = config.serverMetadata();

  stage = 'dpop key';
  const dpop = input.dpop ? await dpopSetUp(client, config) : null;
  const withDPoP = dpop ? { DPoP: dpop.handle } : undefined;
  if (input.flow === 'client-credentials') {
    await clientCredentials(client, config, metadata, dpop, withDPoP);
    return;
  }

  stage = 'authorization request';
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const nonce = client.randomNonce();
  const state = client.randomState();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirectUri,
    scope: input.scope,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    nonce,
    state,
    ...(dpop ? { dpop_jkt: dpop.jkt } : {}),
  });

  stage = 'browser';
  const browser = new Browser();
  const { callbackUrl, walked } = await signInThroughBrowser(browser, authorizationUrl, input);
  const callback = Object.fromEntries(callbackUrl.searchParams);

  stage = 'authorization code grant';
  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: input.tamper === 'verifier' ? client.randomPKCECodeVerifier() : codeVerifier,
    expectedNonce: nonce,
    expectedState: input.tamper === 'state' ? client.randomState() : state,
    idTokenExpected: true,
  }, undefined, withDPoP);
  if (input.tamper) throw new Failure(`the tampered run (${input.tamper}) was accepted`);
  const claims = tokens.claims();
  if (!claims) throw new Failure('no ID token claims');

  stage = 'userinfo';
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, withDPoP);
  const api = dpop ? await apiMe(client, config, metadata, tokens.access_token, withDPoP) : null;

  stage = 'refresh token grant';
  const refresh = { worked: false, had_refresh_token: typeof tokens.refresh_token === 'string' };
  if (refresh.had_refresh_token) {
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, withDPoP);
    const refreshedUserinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub, withDPoP);
    Object.assign(refresh, {
      worked: typeof refreshed.access_token === 'string' && refreshedUserinfo.sub === claims.sub,
      token_type: refreshed.token_type,
      scope: refreshed.scope,
      new_access_token: refreshed.access_token !== tokens.access_token,
      rotated_refresh_token: typeof refreshed.refresh_token === 'string'
        && refreshed.refresh_token !== tokens.refresh_token,
      id_token_claims: refreshed.claims() ?? null,
      userinfo_sub: refreshedUserinfo.sub,
    });
  }

  stage = 'end session';
  const logoutState = client.randomState();
  const endSessionParameters = { id_token_hint: tokens.id_token };
  if (input.postLogoutRedirectUri) {
    endSessionParameters.post_logout_redirect_uri = input.postLogoutRedirectUri;
    endSessionParameters.state = logoutState;
  }
  const endSessionUrl = client.buildEndSessionUrl(config, endSessionParameters);
  let logout = null;
  if (input.postLogoutRedirectUri) {
    stage = 'browser: logout';
    const back = await logOutThroughBrowser(browser, endSessionUrl, input.postLogoutRedirectUri);
    logout = {
      redirected_to: `${back.origin}${back.pathname}`,
      state_echoed: back.searchParams.get('state') === logoutState,
      sso_cookie_left: [...browser.jar.keys()].some((name) => name.includes('sso')),
    };
  }

  finish({
    ok: true,
    versions: versions(),
    issuer: metadata.issuer,
    auth_method: input.authMethod,
    browser: walked,
    callback: { has_code: typeof callback.code === 'string', state_matched: callback.state === state, iss: callback.iss },
    token: {
      token_type: tokens.token_type,
      scope: tokens.scope,
      expires_in: tokens.expiresIn(),
      has_refresh_token: refresh.had_refresh_token,
    },
    claims,
    expected_nonce: nonce,
    userinfo,
    dpop: dpop ? { jkt: dpop.jkt, api_me: api, access_token_cnf: accessTokenClaims(tokens.access_token).cnf ?? null } : null,
    refresh,
    end_session_url: endSessionUrl.href,
    logout,
  }, 0);
}

try {
  await main();
} catch (error) {
  const result = describe(error);
  process.stderr.write(`oidc_rp: failed at ${result.stage}: ${result.error}`
    + `${result.code ? ` [${result.code}]` : ''}`
    + `${result.oauth_error ? ` (${result.oauth_error}: ${result.error_description ?? ''})` : ''}\n`);
  finish(result, 1);
}
