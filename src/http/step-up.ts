/**
 * Step-up for sensitive routes (RFC 9470, OAuth 2.0 Step Up Authentication Challenge Protocol),
 * framework-free: every adapter's per-route requirement ("authenticated within N seconds", "with one
 * of these authentication levels") is {@link stepUpRequirement}. A token that falls short gets 401
 * with `WWW-Authenticate: Bearer error="insufficient_user_authentication"` (`DPoP ..., algs="..."` for a
 * request authenticated with the DPoP scheme, RFC 9449 §7.1) and the route's `max_age` and/or
 * `acr_values` (RFC 9470 §3), so the client knows to ask the user to prove themselves again;
 * the app then checks the password (or a second factor) and calls `TokenManager.reauthenticate`.
 */
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../core/errors.js';
import { MAX_DURATION_SECONDS, isScopeToken, rejectUnknownOptions } from '../core/options.js';
import type { TokenManager } from '../core/manager.js';
import type { TokenRecord } from '../core/types.js';
import {
  DEFAULT_REALM,
  challenge,
  type AuthErrorResponse,
  type ErrorBodyFormatter,
  type HttpErrorResponse,
} from './responses.js';
import { routeRequirement } from './scopes.js';
import { DEFAULT_DPOP_ALGORITHMS } from './dpop.js';

/** The authentication a step-up check reads (a {@link TokenAuth}, or any object with these fields). */
export interface StepUpAuth {
  /** The verified token's record. */
  token: TokenRecord;
  /** The store's clock at verification, epoch milliseconds (`Date.now()` when absent). */
  verifiedAtMs?: number;
  /** Set for a request authenticated with the DPoP scheme: its refusal is a `DPoP` challenge with these `algs`. */
  dpop?: {
    /** The JWS algorithms the middleware accepts for proofs (its `dpop.algorithms`), for the challenge's `algs`. */
    algorithms: readonly string[];
  };
}

/** What a route requires of the authentication behind a token (at least one of the two). */
export interface StepUpRule {
  /**
   * Largest age of the token's last authentication (`authenticatedAtMs`), in whole SECONDS (1 to
   * 315,360,000), measured on the store's clock at verification (RFC 9470 `max_age`); null: any age.
   */
  readonly maxAgeSeconds: number | null;
  /** Authentication levels accepted (the token's `acr` must be one of them; RFC 9470 `acr_values`), in order of preference; empty: any. */
  readonly acrValues: readonly string[];
}

/** Options of {@link stepUpRequirement} (and of every adapter's `requireStepUp`). */
export interface StepUpRequirementOptions {
  /** "Authenticated within this many SECONDS" (1 to 315,360,000): RFC 9470 `max_age`. */
  maxAgeSeconds?: number;
  /** The authentication level(s) accepted (the app's names, as given to `create`/`reauthenticate` as `acr`): RFC 9470 `acr_values`. */
  acr?: string | readonly string[];
  /** The `realm` of the challenges (default `"api"`); use the one given to the auth middleware. */
  realm?: string;
  /** Replaces the JSON body of the refusals (status and headers stay), as `AuthOptions.errorBody`. */
  errorBody?: ErrorBodyFormatter;
}

/**
 * Checks a step-up requirement's `maxAgeSeconds` and `acr` when a route is defined.
 * @param where the name shown in messages, e.g. `'requireStepUp'`.
 * @param extra other option names the caller accepts (e.g. `realm`, `errorBody`).
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} not an object, neither requirement,
 *   a max age that is not a whole number of seconds in range, an acr that is not 1-64 printable ASCII
 *   characters without spaces, `"` or `\`, an unknown option.
 */
export function checkStepUpRule(where: string, options: unknown, extra: readonly string[] = []): StepUpRule {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new InvalidArgumentTypeError(
      `${where}: options must be an object, e.g. { maxAgeSeconds: 300 } or { acr: 'mfa' }`,
    );
  rejectUnknownOptions(where, options, ['maxAgeSeconds', 'acr', ...extra]);
  const { maxAgeSeconds, acr } = options as StepUpRequirementOptions;
  if (
    maxAgeSeconds !== undefined &&
    (typeof maxAgeSeconds !== 'number' ||
      !Number.isSafeInteger(maxAgeSeconds) ||
      maxAgeSeconds < 1 ||
      maxAgeSeconds > MAX_DURATION_SECONDS)
  )
    throw new InvalidArgumentValueError(
      `${where}: maxAgeSeconds must be a whole number of seconds from 1 to ${MAX_DURATION_SECONDS}; got ${String(maxAgeSeconds)}`,
    );
  const acrValues =
    acr === undefined ? [] : typeof acr === 'string' ? [acr] : Array.isArray(acr) ? [...(acr as unknown[])] : null;
  if (acrValues === null) throw new InvalidArgumentTypeError(`${where}: acr must be a string or an array of strings`);
  for (const a of acrValues)
    if (!isScopeToken(a))
      throw new InvalidArgumentValueError(
        `${where}: acr ${JSON.stringify(a)} is not 1-64 printable ASCII characters without spaces, \`"\` or \`\\\``,
      );
  if (maxAgeSeconds === undefined && acrValues.length === 0)
    throw new InvalidArgumentValueError(`${where}: give maxAgeSeconds, acr, or both`);
  return { maxAgeSeconds: maxAgeSeconds ?? null, acrValues: [...new Set(acrValues as string[])] };
}

