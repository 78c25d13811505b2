#!/usr/bin/env node
// Interop peer for waxseal's tests: signs and verifies JWTs with the npm `jose` package (panva).
//
// Reads one JSON request on stdin, writes one JSON response on stdout.
//
//   {"op": "sign", "alg": "ES256", "jwk": {...private or oct JWK...}, "claims": {...}, "kid": "..."}
//       -> {"token": "..."}
//   {"op": "verify", "alg": "ES256", "jwk": {...public or oct JWK...}, "token": "...",
//    "issuer": "...", "audience": "..."}            (issuer and audience optional)
//       -> {"claims": {...}}
//   {"op": "verify_jwks", "jwks": {...JWK Set...}, "token": "...", "algorithms": ["ES256"],
//    "issuer": "...", "audience": "...", "typ": "at+jwt"}    (verifies like a resource server: the key is picked
//       -> {"claims": {...}, "header": {...}}                from the set by the token's kid; exp, iat and sub
//                                                              are required; typ, issuer, audience optional)
//   {"op": "info"} -> {"peer": "node", "versions": {...}, "algorithms": [...], "unsupported": {...}}
//
// Any failure answers {"error": "..."} and exits 1. Batch mode: {"requests": [...]} answers {"responses": [...]},
// one response per request in order (each may be an error), and exits 0 once every request was answered.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { createLocalJWKSet, importJWK, jwtVerify, SignJWT } from 'jose';

const ALGORITHMS = [
  'HS256', 'HS384', 'HS512',
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512', 'ES256K',
  'EdDSA',
];

// jose works on WebCrypto, which has no secp256k1: jose v5+ does not implement ES256K.
const UNSUPPORTED = { ES256K: 'jose (WebCrypto) has no secp256k1 curve, so no ES256K' };

function joseVersion() {
  try {
    const require = createRequire(import.meta.url);
    return JSON.parse(readFileSync(require.resolve('jose/package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

function checkSupported(alg) {
  if (UNSUPPORTED[alg]) throw new Error(`unsupported: ${UNSUPPORTED[alg]}`);
}

// jose refuses a JWK whose own "alg" differs from the one asked for; waxseal's JWKs carry theirs, which must match.
async function sign(req) {
  const { alg, jwk, claims, kid } = req;
  checkSupported(alg);
  const key = await importJWK(jwk, alg);
  const header = { alg, typ: 'JWT' };
  if (kid) header.kid = kid;
  const token = await new SignJWT(claims).setProtectedHeader(header).sign(key);
  return { token };
}

async function verify(req) {
  const { alg, jwk, token, issuer, audience } = req;
  checkSupported(alg);
  const key = await importJWK(jwk, alg);
  const options = { algorithms: [alg], requiredClaims: ['exp'] };
  if (issuer !== undefined) options.issuer = issuer;
  if (audience !== undefined) options.audience = audience;
  const { payload } = await jwtVerify(token, key, options);
  return { claims: payload };
}

async function verifyJwks(req) {
  const { jwks, token, algorithms, issuer, audience, typ } = req;
  const options = { algorithms, requiredClaims: ['exp', 'iat', 'sub'] };
  if (issuer !== undefined) options.issuer = issuer;
  if (audience !== undefined) options.audience = audience;
  if (typ !== undefined) options.typ = typ;
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), options);
  return { claims: payload, header: protectedHeader };
}

function info() {
  return {
    peer: 'node',
    versions: { node: process.versions.node, jose: joseVersion() },
    algorithms: ALGORITHMS.filter((a) => !UNSUPPORTED[a]),
    unsupported: UNSUPPORTED,
  };
}

const OPS = { sign, verify, verify_jwks: verifyJwks, info };

async function handle(req) {
  try {
    const op = OPS[req?.op];
    if (!op) throw new Error(`unknown op ${JSON.stringify(req?.op)}`);
    return await op(req);
  } catch (e) {
    // Every failure becomes an answer, never a crash of the batch.
    return { error: `${e?.code ?? e?.name ?? 'Error'}: ${e?.message ?? String(e)}` };
  }
}

async function main() {
  let request;
  try {
    request = JSON.parse(readFileSync(0, 'utf8'));
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: `request is not JSON: ${e.message}` }));
    return 2;
  }
  if (request && Array.isArray(request.requests)) {
    const responses = [];
    for (const r of request.requests) responses.push(await handle(r));
    process.stdout.write(JSON.stringify({ responses }));
    return 0;
  }
  const response = await handle(request);
  process.stdout.write(JSON.stringify(response));
  return 'error' in response ? 1 : 0;
}

process.exitCode = await main();
