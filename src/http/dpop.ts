/**
 * DPoP (RFC 9449), framework-free: the check of a `DPoP` proof (a JWT the device signs for each
 * request with its own key), the `WWW-Authenticate: DPoP` answers, and the options every adapter takes.
 * Signatures are checked by `jose` (panva/jose), never by code of ours.
 *
 * What is checked before any I/O (RFC 9449 §4.3): one `DPoP` header of at most
 * {@link MAX_DPOP_PROOF_LENGTH} characters; a JWS whose header has `typ` `dpop+jwt`, an accepted `alg`
 * (never `none` or an HMAC one) and a public `jwk`; a valid signature by that key; `htm` and `htu` equal
 * to the request's method and URL (query and fragment ignored); `iat` within the window; a `jti`; and
 * on a protected route `ath` = base64url(SHA-256(token)). The store then checks, in the same round trip
 * as the token: the key's thumbprint against the token's bound one, and that `jti` was not seen.
 *
 * Server nonces (`use_dpop_nonce`, RFC 9449 §8-9) are not implemented: see docs/dpop.md.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, compactVerify, importJWK, type JWK, type KeyLike } from 'jose';
import { InvalidArgumentTypeError, InvalidArgumentValueError, InvalidDpopProofError } from '../core/errors.js';
import { rejectUnknownOptions } from '../core/options.js';
import type { StoreDpopCheck } from '../core/store.js';
import type { AuthErrorReason, AuthErrorResponse } from './responses.js';

/** Longest `DPoP` header accepted, in characters (an RSA-4096 proof is about 2,400); longer ones are refused unread. */
export const MAX_DPOP_PROOF_LENGTH = 4096;
/** Default JWS algorithms accepted for proofs (asymmetric only; RFC 9449 §4.2 forbids `none` and MACs). */
export const DEFAULT_DPOP_ALGORITHMS: readonly string[] = Object.freeze(['ES256', 'EdDSA', 'ES384', 'PS256', 'RS256']);
/** Default acceptance window of a proof's `iat`, in seconds either side of the server's clock. */
export const DEFAULT_DPOP_PROOF_WINDOW_SECONDS = 60;
/**
 * How far apart, in seconds, the clocks of the app servers that share one store may be (60): each
 * `jti` is remembered for twice the proof window plus this, so a proof accepted by one app server is
 * still remembered when another, whose clock is up to this much behind or ahead, would accept its `iat`.
 * Keep the app servers' clocks within it (NTP); a larger drift lets a proof be accepted twice.
 */
export const DPOP_CLOCK_SKEW_ALLOWANCE_SECONDS = 60;

