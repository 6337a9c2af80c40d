/**
 * `redis-multitokens/fastify`: a Fastify 5 plugin (made with fastify-plugin), the counterpart of the
 * Python plugin's `CachedTokenAuthentication`.
 *
 * ```ts
 * await app.register(tokenAuthPlugin, { manager: tokens, loadUser });  // every route of this scope
 * app.get('/me', async (request) => request.auth);
 * app.setErrorHandler(tokenErrorHandler());                              // 400/403/503 from create, list...
 * ```
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../core/errors.js';
import type { TokenManager } from '../core/manager.js';
import type { RegisteredUser } from '../core/register.js';
import { authenticate, checkAuthOptions, type AuthOptions, type TokenAuth } from '../http/authenticate.js';
import { authorizationOfRawHeaders } from '../http/authorization.js';
import { deviceDetails, type DeviceDetails } from '../http/client.js';
import { dpopHeaderValue, dpopKeyOf, type DpopOptions, type DpopReader } from '../http/dpop.js';
import {
  DEFAULT_REALM,
  ERROR_BODY_CONTENT_TYPE,
  applyErrorBody,
  checkErrorHandlerOptions,
  errorBodyJson,
  errorResponse,
  type ErrorBodyFormatter,
  type HttpErrorResponse,
} from '../http/responses.js';
import { checkScopes, scopeRequirement, type ScopeRequirementOptions } from '../http/scopes.js';
import { stepUpRequirement, type StepUpRequirementOptions } from '../http/step-up.js';

export type { AuthOptions, TokenAuth } from '../http/authenticate.js';
export type { AuthErrorResponse, HttpErrorResponse, ErrorBodyFormatter } from '../http/responses.js';
export type { DeviceDetails } from '../http/client.js';
export type { ScopeRequirementOptions } from '../http/scopes.js';
export type { StepUpRequirementOptions } from '../http/step-up.js';
export type { Register, RegisteredUser } from '../core/register.js';

/** Options of {@link tokenAuthPlugin}: the manager, the authentication options, and where the hook goes. */
export interface FastifyTokenAuthOptions extends AuthOptions<RegisteredUser> {
  /** The app's TokenManager. The plugin never closes it: the app that made it closes it. */
  manager: TokenManager;
  /**
   * `true` (default): authenticate every request of the scope the plugin is registered in (an `onRequest`
   * hook; with fastify-plugin that is the scope of the `register` call, not its siblings).
   * `false`: only decorate; put `fastify.tokenAuth(...)` on the routes that need it.
   */
  global?: boolean;
}

/** Per-route options of `fastify.tokenAuth(...)`: they override the plugin's options for that route. */
export type RouteTokenAuthOptions = Pick<AuthOptions<RegisteredUser>, 'optional' | 'scopes' | 'realm' | 'loadUser'>;

/** A hook for a route's `onRequest` (or `preHandler`) option. */
export type TokenAuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the redis-multitokens hook on an authenticated request; null on an anonymous one. */
    auth: TokenAuth<RegisteredUser> | null;
  }
  interface FastifyInstance {
    /**
     * A hook that authenticates the routes it is put on (`{ onRequest: app.tokenAuth() }`), with the
     * plugin's options overridden by `options` (e.g. `{ optional: true }`, `{ scopes: ['admin'] }`).
     * When the request was already authenticated by this plugin (its global hook, in a context where it
     * is global), the token is not verified again (one store round trip per request): only this hook's
     * `scopes` are checked, in its `realm`. A `loadUser` other than the one that authenticated the
     * request verifies again.
     * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options, when called.
     */
    tokenAuth(options?: RouteTokenAuthOptions): TokenAuthHook;
    /**
     * A hook, placed after authentication, that requires every scope listed: 403 `insufficient_scope`
     * naming the missing ones, 401 when the request is not authenticated. The realm of its challenges
     * is the one of the `tokenAuth` hook that ran for the request (so a route with
     * `tokenAuth({ realm: 'admin' })` answers 401 and 403 in realm `"admin"`), else the plugin's;
     * `requireScopes(['admin'], { realm, errorBody })` sets them (as the other adapters' `requireScopes`).
     * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} no scope, a scope that is not a
     *   scope-token, a bad realm or an unknown option.
     */
    requireScopes(scopes: readonly string[], options: ScopeRequirementOptions): TokenAuthHook;
    requireScopes(...scopes: (string | readonly string[])[]): TokenAuthHook;
    /**
     * A hook, placed after authentication, for a sensitive route (RFC 9470 step-up): the token's user
     * must have proved who they are within `maxAgeSeconds` seconds (at login, or by
     * `manager.reauthenticate`) and/or with one of the `acr` levels, else 401
     * `insufficient_user_authentication` with `max_age` / `acr_values` in `WWW-Authenticate`; 401 when
     * the request is not authenticated. Its realm is the one of the `tokenAuth` hook that ran for the
     * request unless `realm` is given (as `requireScopes`). No store call.
     * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a bad requirement, realm or option.
     */
    requireStepUp(options: StepUpRequirementOptions): TokenAuthHook;
  }
}

