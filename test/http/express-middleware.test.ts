/**
 * What is Express's own in the Express adapter (the behaviour every adapter shares is the HTTP contract
 * suite, run on Express 5 and 4 in express.contract.test.ts): the app's own error handler receiving
 * loadUser's errors, requireScopes' argument forms and its use after optionalTokenAuth,
 * tokenErrorHandler passing other errors on, `trust proxy` and dual-stack sockets in
 * deviceFromRequest, getAuth when another library also sets `req.auth`, options checked when the
 * middleware is made, and a real Redis outage and recovery (a throwaway redis-server killed and
 * restarted, CLIENT PAUSE) with the time the 503 takes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import asyncHandler from 'express-async-handler';
import express4 from 'express4';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError, TokenLimitError } from '../../src/core/errors.js';
import { TokenManager } from '../../src/core/manager.js';
import {
  deviceFromRequest,
  getAuth,
  optionalTokenAuth,
  requireScopes,
  tokenAuth,
  tokenErrorHandler,
} from '../../src/frameworks/express.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { TEST_SECRET, uniquePrefix } from '../support/redis.js';
import { outageStore } from '../support/contract.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown> | undefined;
  ms: number;
}

/** One request with exactly these headers, to `host` (default 127.0.0.1). */
function send(port: number, path: string, headers: OutgoingHttpHeaders = {}, host = '127.0.0.1'): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json, ms: performance.now() - started });
      });
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to GET ${path} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function listen(app: express.Express, host = '127.0.0.1'): Promise<{ server: Server; port: number }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Runs `fn` against `app` listening on loopback, then closes it. */
async function withApp<T>(app: express.Express, fn: (port: number) => Promise<T>, host?: string): Promise<T> {
  const { server, port } = await listen(app, host);
  try {
    return await fn(port);
  } finally {
    await closeServer(server);
  }
}

