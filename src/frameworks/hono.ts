/**
 * `redis-multitokens/hono`: Hono 4 middleware made with `createMiddleware`, the counterpart of the
 * Python plugin's `CachedTokenAuthentication`. It sets the context variable `auth`, typed through the
 * middleware's `Env` (no global `ContextVariableMap` declaration: `c.get('auth').user` is typed by
 * inference on the routes the middleware is on).
 *
 * ```ts
 * app.onError(tokenErrorHandler());                       // 400/403/503 JSON for the library's errors
 * app.get('/me', tokenAuth(tokens, { loadUser }), (c) => c.json(c.get('auth').user));
 * ```
 * @packageDocumentation
 */
import type { Context, ErrorHandler, MiddlewareHandler } from 'hono';
import type { GetConnInfo } from 'hono/conninfo';
import { createMiddleware } from 'hono/factory';
import { HTTPException } from 'hono/http-exception';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../core/errors.js';
import type { TokenManager } from '../core/manager.js';
import { rejectUnknownOptions } from '../core/options.js';
import type { RegisteredUser } from '../core/register.js';
import { authorizationOfRawHeaders } from '../http/authorization.js';
import { dpopHeaderValue, dpopKeyOf, type DpopOptions, type DpopReader } from '../http/dpop.js';
import {
  ERROR_BODY_CONTENT_TYPE,
  authenticate,
  checkAuthOptions,
  deviceDetails,
  applyErrorBody,
  checkErrorHandlerOptions,
  errorBodyJson,
  errorResponse,
  scopeRequirement,
  stepUpRequirement,
  type AuthOptions,
  type TokenAuth,
  type DeviceDetails,
  type ErrorBodyFormatter,
  type HttpErrorResponse,
  type ScopeRequirementOptions,
  type StepUpRequirementOptions,
} from '../http/index.js';

export type {
  AuthOptions,
  TokenAuth,
  AuthErrorResponse,
  ErrorBodyFormatter,
  HttpErrorResponse,
  DeviceDetails,
  ScopeRequirementOptions,
} from '../http/index.js';
export type { StepUpRequirementOptions } from '../http/index.js';
export type { Register, RegisteredUser } from '../core/register.js';

/** The `Env` of routes behind {@link tokenAuth}: `c.get('auth')` is set. */
export interface AuthEnv<User = RegisteredUser> {
  /** Hono's context variables. */
  Variables: {
    /** The authentication: user id, user (from `loadUser`) and token record. */
    auth: TokenAuth<User>;
  };
}

/** The `Env` of routes behind {@link optionalTokenAuth}: `c.get('auth')` is undefined on an anonymous request. */
export interface OptionalAuthEnv<User = RegisteredUser> {
  /** Hono's context variables. */
  Variables: {
    /** The authentication, or undefined on an anonymous request. */
    auth: TokenAuth<User> | undefined;
  };
}

/** One of the library's error answers as a `Response`: its status, every header, and its body as JSON. */
export function authErrorResponse(response: HttpErrorResponse): Response {
  return new Response(errorBodyJson(response.body), {
    status: response.status,
    headers: { ...response.headers, 'Content-Type': ERROR_BODY_CONTENT_TYPE }, // the same as every adapter's
  });
}

/** Marks the refusals thrown by this adapter (a registry symbol: the ESM and CommonJS copies share it). */
const REFUSAL = Symbol.for('redis-multitokens.hono.refusal');

/**
 * A refusal as Hono's middleware throw it (as `hono/bearer-auth` does): an `HTTPException` carrying the
 * finished answer, which Hono's default error handler, {@link tokenErrorHandler}, and any `onError`
 * that returns `err.getResponse()` for an `HTTPException`, send as it is.
 */
function refusal(response: HttpErrorResponse): HTTPException {
  const message = (response.body as { message?: unknown } | null)?.message;
  const exception = new HTTPException(response.status as ConstructorParameters<typeof HTTPException>[0], {
    res: authErrorResponse(response),
    message: typeof message === 'string' ? message : 'request refused',
  });
  Object.defineProperty(exception, REFUSAL, { value: true });
  return exception;
}

/**
 * Every `Authorization` header value of the request. On @hono/node-server the Node request is
 * `c.env.incoming` (its `HttpBindings`), whose `rawHeaders` keep repeated headers apart (two headers are
 * then refused as "more than one Authorization header", as in the other adapters). Elsewhere the Fetch
 * API has joined repeated values with ", ": they are refused as one malformed header.
 */
function authorizationOf(c: Context): string | string[] | undefined {
  const incoming = (c.env as { incoming?: { rawHeaders?: unknown } } | undefined)?.incoming;
  if (incoming && Array.isArray(incoming.rawHeaders)) return authorizationOfRawHeaders(incoming.rawHeaders as string[]);
  return c.req.header('Authorization');
}

