import { InvalidArgumentTypeError, InvalidArgumentValueError, StoreUnavailableError } from '../core/errors.js';
import { isScopeToken, rejectUnknownOptions } from '../core/options.js';
import type { TokenManager } from '../core/manager.js';
import type { TokenRecord } from '../core/types.js';
import { parseAuthorization } from './authorization.js';

/** What a successful authentication attaches to the request. */
export interface TokenAuth<User = unknown> {
  /** The normalised user id. */
  userId: string;
  /** What `loadUser` returned, or `{ id: userId }` when no `loadUser` was given. */
  user: User;
  /** The public record of the token that authenticated this request (no secret). */
  token: TokenRecord;
}

/** Options shared by every framework adapter. */
export interface AuthOptions<User = unknown> {
  /**
   * Turns a user id into the app's user. Return null, undefined or false for a deleted or inactive user
   * (`return user.active && user` works): the request then gets 401, as DRF's TokenAuthentication does.
   * Errors it throws propagate to the app.
   */
  loadUser?: (userId: string, token: TokenRecord) => User | null | undefined | false | Promise<User | null | undefined | false>;
  /** Scopes the token must all hold; a token lacking one gets 403 `insufficient_scope` (RFC 6750 §3.1). */
  scopes?: readonly string[];
  /**
   * Allow anonymous requests: with no Authorization header the request goes on unauthenticated.
   * A header that is present but bad is still a 401 (never downgraded to anonymous).
   */
  optional?: boolean;
  /** The `realm` of `WWW-Authenticate` challenges (default `"api"`; 1-64 printable ASCII characters without `"` or `\`). */
  realm?: string;
}

/** Why a request was refused, as in the JSON body's `reason`. */
export type AuthErrorReason =
  | 'missing_token'
  | 'malformed_header'
  | 'malformed_token'
  | 'invalid_token'
  | 'user_not_found'
  | 'insufficient_scope'
  | 'store_unavailable';

/** An HTTP error answer every adapter sends as is: status, headers and a JSON body. */
export interface AuthErrorResponse {
  status: 401 | 403 | 503;
  headers: Record<string, string>;
  body: { error: string; reason: AuthErrorReason; message: string; scopes?: string[] };
}

/** Outcome of {@link authenticate}. */
export type AuthOutcome<User = unknown> =
  | { kind: 'authenticated'; auth: TokenAuth<User> }
  | { kind: 'anonymous' }
  | { kind: 'refused'; response: AuthErrorResponse };

const REALM_RE = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

/**
 * Checks adapter options once, when the middleware is made, so a mistake fails at start-up instead of
 * turning every request into a 500.
 * @returns the options with `scopes` as a plain array.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} naming the option.
 */
export function checkAuthOptions<User>(manager: unknown, options: AuthOptions<User> | undefined): AuthOptions<User> {
  if (!manager || typeof (manager as { verify?: unknown }).verify !== 'function')
    throw new InvalidArgumentTypeError('the first argument must be the TokenManager');
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw new InvalidArgumentTypeError('auth options must be an object');
  // A misspelt `scopes` would open a route to every valid token: refuse unknown options.
  rejectUnknownOptions('auth options', options, ['loadUser', 'scopes', 'optional', 'realm']);
  if (options.loadUser !== undefined && typeof options.loadUser !== 'function') throw new InvalidArgumentTypeError('loadUser must be a function');
  if (options.optional !== undefined && typeof options.optional !== 'boolean') throw new InvalidArgumentTypeError('optional must be a boolean');
  if (options.realm !== undefined && (typeof options.realm !== 'string' || !REALM_RE.test(options.realm)))
    throw new InvalidArgumentValueError('realm must be 1-64 printable ASCII characters without `"` or `\\` (it is quoted in WWW-Authenticate)');
  return { ...options, scopes: checkScopeList(options.scopes) };
}

/** Checks a list of required scopes (RFC 6749 §3.3 scope-tokens). @throws TypeError/RangeError naming `scopes`. */
export function checkScopeList(scopes: unknown): string[] {
  if (scopes === undefined) return [];
  if (!Array.isArray(scopes)) throw new InvalidArgumentTypeError('scopes must be an array of strings, e.g. { scopes: [\'read\'] }');
  for (const s of scopes)
    if (!isScopeToken(s))
      throw new InvalidArgumentValueError(`scopes: ${JSON.stringify(s)} is not a scope (1-64 printable ASCII characters without spaces, \`"\` or \`\\\`)`);
  return [...scopes];
}

