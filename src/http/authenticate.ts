import { InvalidArgumentTypeError, errorKinds } from '../core/errors.js';
import { rejectUnknownOptions } from '../core/options.js';
import type { TokenManager, VerifyResult } from '../core/manager.js';
import type { RegisteredUser } from '../core/register.js';
import type { TokenRecord } from '../core/types.js';
import { parseAuthorization, type AuthorizationParse } from './authorization.js';
import {
  DEFAULT_REALM,
  applyErrorBody,
  authenticationRequired,
  challenge,
  storeUnavailableResponse,
  type AuthErrorReason,
  type AuthErrorResponse,
  type ErrorBodyFormatter,
  type HttpErrorResponse,
} from './responses.js';
import { checkRealm, checkScopeList, checkScopes } from './scopes.js';
import { authenticateDpop, dpopVerifyRefusal } from './dpop-authenticate.js';
import { resolveDpopOptions, type DpopOptions, type DpopReader } from './dpop.js';

/**
 * What a successful authentication attaches to the request. `User` defaults to the type declared in
 * `Register` (module augmentation of 'redis-multitokens'), or `unknown` when none is.
 */
export interface TokenAuth<User = RegisteredUser> {
  /** The normalised user id. */
  userId: string;
  /** What `loadUser` returned, or `{ id: userId }` when no `loadUser` was given. */
  user: User;
  /** The public record of the token that authenticated this request (no secret). */
  token: TokenRecord;
  /** The store's clock when the token was verified, epoch milliseconds (step-up requirements measure `token.authenticatedAtMs` against it). */
  verifiedAtMs?: number;
  /**
   * Set when the request was authenticated with the DPoP scheme (a token bound to a device key, RFC 9449):
   * the proof algorithms the middleware accepts, for the `algs` of later `WWW-Authenticate: DPoP`
   * challenges (a step-up refusal answers a DPoP request with the DPoP scheme). Absent for bearer tokens.
   */
  dpop?: {
    /** The JWS algorithms the middleware accepts for proofs (its `dpop.algorithms`), for the challenge's `algs`. */
    algorithms: readonly string[];
  };
}

/** Options shared by every framework adapter. */
export interface AuthOptions<User = RegisteredUser> {
  /**
   * Turns a user id into the app's user. Return null, undefined or false for a deleted or inactive user
   * (`return user.active && user` works): the request then gets 401, as DRF's TokenAuthentication does.
   * Errors it throws propagate to the framework's error path (a 500 there, unless they are the library's).
   */
  loadUser?: (
    userId: string,
    token: TokenRecord,
  ) => User | null | undefined | false | Promise<User | null | undefined | false>;
  /** Scopes the token must all hold; a token lacking one gets 403 `insufficient_scope` (RFC 6750 §3.1). */
  scopes?: readonly string[];
  /**
   * Allow anonymous requests: with no Authorization header the request goes on unauthenticated.
   * A header that is present but bad is still a 401 (never downgraded to anonymous).
   */
  optional?: boolean;
  /** The `realm` of `WWW-Authenticate` challenges (default `"api"`; 1-64 printable ASCII characters without `"` or `\`). */
  realm?: string;
  /**
   * Replaces the JSON body of every refusal (401, 403, 503): called with the library's answer, returns
   * the value to send instead, always sent as JSON with `Content-Type: application/json` (a string as a
   * JSON string, `null` as `null`); `undefined` keeps the library's own body. Status and headers
   * (`WWW-Authenticate`, `Retry-After`, `Cache-Control`) stay. See {@link ErrorBodyFormatter}.
   * Example: `errorBody: (r) => ({ code: r.body.reason })`.
   */
  errorBody?: ErrorBodyFormatter;
  /**
   * DPoP (RFC 9449) settings: the app's public `origin` for the `htu` check behind a proxy, accepted
   * `algorithms`, the proof window in seconds. DPoP-bound tokens are checked with or without this
   * option (a bound token always needs its proof); see {@link DpopOptions}.
   */
  dpop?: DpopOptions;
}

/**
 * Outcome of {@link authenticate}. For `refused`, send `response` as it is (its body already went
 * through `errorBody`); `reason` says why.
 */