/** Options Fastify itself reads from `register(plugin, options)`; they are not ours to check. */
const FASTIFY_REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'];

/**
 * Sends one of the library's answers (401/403/503, its headers and its body as JSON: `Content-Type:
 * application/json` whatever JSON value `errorBody` returned, a string too) and returns the reply, as
 * async hooks must.
 * @throws {TypeError} a body `JSON.stringify` throws on (a BigInt, a cycle).
 */
export function sendAuthError(reply: FastifyReply, response: HttpErrorResponse): FastifyReply {
  const text = errorBodyJson(response.body);
  return reply.code(response.status).headers(response.headers).type(ERROR_BODY_CONTENT_TYPE).send(text);
}

/** What the plugin's hooks remember of a request they let through: which manager and `loadUser` set `request.auth`, and the realm of the last hook. */
interface HookRun {
  manager: TokenManager;
  loadUser: AuthOptions<RegisteredUser>['loadUser'];
  realm: string;
}
/**
 * Where a request keeps its {@link HookRun}: a request decorator (null until a hook lets the request
 * through), so every request has it from its constructor and setting it changes no object shape
 * (a WeakMap entry per request cost more). A symbol of this copy of the module, as the plugin is.
 */
const HOOK_RUN = Symbol('redis-multitokens.fastify.hookRun');
type WithHookRun = FastifyRequest & { [HOOK_RUN]: HookRun | null };

function hookFor(manager: TokenManager, options: AuthOptions<RegisteredUser>): TokenAuthHook {
  const realm = options.realm ?? DEFAULT_REALM;
  const scopes = options.scopes ?? [];
  // What this hook records of a request it lets through: the same for every request, so built once.
  const run: HookRun = { manager, loadUser: options.loadUser, realm };
  // Not an async function: the hook returns `authenticate`'s promise chained once (a promise, as Fastify
  // expects of a two-argument hook), and builds no object per request beyond what the request keeps.
  return function redisMultitokensAuth(request, reply) {
    if (request.auth) {
      const earlier = (request as WithHookRun)[HOOK_RUN];
      if (earlier && earlier.manager === manager && earlier.loadUser === options.loadUser) {
        // Authenticated in this request already (the global hook, then a route's): no second verify,
        // only this hook's own scopes, in its realm.
        const refused = scopes.length > 0 ? checkScopes(manager, request.auth.token, scopes, realm) : null;
        if (refused) return settle(() => sendAuthError(reply, applyErrorBody(refused, options.errorBody)));
        (request as WithHookRun)[HOOK_RUN] = run;
        return RESOLVED;
      }
    }
    return authenticate(manager, authorizationOfRawHeaders(request.raw.rawHeaders), options, request, DPOP_READER).then(
      (outcome) => {
        if (outcome.kind === 'refused') return sendAuthError(reply, outcome.response);
        (request as WithHookRun)[HOOK_RUN] = run;
        if (outcome.kind === 'authenticated') request.auth = outcome.auth;
        return undefined;
      },
    );
  };
}

/** The settled promise of a hook that lets the request through without waiting. */
const RESOLVED: Promise<undefined> = Promise.resolve(undefined);

/** `fn()` as a promise: its value, or its exception as a rejection (as an async hook would give). */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

