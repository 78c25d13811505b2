// The debugger page: it reads the fields, asks the local process's JSON API (`api/<op>`, relative so the page works
// under any base path) and renders the answers. All JOSE work (decoding, verifying, linting, signing, key
// generation) happens in the process; this script never decodes a token itself.

import { decrypt, isJwe, nestedToken, setMode } from './decrypt.js';
import { local, relative, renderTimeline, utc } from './timeline.js';

const $ = (id) => document.getElementById(id);

/** A new element with an optional class and text. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** An error from the API, keeping its stable code for the page to show. */
class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** The API's error object of a failed response, or a generic one when the body is not the API's. */
async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) return new ApiError(body.error.code, body.error.message);
  } catch {
    // Not JSON: fall through to the status line.
  }
  return new ApiError(`http_${response.status}`, `the debugger answered ${response.status} ${response.statusText}`);
}

/** POSTs `body` as JSON to `api/<op>` and returns the response (already checked to be a success). */
async function post(op, body, signal) {
  const response = await fetch(`api/${op}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  return response;
}

async function api(op, body, signal) {
  return (await post(op, body, signal)).json();
}

/**
 * One operation whose answers must not arrive out of order: each run aborts the one before it, and `current()`
 * tells a finished run whether a newer one has started (a response may still land after its abort was asked).
 */
function latest() {
  let controller = null;
  let generation = 0;
  return {
    start() {
      if (controller) controller.abort();
      controller = new AbortController();
      generation += 1;
      const mine = generation;
      return { signal: controller.signal, current: () => mine === generation };
    },
    cancel() {
      if (controller) controller.abort();
      controller = null;
      generation += 1;
    },
  };
}

/** `fn` once input has paused for `ms`: a decode per burst of keystrokes, not per key. */
function debounce(fn, ms) {
  let timer = 0;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

const isAbort = (e) => e && e.name === 'AbortError';

// ---- Decode ----

const PART_NAMES = {
  jws: ['header', 'payload', 'signature'],
  unsecured: ['header', 'payload', 'signature (empty)'],
  jwe: ['header', 'encrypted key', 'initialization vector', 'ciphertext', 'authentication tag'],
};

function renderSegments(result) {
  const box = $('token-parts');
  box.replaceChildren();
  const names = PART_NAMES[result.kind] || [];
  (result.segments || []).forEach((segment, i) => {
    if (i > 0) box.append(el('span', 'dot', '.'));
    const part = el('span', `seg seg-${i % 5}`, segment);
    if (names[i]) part.title = names[i];
    box.append(part);
  });
}

function describeKind(result) {
  const header = result.header || {};
  switch (result.kind) {
    case 'jws':
      return `JWS signed with ${header.alg ?? 'an unnamed algorithm'}${header.kid ? `, key id ${header.kid}` : ''}.`;
    case 'jwe':
      return `JWE (encrypted) with alg ${header.alg ?? '?'} and enc ${header.enc ?? '?'}: only the header can be read without the key.`;
    case 'unsecured':
      return 'Unsecured JWT (alg "none"): anyone can write one; never accept it.';
    default:
      return 'Not a JWT.';
  }
}

/** One JSON value, pretty-printed, continuation lines indented under its member. */
function valueNode(value) {
  const text = JSON.stringify(value, null, 2).replaceAll('\n', '\n  ');
  const kind = typeof value === 'string' ? 'str' : typeof value === 'number' ? 'num' : 'val';
  return el('span', kind, text);
}

/** The explanation shown beside a registered claim on hover or focus. */
function noteNode(id, note, now) {
  const box = el('span', 'note');
  box.id = id;
  box.setAttribute('role', 'tooltip');
  box.append(el('span', null, note.text));
  if (typeof note.time === 'number') {
    box.append(el('span', null, `UTC: ${utc(note.time)}`));
    box.append(el('span', null, `Local: ${local(note.time)}`));
    box.append(el('span', null, relative(note.time - now)));
  } else if (note.time) {
    box.append(el('span', null, note.time));
  }
  return box;
}

/**
 * `obj` as formatted JSON in `pre`. Members with a note (the registered claims) become focusable, so the
 * explanation is reachable by keyboard as well as by mouse.
 */
function renderJson(pre, obj, notes, now) {
  pre.replaceChildren();
  if (obj === null || obj === undefined) return;
  if (typeof obj !== 'object' || Array.isArray(obj)) {
    pre.append(valueNode(obj));
    return;
  }
  const entries = Object.entries(obj);
  pre.append(entries.length ? '{\n' : '{');
  entries.forEach(([name, value], i) => {
    pre.append('  ');
    const key = el('span', 'key', JSON.stringify(name));
    const note = notes.get(name);
    if (note) {
      const claim = el('span', 'claim');
      claim.tabIndex = 0;
      claim.dataset.claim = name;
      const id = `note-${pre.id}-${i}`;
      claim.setAttribute('aria-describedby', id);
      claim.append(key, noteNode(id, note, now));
      pre.append(claim);
    } else {
      pre.append(key);
    }
    pre.append(': ', valueNode(value), i < entries.length - 1 ? ',\n' : '\n');
  });
  pre.append('}');
}

/** A finding or warning: severity badge, message, stable code, and the fix when there is one. */
function findingNode(severity, message, code, fix) {
  const item = el('li', severity);
  item.append(el('span', 'badge', severity), ' ', message);
  if (code) item.append(' ', el('code', null, `(${code})`));
  if (fix) item.append(el('span', 'fix', `Fix: ${fix}`));
  return item;
}

function renderWarnings(warnings) {
  const list = $('warnings');
  list.replaceChildren(...(warnings || []).map((w) => findingNode(w.severity, w.message, w.code)));
  $('warnings-box').hidden = list.children.length === 0;
}

// What DPoP makes of the token (RFC 9449): a proof's request, age and key, or the key a bound token needs.
function renderDpop(dpop) {
  const box = $('dpop-box');
  box.hidden = !dpop;
  if (!dpop) return;
  $('dpop-meaning').textContent = dpop.meaning;
  const facts = [];
  const text = (v) => (v === null || v === undefined ? '—' : String(v));
  if (dpop.kind === 'proof') {
    facts.push(['Request', `${text(dpop.htm)} ${text(dpop.htu)}`]);
    facts.push(['Made', dpop.iat ? `${dpop.iat.utc} (${dpop.iat.relative})` : 'no iat: a verifier refuses it']);
    facts.push(['Proof id (jti)', text(dpop.jti)]);
    facts.push(['Access token hash (ath)', dpop.ath === null ? 'none: a proof for the token endpoint' : text(dpop.ath)]);
    if (dpop.nonce !== null) facts.push(['Server nonce', text(dpop.nonce)]);
    facts.push(['Key thumbprint (jkt)', text(dpop.jkt)]);
    facts.push(['Signature', dpop.signature.verifies_with_header_jwk
      ? 'verifies with the key in its header'
      : `does not verify with the key in its header: ${text(dpop.signature.problem)}`]);
  } else {
    facts.push(['Bound to the key with thumbprint', text(dpop.jkt)]);
  }
  $('dpop-facts').replaceChildren(...facts.flatMap(([term, value]) => [el('dt', null, term), el('dd', 'mono', value)]));
}

function clearDecoded() {
  for (const id of ['token-parts', 'token-kind', 'header', 'claims']) $(id).replaceChildren();
  $('decode-error').hidden = true;
  $('claims-hint').hidden = true;
  $('timeline-box').hidden = true;
  $('warnings-box').hidden = true;
  $('dpop-box').hidden = true;
}

function renderDecoded(result) {
  const now = result.timeline && typeof result.timeline.now === 'number' ? result.timeline.now : Date.now() / 1000;
  renderSegments(result);
  $('token-kind').textContent = describeKind(result);
  $('token-kind').dataset.kind = result.kind;
  const error = $('decode-error');
  error.hidden = !result.error;
  error.textContent = result.error ? `${result.error.message} (${result.error.code})` : '';
  const notes = new Map((result.claim_notes || []).map((n) => [n.claim, n]));
  renderJson($('header'), result.header, new Map(), now);
  const claims = $('claims');
  if (result.claims) {
    renderJson(claims, result.claims, notes, now);
  } else if (result.payload_text !== null && result.payload_text !== undefined) {
    claims.textContent = result.payload_text;
  } else {
    claims.textContent = result.kind === 'jwe' ? '(encrypted)' : '';
  }
  $('claims-hint').hidden = notes.size === 0;
  renderTimeline(result.timeline);
  renderWarnings(result.warnings);
  renderDpop(result.dpop);
}

const decoding = latest();

async function decode() {
  const token = $('token').value.trim();
  if (!token) {
    decoding.cancel();
    clearDecoded();
    return;
  }
  const run = decoding.start();
  try {
    const result = await api('decode', { token }, run.signal);
    if (run.current()) renderDecoded(result);
  } catch (e) {
    if (isAbort(e) || !run.current()) return;
    clearDecoded();
    const error = $('decode-error');
    error.hidden = false;
    error.textContent = `${e.message}${e.code ? ` (${e.code})` : ''}`;
  }
}

// ---- Verify ----

/** Key formats that make the process fetch a URL: verified on request only, not on every keystroke. */
const REMOTE_FORMATS = new Set(['jwks_url', 'issuer']);

function verifyRequest() {
  const request = {
    token: $('token').value.trim(),
    key: { format: $('verify-format').value, value: $('verify-key').value },
  };
  for (const name of ['issuer', 'audience', 'typ']) {
    const value = $(`verify-${name}`).value.trim();
    if (value) request[name] = value;
  }
  const leeway = $('verify-leeway').value.trim();
  if (leeway) request.leeway = Number(leeway);
  return request;
}

function showResult(box, state, parts) {
  box.className = `result ${state}`;
  box.replaceChildren(...parts);
}

function showRefusal(box, prefix, error) {
  showResult(box, 'bad', [`${prefix}: ${error.message} `, el('code', null, error.code)]);
}

const verifying = latest();

async function verify() {
  const box = $('verify-result');
  const request = verifyRequest();
  if (!request.token || !request.key.value.trim()) {
    verifying.cancel();
    delete box.dataset.valid;
    showResult(box, '', []);
    return;
  }
  const run = verifying.start();
  delete box.dataset.valid;
  setMode(isJwe(request.token));
  if (isJwe(request.token)) return decrypt(request, run, { api, showResult, showRefusal });
  showResult(box, 'wait', ['Verifying…']);
  try {
    const result = await api('verify', request, run.signal);
    if (!run.current()) return;
    if (result.valid) {
      const details = [`alg ${result.alg}`];
      if (result.kid) details.push(`kid ${result.kid}`);
      if (result.key_source) details.push(`key: ${result.key_source}`);
      showResult(box, 'good', [`Signature verified (${details.join(', ')}).`]);
      box.dataset.valid = 'true';
    } else {
      showRefusal(box, 'Refused', result.error || { code: 'invalid', message: 'the token was not accepted' });
      box.dataset.valid = 'false';
    }
  } catch (e) {
    if (isAbort(e) || !run.current()) return;
    showRefusal(box, 'Cannot verify', e);
    box.dataset.valid = 'false';
  }
}

/**
 * Verifies as the user edits the key fields, except with remote keys: a half-typed URL is not worth a fetch, so
 * those wait for the button.
 */
const verifySoon = debounce(() => {
  if (!REMOTE_FORMATS.has($('verify-format').value)) verify();
}, 50);

/** A new token is verified with whatever key is set, remote ones included (the process caches fetched keys). */
const verifyToken = debounce(verify, 50);

// ---- Lint ----

const linting = latest();

function showProgress(done, total) {
  $('lint-progress-row').hidden = false;
  const bar = $('lint-progress');
  bar.max = Math.max(total, 1);
  bar.value = done;
  $('lint-progress-text').textContent = `${done} of ${total}`;
}

function renderFindings(findings) {
  const list = $('lint-findings');
  if (findings.length === 0) {
    list.replaceChildren(el('li', 'info', 'No findings.'));
    return;
  }
  list.replaceChildren(...findings.map((f) => findingNode(f.severity, f.message, f.id, f.fix)));
}

/** Acts on one line of the lint stream: progress, the findings, or an error. */
function lintLine(line) {
  if (!line.trim()) return;
  const message = JSON.parse(line);
  if (message.progress) showProgress(message.progress.done, message.progress.total);
  if (message.findings) renderFindings(message.findings);
  if (message.error) throw new ApiError(message.error.code, message.error.message);
}

async function lint() {
  const token = $('token').value.trim();
  const list = $('lint-findings');
  if (!token) {
    list.replaceChildren(el('li', 'info', 'Paste a token first.'));
    return;
  }
  const run = linting.start();
  $('lint-form').setAttribute('aria-busy', 'true');
  $('lint-progress-row').hidden = true;
  list.replaceChildren(el('li', 'info', 'Linting…'));
  try {
    const response = await post('lint', { token, search_secrets: $('lint-secrets').checked }, run.signal);
    // NDJSON: progress lines while the weak-secret search runs, then the findings.
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (!run.current()) return;
      buffer += decoder.decode(value, { stream: !done });
      const lines = buffer.split('\n');
      buffer = lines.pop();
      lines.forEach(lintLine);
      if (done) break;
    }
    lintLine(buffer);
  } catch (e) {
    if (isAbort(e) || !run.current()) return;
    list.replaceChildren(findingNode('error', `Lint failed: ${e.message}`, e.code));
  } finally {
    if (run.current()) {
      $('lint-form').removeAttribute('aria-busy');
      $('lint-progress-row').hidden = true;
    }
  }
}

// ---- Sign and keygen ----

/** The public half of the last generated key, to verify what it signs. */
let generated = null;

function parseObject(id, what) {
  let value;
  try {
    value = JSON.parse($(id).value);
  } catch (e) {
    throw new ApiError('invalid_json', `the ${what} is not JSON: ${e.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError('invalid_json', `the ${what} must be a JSON object`);
  }
  return value;
}

async function sign() {
  const status = $('sign-status');
  try {
    const request = {
      header: parseObject('sign-header', 'header'),
      claims: parseObject('sign-claims', 'claims'),
      alg: $('sign-alg').value,
      key: { format: $('sign-format').value, value: $('sign-key').value },
    };
    showResult(status, 'wait', ['Signing…']);
    const { token } = await api('sign', request);
    $('signed-token').value = token;
    $('sign-result').hidden = false;
    showResult(status, 'good', [`Signed with ${request.alg}.`]);
  } catch (e) {
    $('sign-result').hidden = true;
    showRefusal(status, 'Cannot sign', e);
  }
}

async function keygen() {
  const status = $('sign-status');
  const alg = $('sign-alg').value;
  showResult(status, 'wait', [`Generating a ${alg} key…`]);
  try {
    const keys = await api('keygen', { alg });
    $('sign-format').value = 'jwk';
    $('sign-key').value = JSON.stringify(keys.private_jwk, null, 2);
    // An HMAC key has no public half: the secret JWK itself verifies.
    generated = { privateText: $('sign-key').value, verifyJwk: keys.public_jwk || keys.private_jwk };
    $('keygen-public').value = keys.public_jwk ? JSON.stringify(keys.public_jwk, null, 2) : '';
    $('keygen-pem').value = keys.private_pem || '';
    $('keygen-result').hidden = !keys.public_jwk && !keys.private_pem;
    showResult(status, 'good', [`New ${alg} key generated; it is in the signing key field.`]);
  } catch (e) {
    showRefusal(status, 'Cannot generate a key', e);
  }
}

/** The signed token goes to the token field, with the key that verifies it when the page knows one. */
function useSignedToken() {
  $('token').value = $('signed-token').value;
  const format = $('sign-format').value;
  const key = $('sign-key').value;
  if (format === 'secret' || format === 'secret_base64url') {
    $('verify-format').value = format;
    $('verify-key').value = key;
  } else if (generated && format === 'jwk' && key === generated.privateText) {
    $('verify-format').value = 'jwk';
    $('verify-key').value = JSON.stringify(generated.verifyJwk, null, 2);
  }
  tokenChanged();
  $('token').focus();
}

// ---- Wiring ----

const decodeSoon = debounce(decode, 50);

function tokenChanged() {
  // Findings describe the token they were made for: a new token drops them.
  linting.cancel();
  $('lint-findings').replaceChildren();
  $('lint-progress-row').hidden = true;
  setMode(isJwe($('token').value.trim()));
  decodeSoon();
  verifyToken();
}

/** The JWT found inside a JWE goes to the token field, to be verified with the signer's key (not the one that
 * decrypted it). */
function verifyNested() {
  $('token').value = nestedToken();
  $('verify-key').value = '';
  tokenChanged();
  $('verify-key').focus();
}

function defaultClaims() {
  const now = Math.floor(Date.now() / 1000);
  return JSON.stringify({ sub: 'alice', name: 'Alice', iat: now, exp: now + 3600 }, null, 2);
}

async function loadConfig() {
  try {
    const response = await fetch('api/config');
    if (!response.ok) return;
    const config = await response.json();
    $('version').textContent = config.version ? `Version ${config.version}.` : '';
    if (config.preselected_key) {
      $('verify-format').value = config.preselected_key.format;
      $('verify-key').value = config.preselected_key.value;
      verifySoon();
    }
  } catch {
    // The page still works without its configuration; the version is only shown for bug reports.
  }
}

function submitting(id, action) {
  $(id).addEventListener('submit', (event) => {
    event.preventDefault();
    action();
  });
}

function start() {
  $('sign-claims').value = defaultClaims();
  $('token').addEventListener('input', tokenChanged);
  for (const id of ['verify-key', 'verify-issuer', 'verify-audience', 'verify-typ', 'verify-leeway']) {
    $(id).addEventListener('input', verifySoon);
  }
  $('verify-format').addEventListener('change', verifySoon);
  submitting('verify-form', verify);
  submitting('lint-form', lint);
  submitting('sign-form', sign);
  $('keygen-button').addEventListener('click', keygen);
  $('use-token').addEventListener('click', useSignedToken);
  $('verify-nested').addEventListener('click', verifyNested);
  loadConfig();
  // A token already in the field (the browser restored it) is decoded at once.
  if ($('token').value.trim()) tokenChanged();
}

start();