/** Text that looks like a stack trace, a source path or an internal error. */
const LEAK_RE =
  /\n\s+at |\bat [\w.<>]+ \(|\.ts:\d+|\.js:\d+|node_modules|\/src\/|\bstack\b|TypeError|RangeError|ReferenceError/;

function expect401(r: Reply, reason: string): void {
  expect(r.status, r.text).toBe(401);
  expect(r.headers['www-authenticate']).toMatch(/^Bearer realm="/);
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.json!.reason).toBe(reason);
}

const manager = new TokenManager({ store: new MemoryStore(), secret: TEST_SECRET });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('Express specifics', () => {
  it("loadUser throwing -> next(err): the app's own error handler gets the error", async () => {
    const seen: unknown[] = [];
    const app = express();
    app.get(
      '/me',
      tokenAuth(manager, { loadUser: async () => Promise.reject(new Error('user database exploded')) }),
      (_req, res) => res.json({ reached: true }),
    );
    app.use(tokenErrorHandler());
    app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
      seen.push(err);
      res.status(500).json({ handledBy: 'app' });
    });
    const { token } = await manager.create(1);
    await withApp(app, async (port) => {
      const r = await send(port, '/me', bearer(token));
      expect(r.status).toBe(500);
      expect(r.json).toEqual({ handledBy: 'app' });
    });
    expect(seen).toHaveLength(1);
    expect((seen[0] as Error).message).toBe('user database exploded');
  });

  it('requireScopes: arguments and arrays, several scopes, one missing named; after optionalTokenAuth', async () => {
    const app = express();
    app.get('/rw', tokenAuth(manager), requireScopes(manager, ['read'], 'write', ['admin']), (_req, res) =>
      res.json({ ok: true }),
    );
    app.get('/r', tokenAuth(manager), requireScopes(manager, 'read'), (_req, res) => res.json({ ok: true }));
    app.get(
      '/opt',
      optionalTokenAuth(manager),
      requireScopes(manager, ['read'], { realm: 'reading room' }),
      (_req, res) => res.json({ ok: true }),
    );
    const { token } = await manager.create('s', { scopes: ['read', 'write'] });
    await withApp(app, async (port) => {
      expect((await send(port, '/r', bearer(token))).status).toBe(200);
      const r = await send(port, '/rw', bearer(token));
      expect(r.status).toBe(403);
      expect(r.json).toMatchObject({ reason: 'insufficient_scope', scopes: ['admin'] });
      expect(r.json!.message).toMatch(/\badmin\b/);
      expect(r.json!.message).not.toMatch(/\bwrite\b/);
      expect(r.headers['www-authenticate']).toMatch(/scope="read write admin"$/);
      const anon = await send(port, '/opt');
      expect401(anon, 'missing_token');
      expect(anon.headers['www-authenticate']).toBe('Bearer realm="reading room"');
      expect401(await send(port, '/opt', { Authorization: 'Bearer nope' }), 'malformed_token');
      expect((await send(port, '/opt', bearer(token))).status).toBe(200);
    });
  });

  it("tokenErrorHandler answers the library's errors and passes every other error on", async () => {
    const passed: unknown[] = [];
    const app = express();
    app.get('/limit', () => {
      throw new TokenLimitError(5);
    });
    app.get('/down', async () => {
      throw new StoreUnavailableError('connection is down', { cause: new Error('connect ECONNREFUSED 10.1.2.3:6379') });
    });
    app.get('/other', () => {
      throw Object.assign(new Error('teapot'), { status: 418 });
    });
    app.get('/sent', (_req, res, next) => {
      res.status(200).write('partial');
      next(new StoreUnavailableError());
    });
    app.use(tokenErrorHandler({ errorBody: (r) => ({ problem: r.body.reason }) }));
    app.use((err: Error, _req: Request, res: Response, next: NextFunction) => {
      passed.push(err);
      if (res.headersSent) return next(err);
      res.status(599).json({ handledBy: 'app' });
    });
    await withApp(app, async (port) => {
      const limit = await send(port, '/limit');
      expect(limit.status).toBe(403);
      expect(limit.json).toEqual({ problem: 'token_limit' });
      const down = await send(port, '/down');
      expect(down.status).toBe(503);
      expect(down.headers['retry-after']).toBe('1');
      expect(down.json).toEqual({ problem: 'store_unavailable' });
      expect(down.text).not.toContain('10.1.2.3');
      const other = await send(port, '/other');
      expect(other.status).toBe(599);
      await send(port, '/sent').catch(() => undefined);
    });
    expect(passed.map((e) => (e as Error).message)).toEqual(['teapot', 'token store unavailable']);
    expect(() => tokenErrorHandler({ errorBody: 'x' as never })).toThrow(/errorBody must be a function/);
  });

  it("Express 5's default error handler alone already answers 503 + Retry-After from the error's status and headers", async () => {
    const app = express();
    app.set('env', 'production');
    app.get('/down', async () => {
      throw new StoreUnavailableError();
    });
    await withApp(app, async (port) => {
      const r = await send(port, '/down');
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.text).not.toMatch(LEAK_RE);
    });
  });

  it("Express 4: an async route wrapped in express-async-handler (the guide's recipe) reaches tokenErrorHandler: 503 JSON, no crash", async () => {
    // Express 4 does not catch a rejected async handler: unwrapped, the rejection is unhandled (no answer, and
    // the process ends under Node's default --unhandled-rejections=throw). The guide says to wrap; this checks it.
    const outage = new TokenManager({ secret: TEST_SECRET, store: await outageStore() });
    const app = express4();
    app.get(
      '/login',
      asyncHandler(async (_req: Request, res: Response) => {
        res.json(await outage.create('1', { deviceName: 'laptop' }));
      }),
    );
    app.use(tokenErrorHandler());
    try {
      await withApp(app as unknown as express.Express, async (port) => {
        const r = await send(port, '/login');
        expect(r.status).toBe(503);
        expect(r.headers['retry-after']).toBe('1');
        expect(r.json).toMatchObject({ reason: 'store_unavailable' });
      });
    } finally {
      await outage.close();
    }
  });

  it('deviceFromRequest: IPv4 clients of a dual-stack (::) socket show as IPv4; X-Forwarded-For only under trust proxy', async () => {
    const app = express();
    app.get('/device', (req, res) => res.json(deviceFromRequest(req)));
    await withApp(
      app,
      async (port) => {
        const r = await send(port, '/device', { 'User-Agent': 'ua/1', 'X-Forwarded-For': '198.51.100.9' });
        expect(r.json).toEqual({ userAgent: 'ua/1', ip: '127.0.0.1' });
        expect((await send(port, '/device', {})).json).toEqual({ userAgent: null, ip: '127.0.0.1' });
      },
      '::',
    );
    app.set('trust proxy', 'loopback');
    await withApp(app, async (port) => {
      expect((await send(port, '/device', { 'X-Forwarded-For': '198.51.100.9' })).json).toEqual({
        userAgent: null,
        ip: '198.51.100.9',
      });
    });
  });

  it('getAuth and requireScopes keep working when another middleware overwrites req.auth (e.g. a JWT library)', async () => {
    const app = express();
    app.get(
      '/me',
      tokenAuth(manager),
      (req, _res, next) => {
        (req as { auth?: unknown }).auth = { sub: 'from-another-library' };
        next();
      },
      requireScopes(manager, 'read'),
      (req, res) => res.json({ userId: getAuth(req).userId }),
    );
    app.get('/anon', optionalTokenAuth(manager), (req, res) => {
      try {
        getAuth(req);
        res.json({ threw: false });
      } catch (e) {
        res.json({ threw: true, message: (e as Error).message });
      }
    });
    const { token } = await manager.create(42, { scopes: ['read'] });
    await withApp(app, async (port) => {
      expect((await send(port, '/me', bearer(token))).json).toEqual({ userId: '42' });
      expect((await send(port, '/me', bearer((await manager.create(42)).token))).status).toBe(403);
      expect((await send(port, '/anon')).json).toMatchObject({
        threw: true,
        message: expect.stringMatching(/not authenticated/),
      });
    });
  });
});

