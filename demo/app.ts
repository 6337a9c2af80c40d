/**
 * The demo API: register, log in from several devices, see and log out devices, on redis-multitokens.
 *
 * Every answer is JSON (except the static devices page at `/`): 400 for a malformed or invalid body,
 * 401 from the token middleware, 404 for unknown routes, 503 with Retry-After while the token store is
 * down, 500 without details for anything else. Only the package's public entries are imported.
 */
import express, { type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import { fileURLToPath } from 'node:url';
import {
  InvalidArgumentTypeError,
  InvalidArgumentValueError,
  MemoryStore,
  RedisStore,
  StoreUnavailableError,
  TokenLimitError,
  type TokenManager,
} from 'redis-multitokens';
import { deviceFromRequest, getAuth, tokenAuth } from 'redis-multitokens/express';
import { z } from 'zod';
import type { User, UserDb } from './db.js';

export interface AppOptions {
  /** The token manager (memory or Redis store). */
  tokens: TokenManager;
  /** The users. */
  db: UserDb;
  /** Where unexpected errors are logged (default `console`). Tests pass a quiet one. */
  logger?: Pick<Console, 'error'>;
  /**
   * Express's `trust proxy` setting: set it when the demo runs behind a reverse proxy, so the devices
   * list shows the client's IP (from X-Forwarded-For) instead of the proxy's. Default: off.
   */
  trustProxy?: boolean | number | string;
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

const username = z
  .string()
  .trim()
  .min(3, 'username must be at least 3 characters')
  .max(32, 'username must be at most 32 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'username may hold only letters, digits, "_", "." and "-"');

const RegisterBody = z.object({
  username,
  password: z.string().min(8, 'password must be at least 8 characters').max(256, 'password must be at most 256 characters'),
});

const LoginBody = z.object({
  username: z.string().trim().min(1, 'username is required').max(64),
  password: z.string().min(1, 'password is required').max(256),
  /** A name for this device ("Work laptop"); stored as the token's deviceName. */
  device: z.string().trim().max(200, 'device must be at most 200 characters').nullish(),
});

/** An error answer a route throws: status and JSON body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: string; message: string; [key: string]: unknown },
  ) {
    super(body.message);
  }
}

/** Validates a JSON request body with zod; 400 with the issues when it does not fit. */
function parseBody<T>(schema: z.ZodType<T>, req: Request): T {
  if (req.body === undefined)
    throw new HttpError(400, { error: 'invalid_request', message: 'send a JSON object body with Content-Type: application/json' });
  const result = schema.safeParse(req.body);
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

/** Builds the demo app (Express 5). It opens nothing itself: the caller owns `tokens` and `db`. */
export function createApp({ tokens, db, logger = console, trustProxy = false }: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy);
  app.set('json spaces', 0);

  app.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
    next();
  });

  // The devices page: index.html, app.js, format.js, style.css.
  app.use(express.static(PUBLIC_DIR, { index: 'index.html', redirect: false, dotfiles: 'ignore' }));

  // Everything below is the JSON API; its answers may carry tokens, so no cache keeps them.
  app.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  app.use(express.json({ limit: '16kb' }));

  const auth = tokenAuth<User>(tokens, { loadUser: (userId) => db.findById(userId) });

  // Health of the demo and of its token store (503 through the error handler when Redis is down).
  app.get('/health', async (_req, res) => {
    await tokens.checkHealth();
    res.json({ ok: true, store: storeKind(tokens) });
  });

  app.post('/register', async (req, res) => {
    const body = parseBody(RegisterBody, req);
    const user = await db.createUser(body.username, body.password);
    if (!user) throw new HttpError(409, { error: 'username_taken', message: 'this username is taken' });
    res.status(201).json({ id: user.id, username: user.username });
  });

  app.post('/login', async (req, res) => {
    const body = parseBody(LoginBody, req);
    const user = await db.checkCredentials(body.username, body.password);
    if (!user)
      throw new HttpError(401, { error: 'invalid_credentials', message: 'wrong username or password' });
    try {
      const { userAgent, ip } = deviceFromRequest(req);
      const created = await tokens.create(user.id, { userAgent, ip, deviceName: body.device ?? null });
      res.json({ token: created.token, tokenId: created.tokenId, first: created.first });
    } catch (error) {
      // Only when the app configures `maxTokensPerUser` with `limitPolicy: 'reject'`.
      if (error instanceof TokenLimitError)
        throw new HttpError(409, {
          error: 'too_many_devices',
          message: `this account is logged in on ${error.limit} devices already; log out one of them first`,
          limit: error.limit,
        });
      throw error;
    }
  });

  app.get('/me', auth, (req, res) => {
    const { user, token } = getAuth<User>(req);
    res.json({ user: { id: user.id, username: user.username }, token });
  });

  app.post('/logout', auth, async (req, res) => {
    const { userId, token } = getAuth<User>(req);
    await tokens.revokeById(userId, token.tokenId, { reason: 'logout' });
    res.status(204).end();
  });

  app.post('/logout-all', auth, async (req, res) => {
    await tokens.revokeAll(getAuth<User>(req).userId);
    res.status(204).end();
  });

  app.post('/logout-others', auth, async (req, res) => {
    const { userId, token } = getAuth<User>(req);
    await tokens.revokeOthers(userId, token.tokenId);
    res.status(204).end();
  });

  app.get('/devices', auth, async (req, res) => {
    const { userId, token } = getAuth<User>(req);
    res.json({ devices: await tokens.list(userId, { currentTokenId: token.tokenId }) });
  });

  app.delete('/devices/:id', auth, async (req, res) => {
    const { userId } = getAuth<User>(req);
    // revokeById leaves another user's token alone and answers false, as for an unknown id.
    const revoked = await tokens.revokeById(userId, String(req.params.id), { reason: 'logout' });
    if (!revoked) throw new HttpError(404, { error: 'not_found', message: 'no such device' });
    res.status(204).end();
  });

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not_found', message: 'no such route' });
  });

  const onError: ErrorRequestHandler = (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    // Static files also send 'no-store' from here on; an error answer is never worth caching.
    res.set('Cache-Control', 'no-store');
    if (error instanceof HttpError) {
      if (error.status === 401) res.set('WWW-Authenticate', 'Bearer realm="api"');
      res.status(error.status).json(error.body);
      return;
    }
    if (error instanceof InvalidArgumentTypeError || error instanceof InvalidArgumentValueError) {
      // e.g. DELETE /devices/<a whole token>: the library refuses a token where a token id belongs.
      res.status(400).json({ error: 'invalid_request', message: error.message });
      return;
    }
    if (error instanceof StoreUnavailableError) {
      res.status(503).set('Retry-After', '1').json({ error: 'service_unavailable', message: 'the token store is unavailable; retry shortly' });
      return;
    }
    const bodyParser = error as { type?: unknown; status?: unknown; expose?: unknown };
    if (bodyParser.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'invalid_json', message: 'the request body is not valid JSON' });
      return;
    }
    if (typeof bodyParser.status === 'number' && bodyParser.status >= 400 && bodyParser.status < 500) {
      // express.json's other refusals (body too large 413, unsupported charset or encoding 415) and the
      // router's (a malformed %-escape in the path, 400): a client error, never a 500.
      const message = bodyParser.expose === true ? (error as Error).message : 'bad request';
      res.status(bodyParser.status).json({ error: 'invalid_request', message });
      return;
    }
    logger.error('demo: unexpected error', error);
    res.status(500).json({ error: 'internal_error', message: 'internal server error' });
  };
  app.use(onError);

  return app;
}
