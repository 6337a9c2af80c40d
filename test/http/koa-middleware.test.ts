/**
 * What is Koa's own in the Koa adapter, over real HTTP on loopback (the shared behaviour is in
 * koa.contract.test.ts): `ctx.state.auth`, Koa's error path (`ctx.onerror` reads `err.status` and
 * `err.headers`; `tokenErrorHandler` makes the body JSON), `ctx.ip` behind `app.proxy`, options checked
 * when the middleware is made, and nothing added to the app or the process.
 */
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
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
} from '../../src/frameworks/koa.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { sendRequest, type ContractReply } from '../../src/testing/http-suite.js';
import { TEST_SECRET } from '../support/redis.js';

/** A reply with its JSON body loosely typed, for terse assertions. */
// biome-ignore lint/suspicious/noExplicitAny: the tests read fields of JSON bodies of many shapes.
type Reply = Omit<ContractReply, 'json'> & { json: any };

const send = (url: string, path: string, init: Parameters<typeof sendRequest>[2] = {}): Promise<Reply> =>
  sendRequest(url, path, init);

async function serve(app: Koa, host = '127.0.0.1'): Promise<{ url: string; close(): Promise<void> }> {
  const server = app.listen(0, host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface User {
  id: string;
  name: string;
}
const USERS = new Map<string, User>([['1', { id: '1', name: 'Alice' }]]);

describe('Koa 3 adapter', () => {
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
  const appErrors: Error[] = [];

  function buildApp(withErrorHandler: boolean): Koa {
    const app = new Koa();
    app.silent = true;
    app.on('error', (error: Error) => appErrors.push(error));
    app.use(async (ctx, next) => {
      ctx.set('X-Request-Id', 'r1');
      await next();
    });
    if (withErrorHandler) app.use(tokenErrorHandler());
    const router = new Router();
    router.get('/me', tokenAuth<User>(manager, { loadUser: (id) => USERS.get(id) ?? null }), (ctx) => {
      ctx.body = {
        userId: ctx.state.auth.userId,
        name: ctx.state.auth.user.name,
        tokenId: ctx.state.auth.token.tokenId,
      };
    });
    router.get('/optional', optionalTokenAuth(manager), (ctx) => {
      ctx.body = { anonymous: ctx.state.auth === undefined, state: Object.keys(ctx.state) };
    });
    router.get(
      '/admin',
      tokenAuth(manager, { realm: 'admin' }),
      requireScopes(manager, ['admin'], { realm: 'admin' }),
      (ctx) => {
        ctx.body = { ok: true };
      },
    );
    router.get('/scoped-anonymous', optionalTokenAuth(manager), requireScopes(manager, 'read'), (ctx) => {
      ctx.body = { ok: true };
    });
    router.get('/custom-body', tokenAuth(manager, { errorBody: (r) => ({ code: r.body.reason }) }), (ctx) => {
      ctx.body = { ok: true };
    });
    router.get(
      '/throwing-user',
      tokenAuth(manager, { loadUser: () => Promise.reject(new Error('db down at db.internal:5432')) }),
      (ctx) => {
        ctx.body = { reached: true };
      },
    );
    router.get('/device', (ctx) => {
      ctx.body = deviceFromRequest(ctx);
    });
    // The app's own routes calling the library: their errors flow through Koa.
    router.get('/bad-argument', async (ctx) => {
      ctx.body = await manager.create(1, { deviceName: 42 as unknown as string });
    });
    router.get('/limit', async (ctx) => {
      ctx.body = await limited.create(7);
    });
    router.get('/outage', async (ctx) => {
      ctx.body = await outage.list(1);
    });
    router.get('/crash', () => {
      throw new Error('boom');
    });
    app.use(router.routes());
    return app;
  }

  let withHandler: { url: string; close(): Promise<void> };
  let koaDefault: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    outage = new TokenManager({
      secret: TEST_SECRET,
      store: await outageStore(),
    });
    outage.on('storeUnavailable', () => {});
    alice = (await manager.create(1, { deviceName: 'laptop' })).token;
    admin = (await manager.create(1, { scopes: ['admin'] })).token;
    await limited.create(7);
    withHandler = await serve(buildApp(true));
    koaDefault = await serve(buildApp(false));
  });

  afterAll(async () => {
    await withHandler?.close();
    await koaDefault?.close();
    await Promise.all([manager.close(), limited.close(), outage?.close()]);
  });

  it('sets ctx.state.auth with the loaded user', async () => {
    const r = await send(withHandler.url, '/me', { headers: { Authorization: `Bearer ${alice}` } });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ userId: '1', name: 'Alice' });
  });

  it('optional: an anonymous request passes with no ctx.state.auth; a bad header is still 401', async () => {
    const anonymous = await send(withHandler.url, '/optional');
    expect(anonymous.json).toEqual({ anonymous: true, state: [] });
    const bad = await send(withHandler.url, '/optional', { headers: { Authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    expect(bad.json.reason).toBe('malformed_token');
  });

  it('refusals are JSON with the challenge, whatever Koa would do with a thrown error', async () => {
    const r = await send(koaDefault.url, '/me');
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['www-authenticate']).toBe('Bearer realm="api"');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.json.reason).toBe('missing_token');
  });

  it("requireScopes: 403 in the route's realm, 200 with the scope, 401 when anonymous", async () => {
    const lacking = await send(withHandler.url, '/admin', { headers: { Authorization: `Bearer ${alice}` } });
    expect(lacking.status).toBe(403);
    expect(lacking.headers['www-authenticate']).toMatch(/^Bearer realm="admin", error="insufficient_scope"/);
    expect(lacking.json).toMatchObject({ reason: 'insufficient_scope', scopes: ['admin'] });
    const held = await send(withHandler.url, '/admin', { headers: { Authorization: `Bearer ${admin}` } });
    expect(held.status).toBe(200);
    const anonymous = await send(withHandler.url, '/scoped-anonymous');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.reason).toBe('missing_token');
  });

  it('errorBody replaces the body, never the status or the challenge', async () => {
    const r = await send(withHandler.url, '/custom-body', { headers: { Authorization: 'Token x' } });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json).toEqual({ code: 'malformed_token' });
  });

  it('loadUser throwing goes to Koa\'s error handling: a 500 without details, and app.on("error") sees it', async () => {
    const before = appErrors.length;
    const r = await send(withHandler.url, '/throwing-user', { headers: { Authorization: `Bearer ${alice}` } });
    expect(r.status).toBe(500);
    expect(r.text).toBe('Internal Server Error');
    expect(appErrors.slice(before).map((e) => e.message)).toEqual(['db down at db.internal:5432']);
  });

  describe("the app's own routes: the library's errors", () => {
    it.each([
      ['/outage', 503, 'store_unavailable'],
      ['/limit', 403, 'token_limit'],
      ['/bad-argument', 400, 'invalid_argument'],
    ] as const)('%s -> %i JSON with tokenErrorHandler', async (path, status, reason) => {
      const r = await send(withHandler.url, path);
      expect(r.status, r.text).toBe(status);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.json.reason).toBe(reason);
      if (status === 503) expect(r.headers['retry-after']).toBe('1');
      else expect(r.headers['retry-after']).toBeUndefined();
      if (status === 403) expect(r.json.limit).toBe(1);
      // Unlike Koa's ctx.onerror, which unsets every header first, headers set before the error stay.
      expect(r.headers['x-request-id']).toBe('r1');
    });

    it.each([
      ['/outage', 503, 'Service Unavailable'],
      ['/limit', 403, null],
      ['/bad-argument', 400, null],
    ] as const)(
      "%s -> %i from Koa's own ctx.onerror too (err.status, err.headers, err.expose), as text",
      async (path, status, text) => {
        const r = await send(koaDefault.url, path);
        expect(r.status).toBe(status);
        expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
        expect(r.headers['cache-control']).toBe('no-store');
        if (status === 503) {
          expect(r.headers['retry-after']).toBe('1');
          expect(r.text).toBe(text); // expose: false, so no cause or host leaks
        } else expect(r.text.length).toBeGreaterThan(0); // expose: true, the message names the argument or the limit
      },
    );

    it('any other error passes through tokenErrorHandler to Koa: 500, no details', async () => {
      const r = await send(withHandler.url, '/crash');
      expect(r.status).toBe(500);
      expect(r.text).toBe('Internal Server Error');
    });
  });

  describe('deviceFromRequest: ctx.ip under app.proxy', () => {
    function deviceApp(proxy: boolean): Koa {
      const app = new Koa({ proxy });
      app.use((ctx) => {
        ctx.body = deviceFromRequest(ctx);
      });
      return app;
    }

    it('without app.proxy: the socket address, X-Forwarded-For ignored', async () => {
      const s = await serve(deviceApp(false));
      try {
        const r = await send(s.url, '/', { headers: { 'User-Agent': 'koa-test/1', 'X-Forwarded-For': '203.0.113.9' } });
        expect(r.json).toEqual({ userAgent: 'koa-test/1', ip: '127.0.0.1' });
        const noUa = await send(s.url, '/');
        expect(noUa.json).toEqual({ userAgent: null, ip: '127.0.0.1' });
      } finally {
        await s.close();
      }
    });

    it('with app.proxy: the client from X-Forwarded-For', async () => {
      const s = await serve(deviceApp(true));
      try {
        const r = await send(s.url, '/', { headers: { 'X-Forwarded-For': '203.0.113.9, 10.0.0.2' } });
        expect(r.json.ip).toBe('203.0.113.9');
      } finally {
        await s.close();
      }
    });

    it('a dual-stack server: IPv4-mapped IPv6 shown as IPv4', async () => {
      const s = await serve(deviceApp(false), '::');
      try {
        const r = await send(s.url, '/');
        expect(r.json.ip).toBe('127.0.0.1');
      } finally {
        await s.close();
      }
    });
  });

  it('options are checked when the middleware is made', () => {
    expect(() => tokenAuth(manager, { scope: ['admin'] } as never)).toThrow(InvalidArgumentTypeError);
    expect(() => tokenAuth({} as never)).toThrow(InvalidArgumentTypeError);
    expect(() => tokenAuth(manager, { realm: 'a"b' })).toThrow(InvalidArgumentValueError);
    expect(() => requireScopes(manager)).toThrow(InvalidArgumentValueError);
    expect(() => requireScopes(manager, ['has space'])).toThrow(InvalidArgumentValueError);
    expect(() => requireScopes(manager, ['admin'], { realms: 'x' } as never)).toThrow(InvalidArgumentTypeError);
    expect(() => tokenErrorHandler({ errorbody: () => 1 } as never)).toThrow(/did you mean `errorBody`/);
    expect(() => tokenErrorHandler({ errorBody: 1 } as never)).toThrow(InvalidArgumentTypeError);
  });

  it('adds no listener to the app, the manager or the process', () => {
    const app = new Koa();
    const counts = () => [
      app.listenerCount('error'),
      manager.listenerCount('authFailed'),
      process.listenerCount('exit'),
      process.listenerCount('uncaughtException'),
    ];
    const before = counts();
    app
      .use(tokenErrorHandler())
      .use(tokenAuth(manager))
      .use(optionalTokenAuth(manager))
      .use(requireScopes(manager, 'a'));
    app.callback();
    // Koa itself adds its default 'error' listener in callback() when the app has none: that one is Koa's.
    expect(counts()).toEqual([before[0]! + 1, ...before.slice(1)]);
  });
});