/** A small app for the outage tests: required and optional routes. */
function outageApp(m: TokenManager): express.Express {
  const app = express();
  app.get('/me', tokenAuth(m), (req: Request, res: Response) => res.json({ userId: getAuth(req).userId }));
  app.get('/optional', optionalTokenAuth(m), (req: Request, res: Response) =>
    res.json({ userId: req.auth?.userId ?? null }),
  );
  return app;
}

describe('Redis outage over HTTP (a throwaway redis-server)', () => {
  const COMMAND_TIMEOUT_MS = 300;
  const prefix = uniquePrefix('http-outage');
  let redisServer: RedisServer | undefined;
  let store: IoredisStore;
  let manager: TokenManager;
  let server: Server;
  let port: number;
  const events: string[] = [];

  beforeAll(async () => {
    redisServer = await startRedisServer();
    store = new IoredisStore({ url: redisServer.url, keyPrefix: prefix, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    manager = new TokenManager({ store, secret: TEST_SECRET });
    manager.on('storeUnavailable', () => events.push('unavailable'));
    manager.on('storeRecovered', () => events.push('recovered'));
    ({ server, port } = await listen(outageApp(manager)));
  });

  afterAll(async () => {
    await closeServer(server);
    await manager?.close();
    await redisServer?.stop();
  });

  function expect503(r: Reply, serverPort: number): void {
    expect(r.status, r.text).toBe(503);
    expect(r.headers['retry-after']).toMatch(/^\d+$/);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json!.reason).toBe('store_unavailable');
    expect(typeof r.json!.error).toBe('string');
    expect(typeof r.json!.message).toBe('string');
    expect(r.text).not.toMatch(LEAK_RE);
    for (const leak of ['127.0.0.1', 'localhost', String(serverPort), 'redis://', 'ECONNREFUSED', 'ECONNRESET', prefix])
      expect(r.text).not.toContain(leak);
  }

  /** Retries `fn` until it resolves, for up to `ms` milliseconds. */
  async function eventually<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(100);
      }
    }
  }

  it('Redis killed -> 503 with Retry-After at once; Redis back on the same port -> new tokens work without restarting the app', async () => {
    const { token: old } = await manager.create(1);
    expect((await send(port, '/me', { Authorization: `Bearer ${old}` })).status).toBe(200);

    const deadPort = redisServer!.port;
    await redisServer!.stop();
    for (let i = 0; i < 3; i++) {
      const r = await send(port, '/me', { Authorization: `Bearer ${old}` });
      expect503(r, deadPort);
      expect(r.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 400);
    }
    // Malformed input is still a 401 during the outage: it never reaches the store.
    expect401(await send(port, '/me', { Authorization: 'Bearer nope' }), 'malformed_token');
    expect401(await send(port, '/me'), 'missing_token');
    // The optional route fails closed too: a token it cannot check is not let through as anonymous.
    expect503(await send(port, '/optional', { Authorization: `Bearer ${old}` }), deadPort);
    expect(events).toContain('unavailable');

    redisServer = await startRedisServer({ port: deadPort });
    // ioredis reconnects by itself (back-off up to 2 s); the old token died with the old server.
    const { token: fresh } = await eventually(() => manager.create(1));
    const ok = await eventually(async () => {
      const r = await send(port, '/me', { Authorization: `Bearer ${fresh}` });
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      return r;
    });
    expect(ok.json!.userId).toBe('1');
    expect401(await send(port, '/me', { Authorization: `Bearer ${old}` }), 'invalid_token');
    expect(events).toContain('recovered');
  }, 30_000);

  it('CLIENT PAUSE 3000 ALL -> 503 within commandTimeoutMs, then 200 after the pause', async () => {
    const { token } = await eventually(() => manager.create(1));
    expect((await send(port, '/me', { Authorization: `Bearer ${token}` })).status).toBe(200);
    const other = new Redis(redisServer!.url, { maxRetriesPerRequest: 1 });
    other.on('error', () => {});
    try {
      expect(await other.call('CLIENT', 'PAUSE', '3000', 'ALL')).toBe('OK');
      const pausedAt = Date.now();
      const r = await send(port, '/me', { Authorization: `Bearer ${token}` });
      expect503(r, redisServer!.port);
      expect(r.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 20);
      expect(r.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 400);
      expect(Date.now() - pausedAt).toBeLessThan(2500); // the answer came during the pause, not after it
      await sleep(Math.max(0, 3000 - (Date.now() - pausedAt)) + 100);
      const after = await eventually(async () => {
        const res = await send(port, '/me', { Authorization: `Bearer ${token}` });
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        return res;
      }, 5_000);
      expect(after.json!.userId).toBe('1');
    } finally {
      other.disconnect();
    }
  }, 30_000);
});