export type AuthOutcome<User = RegisteredUser> =
  | {
      /** A valid token (and a user, when `loadUser` is set). */
      kind: 'authenticated';
      /** Who and which token: what the adapter puts on the request. */
      auth: TokenAuth<User>;
    }
  | {
      /** No `Authorization` header, with `optional: true`. */
      kind: 'anonymous';
    }
  | {
      /** Refused: send `response`. */
      kind: 'refused';
      /** The answer to send as it is (401, 403 or 503). */
      response: HttpErrorResponse;
      /** Why, as in the body's `reason`. */
      reason: AuthErrorReason;
    };

/**
 * Checks adapter options once, when the middleware is made, so a mistake fails at start-up instead of
 * turning every request into a 500.
 * @returns the options with `scopes` as a plain array.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} naming the option (an unknown option too:
 *   a misspelt `scopes` would open a route to every valid token).
 */
export function checkAuthOptions<User>(manager: unknown, options: AuthOptions<User> | undefined): AuthOptions<User> {
  if (!manager || typeof (manager as { verify?: unknown }).verify !== 'function')
    throw new InvalidArgumentTypeError('the first argument must be the TokenManager');
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentTypeError('auth options must be an object');
  rejectUnknownOptions('auth options', options, ['loadUser', 'scopes', 'optional', 'realm', 'errorBody', 'dpop']);
  resolveDpopOptions(options.dpop);
  if (options.loadUser !== undefined && typeof options.loadUser !== 'function')
    throw new InvalidArgumentTypeError('loadUser must be a function');
  if (options.optional !== undefined && typeof options.optional !== 'boolean')
    throw new InvalidArgumentTypeError('optional must be a boolean');
  if (options.errorBody !== undefined && typeof options.errorBody !== 'function')
    throw new InvalidArgumentTypeError('errorBody must be a function');
  checkRealm(options.realm);
  return { ...options, scopes: checkScopeList(options.scopes) };
}

/**
 * The framework-free core of every adapter: parse the header, verify the token (one store round trip),
 * load the user, check scopes. Never throws for bad input; a store outage is a 503 answer (from any
 * copy of the package's `StoreUnavailableError`); errors thrown by `loadUser` or `errorBody` (and
 * unexpected faults) propagate. Emits `authFailed` for missing and malformed headers, unknown users and
 * missing scopes (the manager emits it for bad tokens).
 * @param authorization every `Authorization` header value of the request (see `authorizationOfRawHeaders`).
 * @param req - the request; `reader`: the adapter's {@link DpopReader}, for `Authorization: DPoP` (RFC
 *   9449); without them a DPoP request is refused (401 `invalid_dpop_proof`).
 */
export function authenticate<User = RegisteredUser, R = unknown>(
  manager: TokenManager,
  authorization: string | readonly string[] | undefined,
  options: AuthOptions<User> = {},
  req?: R,
  reader?: DpopReader<R>,
): Promise<AuthOutcome<User>> {
  let parsed: AuthorizationParse;
  try {
    parsed = parseAuthorization(authorization);
    if (parsed.kind !== 'token') return Promise.resolve(headerRefusal(manager, parsed, options));
  } catch (error) {
    return Promise.reject(error); // an `authFailed` listener or `errorBody` threw: a rejection, as from an async function
  }
  if (parsed.dpop) return authenticateDpop(manager, parsed.token, options, req as R, reader);
  let verifying: Promise<VerifyResult>;
  try {
    verifying = manager.verify(parsed.token);
  } catch (error) {
    verifying = Promise.reject(error); // a `verify` that throws instead of rejecting: the same answers
  }
  // One `then` per request: no async wrapper around `verify`, no closure per request beyond these two.
  return verifying.then(
    (result) => afterVerify(manager, result, options),
    (error: unknown) => verifyFailed(error, options),
  );
}

/** A refused outcome, its body through `errorBody`. */
export function refuse<User>(response: AuthErrorResponse, options: AuthOptions<User>): AuthOutcome<User> {
  return { kind: 'refused', response: applyErrorBody(response, options.errorBody), reason: response.body.reason };
}

