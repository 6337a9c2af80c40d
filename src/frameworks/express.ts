/**
 * `redis-multitokens/express`: Express middleware (Express 4.18+ and 5), the counterpart of the
 * plugin's `CachedTokenAuthentication`, and the error handler that gives the library's errors their
 * HTTP answers on the app's own routes.
 *
 * ```ts
 * app.get('/me', tokenAuth(tokens, { loadUser }), (req, res) => res.json(req.auth));
 * app.use(tokenErrorHandler()); // after the routes
 * ```
 * @packageDocumentation
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { TokenManager } from '../core/manager.js';
import type { RegisteredUser } from '../core/register.js';
import { authenticate, checkAuthOptions, type AuthOptions, type TokenAuth } from '../http/authenticate.js';
import { authorizationOfRawHeaders } from '../http/authorization.js';
import { deviceDetails, type DeviceDetails } from '../http/client.js';
import { dpopHeaderValue, dpopKeyOf, type DpopOptions, type DpopReader } from '../http/dpop.js';
import {
  ERROR_BODY_CONTENT_TYPE,
  applyErrorBody,
  checkErrorHandlerOptions,
  errorBodyJson,
  errorResponse,
  type ErrorBodyFormatter,
  type HttpErrorResponse,
} from '../http/responses.js';
import { scopeRequirement, type ScopeRequirementOptions } from '../http/scopes.js';
import { stepUpRequirement, type StepUpRequirementOptions } from '../http/step-up.js';

export type { AuthOptions, TokenAuth } from '../http/authenticate.js';
export type { AuthErrorResponse, HttpErrorResponse, ErrorBodyFormatter } from '../http/responses.js';
export type { ScopeRequirementOptions } from '../http/scopes.js';
export type { StepUpRequirementOptions } from '../http/step-up.js';
export type { DeviceDetails } from '../http/client.js';
export type { DpopOptions } from '../http/dpop.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * Set by `tokenAuth` on an authenticated request; undefined on an anonymous one (`optional: true`).
       * Its `user` is the type declared in `Register` (module augmentation of 'redis-multitokens').
       * When another library declares `req.auth` too, read `getAuth(req)` instead.
       */
      auth?: TokenAuth;
    }
  }
}

/** Where the authentication is also kept, for `getAuth` (a registry symbol: shared by the ESM and CommonJS copies). */
const AUTH = Symbol.for('redis-multitokens.express.auth');

/**
 * Sends one of the library's error answers: its status, every header, and its body as JSON
 * (`Content-Type: application/json`, whatever JSON value `errorBody` returned: a string too).
 * @throws {TypeError} a body `JSON.stringify` throws on (a BigInt, a cycle).
 */
export function sendAuthError(res: Response, response: HttpErrorResponse): void {
  const text = errorBodyJson(response.body);
  res.status(response.status).set(response.headers).set('Content-Type', ERROR_BODY_CONTENT_TYPE).send(text);
}

/**
 * Middleware that authenticates `Authorization: Bearer <token>` or `Token <token>` (or `DPoP <token>` with a proof, RFC 9449) (RFC 6750 §2.1).
 * On success sets `req.auth` (a `TokenAuth`: { userId, user, token, verifiedAtMs, dpop }) and calls `next()`. Bad, missing (unless
 * `optional`), invalid, expired or revoked tokens and unknown users get 401 with `WWW-Authenticate`
 * and a JSON body; missing scopes 403; a store outage 503 with `Retry-After`; every refusal has
 * `Cache-Control: no-store`. Errors thrown by `loadUser` go to `next(err)` (the app's error handler).
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options, when the middleware is made.
 */
export function tokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options: AuthOptions<User> = {},
): RequestHandler {
  const checked = checkAuthOptions(manager, options);
  // No async wrapper: one `then` on `authenticate`, whose promise is returned (Express 5 passes a
  // rejection to `next(err)`), and nothing built per request but what the request keeps.
  return function redisMultitokensAuth(req: Request, res: Response, next: NextFunction) {
    return authenticate(manager, authorizationOfRawHeaders(req.rawHeaders), checked, req, DPOP_READER).then(
      (outcome) => {
        if (outcome.kind === 'refused') {
          try {
            sendAuthError(res, outcome.response);
          } catch (error) {
            next(error); // the answer could not be sent (errorBody gave a BigInt or a cycle): the app's error handler decides
          }
          return;
        }
        if (outcome.kind === 'authenticated') {
          req.auth = outcome.auth as TokenAuth;
          Object.defineProperty(req, AUTH, { value: outcome.auth, configurable: true, enumerable: false });
        }
        next();
      },
      next, // loadUser threw: the app's error handler decides
    );
  };
}

/** `tokenAuth` with `optional: true`: anonymous requests pass with `req.auth` undefined; bad credentials still get 401. */
export function optionalTokenAuth<User extends RegisteredUser = RegisteredUser>(
  manager: TokenManager,
  options: Omit<AuthOptions<User>, 'optional'> = {},
): RequestHandler {
  return tokenAuth(manager, { ...options, optional: true });
}

/**
 * Middleware, placed after `tokenAuth`, that requires every scope listed: 403 `insufficient_scope`
 * (RFC 6750 §3.1) naming the missing ones; 401 when the request is not authenticated.
 * - `requireScopes(manager, 'admin', 'write')` or `requireScopes(manager, ['admin'], 'write')`: realm `"api"`;
 * - `requireScopes(manager, ['admin'], { realm: 'admin', errorBody })`: the realm (and `errorBody`) of
 *   your `tokenAuth`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} no scope, a scope that is not a
 *   scope-token, a bad realm or an unknown option, when the middleware is made.
 */
