/**
 * The demo API, framework-free: register, log in from several devices, see and log out devices, on
 * redis-multitokens. Each framework's file in demo/frameworks/ routes requests to these handlers, runs
 * its own adapter of the library for authentication (with {@link DemoApi.loadUser}), and sends the
 * {@link DemoResponse} it gets back as it is.
 *
 * Every answer is JSON (except the static devices page at `/`): 400 for a malformed or invalid body,
 * 401 from the token middleware (`insufficient_user_authentication` on the step-up routes, RFC 9470:
 * "log out other devices" and "change password" need a password check within
 * `stepUpMaxAgeSeconds`, done by `POST /reauthenticate`), 404 for unknown routes, 409 over the device limit, 503 with
 * Retry-After while the token store is down, 500 without details for anything else. API answers carry
 * `Cache-Control: no-store`; every answer carries {@link SECURITY_HEADERS}. Only the package's public
 * entries are imported.
 */
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  MemoryStore,
  RedisStore,
  TokenLimitError,
  isRedisMultitokensError,
  type TokenManager,
} from 'redis-multitokens';
import { errorResponse, stepUpRequirement, type DeviceDetails, type TokenAuth } from 'redis-multitokens/http';
import type { TokenRecord } from 'redis-multitokens';
import { z } from 'zod';
import type { User, UserDb } from './db.js';

export type { User } from './db.js';

/** What every demo factory takes. It opens nothing itself: the caller owns `tokens` and `db`. */
export interface DemoAppOptions {
  /** The token manager (memory or Redis store). */
  tokens: TokenManager;
  /** The users. */
  db: UserDb;
  /** Where unexpected errors are logged (default `console`). Tests pass a quiet one. */
  logger?: Pick<Console, 'error'>;
  /**
   * The framework's trust-proxy setting: set it when the demo runs behind a reverse proxy, so the
   * devices list shows the client's IP (from X-Forwarded-For) instead of the proxy's. Default: off.
   */
  trustProxy?: boolean | number | string;
  /**
   * Step-up (RFC 9470): "log out other devices" and "change password" need the password checked (at
   * login or by `POST /reauthenticate`) within this many SECONDS. Default
   * {@link DEMO_STEP_UP_MAX_AGE_SECONDS} (300); tests use 1.
   */
  stepUpMaxAgeSeconds?: number;
}

/** Default step-up window of the demo's sensitive routes: 300 seconds (5 minutes). */
export const DEMO_STEP_UP_MAX_AGE_SECONDS = 300;

/** The step-up requirement of the demo's sensitive routes, for each framework's `requireStepUp`. */
export function demoStepUp(options: DemoAppOptions): { maxAgeSeconds: number } {
  return { maxAgeSeconds: options.stepUpMaxAgeSeconds ?? DEMO_STEP_UP_MAX_AGE_SECONDS };
}

/** A demo app on one framework, not yet listening. */
export interface DemoServer {
  /** Listens on `host`:`port` (0 = a free port); resolves with the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** Closes the HTTP server (idle connections at once; requests in flight may finish). The caller closes `tokens` and `db`. */
  close(): Promise<void>;
}

/** What each `demo/frameworks/<fw>.ts` exports as `createDemoServer`. */
export type DemoFactory = (options: DemoAppOptions) => Promise<DemoServer>;

/** The frameworks the demo runs on (`DEMO_FRAMEWORK`). */
export const DEMO_FRAMEWORKS = ['express', 'fastify', 'koa', 'hono', 'nestjs'] as const;
export type DemoFramework = (typeof DEMO_FRAMEWORKS)[number];

/** An answer of a handler: status, extra headers, and a JSON body (undefined: no body, as for 204). */
export interface DemoResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Directory of the devices page (demo/public). */
export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/**
 * Content-Security-Policy of every answer: scripts, styles and fetches from this origin only, no inline
 * script or style, no framing, no plugins.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers of every answer (page, assets, API, errors). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
});

/** Headers of every API answer (on top of {@link SECURITY_HEADERS}): answers may carry tokens, so no cache keeps them. */
export const API_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'Cache-Control': 'no-store' });

