/**
 * `redis-multitokens/koa`: Koa 3 middleware, the counterpart of the Python plugin's
 * `CachedTokenAuthentication`. It sets `ctx.state.auth`, typed through the middleware's state type
 * (no global declaration: `router.get('/me', tokenAuth(tokens), (ctx) => ctx.state.auth.user)` is
 * typed by inference).
 *
 * ```ts
 * app.use(tokenErrorHandler());                                  // 400/403/503 JSON for the library's errors
 * router.get('/me', tokenAuth(tokens, { loadUser }), (ctx) => { ctx.body = ctx.state.auth.user; });
 * ```
 * @packageDocumentation
 */
import type { Middleware, ParameterizedContext } from 'koa';
import type { TokenManager } from '../core/manager.js';
import type { RegisteredUser } from '../core/register.js';
import { authorizationOfRawHeaders } from '../http/authorization.js';
import { dpopHeaderValue, dpopKeyOf, type DpopOptions, type DpopReader } from '../http/dpop.js';
import {
  authenticate,
  checkAuthOptions,
  deviceDetails,
  applyErrorBody,
  checkErrorHandlerOptions,
  errorBodyJson,
  ERROR_BODY_CONTENT_TYPE,
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

/** `ctx.state` after {@link tokenAuth}: `auth` is set. */
export interface AuthState<User = RegisteredUser> {
  /** The authentication of this request (a `TokenAuth`: { userId, user, token, verifiedAtMs, dpop }). */
  auth: TokenAuth<User>;
}

/** `ctx.state` after {@link optionalTokenAuth}: `auth` is undefined on an anonymous request. */
export interface OptionalAuthState<User = RegisteredUser> {
  /** The authentication of this request, or undefined when it carried no Authorization header. */
  auth?: TokenAuth<User>;
}

/** Answers with one of the library's error answers: its status, every header, and its body as JSON. */
export function sendAuthError(ctx: ParameterizedContext, response: HttpErrorResponse): void {
  ctx.status = response.status;
  ctx.set(response.headers);
  // JSON whatever `errorBody` returned (Koa would send a string body as text/plain).
  const text = errorBodyJson(response.body);
  ctx.type = ERROR_BODY_CONTENT_TYPE;
  ctx.body = text;
}

/**
 * Middleware that authenticates `Authorization: Bearer <token>` or `Token <token>` (or `DPoP <token>` with a proof, RFC 9449) and sets
 * `ctx.state.auth` (a `TokenAuth`: { userId, user, token, verifiedAtMs, dpop }), then calls `next()`. Bad, missing (unless `optional`),
 * invalid, expired or revoked tokens and unknown users get 401 with `WWW-Authenticate` and a JSON body;
 * missing scopes 403; a store outage 503 with `Retry-After`. Errors thrown by `loadUser` are thrown on,
 * to Koa's error handling.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options, when the middleware is made.
 */
export function tokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options: AuthOptions<User> & { optional: true },
): Middleware<OptionalAuthState<User>>;
export function tokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options?: AuthOptions<User> & { optional?: false },
): Middleware<AuthState<User>>;
export function tokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options?: AuthOptions<User>,
): Middleware<OptionalAuthState<User>>;
export function tokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options: AuthOptions<User> = {},
): Middleware<OptionalAuthState<User>> {
  const checked = checkAuthOptions(manager, options);
  return async function redisMultitokensAuth(ctx, next) {
    const outcome = await authenticate(
      manager,
      authorizationOfRawHeaders(ctx.req.rawHeaders),
      checked,
      ctx,
      DPOP_READER,
    );
    if (outcome.kind === 'refused') return sendAuthError(ctx, outcome.response);
    if (outcome.kind === 'authenticated') ctx.state.auth = outcome.auth;
    await next();
  };
}

/** `tokenAuth` with `optional: true`: anonymous requests pass with `ctx.state.auth` undefined; bad credentials still get 401. */
export function optionalTokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options: Omit<AuthOptions<User>, 'optional'> = {},
): Middleware<OptionalAuthState<User>> {
  return tokenAuth<User>(manager, { ...options, optional: true });
}

/**
 * Middleware, placed after `tokenAuth` on a route, that requires every scope listed: 403
 * `insufficient_scope` naming the missing ones, 401 when the request is not authenticated.
 * - `requireScopes(manager, 'admin', 'write')` or `requireScopes(manager, ['admin'], 'write')`: realm `"api"`;
 * - `requireScopes(manager, ['admin'], { realm: 'admin', errorBody })`: the realm (and `errorBody`) of
 *   your `tokenAuth`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} no scope, a bad scope, realm or option, when made.
 */
