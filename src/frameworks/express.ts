/**
 * `redis-multitokens/express`: Express middleware (Express 4.18+ and 5), the counterpart of the
 * plugin's `CachedTokenAuthentication`.
 *
 * ```ts
 * app.get('/me', tokenAuth(tokens, { loadUser }), (req, res) => res.json(req.auth));
 * ```
 * @packageDocumentation
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { TokenManager } from '../core/manager.js';
import { authenticate, authenticationRequired, checkAuthOptions, checkScopeList, checkScopes, type AuthErrorResponse, type AuthOptions, type TokenAuth } from '../http/authenticate.js';
import { authorizationFromRawHeaders } from '../http/authorization.js';

import { InvalidArgumentValueError } from '../core/errors.js';
import { displayIp } from '../http/client.js';

export type { AuthOptions, TokenAuth, AuthErrorResponse } from '../http/authenticate.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `tokenAuth` on an authenticated request; undefined on an anonymous one (`optional: true`). */
      auth?: TokenAuth;
    }
  }
}

/** Sends one of the library's error answers (401/403/503 with a JSON body). */
export function sendAuthError(res: Response, response: AuthErrorResponse): void {
  res.status(response.status).set(response.headers).json(response.body);
}

/**
 * Middleware that authenticates `Authorization: Bearer <token>` or `Token <token>`.
 * On success sets `req.auth` ({ userId, user, token }) and calls `next()`. Bad, missing (unless
 * `optional`), invalid, expired or revoked tokens and unknown users get 401 with `WWW-Authenticate`
 * and a JSON body; missing scopes 403; a store outage 503 with `Retry-After`. Errors thrown by
 * `loadUser` go to `next(err)`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options, when the middleware is made.
 */
export function tokenAuth<User = unknown>(manager: TokenManager, options: AuthOptions<User> = {}): RequestHandler {
  options = checkAuthOptions(manager, options);
  return async (req: Request, res: Response, next: NextFunction) => {
    let outcome;
    try {
      outcome = await authenticate(manager, authorizationFromRawHeaders(req.rawHeaders), options);
      if (outcome.kind === 'refused') return sendAuthError(res, outcome.response);
    } catch (error) {
      return next(error); // loadUser threw, or the answer could not be sent: the app's error handler decides
    }
    if (outcome.kind === 'authenticated') req.auth = outcome.auth as TokenAuth;
    next();
  };
}

/** `tokenAuth` with `optional: true`: anonymous requests pass with `req.auth` undefined; bad credentials still get 401. */
export function optionalTokenAuth<User = unknown>(manager: TokenManager, options: Omit<AuthOptions<User>, 'optional'> = {}): RequestHandler {
  return tokenAuth(manager, { ...options, optional: true });
}

/**
 * Middleware, placed after `tokenAuth`, that requires every scope listed (as arguments or arrays):
 * 403 `insufficient_scope` naming the missing ones; 401 when the request is not authenticated.
 * For another realm than `"api"`, pass `{ scopes, realm }` to `tokenAuth` instead.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a scope that is not a scope-token, when the middleware is made.
 */
export function requireScopes(manager: TokenManager, ...scopes: (string | readonly string[])[]): RequestHandler {
  checkAuthOptions(manager, undefined);
  const required = checkScopeList(scopes.flat());
  if (required.length === 0) throw new InvalidArgumentValueError('requireScopes needs at least one scope');
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.auth) return sendAuthError(res, authenticationRequired());
    const refused = checkScopes(manager, req.auth.token, required);
    if (refused) return sendAuthError(res, refused);
    next();
  };
}

/**
 * Device details of a login request for `manager.create(userId, { ...deviceFromRequest(req), deviceName })`:
 * `userAgent` from the User-Agent header and `ip` from `req.ip` (which honours Express's `trust proxy`
 * setting), with IPv4-mapped IPv6 addresses (`::ffff:203.0.113.7`, RFC 4291 §2.5.5.2) shown as IPv4.
 */
export function deviceFromRequest(req: Request): { userAgent: string | null; ip: string | null } {
  return { userAgent: req.get('user-agent') ?? null, ip: displayIp(req.ip) };
}

/**
 * The authentication of a request that passed `tokenAuth`, typed with the app's user type.
 * @throws {Error} when the request is not authenticated (an anonymous request after `optionalTokenAuth`:
 *   read `req.auth`, which is undefined then).
 */
export function getAuth<User = unknown>(req: Request): TokenAuth<User> {
  if (!req.auth) throw new Error('getAuth: request is not authenticated (mount tokenAuth before this handler)');
  return req.auth as TokenAuth<User>;
}