/**
 * The 401 of RFC 9470 §3: `WWW-Authenticate: Bearer realm="...", error="insufficient_user_authentication",
 * error_description="...", max_age="N", acr_values="a b"` (each of the last two when the route requires
 * it; quoted-strings as in the RFC's examples), `Cache-Control: no-store`, and the JSON body with reason
 * `insufficient_user_authentication`, `maxAgeSeconds` and `acrValues`.
 * @param dpopAlgorithms for a request authenticated with the DPoP scheme: the challenge is
 *   `DPoP realm="...", error="insufficient_user_authentication", ..., algs="..."` (RFC 9449 §7.1) instead.
 */
export function insufficientUserAuthentication(
  rule: StepUpRule,
  message: string,
  realm = DEFAULT_REALM,
  dpopAlgorithms?: readonly string[],
): AuthErrorResponse {
  const response = challenge(
    401,
    realm,
    'insufficient_user_authentication',
    message,
    'insufficient_user_authentication',
  );
  if (dpopAlgorithms)
    response.headers['WWW-Authenticate'] = `DPoP${response.headers['WWW-Authenticate']!.slice('Bearer'.length)}`;
  if (rule.maxAgeSeconds !== null) {
    response.headers['WWW-Authenticate'] += `, max_age="${rule.maxAgeSeconds}"`;
    response.body.maxAgeSeconds = rule.maxAgeSeconds;
  }
  if (rule.acrValues.length > 0) {
    response.headers['WWW-Authenticate'] += `, acr_values="${rule.acrValues.join(' ')}"`;
    response.body.acrValues = [...rule.acrValues];
  }
  if (dpopAlgorithms) response.headers['WWW-Authenticate'] += `, algs="${dpopAlgorithms.join(' ')}"`;
  return response;
}

/**
 * Checks a verified token against a step-up rule: its `acr` must be one of `rule.acrValues` (when
 * any), and `auth.verifiedAtMs - token.authenticatedAtMs` (the store's clock; `Date.now()` when the
 * authentication carries no `verifiedAtMs`) at most `rule.maxAgeSeconds` seconds. Returns the 401 of
 * {@link insufficientUserAuthentication} (a `DPoP` challenge when `auth.dpop` is set, or the token is
 * bound to a key: such a token is only accepted under the DPoP scheme) and emits `authFailed`
 * (`insufficient_user_authentication`), or null when the token qualifies.
 */
export function checkStepUp(
  manager: TokenManager,
  auth: StepUpAuth,
  rule: StepUpRule,
  realm = DEFAULT_REALM,
): AuthErrorResponse | null {
  const { token } = auth;
  let message: string | null = null;
  if (rule.acrValues.length > 0 && (token.acr === null || !rule.acrValues.includes(token.acr)))
    message = `a different authentication level is required: ${rule.acrValues.join(' or ')}`;
  else if (
    rule.maxAgeSeconds !== null &&
    (auth.verifiedAtMs ?? Date.now()) - token.authenticatedAtMs > rule.maxAgeSeconds * 1000
  )
    message = `more recent authentication is required: within the last ${rule.maxAgeSeconds} seconds`;
  if (message === null) return null;
  manager.emit('authFailed', { reason: 'insufficient_user_authentication', tokenId: token.tokenId });
  const dpopAlgorithms = auth.dpop?.algorithms ?? (token.jkt !== null ? DEFAULT_DPOP_ALGORITHMS : undefined);
  return insufficientUserAuthentication(rule, message, realm, dpopAlgorithms);
}

/**
 * A per-route step-up requirement, checked when it is made: returns a function of the request's
 * authentication (`undefined`/`null` for an anonymous request) that gives the answer to send (401
 * `missing_token` for an anonymous request, 401 `insufficient_user_authentication` for a token whose
 * authentication is too old or of another level) or null to let the request through. No store call:
 * it reads the record the request's verify returned.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} no manager, a bad requirement (see
 *   {@link checkStepUpRule}), a bad realm, an unknown option.
 */
export function stepUpRequirement(
  manager: TokenManager,
  options: StepUpRequirementOptions,
): (auth: StepUpAuth | null | undefined) => HttpErrorResponse | null {
  return routeRequirement(manager, options, () => {
    const rule = checkStepUpRule('step-up requirement options', options, ['realm', 'errorBody']);
    return (auth: StepUpAuth, realm: string) => checkStepUp(manager, auth, rule, realm);
  });
}