export function requireScopes(
  manager: TokenManager,
  scopes: readonly string[],
  options: ScopeRequirementOptions,
): Middleware<OptionalAuthState<unknown>>;
export function requireScopes(
  manager: TokenManager,
  ...scopes: (string | readonly string[])[]
): Middleware<OptionalAuthState<unknown>>;
export function requireScopes(
  manager: TokenManager,
  ...args: (string | readonly string[] | ScopeRequirementOptions)[]
): Middleware<OptionalAuthState<unknown>> {
  const last = args.at(-1);
  const options =
    typeof last === 'object' && last !== null && !Array.isArray(last) ? (args.pop() as ScopeRequirementOptions) : {};
  const check = scopeRequirement(manager, (args as (string | readonly string[])[]).flat(), options);
  return async function redisMultitokensScopes(ctx, next) {
    const refused = check(ctx.state.auth);
    if (refused) return sendAuthError(ctx, refused);
    await next();
  };
}

/**
 * Middleware, placed after `tokenAuth` on a sensitive route (RFC 9470 step-up): the token's user must
 * have proved who they are within `maxAgeSeconds` seconds (at login, or by `manager.reauthenticate`)
 * and/or with one of the `acr` levels, else 401 `insufficient_user_authentication` with `max_age` /
 * `acr_values` in `WWW-Authenticate`; 401 when the request is not authenticated. No store call.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a bad requirement, realm or option, when made.
 */
export function requireStepUp(
  manager: TokenManager,
  options: StepUpRequirementOptions,
): Middleware<OptionalAuthState<unknown>> {
  const check = stepUpRequirement(manager, options);
  return async function redisMultitokensStepUp(ctx, next) {
    const refused = check(ctx.state.auth);
    if (refused) return sendAuthError(ctx, refused);
    await next();
  };
}

/** Options of {@link tokenErrorHandler}. */
export interface TokenErrorHandlerOptions {
  /** Replaces the JSON body of the answers (status and headers stay), as `AuthOptions.errorBody`. */
  errorBody?: ErrorBodyFormatter;
}

/**
 * Error-handling middleware for the library's errors thrown by the routes below it (`create`, `list`,
 * `revokeById`...): `StoreUnavailableError` 503 with `Retry-After`, `TokenLimitError` 403 (reason
 * `token_limit`), invalid arguments 400, each with `Cache-Control: no-store` and a JSON body. Koa's own
 * `ctx.onerror` would already give those statuses and headers (from `err.status` and `err.headers`),
 * but with a text body; this middleware makes it JSON like the other refusals. Any other error is thrown
 * on, untouched, to Koa's error handling (and `app.on('error')`). Put it first: `app.use(tokenErrorHandler())`.
 */
export function tokenErrorHandler(options: TokenErrorHandlerOptions = {}): Middleware {
  const { errorBody } = checkErrorHandlerOptions<TokenErrorHandlerOptions>('tokenErrorHandler options', options);
  return async function redisMultitokensErrors(ctx, next) {
    try {
      await next();
    } catch (error) {
      const response = errorResponse(error);
      if (!response || ctx.headerSent || !ctx.writable) throw error;
      sendAuthError(ctx, applyErrorBody(response, errorBody));
    }
  };
}

/** What the DPoP check reads off a Koa context (`ctx.protocol` and `ctx.host` honour `app.proxy`). */
const DPOP_READER: DpopReader<ParameterizedContext> = {
  proof: (ctx) => dpopHeaderValue(ctx.req.headers.dpop),
  method: (ctx) => ctx.method,
  origin: (ctx) => `${ctx.protocol}://${ctx.host}`,
  path: (ctx) => ctx.originalUrl,
};

/**
 * The DPoP key (RFC 9449) a login request proves it holds, for
 * `manager.create(userId, { ...deviceFromRequest(ctx), jkt: await dpopKeyFromRequest(ctx) })`: the JWK
 * thumbprint of the key that signed the request's `DPoP` proof (checked: signature, `typ`, `alg`,
 * `htm`, `htu`, `iat`), or null when the request has no `DPoP` header (a bearer token then).
 * @throws {InvalidDpopProofError} a `DPoP` header that fails a check: `tokenErrorHandler` answers 400 `invalid_dpop_proof`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options.
 */
export function dpopKeyFromRequest(ctx: ParameterizedContext, options?: DpopOptions): Promise<string | null> {
  return dpopKeyOf(ctx, DPOP_READER, options);
}

/**
 * Device details of a login request for `manager.create(userId, { ...deviceFromRequest(ctx), deviceName })`:
 * `userAgent` from the User-Agent header and `ip` from `ctx.ip` (which honours `app.proxy`,
 * `app.proxyIpHeader` and `app.maxIpsCount`), with IPv4-mapped IPv6 addresses (`::ffff:203.0.113.7`)
 * shown as IPv4.
 */
export function deviceFromRequest(ctx: Pick<ParameterizedContext, 'get' | 'ip'>): DeviceDetails {
  return deviceDetails({ userAgent: ctx.get('User-Agent'), ip: ctx.ip });
}