/** How long a proof's `jti` is remembered, in milliseconds: `2 x windowSeconds + DPOP_CLOCK_SKEW_ALLOWANCE_SECONDS` seconds (180,000 with the default window). */
export function dpopReplayWindowMs(windowSeconds: number): number {
  return (windowSeconds * 2 + DPOP_CLOCK_SKEW_ALLOWANCE_SECONDS) * 1000;
}
const ASYMMETRIC = new Set(['ES256', 'ES384', 'ES512', 'EdDSA', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512']);

/** DPoP options of the adapters (`AuthOptions.dpop`, and the login helpers `dpopKeyFrom...`). */
export interface DpopOptions {
  /**
   * The app's origin as clients address it (`https://api.example.com`, no path), for the `htu` check.
   * Set it behind a proxy that changes the host or the scheme. Default: from the request's `Host`
   * header and protocol as the framework reports them (Express `req.protocol` and Koa `ctx.protocol`
   * honour their trust-proxy setting, Fastify `request.protocol` its `trustProxy`).
   */
  origin?: string;
  /** JWS algorithms accepted (default {@link DEFAULT_DPOP_ALGORITHMS}); asymmetric ones only. */
  algorithms?: readonly string[];
  /**
   * How far a proof's `iat` may be from the server's clock, in seconds, either way (1 to 600; default
   * 60). Each `jti` is remembered for twice this many seconds plus {@link DPOP_CLOCK_SKEW_ALLOWANCE_SECONDS}
   * (60), so a proof is never accepted twice as long as the app servers' clocks agree within that
   * allowance (run NTP): each app server checks `iat` on its own clock.
   */
  proofWindowSeconds?: number;
}

/** {@link DpopOptions} checked, with defaults (made once per middleware). */
export interface ResolvedDpopSettings {
  /** The `origin` option, normalised by WHATWG URL (`https://api.example.com`); null when not set (the request's own origin is used for `htu`). */
  origin: string | null;
  /** JWS algorithms accepted for proofs (the `algorithms` option, frozen), default {@link DEFAULT_DPOP_ALGORITHMS}. */
  algorithms: readonly string[];
  /**
   * How far a proof's `iat` may be from the server's clock, in seconds, either way (the
   * `proofWindowSeconds` option, default 60); a `jti` is remembered for twice as long plus
   * {@link DPOP_CLOCK_SKEW_ALLOWANCE_SECONDS} ({@link dpopReplayWindowMs}), in milliseconds in
   * {@link StoreDpopCheck.replayWindowMs}.
   */
  windowSeconds: number;
  /** The `algs` parameter of the challenges: `algs="ES256 EdDSA ..."`. */
  algsParam: string;
}

/** What the DPoP check needs from a request; each adapter has one, made once (no object per request). */
export interface DpopReader<R> {
  /** Every `DPoP` header value of the request (undefined when none). */
  proof(req: R): string | readonly string[] | undefined;
  /** The request method, e.g. `GET`. */
  method(req: R): string;
  /** `scheme://host[:port]` of the request as the framework reports it (used when no `origin` option is set). */
  origin(req: R): string;
  /** The request target as received (path and query), e.g. `/me?x=1`. */
  path(req: R): string;
}

/** A `DPoP` header as frameworks give it (`string[]` from some, `''` from Koa's `ctx.get` when absent): undefined when absent or empty. */
export function dpopHeaderValue(
  value: string | readonly string[] | undefined | null,
): string | readonly string[] | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}

/** The outcome of {@link checkDpopProof}: the store's part of the check, or why the proof was refused. */
export type DpopProofCheck =
  | {
      /** The proof passed every check made without I/O (RFC 9449 §4.3). */
      ok: true;
      /** What the store checks with the token, in the same round trip: the key's thumbprint, the `jti` hash and its replay window in milliseconds. */
      check: StoreDpopCheck;
    }
  | {
      /** The proof was refused (a 401 `invalid_dpop_proof`; at login, an `InvalidDpopProofError`). */
      ok: false;
      /** Why, in words safe to send to the client (`error_description`): it never quotes the proof or a token. */
      description: string;
    };

const DEFAULT_RESOLVED: ResolvedDpopSettings = resolve(
  undefined,
  DEFAULT_DPOP_ALGORITHMS,
  DEFAULT_DPOP_PROOF_WINDOW_SECONDS,
);
const resolvedCache = new WeakMap<DpopOptions, ResolvedDpopSettings>();

function resolve(
  origin: string | undefined,
  algorithms: readonly string[],
  windowSeconds: number,
): ResolvedDpopSettings {
  return { origin: origin ?? null, algorithms, windowSeconds, algsParam: `algs="${algorithms.join(' ')}"` };
}

/**
 * Checks DPoP options when a middleware is made, and gives them with their defaults.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} not an object, an unknown option, an
 *   `origin` that is not an absolute http(s) origin, an algorithm that is not an asymmetric JWS one, a
 *   window outside 1-600 seconds.
 */
export function resolveDpopOptions(options: DpopOptions | undefined): ResolvedDpopSettings {
  if (options === undefined) return DEFAULT_RESOLVED;
  const cached = resolvedCache.get(options);
  if (cached) return cached;
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentTypeError('dpop options must be an object, e.g. { origin: "https://api.example.com" }');
  rejectUnknownOptions('dpop options', options, ['origin', 'algorithms', 'proofWindowSeconds']);
  let origin: string | undefined;
  if (options.origin !== undefined) {
    let url: URL | null = null;
    try {
      url = typeof options.origin === 'string' ? new URL(options.origin) : null;
    } catch {
      url = null;
    }
    if (
      !url ||
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      url.pathname !== '/' ||
      url.search ||
      url.hash ||
      url.username ||
      url.password
    )
      throw new InvalidArgumentValueError(
        'dpop.origin must be an absolute http(s) origin without a path, e.g. "https://api.example.com"',
      );
    origin = url.origin;
  }
  const algorithms = options.algorithms ?? DEFAULT_DPOP_ALGORITHMS;
  if (!Array.isArray(algorithms) || algorithms.length === 0 || !algorithms.every((a) => ASYMMETRIC.has(a)))
    throw new InvalidArgumentValueError(
      `dpop.algorithms must be a non-empty list of asymmetric JWS algorithms (${[...ASYMMETRIC].join(', ')})`,
    );
  const w = options.proofWindowSeconds ?? DEFAULT_DPOP_PROOF_WINDOW_SECONDS;
  if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > 600)
    throw new InvalidArgumentValueError('dpop.proofWindowSeconds must be a whole number of seconds from 1 to 600');
  const resolved = resolve(origin, Object.freeze([...algorithms]), w);
  resolvedCache.set(options, resolved);
  return resolved;
}