/** Seconds a client is told to wait (`Retry-After`) when the token store is down. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * The framework-free core of every adapter: parse the header, verify the token (one store round trip),
 * load the user, check scopes. Never throws for bad input; a store outage is a 503 answer; errors
 * thrown by `loadUser` (and unexpected faults) propagate.
 */
export async function authenticate<User>(
  manager: TokenManager,
  authorization: string | readonly string[] | undefined,
  options: AuthOptions<User> = {},
): Promise<AuthOutcome<User>> {
  const realm = options.realm ?? 'api';
  const parsed = parseAuthorization(authorization);
  if (parsed.kind === 'missing') {
    if (options.optional) return { kind: 'anonymous' };
    manager.emit('authFailed', { reason: 'missing', tokenId: null });
    return { kind: 'refused', response: authenticationRequired(realm) };
  }
  if (parsed.kind === 'malformed') {
    manager.emit('authFailed', { reason: 'malformed', tokenId: null });
    return refuse(401, realm, 'malformed_header', `malformed Authorization header: ${parsed.description}`, 'invalid_request');
  }
  let result;
  try {
    result = await manager.verify(parsed.token);
  } catch (error) {
    if (error instanceof StoreUnavailableError) return unavailable();
    throw error;
  }
  if (!result.valid) {
    return result.reason === 'malformed'
      ? refuse(401, realm, 'malformed_token', 'the token is not in the expected format', 'invalid_token')
      : refuse(401, realm, 'invalid_token', 'the token is invalid, expired or revoked', 'invalid_token');
  }
  const user = options.loadUser ? await options.loadUser(result.userId, result.record) : ({ id: result.userId } as User);
  if (user === null || user === undefined || user === false) {
    manager.emit('authFailed', { reason: 'user_not_found', tokenId: result.record.tokenId });
    return refuse(401, realm, 'user_not_found', 'the user of this token was not found or is inactive', 'invalid_token');
  }
  const auth: TokenAuth<User> = { userId: result.userId, user, token: result.record };
  if (options.scopes && options.scopes.length > 0) {
    const refused = checkScopes(manager, auth.token, options.scopes, realm);
    if (refused) return { kind: 'refused', response: refused };
  }
  return { kind: 'authenticated', auth };
}

/**
 * Checks that `token` holds every scope in `required`. Returns the 403 answer naming the missing
 * scopes (RFC 6750 §3.1 `insufficient_scope`), or null when all are held.
 */
export function checkScopes(manager: TokenManager, token: TokenRecord, required: readonly string[], realm = 'api'): AuthErrorResponse | null {
  const missing = required.filter((s) => !token.scopes.includes(s));
  if (missing.length === 0) return null;
  manager.emit('authFailed', { reason: 'insufficient_scope', tokenId: token.tokenId });
  const response = refuse(403, realm, 'insufficient_scope', `the token lacks the scope${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, 'insufficient_scope', required).response;
  response.body.scopes = missing;
  return response;
}

/** The 401 answer for a request without credentials (RFC 6750 §3: a challenge without an error code). */
export function authenticationRequired(realm = 'api'): AuthErrorResponse {
  return refuse(401, realm, 'missing_token', 'authentication required: send "Authorization: Bearer <token>"').response;
}

/** The 503 answer for a token store outage (fail closed: never a 401, never a 500). */
export function unavailable(): { kind: 'refused'; response: AuthErrorResponse } {
  return {
    kind: 'refused',
    response: {
      status: 503,
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS), 'Cache-Control': 'no-store' },
      body: { error: 'service_unavailable', reason: 'store_unavailable', message: 'authentication is temporarily unavailable; retry shortly' },
    },
  };
}

function refuse(
  status: 401 | 403,
  realm: string,
  reason: AuthErrorReason,
  message: string,
  rfcError?: 'invalid_request' | 'invalid_token' | 'insufficient_scope',
  scopes?: readonly string[],
): { kind: 'refused'; response: AuthErrorResponse } {
  // RFC 6750 §3: no error code when the request carried no credentials at all.
  let challenge = `Bearer realm="${realm}"`;
  if (rfcError) challenge += `, error="${rfcError}", error_description="${message.replace(/["\\]/g, "'")}"`;
  if (scopes) challenge += `, scope="${scopes.join(' ')}"`;
  return {
    kind: 'refused',
    response: {
      status,
      headers: { 'WWW-Authenticate': challenge, 'Cache-Control': 'no-store' },
      body: { error: rfcError ?? 'unauthorized', reason, message },
    },
  };
}
