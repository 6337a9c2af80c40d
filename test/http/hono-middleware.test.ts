/**
 * What is Hono's own in the Hono adapter, on @hono/node-server over real HTTP on loopback (the shared
 * behaviour is in hono.contract.test.ts): `c.get('auth')`, refusals thrown as `HTTPException` (so
 * `app.onError` sees them), `tokenErrorHandler` for the app's own routes (Hono's default answers the
 * library's errors 500), the client IP through `getConnInfo` or an opted-in `X-Forwarded-For`, options
 * checked when made, and nothing added to the app or the process.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outageStore } from '../support/contract.js';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../src/core/errors.js';
import { TokenManager } from '../../src/core/manager.js';
import {
  deviceFromRequest,
  optionalTokenAuth,
  requireScopes,
  tokenAuth,
  tokenErrorHandler,
} from '../../src/frameworks/hono.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { sendRequest, type ContractReply } from '../../src/testing/http-suite.js';
import { TEST_SECRET } from '../support/redis.js';

/** A reply with its JSON body loosely typed, for terse assertions. */
// biome-ignore lint/suspicious/noExplicitAny: the tests read fields of JSON bodies of many shapes.
type Reply = Omit<ContractReply, 'json'> & { json: any };

const send = (url: string, path: string, init: Parameters<typeof sendRequest>[2] = {}): Promise<Reply> =>
  sendRequest(url, path, init);

async function start(app: Hono, hostname = '127.0.0.1'): Promise<{ url: string; close(): Promise<void> }> {
  let server!: ServerType;
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname }, (info: AddressInfo) => resolve(info.port));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      if ('closeAllConnections' in server) server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface User {
  id: string;
  name: string;
}
const USERS = new Map<string, User>([['1', { id: '1', name: 'Alice' }]]);