function scopeHook(
  fixed: ReturnType<typeof scopeRequirement>,
  pick: (request: FastifyRequest) => ReturnType<typeof scopeRequirement> = () => fixed,
): TokenAuthHook {
  return async function redisMultitokensScopes(request, reply) {
    const refused = pick(request)(request.auth);
    return refused ? sendAuthError(reply, refused) : undefined;
  };
}

/**
 * A requirement hook (scopes, step-up) whose challenges use `givenRealm`, or else the realm of the
 * `tokenAuth` hook that ran for the request (one check made per realm seen). `make({})` is called at
 * once, so a bad requirement fails when the hook is made.
 */
function realmAwareHook(
  givenRealm: string | undefined,
  make: (realm: { realm?: string }) => ReturnType<typeof scopeRequirement>,
): TokenAuthHook {
  const fixed = make({});
  if (givenRealm !== undefined) return scopeHook(fixed);
  const byRealm = new Map<string, ReturnType<typeof scopeRequirement>>();
  return scopeHook(fixed, (request) => {
    const realm = (request as WithHookRun)[HOOK_RUN]?.realm;
    if (realm === undefined) return fixed;
    let check = byRealm.get(realm);
    if (!check) {
      check = make({ realm });
      byRealm.set(realm, check);
    }
    return check;
  });
}

async function plugin(fastify: FastifyInstance, pluginOptions: FastifyTokenAuthOptions): Promise<void> {
  if (pluginOptions === null || typeof pluginOptions !== 'object')
    throw new InvalidArgumentTypeError(
      'redis-multitokens: the plugin options must be an object, e.g. { manager: tokens }',
    );
  const { manager, global = true, ...rest } = pluginOptions;
  if (!manager || typeof (manager as { verify?: unknown }).verify !== 'function')
    throw new InvalidArgumentTypeError('redis-multitokens: the `manager` option must be the TokenManager');
  if (typeof global !== 'boolean')
    throw new InvalidArgumentTypeError('redis-multitokens: the `global` option must be a boolean');
  const authOptions: Record<string, unknown> = { ...rest };
  for (const key of FASTIFY_REGISTER_OPTIONS) delete authOptions[key];
  const options = checkAuthOptions(manager, authOptions as AuthOptions<RegisteredUser>);
  if (fastify.hasDecorator('tokenAuth') || fastify.hasRequestDecorator('auth'))
    throw new InvalidArgumentValueError(
      'redis-multitokens: `request.auth` or `fastify.tokenAuth` is already decorated in this context (the plugin is already registered here or in a parent context, or another plugin owns `request.auth`): register it once per context, and pass per-route options to fastify.tokenAuth(...)',
    );

  fastify.decorateRequest('auth', null);
  fastify.decorateRequest(HOOK_RUN, null);
  fastify.decorate('tokenAuth', (routeOptions?: RouteTokenAuthOptions) => {
    if (routeOptions !== undefined && (routeOptions === null || typeof routeOptions !== 'object'))
      throw new InvalidArgumentTypeError('tokenAuth: route options must be an object');
    // An option given as undefined keeps the plugin's value.
    const overrides = Object.fromEntries(Object.entries(routeOptions ?? {}).filter(([, value]) => value !== undefined));
    return hookFor(manager, checkAuthOptions(manager, { ...options, ...overrides }));
  });
  fastify.decorate('requireScopes', (...args: (string | readonly string[] | ScopeRequirementOptions)[]) => {
    const last = args.at(-1);
    const given =
      typeof last === 'object' && last !== null && !Array.isArray(last) ? (args.pop() as ScopeRequirementOptions) : {};
    const scopes = (args as (string | readonly string[])[]).flat();
    // Checked here, when the hook is made: the scopes, and the options as given.
    return realmAwareHook(given.realm, (realm) =>
      scopeRequirement(manager, scopes, { realm: options.realm, errorBody: options.errorBody, ...given, ...realm }),
    );
  });
  fastify.decorate('requireStepUp', (given: StepUpRequirementOptions) =>
    realmAwareHook((given as StepUpRequirementOptions | undefined)?.realm, (realm) =>
      stepUpRequirement(manager, { realm: options.realm, errorBody: options.errorBody, ...given, ...realm }),
    ),
  );
  if (global) fastify.addHook('onRequest', hookFor(manager, options));
}