/** The outcome for a missing or malformed header (no I/O). */
function headerRefusal<User>(
  manager: TokenManager,
  parsed: Exclude<AuthorizationParse, { kind: 'token' }>,
  options: AuthOptions<User>,
): AuthOutcome<User> {
  const realm = options.realm ?? DEFAULT_REALM;
  if (parsed.kind === 'missing') {
    if (options.optional) return { kind: 'anonymous' };
    manager.emit('authFailed', { reason: 'missing', tokenId: null });
    return refuse(authenticationRequired(realm), options);
  }
  manager.emit('authFailed', { reason: 'malformed', tokenId: null });
  return refuse(
    challenge(
      401,
      realm,
      'malformed_header',
      `malformed Authorization header: ${parsed.description}`,
      'invalid_request',
    ),
    options,
  );
}

/** A store outage is a 503 answer; any other fault propagates. */
export function verifyFailed<User>(error: unknown, options: AuthOptions<User>): AuthOutcome<User> {
  if (errorKinds(error)?.includes('StoreUnavailableError')) return refuse(storeUnavailableResponse(), options);
  throw error;
}

/** After `verify`: refuse an invalid token, load the user (only when `loadUser` is set), check scopes. */
export function afterVerify<User>(
  manager: TokenManager,
  result: VerifyResult,
  options: AuthOptions<User>,
): AuthOutcome<User> | Promise<AuthOutcome<User>> {
  if (!result.valid) {
    const realm = options.realm ?? DEFAULT_REALM;
    if (result.reason !== 'malformed' && result.reason !== 'invalid')
      return refuse(dpopVerifyRefusal(result.reason, realm, options), options);
    return result.reason === 'malformed'
      ? refuse(
          challenge(401, realm, 'malformed_token', 'the token is not in the expected format', 'invalid_token'),
          options,
        )
      : refuse(
          challenge(401, realm, 'invalid_token', 'the token is invalid, expired or revoked', 'invalid_token'),
          options,
        );
  }
  if (!options.loadUser)
    return authenticated(
      manager,
      result.userId,
      { id: result.userId } as User,
      result.record,
      options,
      result.verifiedAtMs,
    );
  const loading = options.loadUser(result.userId, result.record);
  // A promise (or any thenable, as `await` takes it) is waited for; a plain value is used at once.
  if (
    (typeof loading === 'object' || typeof loading === 'function') &&
    loading !== null &&
    typeof (loading as { then?: unknown }).then === 'function'
  )
    return Promise.resolve(loading as PromiseLike<User | null | undefined | false>).then((user) =>
      authenticated(manager, result.userId, user, result.record, options, result.verifiedAtMs),
    );
  return authenticated(
    manager,
    result.userId,
    loading as User | null | undefined | false,
    result.record,
    options,
    result.verifiedAtMs,
  );
}

/** The outcome once the user is known: 401 for a missing or inactive user, 403 for a missing scope. */
function authenticated<User>(
  manager: TokenManager,
  userId: string,
  user: User | null | undefined | false,
  token: TokenRecord,
  options: AuthOptions<User>,
  verifiedAtMs?: number,
): AuthOutcome<User> {
  if (user === null || user === undefined || user === false) {
    manager.emit('authFailed', { reason: 'user_not_found', tokenId: token.tokenId });
    return refuse(
      challenge(
        401,
        options.realm ?? DEFAULT_REALM,
        'user_not_found',
        'the user of this token was not found or is inactive',
        'invalid_token',
      ),
      options,
    );
  }
  if (options.scopes !== undefined && options.scopes.length > 0) {
    const refused = checkScopes(manager, token, options.scopes, options.realm ?? DEFAULT_REALM);
    if (refused) return refuse(refused, options);
  }
  // A bound token is only ever accepted under the DPoP scheme (as Bearer it is refused, `dpop_required`).
  if (token.jkt !== null)
    return {
      kind: 'authenticated',
      auth: { userId, user, token, verifiedAtMs, dpop: { algorithms: resolveDpopOptions(options.dpop).algorithms } },
    };
  return { kind: 'authenticated', auth: { userId, user, token, verifiedAtMs } };
}

// Also reachable from here (adapters may import every http piece from '../http/index.js').
export {
  authenticationRequired,
  unavailable,
  type AuthErrorReason,
  type AuthErrorResponse,
  type HttpErrorResponse,
} from './responses.js';
export { checkScopeList, checkScopes } from './scopes.js';
