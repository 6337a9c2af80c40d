// DPoP (RFC 9449) in the browser: this browser's device key, an ECDSA P-256 key pair made by WebCrypto
// with `extractable: false` and kept in IndexedDB (the database holds the CryptoKey objects, never their
// bytes), and a proof signed with it for each request. Scripts on this page can sign with the key but
// cannot read it out, so a token copied out of sessionStorage is useless anywhere else.

const DB_NAME = 'redis-multitokens-demo';
const STORE = 'keys';
const KEY_ID = 'dpop-device-key';

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function database() {
  const open = indexedDB.open(DB_NAME, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  return request(open);
}

let keyPair = null;

/** This browser's key pair: loaded from IndexedDB, or made (non-extractable) and saved on first use. */
export async function deviceKey() {
  if (keyPair) return keyPair;
  const db = await database();
  let pair = await request(db.transaction(STORE).objectStore(STORE).get(KEY_ID));
  if (!pair) {
    pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    await request(db.transaction(STORE, 'readwrite').objectStore(STORE).put(pair, KEY_ID));
  }
  db.close();
  keyPair = pair;
  return pair;
}

const utf8 = (text) => new TextEncoder().encode(text);
function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** True when this browser can make DPoP proofs (WebCrypto and IndexedDB; a secure context). */
export function dpopAvailable() {
  return typeof crypto !== 'undefined' && crypto.subtle !== undefined && typeof indexedDB !== 'undefined';
}

/**
 * A DPoP proof for one request (RFC 9449 §4.2): ES256, this browser's public key in the header, claims
 * jti, htm, htu (this page's origin + path, no query) and iat, plus ath (the token's SHA-256) with a token.
 */
export async function dpopProof(method, path, token) {
  const { privateKey, publicKey } = await deviceKey();
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
  const url = new URL(path, location.href);
  const claims = {
    jti: crypto.randomUUID(),
    htm: method,
    htu: url.origin + url.pathname,
    iat: Math.floor(Date.now() / 1000),
  };
  if (token) claims.ath = b64url(await crypto.subtle.digest('SHA-256', utf8(token)));
  const input = `${b64url(utf8(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })))}.${b64url(utf8(JSON.stringify(claims)))}`;
  // WebCrypto's ECDSA signature is r || s, the JWS form (RFC 7518 §3.4).
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, utf8(input));
  return `${input}.${b64url(signature)}`;
}