export function requireScopes(
  manager: TokenManager,
  scopes: readonly string[],
  options: ScopeRequirementOptions,
): RequestHandler;
export function requireScopes(manager: TokenManager, ...scopes: (string | readonly string[])[]): RequestHandler;
export function requireScopes(
  manager: TokenManager,
  ...args: (string | readonly string[] | ScopeRequirementOptions)[]
): RequestHandler {
  const last = args.at(-1);
  const options =
    typeof last === 'object' && last !== null && !Array.isArray(last) ? (args.pop() as ScopeRequirementOptions) : {};
  const check = scopeRequirement(manager, (args as (string | readonly string[])[]).flat(), options);
  return (req: Request, res: Response, next: NextFunction) => {
    // The symbol, not req.auth: another library may have put its own object there.
    const refused = check((req as { [AUTH]?: TokenAuth })[AUTH]);
    if (refused) return sendAuthError(res, refused);
    next();
  };
}

/**
 * Middleware, placed after `tokenAuth`, for a sensitive route (RFC 9470 step-up): the token's user must
 * have proved who they are within `maxAgeSeconds` seconds (at login, or by `manager.reauthenticate`)
 * and/or with one of the `acr` levels, else 401 `insufficient_user_authentication` with `max_age` /
 * `acr_values` in `WWW-Authenticate`; 401 when the request is not authenticated. No store call.
 * `requireStepUp(manager, { maxAgeSeconds: 300, acr: 'mfa', realm, errorBody })`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a bad requirement, realm or option, when made.
 */
export function requireStepUp(manager: TokenManager, options: StepUpRequirementOptions): RequestHandler {
  const check = stepUpRequirement(manager, options);
  return (req: Request, res: Response, next: NextFunction) => {
    const refused = check((req as { [AUTH]?: TokenAuth })[AUTH]);
    if (refused) return sendAuthError(res, refused);
    next();
  };
}

/** Options of {@link tokenErrorHandler}. */
export interface TokenErrorHandlerOptions {
  /** Replaces the JSON body of the answers (status and headers stay), as `AuthOptions.errorBody`. */
  errorBody?: ErrorBodyFormatter;
}

/**
 * Error-handling middleware (mount it after your routes, before your own error handler) that answers
 * the library's errors thrown in your routes: `StoreUnavailableError` -> 503 with `Retry-After`,
 * `TokenLimitError` -> 403 `token_limit`, invalid arguments (e.g. a `deviceName` that is not a string)
 * -> 400, each with `Cache-Control: no-store` and a JSON body ({@link errorResponse}). Any other error
 * (and any error after the headers were sent) goes on to `next(err)`. Express 5 passes rejected promises
 * of async routes here; in Express 4 call `next(err)` yourself.
 * @throws {InvalidArgumentTypeError} bad options, when it is made: not an object, an unknown option
 *   ("did you mean `errorBody`"), or an `errorBody` that is not a function.
 */
export function tokenErrorHandler(options: TokenErrorHandlerOptions = {}): ErrorRequestHandler {
  const { errorBody } = checkErrorHandlerOptions<TokenErrorHandlerOptions>('tokenErrorHandler options', options);
  return (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    const response = errorResponse(error);
    if (!response || res.headersSent) return next(error);
    sendAuthError(res, applyErrorBody(response, errorBody));
  };
}

/**
 * Device details of a login request for `manager.create(userId, { ...deviceFromRequest(req), deviceName })`:
 * `userAgent` from the User-Agent header and `ip` from `req.ip` (which honours Express's `trust proxy`
 * setting), with IPv4-mapped IPv6 addresses (`::ffff:203.0.113.7`, RFC 4291 §2.5.5.2) shown as IPv4.
 */
export function deviceFromRequest(req: Request): DeviceDetails {
  return deviceDetails({ userAgent: req.get('user-agent'), ip: req.ip });
}

/** What the DPoP check reads off an Express request (`req.protocol` honours `trust proxy`). */
const DPOP_READER: DpopReader<Request> = {
  proof: (req) => dpopHeaderValue(req.headers.dpop),
  method: (req) => req.method,
  origin: (req) => `${req.protocol}://${req.get('host') ?? ''}`,
  path: (req) => req.originalUrl,
};

/**
 * The DPoP key (RFC 9449) a login request proves it holds, for
 * `manager.create(userId, { ...deviceFromRequest(req), jkt: await dpopKeyFromRequest(req) })`: the
 * JWK thumbprint of the key that signed the request's `DPoP` proof (checked: signature, `typ`, `alg`,
 * `htm`, `htu`, `iat`), or null when the request has no `DPoP` header (a bearer token then).
 * @throws {InvalidDpopProofError} a `DPoP` header that fails a check: `tokenErrorHandler` answers 400 `invalid_dpop_proof`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options.
 */
export function dpopKeyFromRequest(req: Request, options?: DpopOptions): Promise<string | null> {
  return dpopKeyOf(req, DPOP_READER, options);
}

/**
 * The authentication of a request that passed `tokenAuth`, typed with the app's user type (by default
 * the one declared in `Register`). It works even when another library also declares or sets `req.auth`.
 * @throws {Error} when the request is not authenticated (an anonymous request after `optionalTokenAuth`:
 *   read `req.auth`, which is undefined then).
 */
export function getAuth<User = RegisteredUser>(req: Request): TokenAuth<User> {
  const auth = (req as { [AUTH]?: TokenAuth<User> })[AUTH];
  if (!auth) throw new Error('getAuth: request is not authenticated (mount tokenAuth before this handler)');
  return auth;
}
