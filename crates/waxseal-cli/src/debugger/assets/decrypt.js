// Decrypting a JWE for the page: when the token has five parts, the key panel decrypts instead of verifying. It asks
// `api/decrypt`, shows the plaintext, and for a nested JWT its header and claims (decoded by the process, not yet
// verified), with a button that puts the nested JWT in the token field to verify it with the signer's key.

const $ = (id) => document.getElementById(id);

/** Key formats that can decrypt: a pasted key or secret (never a URL to fetch). */
const DECRYPT_FORMATS = new Set(['jwk', 'jwks', 'pem', 'secret', 'secret_base64url']);

/** A compact JWE has five parts; counting dots is not decoding, which stays in the process. */
export const isJwe = (token) => token.split('.').length === 5;

/** Names the key panel after what it will do with the token. */
export function setMode(jwe) {
  $('verify-heading').textContent = jwe ? 'Decrypt' : 'Verify';
  $('verify-button').textContent = jwe ? 'Decrypt' : 'Verify';
  if (!jwe) $('decrypt-result').hidden = true;
}

function showPlaintext(result) {
  const text = result.plaintext ?? `(not text; base64url) ${result.plaintext_b64 ?? ''}`;
  $('plaintext').textContent = text;
  const nested = result.nested;
  $('nested-box').hidden = !nested;
  if (nested) {
    $('nested-header').textContent = JSON.stringify(nested.header, null, 2);
    $('nested-claims').textContent = nested.claims ? JSON.stringify(nested.claims, null, 2) : '(not a JSON object)';
  }
  $('decrypt-result').hidden = false;
}

/**
 * Decrypts the token with the key fields. `ui` is the page's: `api(op, body, signal)`, `showResult(box, state,
 * parts)`, `showRefusal(box, prefix, error)`, and `run` ({signal, current}) of the key panel's latest operation.
 */
export async function decrypt(request, run, ui) {
  const box = $('verify-result');
  delete box.dataset.decrypted;
  $('decrypt-result').hidden = true;
  if (!DECRYPT_FORMATS.has(request.key.format)) {
    ui.showResult(box, 'bad', ['Decrypting needs the key itself: choose JWK, JWK Set, PEM key or a secret.']);
    box.dataset.decrypted = 'false';
    return;
  }
  ui.showResult(box, 'wait', ['Decrypting…']);
  try {
    const result = await ui.api('decrypt', { token: request.token, key: request.key }, run.signal);
    if (!run.current()) return;
    if (result.ok) {
      const header = result.header || {};
      const nested = result.nested ? ' It holds a signed JWT: verify it with the signer’s key.' : '';
      ui.showResult(box, 'good', [`Decrypted (alg ${header.alg}, enc ${header.enc}).${nested}`]);
      box.dataset.decrypted = 'true';
      showPlaintext(result);
    } else {
      ui.showRefusal(box, 'Not decrypted', result.error || { code: 'failed', message: 'the key does not open it' });
      box.dataset.decrypted = 'false';
    }
  } catch (e) {
    if ((e && e.name === 'AbortError') || !run.current()) return;
    ui.showRefusal(box, 'Cannot decrypt', e);
    box.dataset.decrypted = 'false';
  }
}

/** The nested JWT, for the "verify it" button: the plaintext as shown. */
export const nestedToken = () => $('plaintext').textContent.trim();
