/**
 * The HTTP answers of the library, framework-free: 401 and 403 challenges (RFC 6750 §3), 503 for a
 * store outage, and the answer for any error the library throws ({@link errorResponse}). Every adapter
 * sends these as they are: the status, every header, and the body as JSON (`application/json`).
 */
import { InvalidArgumentTypeError, RETRY_AFTER_SECONDS, errorKinds } from '../core/errors.js';
import { rejectUnknownOptions } from '../core/options.js';

/** Why a request was refused, as in the JSON body's `reason`. */
export type AuthErrorReason =
  | 'missing_token'
  | 'malformed_header'
  | 'malformed_token'
  | 'invalid_token'
  | 'user_not_found'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | 'store_unavailable'
  | 'invalid_argument'
  | 'token_limit'
  | 'invalid_dpop_proof'
  | 'dpop_bound_token'
  | 'dpop_unbound_token';

/** The library's JSON body of an error answer. */
export interface AuthErrorBody {
  /** RFC 6750 §3.1 error code for 401/403 challenges (`invalid_request`, `invalid_token`, `insufficient_scope`), `unauthorized` without credentials, else a short code (`service_unavailable`, `bad_request`, `forbidden`). */
  error: string;
  /** Stable reason, see {@link AuthErrorReason}. */
  reason: AuthErrorReason;
  /** Human-readable explanation; never holds a token. */
  message: string;
  /** With `insufficient_scope`: the scopes the token lacks. */
  scopes?: string[];
  /** With `token_limit`: the maximum number of live tokens per user. */
  limit?: number;
  /** With `insufficient_user_authentication`: the route's largest authentication age, in seconds (RFC 9470 `max_age`). */
  maxAgeSeconds?: number;
  /** With `insufficient_user_authentication`: the authentication levels the route accepts (RFC 9470 `acr_values`). */
  acrValues?: string[];
}

/** An error answer of the library: status, headers (e.g. `WWW-Authenticate`, `Retry-After`, `Cache-Control`) and its JSON body. */
export interface AuthErrorResponse {
  /** HTTP status: 400 (bad argument), 401 (no valid token), 403 (scope or token limit), 503 (store down). */
  status: 400 | 401 | 403 | 503;
  /** Headers to send: `WWW-Authenticate` (RFC 6750 §3), `Retry-After` (seconds), `Cache-Control: no-store`. */
  headers: Record<string, string>;
  /** The JSON body: `{ error, reason, message }` and, for some reasons, `scopes` or `limit`. */
  body: AuthErrorBody;
}

/**
 * What an adapter sends: an {@link AuthErrorResponse} whose body may have been replaced by the app's
 * `errorBody` option (status and headers never change). Send `body` as JSON: the text of
 * {@link errorBodyJson} with `Content-Type: application/json` ({@link ERROR_BODY_CONTENT_TYPE}),
 * whatever JSON value it is (an object, an array, a string, a number, a boolean or null).
 */
export interface HttpErrorResponse {
  /** HTTP status, as {@link AuthErrorResponse.status}. */
  status: AuthErrorResponse['status'];
  /** Headers to send, as {@link AuthErrorResponse.headers}. */
  headers: Record<string, string>;
  /** The body to send as JSON: the library's, or what `errorBody` returned. */
  body: unknown;
}

/**
 * Replaces the JSON body of an error answer (status and headers stay). Called with a copy of the
 * library's answer; returns the value to send instead, which every adapter sends the same way: as JSON
 * (`JSON.stringify` of it, `Content-Type: application/json`), whatever its type:
 * - an object or array is sent as that JSON; a string as a JSON string (`"denied"`, quoted), a number
 *   or boolean as itself, `null` as `null`;
 * - `undefined` keeps the library's own body (so a formatter may change only some answers);
 * - a value JSON cannot hold (a function, a symbol) is sent as `null`; one `JSON.stringify` throws on
 *   (a BigInt, a cycle) is an error of the app, thrown on to the framework's error path (a 500).
 */
export type ErrorBodyFormatter = (response: AuthErrorResponse) => unknown;

/** The `Content-Type` of every error answer the adapters send. */
export const ERROR_BODY_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * The JSON text of an error answer's body, as every adapter sends it (with
 * {@link ERROR_BODY_CONTENT_TYPE}): `JSON.stringify(body)`, or `null` for a value JSON cannot hold.
 * @throws {TypeError} when `JSON.stringify` does (a BigInt, a cycle).
 */
export function errorBodyJson(body: unknown): string {
  return JSON.stringify(body) ?? 'null';
}

/**
 * The answer with its body given by `errorBody` when one is set (the library's own body when it
 * returns `undefined`), else the answer unchanged.
 */
export function applyErrorBody(response: AuthErrorResponse, errorBody?: ErrorBodyFormatter): HttpErrorResponse {
  if (!errorBody) return response;
  // Copies, so an errorBody that mutates its argument cannot change the library's answer.
  const body = errorBody({ ...response, headers: { ...response.headers }, body: { ...response.body } });
  return { status: response.status, headers: { ...response.headers }, body: body === undefined ? response.body : body };
}

/** The options every adapter's error handler takes (`tokenErrorHandler`, NestJS's `TokenErrorFilter`). */
export interface ErrorHandlerOptions {
  /** Replaces the JSON body of the answers (status and headers stay), as `AuthOptions.errorBody`. */
  errorBody?: ErrorBodyFormatter;
}