describe('middleware options are checked when the middleware is made', () => {
  it('bad options throw at once, naming the option', () => {
    expect(() => tokenAuth(manager, { scopes: 'read' as never })).toThrow(/scopes must be an array/);
    expect(() => tokenAuth(manager, { scopes: ['has space'] })).toThrow(/scopes/);
    expect(() => tokenAuth(manager, { realm: 'a"b' })).toThrow(/realm/);
    expect(() => tokenAuth(manager, { realm: 'a\r\nb' })).toThrow(/realm/);
    expect(() => tokenAuth(null as never)).toThrow(/TokenManager/);
    expect(() => tokenAuth(manager, { loadUser: 'x' as never })).toThrow(/loadUser/);
    expect(() => tokenAuth(manager, { errorBody: {} as never })).toThrow(/errorBody/);
    expect(() => requireScopes(manager, 'has space')).toThrow(/scopes/);
    expect(() => tokenAuth(manager, { scope: ['admin'] } as never)).toThrow(/unknown option `scope`.*scopes/);
    expect(() => tokenAuth(manager, { loaduser: () => null } as never)).toThrow(/unknown option `loaduser`/);
    expect(() => requireScopes(manager)).toThrow(/at least one scope/);
    expect(() => requireScopes(manager, [], { realm: 'x' })).toThrow(/at least one scope/);
    expect(() => requireScopes(manager, ['a'], { realm: 'a"b' })).toThrow(/realm/);
    expect(() => requireScopes(manager, ['a'], { relm: 'x' } as never)).toThrow(/unknown option `relm`/);
  });
});