/** base64url(SHA-256(text)): the `ath` of a token (RFC 9449 §4.2), and the stored hash of a `jti`. */
export function sha256Base64url(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * The request's URL for `htu`, without query and fragment (RFC 9449 §4.3 step 9), normalised by WHATWG
 * URL (scheme and host case, default port, dot segments): the configured origin (or, without one, the
 * request's own scheme and `Host`) followed by the PATH of the request target only. An absolute-form
 * target (`GET http://other.example/me HTTP/1.1`, RFC 9112 §3.2.2) contributes its path alone: its
 * scheme and authority are the client's words and never widen which proofs are accepted (the app
 * serves the same route whatever authority the target names, so only the path is the app's).
 * Null for a target that is neither origin-form nor absolute-form (`*`, authority-form).
 */
function requestUrl<R>(req: R, reader: DpopReader<R>, options: ResolvedDpopSettings): string | null {
  try {
    const target = reader.path(req);
    let path: string;
    if (target.startsWith('/')) path = target.replace(/[?#].*$/s, '');
    else if (/^https?:\/\//i.test(target)) path = new URL(target).pathname;
    else return null;
    const base = new URL(options.origin ?? reader.origin(req));
    if (base.protocol !== 'http:' && base.protocol !== 'https:') return null;
    // Origin + path as text, never `new URL(path, base)`: a path such as `//other.example/x` stays a path.
    const u = new URL(base.origin + path);
    if (u.origin !== base.origin) return null;
    return u.origin + u.pathname;
  } catch {
    return null;
  }
}

function decodePart(part: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const fail = (description: string): DpopProofCheck => ({ ok: false, description });

/** Most imported public keys kept (by algorithm and thumbprint); the map is emptied when full. */
const MAX_CACHED_KEYS = 1000;
const keyCache = new Map<string, KeyLike>();

/**
 * The proof's public key as jose imports it (`importJWK`, as its `EmbeddedJWK` does), kept by algorithm
 * and JWK thumbprint: importing a JWK costs about as much as the signature check, and a device signs
 * every request with the same key. The thumbprint covers every member that defines the key (RFC 7638).
 * @throws what `importJWK` throws for a JWK that is not a valid key for `alg`.
 */
async function publicKeyOf(jwk: JWK, alg: string, jkt: string): Promise<KeyLike> {
  const id = `${alg} ${jkt}`;
  const cached = keyCache.get(id);
  if (cached) return cached;
  const key = await importJWK({ ...jwk, ext: true }, alg);
  if (key instanceof Uint8Array || key.type !== 'public') throw new TypeError('not a public key');
  if (keyCache.size >= MAX_CACHED_KEYS) keyCache.clear();
  keyCache.set(id, key);
  return key;
}

/**
 * Checks the `DPoP` proof of a request (RFC 9449 §4.3) without I/O: everything but the thumbprint
 * match and the `jti` replay, which the store checks with the token ({@link StoreDpopCheck}).
 * The cheap checks (size, shape, `typ`, `alg`, `htm`, `htu`, `iat`, `ath`) come before the signature's.
 * @param accessToken the token the request carries (for `ath`); null at login (no `ath` then).
 * @param nowMs the server's clock, epoch milliseconds (default `Date.now()`).
 * @returns the store's check, or `{ ok: false, description }` (a description safe to send: it never quotes the proof or a token).
 */
export async function checkDpopProof<R>(
  req: R,
  reader: DpopReader<R>,
  options: ResolvedDpopSettings,
  accessToken: string | null,
  nowMs = Date.now(),
): Promise<DpopProofCheck> {
  const values = reader.proof(req);
  if (values === undefined || (typeof values !== 'string' && values.length === 0))
    return fail('a DPoP proof is required: send a `DPoP` header');
  if (typeof values !== 'string' && values.length > 1) return fail('more than one DPoP header');
  const proof = typeof values === 'string' ? values : values[0]!;
  if (proof.includes(',')) return fail('more than one DPoP header'); // Node and Fetch join repeated headers with ", "
  if (proof.length > MAX_DPOP_PROOF_LENGTH)
    return fail(`the DPoP proof is longer than ${MAX_DPOP_PROOF_LENGTH} characters`);
  const parts = proof.split('.');
  if (
    parts.length !== 3 ||
    !/^[A-Za-z0-9_-]+$/.test(parts[0]!) ||
    !/^[A-Za-z0-9_-]+$/.test(parts[1]!) ||
    !/^[A-Za-z0-9_-]+$/.test(parts[2]!)
  )
    return fail('the DPoP proof is not a compact JWS');
  const header = decodePart(parts[0]!);
  const claims = decodePart(parts[1]!);
  if (!header || !claims) return fail('the DPoP proof does not parse');
  if (header.typ !== 'dpop+jwt') return fail('the DPoP proof must have typ "dpop+jwt"');
  if (typeof header.alg !== 'string' || !options.algorithms.includes(header.alg))
    return fail(`the DPoP proof's algorithm is not accepted (accepted: ${options.algorithms.join(', ')})`);
  const jwk = header.jwk as JWK | undefined;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return fail('the DPoP proof has no jwk header');
  if ('d' in jwk || 'p' in jwk || 'k' in jwk) return fail("the DPoP proof's jwk must be a public key");
  if (claims.htm !== reader.method(req)) return fail("the DPoP proof's htm does not match the request method");
  if (typeof claims.htu !== 'string') return fail('the DPoP proof has no htu');
  const url = requestUrl(req, reader, options);
  let htu: string | null = null;
  try {
    const u = new URL(claims.htu);
    htu = u.origin + u.pathname;
  } catch {
    htu = null;
  }
  if (url === null || htu !== url) return fail("the DPoP proof's htu does not match the request URL");
  if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat)) return fail('the DPoP proof has no iat');
  if (Math.abs(nowMs / 1000 - claims.iat) > options.windowSeconds)
    return fail('the DPoP proof is not fresh (iat outside the accepted window)');
  if (typeof claims.jti !== 'string' || claims.jti.length === 0) return fail('the DPoP proof has no jti');
  if (accessToken !== null && claims.ath !== sha256Base64url(accessToken))
    return fail("the DPoP proof's ath does not match the token");
  let jkt: string;
  let key: KeyLike;
  try {
    jkt = await calculateJwkThumbprint(jwk, 'sha256');
    key = await publicKeyOf(jwk, header.alg, jkt);
  } catch {
    return fail("the DPoP proof's jwk is not a valid public key for its alg");
  }
  try {
    await compactVerify(proof, key, { algorithms: [header.alg] });
  } catch {
    return fail("the DPoP proof's signature is not valid");
  }
  return {
    ok: true,
    check: { jkt, jtiHash: sha256Base64url(claims.jti), replayWindowMs: dpopReplayWindowMs(options.windowSeconds) },
  };
}

/**
 * The login side (RFC 9449 §5: a login route is this library's token endpoint): the thumbprint to
 * bind a new token to, from the request's `DPoP` proof, or null when the request has none.
 * The login proof's `jti` is not recorded (no token exists yet to key it to; a replayed login proof
 * only binds a new token to a key the replayer does not hold).
 * @throws {InvalidDpopProofError} a `DPoP` header that does not pass the checks (400 `invalid_dpop_proof`).
 */
export async function dpopKeyOf<R>(req: R, reader: DpopReader<R>, options?: DpopOptions): Promise<string | null> {
  const resolved = resolveDpopOptions(options);
  if (reader.proof(req) === undefined) return null;
  const result = await checkDpopProof(req, reader, resolved, null);
  if (!result.ok) throw new InvalidDpopProofError(result.description);
  return result.check.jkt;
}

/**
 * A 401 answer with a DPoP challenge (RFC 9449 §7.1): `WWW-Authenticate: DPoP realm="<realm>",
 * error="<error>", error_description="...", algs="..."`, `Cache-Control: no-store`, and the JSON body.
 */
export function dpopChallenge(
  realm: string,
  reason: AuthErrorReason,
  message: string,
  rfcError: 'invalid_dpop_proof' | 'invalid_token',
  options: ResolvedDpopSettings,
): AuthErrorResponse {
  const value = `DPoP realm="${realm}", error="${rfcError}", error_description="${message.replace(/["\\]/g, "'")}", ${options.algsParam}`;
  return {
    status: 401,
    headers: { 'WWW-Authenticate': value, 'Cache-Control': 'no-store' },
    body: { error: rfcError, reason, message },
  };
}