/**
 * Checks the options of an adapter's error handler when it is made, the same way in every adapter, so
 * a mistake fails at start-up instead of silently keeping the default body (or answering 500 later).
 * @param where the name shown in messages, e.g. `'tokenErrorHandler options'`.
 * @param extra the adapter's own option names besides `errorBody` (checked by the adapter).
 * @returns the options, typed (`{}` for undefined).
 * @throws {InvalidArgumentTypeError} not an object, an unknown option (with "did you mean" for a
 *   misspelling), or `errorBody` not a function.
 */
export function checkErrorHandlerOptions<T extends ErrorHandlerOptions = ErrorHandlerOptions>(
  where: string,
  options: unknown,
  extra: readonly string[] = [],
): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new InvalidArgumentTypeError(`${where} must be an object, e.g. { errorBody }`);
  rejectUnknownOptions(where, options, ['errorBody', ...extra]);
  const { errorBody } = options as ErrorHandlerOptions;
  if (errorBody !== undefined && typeof errorBody !== 'function')
    throw new InvalidArgumentTypeError(
      `${where}: errorBody must be a function (response) => body; got ${errorBody === null ? 'null' : typeof errorBody}`,
    );
  return options as T;
}

/** Default `realm` of `WWW-Authenticate` challenges. */
export const DEFAULT_REALM = 'api';

/**
 * A 401 or 403 challenge (RFC 6750 §3): `WWW-Authenticate: Bearer realm="<realm>"`, then
 * `error`, `error_description` (and `scope` for 403) when the request carried credentials; always
 * `Cache-Control: no-store`.
 */
export function challenge(
  status: 401 | 403,
  realm: string,
  reason: AuthErrorReason,
  message: string,
  rfcError?: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'insufficient_user_authentication',
  scopes?: readonly string[],
): AuthErrorResponse {
  // RFC 6750 §3: no error code when the request carried no credentials at all.
  let value = `Bearer realm="${realm}"`;
  if (rfcError) value += `, error="${rfcError}", error_description="${message.replace(/["\\]/g, "'")}"`;
  if (scopes) value += `, scope="${scopes.join(' ')}"`;
  return {
    status,
    headers: { 'WWW-Authenticate': value, 'Cache-Control': 'no-store' },
    body: { error: rfcError ?? 'unauthorized', reason, message },
  };
}

/**
 * The 401 answer for a request without credentials (RFC 6750 §3: a challenge without an error code),
 * reason `missing_token`. Adapters send it when a route needs an authenticated request and has none.
 */
export function authenticationRequired(realm = DEFAULT_REALM): AuthErrorResponse {
  return challenge(401, realm, 'missing_token', 'authentication required: send "Authorization: Bearer <token>"');
}

/**
 * The 503 answer for a token store outage (fail closed: never a 401, never a 500): `Retry-After`
 * (seconds, RFC 9110 §10.2.3) and `Cache-Control: no-store`, reason `store_unavailable`.
 */
export function storeUnavailableResponse(): AuthErrorResponse {
  return {
    status: 503,
    headers: { 'Retry-After': String(RETRY_AFTER_SECONDS), 'Cache-Control': 'no-store' },
    body: {
      error: 'service_unavailable',
      reason: 'store_unavailable',
      message: 'authentication is temporarily unavailable; retry shortly',
    },
  };
}

/** The 503 answer as a refused outcome of `authenticate` (kept for adapters written against 0.1). */
export function unavailable(): {
  /** Always `'refused'`. */
  kind: 'refused';
  /** The 503 answer with `Retry-After`. */
  response: AuthErrorResponse;
  /** Always `'store_unavailable'`. */
  reason: 'store_unavailable';
} {
  return { kind: 'refused', response: storeUnavailableResponse(), reason: 'store_unavailable' };
}

/**
 * The HTTP answer for an error thrown by this library (from any copy of the package: ESM or CommonJS,
 * any entry; recognised by its brand, not by `instanceof` of one copy), or null for any other value:
 * - `StoreUnavailableError` / `StoreMisconfiguredError`: 503, `Retry-After`, `Cache-Control: no-store`,
 *   reason `store_unavailable`, a generic message (never the cause, a host or a key);
 * - `TokenLimitError`: 403, reason `token_limit`, with `limit` (403 and not 429: see `TokenLimitError`);
 * - `InvalidDpopProofError`: 400, error and reason `invalid_dpop_proof` (RFC 9449 §5), the error's message;
 * - `InvalidArgumentTypeError` / `InvalidArgumentValueError`: 400, reason `invalid_argument`, the
 *   error's message (it names the argument, never a token);
 * - any other error of the library: null (let the framework answer 500).
 *
 * Adapters use it in their error handler; apps may too: `const r = errorResponse(err); if (r) ...`.
 */
export function errorResponse(error: unknown): AuthErrorResponse | null {
  const kinds = errorKinds(error);
  if (!kinds) return null;
  const e = error as { message?: unknown; limit?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  if (kinds.includes('StoreUnavailableError')) return storeUnavailableResponse();
  if (kinds.includes('TokenLimitError'))
    return {
      status: 403,
      headers: { 'Cache-Control': 'no-store' },
      body: {
        error: 'forbidden',
        reason: 'token_limit',
        message,
        ...(typeof e.limit === 'number' ? { limit: e.limit } : {}),
      },
    };
  if (kinds.includes('InvalidDpopProofError'))
    return {
      status: 400,
      headers: { 'Cache-Control': 'no-store' },
      body: { error: 'invalid_dpop_proof', reason: 'invalid_dpop_proof', message },
    };
  if (kinds.includes('InvalidArgumentTypeError') || kinds.includes('InvalidArgumentValueError'))
    return {
      status: 400,
      headers: { 'Cache-Control': 'no-store' },
      body: { error: 'bad_request', reason: 'invalid_argument', message },
    };
  return null;
}