describe('Hono 4 adapter on @hono/node-server', () => {
  const manager = new TokenManager({ secret: TEST_SECRET, store: new MemoryStore() });
  const limited = new TokenManager({
    secret: TEST_SECRET,
    store: new MemoryStore(),
    maxTokensPerUser: 1,
    limitPolicy: 'reject',
  });
  let outage: TokenManager;
  let alice: string;
  let admin: string;
  const seenByOnError: unknown[] = [];
  const logged: unknown[] = [];

  type ErrorSetup = 'tokenErrorHandler' | 'hono-default' | 'own-fallback' | 'own-onError';
  function buildApp(errors: ErrorSetup): Hono {
    const app = new Hono();
    if (errors === 'tokenErrorHandler') app.onError(tokenErrorHandler());
    // A fallback that knows nothing of HTTPException: the adapter's refusals must not reach it.
    if (errors === 'own-fallback')
      app.onError(
        tokenErrorHandler({
          fallback: (error, c) => {
            seenByOnError.push(error);
            return c.json({ error: 'internal' }, 500);
          },
        }),
      );
    // An app's own onError, written as Hono's docs say, without tokenErrorHandler.
    if (errors === 'own-onError')
      app.onError((error, c) => {
        seenByOnError.push(error);
        if (error instanceof HTTPException) return error.getResponse();
        return c.json({ error: 'internal' }, 500);
      });
    app.use(async (c, next) => {
      c.header('X-Request-Id', 'r1');
      await next();
    });
    app.get('/me', tokenAuth<User>(manager, { loadUser: (id) => USERS.get(id) ?? null }), (c) =>
      c.json({ userId: c.get('auth').userId, name: c.get('auth').user.name, tokenId: c.get('auth').token.tokenId }),
    );
    app.get('/optional', optionalTokenAuth(manager), (c) => c.json({ anonymous: c.get('auth') === undefined }));
    app.get(
      '/admin',
      tokenAuth(manager, { realm: 'admin' }),
      requireScopes(manager, ['admin'], { realm: 'admin' }),
      (c) => c.json({ ok: true }),
    );
    app.get('/scoped-anonymous', optionalTokenAuth(manager), requireScopes(manager, 'read'), (c) =>
      c.json({ ok: true }),
    );
    app.get('/custom-body', tokenAuth(manager, { errorBody: (r) => ({ code: r.body.reason }) }), (c) =>
      c.json({ ok: true }),
    );
    app.get(
      '/throwing-user',
      tokenAuth(manager, { loadUser: () => Promise.reject(new Error('db down at db.internal:5432')) }),
      (c) => c.json({ reached: true }),
    );
    app.get('/bad-argument', async (c) => c.json(await manager.create(1, { deviceName: 42 as unknown as string })));
    app.get('/limit', async (c) => c.json(await limited.create(7)));
    app.get('/outage', async (c) => c.json(await outage.list(1)));
    app.get('/crash', () => {
      throw new Error('boom');
    });
    return app;
  }

  const servers: Record<string, { url: string; close(): Promise<void> }> = {};
  const originalConsoleError = console.error;

  beforeAll(async () => {
    // Hono's default error handler logs with console.error: keep what it logs for the assertions.
    console.error = (...args: unknown[]) => void logged.push(args[0]);
    outage = new TokenManager({
      secret: TEST_SECRET,
      store: await outageStore(),
    });
    outage.on('storeUnavailable', () => {});
    alice = (await manager.create(1, { deviceName: 'laptop' })).token;
    admin = (await manager.create(1, { scopes: ['admin'] })).token;
    await limited.create(7);
    for (const kind of ['tokenErrorHandler', 'hono-default', 'own-fallback', 'own-onError'] as const)
      servers[kind] = await start(buildApp(kind));
  });

  afterAll(async () => {
    console.error = originalConsoleError;
    await Promise.all(Object.values(servers).map((s) => s.close()));
    await Promise.all([manager.close(), limited.close(), outage?.close()]);
  });

  it("sets c.get('auth') with the loaded user", async () => {
    const r = await send(servers.tokenErrorHandler!.url, '/me', { headers: { Authorization: `Token ${alice}` } });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ userId: '1', name: 'Alice' });
  });

  it('optional: an anonymous request passes; a bad header is still 401', async () => {
    expect((await send(servers.tokenErrorHandler!.url, '/optional')).json).toEqual({ anonymous: true });
    const bad = await send(servers.tokenErrorHandler!.url, '/optional', { headers: { Authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    expect(bad.json.reason).toBe('malformed_token');
  });

  it.each(['tokenErrorHandler', 'hono-default', 'own-fallback', 'own-onError'] as const)(
    'refusals reach the client whole through %s (an HTTPException with the answer)',
    async (kind) => {
      const before = seenByOnError.length;
      const r = await send(servers[kind]!.url, '/me');
      expect(r.status).toBe(401);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(r.headers['www-authenticate']).toBe('Bearer realm="api"');
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.json.reason).toBe('missing_token');
      // A header the app set with c.header() before the refusal stays, as with Hono's default handler
      // (an onError returning err.getResponse() as is drops it: Hono's own behaviour).
      if (kind !== 'own-onError')
        expect(r.headers['x-request-id'], 'a header the app set before the refusal').toBe('r1');
      const seen = seenByOnError.slice(before);
      if (kind === 'own-onError') {
        // The app's own onError saw the refusal as an HTTPException (with the message), and returned its response.
        expect(seen).toHaveLength(1);
        expect(seen[0]).toBeInstanceOf(HTTPException);
        expect((seen[0] as HTTPException).status).toBe(401);
        expect((seen[0] as HTTPException).message).toMatch(/^authentication required/);
      } else expect(seen).toEqual([]); // tokenErrorHandler answers the refusal itself: its fallback never sees it
    },
  );

  it('two Authorization headers (joined by the Fetch API) are refused as one malformed header', async () => {
    const r = await send(servers.tokenErrorHandler!.url, '/me', {
      headers: { Authorization: [`Bearer ${alice}`, `Bearer ${alice}`] },
    });
    expect(r.status).toBe(401);
    expect(r.json.reason).toBe('malformed_header');
  });

  it("requireScopes: 403 in the route's realm, 200 with the scope, 401 when anonymous", async () => {
    const url = servers.tokenErrorHandler!.url;
    const lacking = await send(url, '/admin', { headers: { Authorization: `Bearer ${alice}` } });
    expect(lacking.status).toBe(403);
    expect(lacking.headers['www-authenticate']).toMatch(/^Bearer realm="admin", error="insufficient_scope"/);
    expect(lacking.json).toMatchObject({ reason: 'insufficient_scope', scopes: ['admin'] });
    expect((await send(url, '/admin', { headers: { Authorization: `Bearer ${admin}` } })).status).toBe(200);
    const anonymous = await send(url, '/scoped-anonymous');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.reason).toBe('missing_token');
  });

  it('errorBody replaces the body, never the status or the challenge', async () => {
    const r = await send(servers.tokenErrorHandler!.url, '/custom-body', { headers: { Authorization: 'Token x' } });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(r.json).toEqual({ code: 'malformed_token' });
  });

  it('loadUser throwing goes to app.onError: the fallback sees the error itself; by default a logged 500', async () => {
    const before = seenByOnError.length;
    const own = await send(servers['own-fallback']!.url, '/throwing-user', {
      headers: { Authorization: `Bearer ${alice}` },
    });
    expect(own.status).toBe(500);
    expect(own.json).toEqual({ error: 'internal' });
    expect((seenByOnError.slice(before)[0] as Error).message).toBe('db down at db.internal:5432');
    const loggedBefore = logged.length;
    const r = await send(servers.tokenErrorHandler!.url, '/throwing-user', {
      headers: { Authorization: `Bearer ${alice}` },
    });
    expect(r.status).toBe(500);
    expect(r.text).toBe('Internal Server Error');
    expect((logged.slice(loggedBefore)[0] as Error).message).toBe('db down at db.internal:5432');
  });

  describe("the app's own routes: the library's errors", () => {
    it.each([
      ['/outage', 503, 'store_unavailable'],
      ['/limit', 403, 'token_limit'],
      ['/bad-argument', 400, 'invalid_argument'],
    ] as const)('%s -> %i JSON with tokenErrorHandler (with and without a fallback)', async (path, status, reason) => {
      for (const kind of ['tokenErrorHandler', 'own-fallback'] as const) {
        const r = await send(servers[kind]!.url, path);
        expect(r.status, r.text).toBe(status);
        expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(r.headers['cache-control']).toBe('no-store');
        expect(r.json.reason).toBe(reason);
        if (status === 503) expect(r.headers['retry-after']).toBe('1');
        else expect(r.headers['retry-after']).toBeUndefined();
        expect(r.headers['x-request-id']).toBe('r1');
      }
    });

    it("Hono's own default handler answers them 500: the reason tokenErrorHandler exists", async () => {
      const r = await send(servers['hono-default']!.url, '/outage');
      expect(r.status).toBe(500);
    });

    it("any other error goes on to Hono's default: a 500 without details", async () => {
      const r = await send(servers.tokenErrorHandler!.url, '/crash');
      expect(r.status).toBe(500);
      expect(r.text).toBe('Internal Server Error');
    });
  });

  describe('deviceFromRequest', () => {
    function deviceApp(options: Parameters<typeof deviceFromRequest>[1]): Hono {
      return new Hono().get('/', (c) => c.json(deviceFromRequest(c, options)));
    }
    async function device(
      options: Parameters<typeof deviceFromRequest>[1],
      headers: Record<string, string> = {},
      hostname?: string,
    ) {
      const s = await start(deviceApp(options), hostname);
      try {
        return (await send(s.url, '/', { headers })).json;
      } finally {
        await s.close();
      }
    }

    it('no getConnInfo, no proxyHops: ip is null (Hono has no runtime-free client address), X-Forwarded-For ignored', async () => {
      expect(await device(undefined, { 'User-Agent': 'hono-test/1', 'X-Forwarded-For': '203.0.113.9' })).toEqual({
        userAgent: 'hono-test/1',
        ip: null,
      });
    });

    it("getConnInfo from @hono/node-server: the socket's address; X-Forwarded-For still ignored", async () => {
      expect(await device({ getConnInfo }, { 'X-Forwarded-For': '203.0.113.9' })).toEqual({
        userAgent: null,
        ip: '127.0.0.1',
      });
    });

    it('a dual-stack server: IPv4-mapped IPv6 shown as IPv4', async () => {
      expect((await device({ getConnInfo }, {}, '::')).ip).toBe('127.0.0.1');
    });

    it('proxyHops n: the n-th address from the right of X-Forwarded-For (the leftmost when fewer), else the socket', async () => {
      const xff = { 'X-Forwarded-For': '198.51.100.1, 203.0.113.9, 10.0.0.2' };
      expect((await device({ getConnInfo, proxyHops: 1 }, xff)).ip).toBe('10.0.0.2');
      expect((await device({ getConnInfo, proxyHops: 2 }, xff)).ip).toBe('203.0.113.9');
      expect((await device({ getConnInfo, proxyHops: 5 }, xff)).ip).toBe('198.51.100.1');
      expect((await device({ getConnInfo, proxyHops: 1 })).ip).toBe('127.0.0.1');
      expect((await device({ proxyHops: 1 }, { 'X-Forwarded-For': '::ffff:203.0.113.9' })).ip).toBe('203.0.113.9');
    });

    it('bad options throw', () => {
      const c = {} as never;
      expect(() => deviceFromRequest(c, { proxyHops: -1 })).toThrow(InvalidArgumentValueError);
      expect(() => deviceFromRequest(c, { proxyHops: 1.5 })).toThrow(InvalidArgumentValueError);
      expect(() => deviceFromRequest(c, { getConnInfo: 'x' } as never)).toThrow(InvalidArgumentTypeError);
      expect(() => deviceFromRequest(c, { trustProxy: true } as never)).toThrow(InvalidArgumentTypeError);
    });
  });

  it('options are checked when the middleware is made', () => {
    expect(() => tokenAuth(manager, { scope: ['admin'] } as never)).toThrow(InvalidArgumentTypeError);
    expect(() => tokenAuth({} as never)).toThrow(InvalidArgumentTypeError);
    expect(() => tokenAuth(manager, { realm: 'a"b' })).toThrow(InvalidArgumentValueError);
    expect(() => requireScopes(manager)).toThrow(InvalidArgumentValueError);
    expect(() => requireScopes(manager, ['has space'])).toThrow(InvalidArgumentValueError);
    expect(() => tokenErrorHandler({ fallback: 1 } as never)).toThrow(InvalidArgumentTypeError);
    expect(() => tokenErrorHandler({ errorbody: () => 1 } as never)).toThrow(/did you mean `errorBody`/);
  });

  it('adds no listener to the manager or the process', () => {
    const counts = () => [
      manager.listenerCount('authFailed'),
      process.listenerCount('exit'),
      process.listenerCount('uncaughtException'),
      process.listenerCount('unhandledRejection'),
    ];
    const before = counts();
    new Hono()
      .onError(tokenErrorHandler())
      .use(tokenAuth(manager), optionalTokenAuth(manager), requireScopes(manager, 'a'));
    expect(counts()).toEqual(before);
  });
});