/**
 * Middleware that authenticates `Authorization: Bearer <token>` or `Token <token>` (or `DPoP <token>` with a proof, RFC 9449) and sets the
 * context variable `auth` ({ userId, user, token, verifiedAtMs, dpop }), then calls `next()`. Bad, missing (unless
 * `optional`), invalid, expired or revoked tokens and unknown users get 401 with `WWW-Authenticate` and
 * a JSON body; missing scopes 403; a store outage 503 with `Retry-After`: each thrown as an
 * `HTTPException` holding that answer. Errors thrown by `loadUser` are thrown on, to `app.onError`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options, when the middleware is made.
 */
export function tokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options: AuthOptions<User> & { optional: true },
): MiddlewareHandler<OptionalAuthEnv<User>>;
export function tokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options?: AuthOptions<User> & { optional?: false },
): MiddlewareHandler<AuthEnv<User>>;
export function tokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options?: AuthOptions<User>,
): MiddlewareHandler<OptionalAuthEnv<User>>;
export function tokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options: AuthOptions<User> = {},
): MiddlewareHandler<OptionalAuthEnv<User>> | MiddlewareHandler<AuthEnv<User>> {
  const checked = checkAuthOptions(manager, options);
  return createMiddleware<OptionalAuthEnv<User>>(async (c, next) => {
    const outcome = await authenticate(manager, authorizationOf(c), checked, c, DPOP_READER);
    if (outcome.kind === 'refused') throw refusal(outcome.response);
    if (outcome.kind === 'authenticated') c.set('auth', outcome.auth);
    await next();
  });
}

/** `tokenAuth` with `optional: true`: anonymous requests pass with `c.get('auth')` undefined; bad credentials still get 401. */
export function optionalTokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options: Omit<AuthOptions<User>, 'optional'> = {},
): MiddlewareHandler<OptionalAuthEnv<User>> {
  return tokenAuth<User>(manager, { ...options, optional: true as const });
}

/**
 * Middleware, placed after `tokenAuth` on a route, that requires every scope listed: 403
 * `insufficient_scope` naming the missing ones, 401 when the request is not authenticated, thrown as an
 * `HTTPException` holding the answer.
 * - `requireScopes(manager, 'admin', 'write')` or `requireScopes(manager, ['admin'], 'write')`: realm `"api"`;
 * - `requireScopes(manager, ['admin'], { realm: 'admin', errorBody })`: the realm (and `errorBody`) of
 *   your `tokenAuth`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} no scope, a bad scope, realm or option, when made.
 */
export function requireScopes(
  manager: TokenManager,
  scopes: readonly string[],
  options: ScopeRequirementOptions,
): MiddlewareHandler;
export function requireScopes(manager: TokenManager, ...scopes: (string | readonly string[])[]): MiddlewareHandler;
export function requireScopes(
  manager: TokenManager,
  ...args: (string | readonly string[] | ScopeRequirementOptions)[]
): MiddlewareHandler {
  const last = args.at(-1);
  const options =
    typeof last === 'object' && last !== null && !Array.isArray(last) ? (args.pop() as ScopeRequirementOptions) : {};
  const check = scopeRequirement(manager, (args as (string | readonly string[])[]).flat(), options);
  return createMiddleware<OptionalAuthEnv<unknown>>(async (c, next) => {
    const refused = check(c.get('auth'));
    if (refused) throw refusal(refused);
    await next();
  });
}

/**
 * Middleware, placed after `tokenAuth` on a sensitive route (RFC 9470 step-up): the token's user must
 * have proved who they are within `maxAgeSeconds` seconds (at login, or by `manager.reauthenticate`)
 * and/or with one of the `acr` levels, else 401 `insufficient_user_authentication` with `max_age` /
 * `acr_values` in `WWW-Authenticate` (thrown as an `HTTPException` holding the answer); 401 when the
 * request is not authenticated. No store call.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a bad requirement, realm or option, when made.
 */
export function requireStepUp(manager: TokenManager, options: StepUpRequirementOptions): MiddlewareHandler {
  const check = stepUpRequirement(manager, options);
  return createMiddleware<OptionalAuthEnv<unknown>>(async (c, next) => {
    const refused = check(c.get('auth'));
    if (refused) throw refusal(refused);
    await next();
  });
}

/** Options of {@link tokenErrorHandler}. */
export interface TokenErrorHandlerOptions {
  /** Replaces the JSON body of the answers (status and headers stay), as `AuthOptions.errorBody`. */
  errorBody?: ErrorBodyFormatter;
  /**
   * Your own error handler, for every error that is not the library's. Default: Hono's own behaviour
   * (an `HTTPException`'s own response, else the error logged with `console.error` and a 500).
   */
  fallback?: ErrorHandler;
}

/** Hono's default error handler (hono-base.ts), which Hono does not export. */
const honoDefaultErrorHandler: ErrorHandler = (error, c) => {
  if ('getResponse' in error && typeof error.getResponse === 'function') {
    const res = (error as HTTPException).getResponse();
    return c.newResponse(res.body, res);
  }
  console.error(error);
  return c.text('Internal Server Error', 500);
};

