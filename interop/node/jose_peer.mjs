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
//   {"op": "encrypt", "alg": "A128KW", "enc": "A128GCM", "jwk": {...public or oct JWK...}, "plaintext": "...",
//    "kid": "...", "p2c": 10000, "serialization": "compact"}    ("password": "..." instead of "jwk" for PBES2; kid,
//       -> {"token": "..." or {...}}                          p2c optional; serialization "compact" (the default:
//                                                             CompactEncrypt), "flattened" (FlattenedEncrypt) or
//                                                             "json" (GeneralEncrypt), which may list "recipients":
//                                                             [{"alg", "jwk" or "password", "kid", "p2c"}])
//   {"op": "decrypt", "alg": "A128KW", "enc": "A128GCM", "jwk": {...private or oct JWK...}, "token": "..." or {...},
//    "max_p2c": 10000}                                         (allowing only this alg and enc; "password" for
//       -> {"plaintext": "...", "header": {...}}              PBES2, p2c at most max_p2c, jose's default 10,000)
//   {"op": "dpop_proof", "alg": "ES256", "htm": "GET", "htu": "https://...", "access_token": "...", "nonce": "..."}
//       -> {"proof": "...", "jkt": "..."}     (a DPoP proof made the way a client does: a fresh key pair, its
//                                              public JWK in the header, typ dpop+jwt, a random jti, iat now;
//                                              access_token adds its ath, both it and nonce optional; jkt is
//                                              calculateJwkThumbprint of the public key)
//   {"op": "dpop_verify", "proof": "...", "htm": "GET", "htu": "https://..."}
//       -> {"claims": {...}, "header": {...}, "jkt": "..."}   (jwtVerify with EmbeddedJWK, typ dpop+jwt, an
//                                              asymmetric alg, iat at most 60 s old; htm and htu compared exactly)
//   {"op": "info"} -> {"peer": "node", "versions": {...}, "algorithms": [...], "jwe_algorithms": [...],
//                      "jwe_encryptions": [...], "jwe_curves": [...], "unsupported": {...}}
//
// Any failure answers {"error": "..."} and exits 1. Batch mode: {"requests": [...]} answers {"responses": [...]},
// one response per request in order (each may be an error), and exits 0 once every request was answered.

import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import {
  CompactEncrypt,
  compactDecrypt,
  calculateJwkThumbprint,
  createLocalJWKSet,
  EmbeddedJWK,
  exportJWK,
  FlattenedEncrypt,
  flattenedDecrypt,
  GeneralEncrypt,
  generalDecrypt,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
} from 'jose';

const ALGORITHMS = [
  'HS256', 'HS384', 'HS512',
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512', 'ES256K',
  'EdDSA',
];

// jose works on WebCrypto, which has no secp256k1: jose v5+ does not implement ES256K.
const UNSUPPORTED = { ES256K: 'jose (WebCrypto) has no secp256k1 curve, so no ES256K' };

const JWE_ALGORITHMS = [
  'dir',
  'A128KW', 'A192KW', 'A256KW',
  'A128GCMKW', 'A192GCMKW', 'A256GCMKW',
  'RSA-OAEP', 'RSA-OAEP-256', 'RSA-OAEP-384', 'RSA-OAEP-512',
  'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW',
  'PBES2-HS256+A128KW', 'PBES2-HS384+A192KW', 'PBES2-HS512+A256KW',
];
const JWE_ENCRYPTIONS = ['A128GCM', 'A192GCM', 'A256GCM', 'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512'];
const JWE_CURVES = ['P-256', 'P-384', 'P-521', 'X25519'];

// jose implements every JWE algorithm above on WebCrypto, so what it can do is what this runtime's WebCrypto can:
// AES-192 (which some platforms lack) and X25519 are asked for once, and a "no" is an unsupported entry with the
// runtime's own message.
const AES_192_USERS = {
  'AES-KW': ['A192KW', 'ECDH-ES+A192KW', 'PBES2-HS384+A192KW'],
  'AES-GCM': ['A192GCMKW', 'A192GCM'],
  'AES-CBC': ['A192CBC-HS384'],
};

async function webCryptoGaps() {
  const gaps = {};
  for (const [name, users] of Object.entries(AES_192_USERS)) {
    const usages = name === 'AES-KW' ? ['wrapKey'] : ['encrypt'];
    try {
      await crypto.subtle.generateKey({ name, length: 192 }, false, usages);
    } catch (e) {
      for (const u of users) gaps[u] = `this runtime's WebCrypto has no 192-bit ${name}: ${e.message}`;
    }
  }
  try {
    await crypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
  } catch (e) {
    gaps.X25519 = `this runtime's WebCrypto has no X25519: ${e.message}`;
  }
  return gaps;
}

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