/**
 * The plugin: `await app.register(tokenAuthPlugin, { manager, loadUser, realm, ... })`.
 *
 * Decorates `request.auth` (null until a token authenticates the request) and the instance with
 * `tokenAuth(options)`, `requireScopes(...scopes)` and `requireStepUp({ maxAgeSeconds, acr })` route hooks. With `global` (the default), an
 * `onRequest` hook authenticates every request of the scope it is registered in: a bad, missing (unless
 * `optional`), invalid, expired or revoked token or an unknown user gets 401 with `WWW-Authenticate` and a
 * JSON body; missing scopes 403; a store outage 503 with `Retry-After`. Errors thrown by `loadUser` go to
 * Fastify's error handler. It adds no listener to the manager and opens nothing, so nothing outlives the
 * Fastify instance; it never closes the manager.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a bad option, named in the message: `register` and `ready` reject.
 */
export const tokenAuthPlugin = fp(plugin, { name: 'redis-multitokens', fastify: '5.x' });

/** Options of {@link tokenErrorHandler}. */
export interface TokenErrorHandlerOptions {
  /** Replaces the JSON body of the library's error answers (status and headers stay), as the plugin's `errorBody`. */
  errorBody?: ErrorBodyFormatter;
}

/**
 * An error handler for `app.setErrorHandler(tokenErrorHandler())`: the library's errors thrown by the
 * app's own routes (`create`, `list`, `revokeById`...) get their HTTP answer (400 bad argument, 403 token
 * limit, 503 + `Retry-After` store outage) with the library's JSON body. Any other error is thrown on to
 * the parent error handler (Fastify's default at the root; yours when you set this one in a child
 * context), so the app's own errors are not swallowed. Without it, Fastify's default handler still uses
 * the errors' `statusCode` and `headers`, with Fastify's own JSON body.
 * @throws {InvalidArgumentTypeError} bad options, when made.
 */
export function tokenErrorHandler(
  options: TokenErrorHandlerOptions = {},
): (error: Error, request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  const { errorBody } = checkErrorHandlerOptions<TokenErrorHandlerOptions>('tokenErrorHandler options', options);
  return function redisMultitokensErrorHandler(error, request, reply) {
    const response = errorResponse(error);
    if (!response) throw error;
    // Logged as Fastify's default handler does: server errors at `error`, client errors at `info`.
    if (response.status >= 500) request.log.error({ err: error }, error.message);
    else request.log.info({ res: reply, err: error }, error.message);
    return sendAuthError(reply, applyErrorBody(response, errorBody));
  };
}

/** What the DPoP check reads off a Fastify request (`request.protocol` and `request.host` honour `trustProxy`). */
const DPOP_READER: DpopReader<FastifyRequest> = {
  proof: (request) => dpopHeaderValue(request.headers.dpop),
  method: (request) => request.method,
  origin: (request) => `${request.protocol}://${request.host}`,
  path: (request) => request.url,
};

/**
 * The DPoP key (RFC 9449) a login request proves it holds, for
 * `manager.create(userId, { ...deviceFromRequest(request), jkt: await dpopKeyFromRequest(request) })`:
 * the JWK thumbprint of the key that signed the request's `DPoP` proof (checked: signature, `typ`,
 * `alg`, `htm`, `htu`, `iat`), or null when the request has no `DPoP` header (a bearer token then).
 * @throws {InvalidDpopProofError} a `DPoP` header that fails a check: `tokenErrorHandler` answers 400 `invalid_dpop_proof`.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad options.
 */
export function dpopKeyFromRequest(request: FastifyRequest, options?: DpopOptions): Promise<string | null> {
  return dpopKeyOf(request, DPOP_READER, options);
}

/**
 * Device details of a login request for `manager.create(userId, { ...deviceFromRequest(request), deviceName })`:
 * `userAgent` from the User-Agent header and `ip` from `request.ip` (which honours Fastify's `trustProxy`),
 * IPv4-mapped IPv6 addresses shown as IPv4.
 */
export function deviceFromRequest(request: FastifyRequest): DeviceDetails {
  return deviceDetails({ userAgent: request.headers['user-agent'], ip: request.ip });
}
