/**
 * Scope checks with a realm (RFC 6750 §3.1 `insufficient_scope`), framework-free: every adapter's
 * per-route scope requirement is {@link scopeRequirement}.
 */
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../core/errors.js';
import { isScopeToken, rejectUnknownOptions } from '../core/options.js';
import type { TokenManager } from '../core/manager.js';
import type { TokenRecord } from '../core/types.js';
import {
  DEFAULT_REALM,
  applyErrorBody,
  authenticationRequired,
  challenge,
  type AuthErrorResponse,
  type ErrorBodyFormatter,
  type HttpErrorResponse,
} from './responses.js';

const REALM_RE = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

/**
 * Checks a `realm` option: 1-64 printable ASCII characters without `"` or `\` (it is quoted in
 * `WWW-Authenticate`, RFC 7235 §2.2). @returns the realm, or `"api"` when undefined.
 * @throws {InvalidArgumentValueError} any other value.
 */
export function checkRealm(realm: unknown): string {
  if (realm === undefined) return DEFAULT_REALM;
  if (typeof realm !== 'string' || !REALM_RE.test(realm))
    throw new InvalidArgumentValueError(
      'realm must be 1-64 printable ASCII characters without `"` or `\\` (it is quoted in WWW-Authenticate)',
    );
  return realm;
}

/**
 * Checks a list of required scopes (RFC 6749 §3.3 scope-tokens, 1-64 characters each).
 * @returns a copy as a plain array ([] for undefined).
 * @throws {InvalidArgumentTypeError} not an array. @throws {InvalidArgumentValueError} an entry that is not a scope-token.
 */
export function checkScopeList(scopes: unknown): string[] {
  if (scopes === undefined) return [];
  if (!Array.isArray(scopes))
    throw new InvalidArgumentTypeError("scopes must be an array of strings, e.g. { scopes: ['read'] }");
  for (const s of scopes)
    if (!isScopeToken(s))
      throw new InvalidArgumentValueError(
        `scopes: ${JSON.stringify(s)} is not a scope (1-64 printable ASCII characters without spaces, \`"\` or \`\\\`)`,
      );
  return [...scopes];
}

/**
 * Checks that `token` holds every scope in `required`. Returns the 403 answer naming the missing
 * scopes (RFC 6750 §3.1 `insufficient_scope`, `scope="..."` listing all required ones in the challenge,
 * the missing ones in the body's `scopes`) and emits `authFailed` (`insufficient_scope`), or returns
 * null when all are held.
 */
export function checkScopes(
  manager: TokenManager,
  token: TokenRecord,
  required: readonly string[],
  realm = DEFAULT_REALM,
): AuthErrorResponse | null {
  const missing = required.filter((s) => !token.scopes.includes(s));
  if (missing.length === 0) return null;
  manager.emit('authFailed', { reason: 'insufficient_scope', tokenId: token.tokenId });
  const response = challenge(
    403,
    realm,
    'insufficient_scope',
    `the token lacks the scope${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
    'insufficient_scope',
    required,
  );
  response.body.scopes = missing;
  return response;
}

/** Options of {@link scopeRequirement}. */
export interface ScopeRequirementOptions {
  /** The `realm` of the challenges (default `"api"`); use the one given to the auth middleware. */
  realm?: string;
  /** Replaces the JSON body of the refusals (status and headers stay), as `AuthOptions.errorBody`. */
  errorBody?: ErrorBodyFormatter;
}

/**
 * A per-route scope requirement, checked when it is made: returns a function of the request's
 * authentication (`undefined`/`null` for an anonymous request) that gives the answer to send (401
 * `missing_token` for an anonymous request, 403 `insufficient_scope` for a token lacking a scope) or
 * null to let the request through.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} no manager, no scope, a bad scope or realm, an unknown option.
 */
export function scopeRequirement(
  manager: TokenManager,
  scopes: readonly string[],
  options: ScopeRequirementOptions = {},
): (auth: { token: TokenRecord } | null | undefined) => HttpErrorResponse | null {
  return routeRequirement(manager, options, () => {
    const required = checkScopeList(scopes);
    if (required.length === 0) throw new InvalidArgumentValueError('a scope requirement needs at least one scope');
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentTypeError('scope requirement options must be an object');
    rejectUnknownOptions('scope requirement options', options, ['realm', 'errorBody']);
    return (auth: { token: TokenRecord }, realm: string) => checkScopes(manager, auth.token, required, realm);
  });
}

/**
 * What every per-route requirement (scopes, step-up) shares, checked when the route is defined, in this
 * order: the manager, then `prepare()` (which checks the requirement's own options and returns the
 * check of an authenticated request), then `realm` and `errorBody`. The returned function answers 401
 * `missing_token` for an anonymous request, the check's refusal (through `errorBody`), or null.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} no manager, whatever `prepare` throws, a bad realm or errorBody.
 */
export function routeRequirement<A>(
  manager: TokenManager,
  options: { realm?: string; errorBody?: ErrorBodyFormatter },
  prepare: () => (auth: A, realm: string) => AuthErrorResponse | null,
): (auth: A | null | undefined) => HttpErrorResponse | null {
  if (!manager || typeof (manager as { emit?: unknown }).emit !== 'function')
    throw new InvalidArgumentTypeError('the first argument must be the TokenManager');
  const check = prepare();
  const realm = checkRealm(options.realm);
  if (options.errorBody !== undefined && typeof options.errorBody !== 'function')
    throw new InvalidArgumentTypeError('errorBody must be a function');
  const errorBody = options.errorBody;
  return (auth) => {
    if (!auth) return applyErrorBody(authenticationRequired(realm), errorBody);
    const refused = check(auth, realm);
    return refused ? applyErrorBody(refused, errorBody) : null;
  };
}