const ASYMMETRIC = ALGORITHMS.filter((a) => !a.startsWith('HS') && !UNSUPPORTED[a]);

async function dpopProof(req) {
  const { alg, htm, htu, access_token: accessToken, nonce } = req;
  checkSupported(alg);
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const claims = { htm, htu };
  if (accessToken !== undefined) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
  if (nonce !== undefined) claims.nonce = nonce;
  const proof = await new SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk })
    .setJti(randomUUID())
    .setIssuedAt()
    .sign(privateKey);
  return { proof, jkt: await calculateJwkThumbprint(jwk) };
}

async function dpopVerify(req) {
  const { proof, htm, htu } = req;
  const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, {
    typ: 'dpop+jwt',
    algorithms: ASYMMETRIC,
    maxTokenAge: '60s',
    requiredClaims: ['jti', 'htm', 'htu', 'iat'],
  });
  if (payload.htm !== htm) throw new Error(`htm ${JSON.stringify(payload.htm)} is not ${htm}`);
  if (payload.htu !== htu) throw new Error(`htu ${JSON.stringify(payload.htu)} is not ${htu}`);
  return { claims: payload, header: protectedHeader, jkt: await calculateJwkThumbprint(protectedHeader.jwk) };
}

const encoder = new TextEncoder();

// A recipient's key: a JWK (jose takes an oct JWK as its bytes), or for PBES2 a password's UTF-8 bytes.
async function jweKey(spec) {
  if (spec.password !== undefined) return encoder.encode(spec.password);
  return importJWK(spec.jwk, spec.alg);
}

function jweParameters(spec) {
  return spec.p2c !== undefined ? { p2c: spec.p2c } : {};
}

async function encrypt(req) {
  const { enc, plaintext, serialization = 'compact' } = req;
  const recipients = req.recipients ?? [req];
  const bytes = encoder.encode(plaintext);
  if (serialization === 'compact' || serialization === 'flattened') {
    if (recipients.length !== 1) throw new Error(`${serialization} takes exactly one recipient`);
    const [r] = recipients;
    const header = { alg: r.alg, enc };
    if (r.kid) header.kid = r.kid;
    const Encrypt = serialization === 'compact' ? CompactEncrypt : FlattenedEncrypt;
    const token = await new Encrypt(bytes)
      .setProtectedHeader(header)
      .setKeyManagementParameters(jweParameters(r))
      .encrypt(await jweKey(r));
    return { token };
  }
  if (serialization !== 'json') throw new Error(`unknown serialization ${JSON.stringify(serialization)}`);
  const general = new GeneralEncrypt(bytes).setProtectedHeader({ enc });
  for (const r of recipients) {
    const header = { alg: r.alg };
    if (r.kid) header.kid = r.kid;
    general
      .addRecipient(await jweKey(r))
      .setUnprotectedHeader(header)
      .setKeyManagementParameters(jweParameters(r));
  }
  return { token: await general.encrypt() };
}

async function decrypt(req) {
  const { alg, enc, token, max_p2c: maxPBES2Count } = req;
  const key = await jweKey(req);
  const options = { keyManagementAlgorithms: [alg], contentEncryptionAlgorithms: [enc] };
  if (maxPBES2Count !== undefined) options.maxPBES2Count = maxPBES2Count;
  let opened;
  if (typeof token === 'string') opened = await compactDecrypt(token, key, options);
  else if (Array.isArray(token.recipients)) opened = await generalDecrypt(token, key, options);
  else opened = await flattenedDecrypt(token, key, options);
  const header = { ...opened.sharedUnprotectedHeader, ...opened.unprotectedHeader, ...opened.protectedHeader };
  return { plaintext: new TextDecoder('utf-8', { fatal: true }).decode(opened.plaintext), header };
}

async function info() {
  const gaps = await webCryptoGaps();
  return {
    peer: 'node',
    versions: { node: process.versions.node, jose: joseVersion() },
    algorithms: ALGORITHMS.filter((a) => !UNSUPPORTED[a]),
    jwe_algorithms: JWE_ALGORITHMS.filter((a) => !gaps[a]),
    jwe_encryptions: JWE_ENCRYPTIONS.filter((e) => !gaps[e]),
    jwe_curves: JWE_CURVES.filter((c) => !gaps[c]),
    unsupported: { ...UNSUPPORTED, ...gaps },
  };
}

const OPS = {
  sign,
  verify,
  verify_jwks: verifyJwks,
  encrypt,
  decrypt,
  dpop_proof: dpopProof,
  dpop_verify: dpopVerify,
  info,
};

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