/**
 * An error handler for `app.onError(...)` that answers the library's errors thrown by routes (`create`,
 * `list`, `revokeById`...): `StoreUnavailableError` 503 with `Retry-After`, `TokenLimitError` 403
 * (reason `token_limit`), invalid arguments 400, each with `Cache-Control: no-store` and a JSON body
 * ({@link errorResponse}); Hono's own default would answer them 500. The refusals of this adapter's
 * middleware (thrown as `HTTPException`) are answered as they are. Every other error goes to
 * `options.fallback`, or to Hono's default behaviour.
 * @throws {InvalidArgumentTypeError} bad options, when it is made.
 */
export function tokenErrorHandler(options: TokenErrorHandlerOptions = {}): ErrorHandler {
  const { errorBody, fallback = honoDefaultErrorHandler } = checkErrorHandlerOptions<TokenErrorHandlerOptions>(
    'tokenErrorHandler options',
    options,
    ['fallback'],
  );
  if (typeof fallback !== 'function')
    throw new InvalidArgumentTypeError('fallback must be an error handler (err, c) => Response');
  return (error, c) => {
    // The middleware's own refusals (401/403/503) are answered as they are, whatever the fallback does.
    let res: Response | undefined;
    if ((error as { [REFUSAL]?: unknown })[REFUSAL] === true) res = (error as HTTPException).getResponse();
    else {
      const response = errorResponse(error);
      if (!response) return fallback(error, c);
      res = authErrorResponse(applyErrorBody(response, errorBody));
    }
    // As Hono's default does: headers the app set with c.header() stay on the answer.
    return c.newResponse(res.body, res);
  };
}

/**
 * What the DPoP check reads off a Hono context: the scheme of `c.req.url` and the `Host` header (not
 * the authority of `c.req.url`, which an absolute-form request target sets to whatever it names).
 */
const DPOP_READER: DpopReader<Context> = {
  proof: (c) => dpopHeaderValue(c.req.header('DPoP')),
  method: (c) => c.req.method,
  origin: (c) => {
    const url = new URL(c.req.url);
    return `${url.protocol}//${c.req.header('host') ?? url.host}`;
  },
  path: (c) => c.req.path,
};

/**
 * The DPoP key (RFC 9449) a login request proves it holds, for
 * `manager.create(userId, { ...deviceFromRequest(c), jkt: await dpopKeyFromRequest(c) })`: the JWK
 * thumbprint of the key that signed the request's `DPoP` proof (checked: signature, `typ`, `alg`,
 * `htm`, `htu`, `iat`), or null when the request has no `DPoP` header (a bearer token then).
 * @throws {InvalidDpopProofError} a `DPoP` header that fails a check: `tokenErrorHandler` answers 400 `invalid_dpop_proof`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options.
 */
export function dpopKeyFromRequest(c: Context, options?: DpopOptions): Promise<string | null> {
  return dpopKeyOf(c, DPOP_READER, options);
}

/** Where {@link deviceFromRequest} finds the client's IP address. */
export interface DeviceFromRequestOptions {
  /**
   * The runtime's `getConnInfo` (from `@hono/node-server/conninfo`, `hono/bun`, `hono/deno`,
   * `hono/cloudflare-workers`...): the address of the peer of the connection. Without it, and without
   * `proxyHops`, `ip` is null (Hono itself has no runtime-free client address).
   */
  getConnInfo?: GetConnInfo;
  /**
   * How many reverse proxies you run in front of the app, each appending to `X-Forwarded-For`
   * (default 0: the header is ignored, since any client can send one). With n >= 1 the client IP is
   * the n-th address from the right of `X-Forwarded-For` (the leftmost when there are fewer), as
   * Express's `trust proxy` = n; the connection's address when the header is absent.
   */
  proxyHops?: number;
}

/**
 * Device details of a login request for `manager.create(userId, { ...deviceFromRequest(c, { getConnInfo }), deviceName })`:
 * `userAgent` from the User-Agent header and `ip` from `options.getConnInfo` (or `X-Forwarded-For`,
 * only when you set `proxyHops`), with IPv4-mapped IPv6 addresses (`::ffff:203.0.113.7`) shown as IPv4.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options.
 */
export function deviceFromRequest(c: Context, options: DeviceFromRequestOptions = {}): DeviceDetails {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentTypeError('deviceFromRequest options must be an object');
  rejectUnknownOptions('deviceFromRequest options', options, ['getConnInfo', 'proxyHops']);
  const { getConnInfo, proxyHops = 0 } = options;
  if (getConnInfo !== undefined && typeof getConnInfo !== 'function')
    throw new InvalidArgumentTypeError(
      'getConnInfo must be a function, e.g. getConnInfo from @hono/node-server/conninfo',
    );
  if (!Number.isSafeInteger(proxyHops) || proxyHops < 0)
    throw new InvalidArgumentValueError('proxyHops must be a whole number of proxies, 0 or more');
  let ip: string | undefined;
  if (proxyHops > 0) {
    const forwarded = (c.req.header('X-Forwarded-For') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (forwarded.length > 0) ip = forwarded[Math.max(0, forwarded.length - proxyHops)];
  }
  if (ip === undefined && getConnInfo) ip = getConnInfo(c).remote.address;
  return deviceDetails({ userAgent: c.req.header('User-Agent'), ip });
}