/** Largest JSON request body, in bytes (16 KiB). */
export const BODY_LIMIT_BYTES = 16 * 1024;

/** The devices page files, by URL path, with their Content-Type. */
const PUBLIC_FILES: Readonly<Record<string, [file: string, contentType: string]>> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/format.js': ['format.js', 'text/javascript; charset=utf-8'],
  '/dpop.js': ['dpop.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

/** The URL paths of the devices page (cacheable: no `no-store`), for the frameworks' routes. */
export const PAGE_PATHS: readonly string[] = Object.keys(PUBLIC_FILES);

/**
 * A file of the devices page for a GET path (`/`, `/index.html`, `/app.js`, `/format.js`, `/dpop.js`,
 * `/style.css`), or null for any other path: for frameworks without a static file server of their own
 * (Express uses `express.static` on {@link PUBLIC_DIR}).
 */
export async function publicFile(pathname: string): Promise<{ contentType: string; content: Buffer } | null> {
  const entry = Object.hasOwn(PUBLIC_FILES, pathname) ? PUBLIC_FILES[pathname] : undefined;
  if (!entry) return null;
  return { contentType: entry[1], content: await readFile(PUBLIC_DIR + entry[0]) };
}

/** The 400 answer for a request body that is not valid JSON. */
export function invalidJson(): DemoResponse {
  return { status: 400, body: { error: 'invalid_json', message: 'the request body is not valid JSON' } };
}

/** The answer to a body over BODY_LIMIT_BYTES, for frameworks that do not answer it themselves. */
export function tooLarge(): DemoResponse {
  return { status: 413, body: { error: 'invalid_request', message: 'request entity too large' } };
}

/**
 * What a framework passes to the handlers as the body when it could not parse it as JSON (for body
 * parsers that cannot answer themselves): the handlers answer it with {@link invalidJson}. Every other
 * parsed JSON value (`null`, a string, an array...) goes to the handlers' validation, which answers 400
 * `invalid_request` naming what it expected, the same on every framework.
 */
export const INVALID_JSON_BODY: unique symbol = Symbol('demo: the request body is not valid JSON');

/**
 * A Node HTTP server as the demo's {@link DemoServer}: `listen` resolves with the bound port (or rejects
 * with the bind error); `close` stops accepting, closes idle keep-alive connections at once and lets
 * requests in flight finish.
 */
export function nodeServer(server: Server): DemoServer {
  return {
    async listen(port, host) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

const username = z
  .string()
  .trim()
  .min(3, 'username must be at least 3 characters')
  .max(32, 'username must be at most 32 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'username may hold only letters, digits, "_", "." and "-"');

const RegisterBody = z.object({
  username,
  password: z
    .string()
    .min(8, 'password must be at least 8 characters')
    .max(256, 'password must be at most 256 characters'),
});

const LoginBody = z.object({
  username: z.string().trim().min(1, 'username is required').max(64),
  password: z.string().min(1, 'password is required').max(256),
  /** A name for this device ("Work laptop"); stored as the token's deviceName. */
  device: z.string().trim().max(200, 'device must be at most 200 characters').nullish(),
});

const ReauthenticateBody = z.object({ password: z.string().min(1, 'password is required').max(256) });

const ChangePasswordBody = z.object({
  newPassword: z
    .string()
    .min(8, 'newPassword must be at least 8 characters')
    .max(256, 'newPassword must be at most 256 characters'),
});

/** An error answer a handler throws: status and JSON body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: string; message: string; [key: string]: unknown },
  ) {
    super(body.message);
  }
}

/** Validates a JSON request body with zod; 400 with the issues when it does not fit. */
function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === INVALID_JSON_BODY) throw new HttpError(400, invalidJson().body as { error: string; message: string });
  if (body === undefined)
    throw new HttpError(400, {
      error: 'invalid_request',
      message: 'send a JSON object body with Content-Type: application/json',
    });
  const result = schema.safeParse(body);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
    throw new HttpError(400, {
      error: 'invalid_request',
      message: issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '),
      issues,
    });
  }
  return result.data;
}

function storeKind(tokens: TokenManager): 'memory' | 'redis' | 'custom' {
  if (tokens.store instanceof MemoryStore) return 'memory';
  if (tokens.store instanceof RedisStore) return 'redis';
  return 'custom';
}

/** The authentication the handlers get (from the framework's adapter). */
export type DemoAuth = TokenAuth<User>;

/** The demo's handlers. None throws: each answers every error with {@link DemoApi.error}'s answer. */
export interface DemoApi {
  /**
   * For the adapter's `loadUser` option: the user, or null (401 `user_not_found`) when deleted, or when
   * `token` comes from a login with a password that has been changed since (its metadata's `pwv` is not
   * the user's password version, and it is not the device that changed the password): such a token is
   * also revoked, so its next use is a plain 401 `invalid_token`. This stops a login with the OLD
   * password that was in flight while the password changed (it created its token after
   * change-password's revokeOthers ran).
   */
  loadUser(userId: string, token?: TokenRecord): Promise<User | null>;
  /** `GET /health`: 200 `{ ok: true, store }`; 503 while the token store is down. */
  health(): Promise<DemoResponse>;
  /** `POST /register` with `{ username, password }`: 201 `{ id, username }`, 409 taken, 400 invalid. */
  register(body: unknown): Promise<DemoResponse>;
  /**
   * `POST /login` with `{ username, password, device? }`: 200 `{ token, tokenId, first, tokenType }`, 401 wrong credentials, 409 over
   * the device limit. `dpopKey` reads the request's DPoP proof (the adapter's `dpopKeyFromRequest`): with
   * one the token is bound to the browser's key (`tokenType` `DPoP`); a bad proof is 400 `invalid_dpop_proof`.
   */
  login(body: unknown, device: DeviceDetails, dpopKey?: () => Promise<string | null>): Promise<DemoResponse>;
  /** `GET /me`: 200 `{ user: { id, username }, token }`. */
  me(auth: DemoAuth): Promise<DemoResponse>;
  /** `POST /logout`: 204, this device logged out. */
  logout(auth: DemoAuth): Promise<DemoResponse>;
  /** `POST /logout-all` (behind the step-up requirement): 204, every device of the user logged out. */
  logoutAll(auth: DemoAuth): Promise<DemoResponse>;
  /** `POST /logout-others`: 204, every other device logged out. */
  logoutOthers(auth: DemoAuth): Promise<DemoResponse>;
  /**
   * `POST /reauthenticate` with `{ password }`: the step-up (RFC 9470) of this device. 200
   * `{ authenticatedAtMs }` once the password is checked (`tokens.reauthenticate`, acr `"pwd"`); 403
   * `wrong_password` (not 401: the token itself is fine).
   */
  reauthenticate(auth: DemoAuth, body: unknown): Promise<DemoResponse>;
  /**
   * `POST /change-password` with `{ newPassword }` (behind the step-up requirement): 200
   * `{ loggedOutDevices }`, every other device of the user logged out.
   */
  changePassword(auth: DemoAuth, body: unknown): Promise<DemoResponse>;
  /**
   * `GET /devices`: 200 `{ devices }`, the current one marked. With `?limit=N` (1 to 1,000), one page:
   * 200 `{ devices, nextCursor }`; `&cursor=` the previous page's `nextCursor` (null after the last).
   * A bad limit or cursor: 400. Give the query as the framework parsed it.
   */
  devices(auth: DemoAuth, query?: Record<string, unknown>): Promise<DemoResponse>;
  /**
   * `DELETE /devices/:id`: 204, or 404 for an id that is not one of the user's devices; 400 for an id
   * that is not a token id. Logging ANOTHER device out is behind the step-up requirement (401
   * `insufficient_user_authentication` without a recent password check); logging out the calling device
   * itself needs no password. Give the path segment as the router decoded it, or with `encoded: true` as
   * it was in the URL (a malformed %-escape is then a 400).
   */
  deleteDevice(auth: DemoAuth, id: string, options?: { encoded?: boolean }): Promise<DemoResponse>;
  /** Any route not above: 404 `{ error: 'not_found', message: 'no such route' }`. */
  notFound(): DemoResponse;
  /**
   * The answer for any error (the adapters' error handlers call it too): the library's errors by their
   * HTTP meaning (400, 503 with Retry-After; never a 500), a body parser's 4xx, and 500 without details
   * (logged) for anything else.
   */
  error(error: unknown): DemoResponse;
}

/** The demo's handlers over `tokens` and `db`. */
export function createDemoApi(options: DemoAppOptions): DemoApi {
  const { tokens, db, logger = console } = options;
  // Step-up for logging another device out (a per-request condition, so checked here, not by a route's middleware).
  const stepUp = stepUpRequirement(tokens, demoStepUp(options));
  const error = (err: unknown): DemoResponse => {
    if (err instanceof HttpError) {
      return {
        status: err.status,
        headers: err.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="api"' } : {},
        body: err.body,
      };
    }
    if (isRedisMultitokensError(err)) {
      const known = errorResponse(err);
      if (known?.status === 400 && known.body.reason !== 'invalid_dpop_proof')
        return { status: 400, body: { error: 'invalid_request', message: known.body.message } };
      if (known?.status === 503)
        return {
          status: 503,
          headers: { 'Retry-After': known.headers['Retry-After']! },
          body: { error: 'service_unavailable', message: 'the token store is unavailable; retry shortly' },
        };
      if (known) return { status: known.status, headers: known.headers, body: known.body };
    }
    const e = err as {
      type?: unknown;
      status?: unknown;
      statusCode?: unknown;
      expose?: unknown;
      message?: unknown;
    } | null;
    if (e?.type === 'entity.parse.failed') return invalidJson();
    const status =
      typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
    if (status !== undefined && status >= 400 && status < 500) {
      // A body parser's other refusals (body too large 413, unsupported charset or encoding 415) and the
      // router's (a malformed %-escape in the path, 400): a client error, never a 500.
      const message = e?.expose === true && typeof e.message === 'string' ? e.message : 'bad request';
      return { status, body: { error: 'invalid_request', message } };
    }
    logger.error('demo: unexpected error', err);
    return { status: 500, body: { error: 'internal_error', message: 'internal server error' } };
  };
  const guard =
    <A extends unknown[]>(fn: (...args: A) => Promise<DemoResponse>) =>
    async (...args: A): Promise<DemoResponse> => {
      try {
        return await fn(...args);
      } catch (err) {
        return error(err);
      }
    };

  return {
    loadUser: async (userId, token) => {
      const user = db.findById(userId);
      if (!user || !token) return user;
      const state = db.authState(user.id);
      if (!state) return null;
      // Tokens from before password versions carry no `pwv`: they count as version 1.
      const pwv = token.metadata?.pwv ?? 1;
      if (pwv === state.passwordVersion || token.tokenId === state.passwordChangedBy) return user;
      await tokens.revokeById(userId, token.tokenId, { reason: 'logout' }).catch(() => false);
      return null;
    },
    error,
    notFound: () => ({ status: 404, body: { error: 'not_found', message: 'no such route' } }),

    health: guard(async () => {
      await tokens.checkHealth();
      return { status: 200, body: { ok: true, store: storeKind(tokens) } };
    }),

    register: guard(async (raw: unknown) => {
      const body = parseBody(RegisterBody, raw);
      const user = await db.createUser(body.username, body.password);
      if (!user) throw new HttpError(409, { error: 'username_taken', message: 'this username is taken' });
      return { status: 201, body: { id: user.id, username: user.username } };
    }),

    login: guard(async (raw: unknown, device: DeviceDetails, dpopKey?: () => Promise<string | null>) => {
      const body = parseBody(LoginBody, raw);
      const jkt = dpopKey ? await dpopKey() : null; // a bad proof is a 400 before the password is checked
      const user = await db.checkCredentials(body.username, body.password);
      if (!user) throw new HttpError(401, { error: 'invalid_credentials', message: 'wrong username or password' });
      try {
        // `pwv`: the password version this login checked; loadUser refuses the token once the password changes.
        const created = await tokens.create(user.id, {
          userAgent: device.userAgent,
          ip: device.ip,
          deviceName: body.device ?? null,
          jkt,
          metadata: { pwv: user.passwordVersion },
        });
        return {
          status: 200,
          body: {
            token: created.token,
            tokenId: created.tokenId,
            first: created.first,
            tokenType: jkt ? 'DPoP' : 'Bearer',
          },
        };
      } catch (err) {
        // Only when the app configures `maxTokensPerUser` with `limitPolicy: 'reject'`.
        if (err instanceof TokenLimitError)
          throw new HttpError(409, {
            error: 'too_many_devices',
            message: `this account is logged in on ${err.limit} devices already; log out one of them first`,
            limit: err.limit,
          });
        throw err;
      }
    }),

    me: guard(async ({ user, token }: DemoAuth) => ({
      status: 200,
      body: { user: { id: user.id, username: user.username }, token },
    })),

    logout: guard(async ({ userId, token }: DemoAuth) => {
      await tokens.revokeById(userId, token.tokenId, { reason: 'logout' });
      return { status: 204 };
    }),

    logoutAll: guard(async ({ userId }: DemoAuth) => {
      await tokens.revokeAll(userId);
      return { status: 204 };
    }),

    logoutOthers: guard(async ({ userId, token }: DemoAuth) => {
      await tokens.revokeOthers(userId, token.tokenId);
      return { status: 204 };
    }),

    reauthenticate: guard(async ({ user, token }: DemoAuth, raw: unknown) => {
      const body = parseBody(ReauthenticateBody, raw);
      if (!(await db.checkCredentials(user.username, body.password)))
        throw new HttpError(403, { error: 'wrong_password', message: 'wrong password' });
      const record = await tokens.reauthenticate(user.id, token.tokenId, { acr: 'pwd' });
      // Revoked meanwhile (another device logged this one out): as the middleware would answer.
      if (!record)
        throw new HttpError(401, { error: 'invalid_token', message: 'the token is invalid, expired or revoked' });
      return { status: 200, body: { authenticatedAtMs: record.authenticatedAtMs } };
    }),

    changePassword: guard(async ({ user, token }: DemoAuth, raw: unknown) => {
      const body = parseBody(ChangePasswordBody, raw);
      // Bumps the password version (tokens of older logins, even one in flight, are refused) but keeps this device's.
      await db.setPassword(user.id, body.newPassword, token.tokenId);
      const revoked = await tokens.revokeOthers(user.id, token.tokenId);
      return { status: 200, body: { loggedOutDevices: revoked.length } };
    }),

    devices: guard(async ({ userId, token }: DemoAuth, query: Record<string, unknown> = {}) => {
      if (query.limit === undefined)
        return { status: 200, body: { devices: await tokens.list(userId, { currentTokenId: token.tokenId }) } };
      const limit = typeof query.limit === 'string' && /^[0-9]{1,4}$/.test(query.limit) ? Number(query.limit) : NaN;
      const cursor = query.cursor === undefined ? null : typeof query.cursor === 'string' ? query.cursor : 0;
      if (cursor === 0)
        return {
          status: 400,
          body: { error: 'invalid_request', message: 'cursor must be one value, from nextCursor' },
        };
      const page = await tokens.list(userId, { currentTokenId: token.tokenId, limit, cursor });
      return { status: 200, body: { devices: page.tokens, nextCursor: page.nextCursor } };
    }),

    deleteDevice: guard(async (auth: DemoAuth, id: string, options: { encoded?: boolean } = {}) => {
      const { userId } = auth;
      let tokenId = id;
      if (options.encoded) {
        try {
          tokenId = decodeURIComponent(id);
        } catch {
          throw new HttpError(400, { error: 'invalid_request', message: 'malformed %-escape in the path' });
        }
      }
      // Another device: only with a recent password check (a stale session must not log the owner's devices out).
      if (tokenId !== auth.token.tokenId) {
        const refused = stepUp(auth);
        if (refused) return { status: refused.status, headers: refused.headers, body: refused.body };
      }
      // revokeById leaves another user's token alone and answers false, as for an unknown id.
      const revoked = await tokens.revokeById(userId, tokenId, { reason: 'logout' });
      if (!revoked) throw new HttpError(404, { error: 'not_found', message: 'no such device' });
      return { status: 204 };
    }),
  };
}
