/**
 * Fastify-specific behaviour of `redis-multitokens/fastify` that the shared HTTP contract does not cover:
 * option checks at registration, global vs per-route hooks, encapsulation (fastify-plugin lifts the
 * plugin into the scope of its `register` call, not into siblings), close, the error handler, and the
 * client IP behind Fastify's `trustProxy`. Requests go through `app.inject` (Fastify's own in-process
 * HTTP), against a real memory store, and a real ioredis store on a closed port for the outage case.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { outageStore } from '../support/contract.js';
import { TokenManager } from '../../src/index.js';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../src/core/errors.js';
import { deviceFromRequest, tokenAuthPlugin, tokenErrorHandler } from '../../src/frameworks/fastify.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { TEST_SECRET } from '../support/redis.js';

const apps: FastifyInstance[] = [];
const managers: TokenManager[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  for (const m of managers.splice(0)) await m.close();
});

function newApp(options?: FastifyServerOptions): FastifyInstance {
  const app = Fastify(options);
  apps.push(app);
  return app;
}

function newManager(options: Omit<ConstructorParameters<typeof TokenManager>[0], 'secret'> = {}): TokenManager {
  const m = new TokenManager({ secret: TEST_SECRET, ...options });
  managers.push(m);
  return m;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('registration', () => {
  const cases: [string, unknown, typeof InvalidArgumentTypeError | typeof InvalidArgumentValueError, RegExp][] = [
    ['no manager', {}, InvalidArgumentTypeError, /`manager`/],
    ['a manager that is not one', { manager: { verify: 1 } }, InvalidArgumentTypeError, /`manager`/],
    [
      'a misspelt option',
      { manager: 'M', scope: ['admin'] },
      InvalidArgumentTypeError,
      /`scope`.*did you mean `scopes`/,
    ],
    ['scopes not an array', { manager: 'M', scopes: 'admin' }, InvalidArgumentTypeError, /scopes/],
    ['a scope with a space', { manager: 'M', scopes: ['a b'] }, InvalidArgumentValueError, /scopes/],
    ['a realm with a quote', { manager: 'M', realm: 'a"b' }, InvalidArgumentValueError, /realm/],
    ['loadUser not a function', { manager: 'M', loadUser: 'users' }, InvalidArgumentTypeError, /loadUser/],
    ['global not a boolean', { manager: 'M', global: 'yes' }, InvalidArgumentTypeError, /`global`/],
  ];
  for (const [name, raw, type, message] of cases)
    it(`${name}: register and ready reject with the library's typed error naming the option`, async () => {
      const manager = newManager();
      const options = { ...(raw as object) } as Record<string, unknown>;
      if (options.manager === 'M') options.manager = manager;
      const app = newApp();
      const error = await app.register(tokenAuthPlugin, options as never).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
      const app2 = newApp();
      app2.register(tokenAuthPlugin, options as never);
      await expect(app2.ready()).rejects.toThrow(message);
    });

  it('plugin metadata: name redis-multitokens, fastify 5.x; Fastify register options are not refused', async () => {
    const meta = (tokenAuthPlugin as unknown as Record<symbol, { name: string; fastify: string }>)[
      Symbol.for('plugin-meta')
    ]!;
    expect(meta).toMatchObject({ name: 'redis-multitokens', fastify: '5.x' });
    const app = newApp();
    await app.register(tokenAuthPlugin, { manager: newManager(), prefix: '/api', logLevel: 'warn' } as never);
    expect(app.hasRequestDecorator('auth')).toBe(true);
  });

  it("registered twice in one scope, or in a child of a scope that has it, or over another plugin's request.auth: a clear error", async () => {
    const other = newApp();
    other.decorateRequest('auth', null);
    await expect(other.register(tokenAuthPlugin, { manager: newManager() })).rejects.toThrow(
      /another plugin owns `request.auth`/,
    );
    const app = newApp();
    await app.register(tokenAuthPlugin, { manager: newManager() });
    await expect(app.register(tokenAuthPlugin, { manager: newManager() })).rejects.toThrow(/already decorated/);
    const app2 = newApp();
    await app2.register(tokenAuthPlugin, { manager: newManager() });
    app2.register(async (child) => {
      await child.register(tokenAuthPlugin, { manager: newManager() });
    });
    await expect(app2.ready()).rejects.toThrow(/already decorated/);
  });

  it('per-route hooks check their options when made', async () => {
    const app = newApp();
    await app.register(tokenAuthPlugin, { manager: newManager(), global: false });
    expect(() => app.tokenAuth({ scopes: 'admin' } as never)).toThrow(InvalidArgumentTypeError);
    expect(() => app.tokenAuth({ optionl: true } as never)).toThrow(/did you mean `optional`/);
    expect(() => app.requireScopes()).toThrow(InvalidArgumentValueError);
    expect(() => app.requireScopes('a b')).toThrow(InvalidArgumentValueError);
  });
});

describe('global and per-route use', () => {
  it('global (default): an onRequest hook authenticates every route of the scope; request.auth is filled', async () => {
    const manager = newManager();
    const app = newApp();
    await app.register(tokenAuthPlugin, { manager, loadUser: (id) => ({ id, name: `user ${id}` }) });
    app.get('/me', async (request) => ({
      userId: request.auth!.userId,
      user: request.auth!.user,
      tokenId: request.auth!.token.tokenId,
    }));
    const { token, tokenId } = await manager.create('u1');
    const ok = await app.inject({ url: '/me', headers: bearer(token) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ userId: 'u1', user: { id: 'u1', name: 'user u1' }, tokenId });
    const missing = await app.inject({ url: '/me' });
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="api"');
    expect(missing.headers['cache-control']).toBe('no-store');
    expect(missing.json()).toMatchObject({ reason: 'missing_token' });
    const notFound = await app.inject({ url: '/nowhere', headers: bearer(token) });
    expect(notFound.statusCode).toBe(404);
  });

  it('global with optional: anonymous requests pass with request.auth null; a bad header is still 401', async () => {
    const app = newApp();
    await app.register(tokenAuthPlugin, { manager: newManager(), optional: true });
    app.get('/who', async (request) => ({ auth: request.auth }));
    expect((await app.inject({ url: '/who' })).json()).toEqual({ auth: null });
    const bad = await app.inject({ url: '/who', headers: { authorization: 'Basic abc' } });
    expect(bad.statusCode).toBe(401);
    expect(bad.json()).toMatchObject({ reason: 'malformed_header' });
  });

  it('per route (global: false): only the routes with the hook are authenticated, with their own optional/scopes/realm', async () => {
    const manager = newManager();
    const app = newApp();
    await app.register(tokenAuthPlugin, { manager, global: false, realm: 'shop' });
    app.get('/open', async (request) => ({ auth: request.auth }));
    app.get('/realm-kept', { onRequest: app.tokenAuth({ realm: undefined, optional: undefined }) }, async () => ({
      ok: true,
    }));
    app.get('/me', { onRequest: app.tokenAuth() }, async (request) => ({ userId: request.auth!.userId }));
    app.get('/maybe', { preHandler: app.tokenAuth({ optional: true }) }, async (request) => ({
      userId: request.auth?.userId ?? null,
    }));
    app.get('/admin', { onRequest: app.tokenAuth({ scopes: ['admin'], realm: 'admin' }) }, async () => ({ ok: true }));
    app.get('/admin2', { onRequest: [app.tokenAuth(), app.requireScopes('admin')] }, async () => ({ ok: true }));
    app.get('/scopes-only', { onRequest: app.requireScopes(['admin']) }, async () => ({ ok: true }));
    const { token } = await manager.create('u2', { scopes: ['read'] });
    const admin = await manager.create('u3', { scopes: ['admin'] });

    expect((await app.inject({ url: '/open' })).json()).toEqual({ auth: null });
    expect((await app.inject({ url: '/open', headers: { authorization: 'garbage' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/me', headers: bearer(token) })).json()).toEqual({ userId: 'u2' });
    const refused = await app.inject({ url: '/me' });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="shop"');
    expect((await app.inject({ url: '/realm-kept' })).headers['www-authenticate']).toBe('Bearer realm="shop"');
    expect((await app.inject({ url: '/maybe' })).json()).toEqual({ userId: null });
    expect((await app.inject({ url: '/maybe', headers: bearer(token) })).json()).toEqual({ userId: 'u2' });

    const scoped = await app.inject({ url: '/admin', headers: bearer(token) });
    expect(scoped.statusCode).toBe(403);
    expect(scoped.headers['www-authenticate']).toMatch(/^Bearer realm="admin", error="insufficient_scope"/);
    expect(scoped.json()).toMatchObject({ reason: 'insufficient_scope', scopes: ['admin'] });
    expect((await app.inject({ url: '/admin', headers: bearer(admin.token) })).statusCode).toBe(200);

    const scoped2 = await app.inject({ url: '/admin2', headers: bearer(token) });
    expect(scoped2.statusCode).toBe(403);
    expect(scoped2.headers['www-authenticate']).toMatch(/^Bearer realm="shop", error="insufficient_scope"/);
    expect((await app.inject({ url: '/admin2', headers: bearer(admin.token) })).statusCode).toBe(200);
    const unauthenticated = await app.inject({ url: '/scopes-only', headers: bearer(admin.token) });
    expect(unauthenticated.statusCode).toBe(401);
    expect(unauthenticated.headers['www-authenticate']).toBe('Bearer realm="shop"');
  });

  it("requireScopes answers in the realm of the route's tokenAuth hook, or in the realm it is given", async () => {
    const manager = newManager();
    const app = newApp();
    await app.register(tokenAuthPlugin, { manager, global: false });
    app.get(
      '/c',
      { onRequest: app.tokenAuth({ realm: 'admin' }), preHandler: app.requireScopes('admin') },
      async () => ({ ok: true }),
    );
    app.get(
      '/d',
      { onRequest: app.tokenAuth({ realm: 'admin' }), preHandler: app.requireScopes(['admin'], { realm: 'other' }) },
      async () => ({ ok: true }),
    );
    app.get(
      '/e',
      { onRequest: [app.tokenAuth({ optional: true, realm: 'admin' }), app.requireScopes('admin')] },
      async () => ({ ok: true }),
    );
    const { token } = await manager.create('u2', { scopes: ['read'] });
    expect((await app.inject({ url: '/c' })).headers['www-authenticate']).toBe('Bearer realm="admin"');
    const c = await app.inject({ url: '/c', headers: bearer(token) });
    expect(c.statusCode).toBe(403);
    expect(c.headers['www-authenticate']).toMatch(/^Bearer realm="admin", error="insufficient_scope"/);
    const d = await app.inject({ url: '/d', headers: bearer(token) });
    expect(d.statusCode).toBe(403);
    expect(d.headers['www-authenticate']).toMatch(/^Bearer realm="other", error="insufficient_scope"/);
    const anonymous = await app.inject({ url: '/e' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="admin"');
    expect(() => app.requireScopes(['admin'], { realm: 'a"b' })).toThrow(InvalidArgumentValueError);
    expect(() => app.requireScopes(['admin'], { relam: 'x' } as never)).toThrow(/unknown option `relam`/);
  });

  it('global plugin and a route tokenAuth({ scopes }): one store call per request; the route hook checks its scopes in its realm', async () => {
    const real = new MemoryStore();
    let storeCalls = 0;
    // A counting Proxy over the real store (nothing mocked), as the HTTP contract suite counts.
    const store = new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || prop === 'close' || prop === 'constructor') return value;
        return (...args: unknown[]) => {
          storeCalls++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const manager = newManager({ store });
    const app = newApp();
    const loadUser = (id: string) => ({ id });
    await app.register(async (api) => {
      await api.register(tokenAuthPlugin, { manager, loadUser });
      api.get('/a', { onRequest: api.tokenAuth({ scopes: ['admin'], realm: 'admin' }) }, async (request) => ({
        userId: request.auth!.userId,
      }));
      api.get('/b', { preHandler: api.requireScopes('admin') }, async () => ({ ok: true }));
      api.get(
        '/other-loader',
        { onRequest: api.tokenAuth({ loadUser: (id) => ({ id, other: true }) }) },
        async (request) => request.auth!.user,
      );
    });
    const admin = await manager.create('u1', { scopes: ['admin'] });
    const reader = await manager.create('u2', { scopes: ['read'] });
    const counted = async (url: string, token?: string) => {
      const before = storeCalls;
      const r = await app.inject({ url, headers: token ? bearer(token) : {} });
      return { r, calls: storeCalls - before };
    };
    const ok = await counted('/a', admin.token);
    expect([ok.r.statusCode, ok.r.json(), ok.calls]).toEqual([200, { userId: 'u1' }, 1]);
    const refused = await counted('/a', reader.token);
    expect([refused.r.statusCode, refused.calls]).toEqual([403, 1]);
    expect(refused.r.headers['www-authenticate']).toMatch(/^Bearer realm="admin", error="insufficient_scope"/);
    expect(refused.r.json()).toMatchObject({ reason: 'insufficient_scope', scopes: ['admin'] });
    expect((await counted('/b', admin.token)).calls).toBe(1);
    // Without a token the global hook refuses first, in the plugin's realm, with no store call.
    const missing = await counted('/a');
    expect([missing.r.statusCode, missing.r.headers['www-authenticate'], missing.calls]).toEqual([
      401,
      'Bearer realm="api"',
      0,
    ]);
    // Another loadUser than the one that authenticated: verified again, and its user is the route's.
    const other = await counted('/other-loader', admin.token);
    expect([other.r.statusCode, other.r.json()]).toEqual([200, { id: 'u1', other: true }]);
  });

  it('loadUser throwing goes to Fastify error handling (500), refusing no one silently', async () => {
    const manager = newManager();
    const app = newApp();
    await app.register(tokenAuthPlugin, {
      manager,
      loadUser: () => {
        throw new Error('users db down');
      },
    });
    app.get('/me', async () => ({ ok: true }));
    const { token } = await manager.create('u4');
    const r = await app.inject({ url: '/me', headers: bearer(token) });
    expect(r.statusCode).toBe(500);
  });
});

describe('encapsulation', () => {
  it('registered in a child context: that context and its children are authenticated; the parent and siblings are not', async () => {
    const manager = newManager();
    const app = newApp();
    const { token } = await manager.create('u5');
    app.get('/root', async (request) => ({ hasAuth: 'auth' in request }));
    await app.register(async (api) => {
      await api.register(tokenAuthPlugin, { manager });
      api.get('/api/me', async (request) => ({ userId: request.auth!.userId }));
      await api.register(async (nested) => {
        nested.get('/api/nested', async (request) => ({ userId: request.auth!.userId }));
      });
    });
    await app.register(async (sibling) => {
      sibling.get('/sibling', async (request) => ({
        hasAuth: 'auth' in request,
        hasHook: sibling.hasDecorator('tokenAuth'),
      }));
    });

    expect((await app.inject({ url: '/api/me' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/nested' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/me', headers: bearer(token) })).json()).toEqual({ userId: 'u5' });
    expect((await app.inject({ url: '/api/nested', headers: bearer(token) })).json()).toEqual({ userId: 'u5' });
    expect((await app.inject({ url: '/root' })).json()).toEqual({ hasAuth: false });
    expect((await app.inject({ url: '/sibling' })).json()).toEqual({ hasAuth: false, hasHook: false });
    expect(app.hasDecorator('tokenAuth')).toBe(false);
  });

  it('two sibling contexts may each register it, with their own options', async () => {
    const manager = newManager();
    const app = newApp();
    await app.register(async (a) => {
      await a.register(tokenAuthPlugin, { manager, realm: 'a' });
      a.get('/a', async () => ({ ok: true }));
    });
    await app.register(async (b) => {
      await b.register(tokenAuthPlugin, { manager, realm: 'b', optional: true });
      b.get('/b', async (request) => ({ auth: request.auth }));
    });
    expect((await app.inject({ url: '/a' })).headers['www-authenticate']).toBe('Bearer realm="a"');
    expect((await app.inject({ url: '/b' })).json()).toEqual({ auth: null });
  });
});

describe('nothing left behind', () => {
  it("adds no listener to the manager, and app.close() leaves the app's manager open and working", async () => {
    const manager = newManager();
    const before = manager.eventNames().map((e) => [e, manager.listenerCount(e)]);
    const app = Fastify();
    await app.register(tokenAuthPlugin, { manager });
    app.get('/me', async (request) => ({ userId: request.auth!.userId }));
    const { token } = await manager.create('u6');
    expect((await app.inject({ url: '/me', headers: bearer(token) })).statusCode).toBe(200);
    await app.close();
    expect(manager.eventNames().map((e) => [e, manager.listenerCount(e)])).toEqual(before);
    expect((await manager.verify(token)).valid).toBe(true);
  });
});

describe("errors of the app's own routes", () => {
  async function loginApp(manager: TokenManager, withHandler: boolean) {
    const app = newApp();
    await app.register(tokenAuthPlugin, { manager, global: false });
    if (withHandler) app.setErrorHandler(tokenErrorHandler());
    app.post<{ Body: { userId: unknown; deviceName?: unknown } }>('/login', async (request, reply) => {
      const created = await manager.create(request.body.userId as string, {
        deviceName: request.body.deviceName as string,
        ...deviceFromRequest(request),
      });
      return reply.code(201).send({ token: created.token });
    });
    app.get('/teapot', async () => {
      throw Object.assign(new Error('short and stout'), { statusCode: 418 });
    });
    app.get('/crash', async () => {
      throw new Error('boom');
    });
    return app;
  }

  it("tokenErrorHandler: 400 for a bad argument, 403 token_limit, and the app's own errors go on to Fastify's handler", async () => {
    const manager = newManager({ maxTokensPerUser: 1, limitPolicy: 'reject' });
    const app = await loginApp(manager, true);
    const bad = await app.inject({ method: 'POST', url: '/login', payload: { userId: 'u7', deviceName: 42 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ message: expect.stringMatching(/deviceName/) });
    expect((await app.inject({ method: 'POST', url: '/login', payload: { userId: 'u7' } })).statusCode).toBe(201);
    const limit = await app.inject({ method: 'POST', url: '/login', payload: { userId: 'u7' } });
    expect(limit.statusCode).toBe(403);
    expect(limit.json()).toMatchObject({ reason: 'token_limit' });
    expect((await app.inject({ url: '/teapot' })).statusCode).toBe(418);
    const crash = await app.inject({ url: '/crash' });
    expect(crash.statusCode).toBe(500);
    expect(crash.json()).toMatchObject({ statusCode: 500, error: 'Internal Server Error' });
  });

  it("a store outage: 503 with Retry-After, with tokenErrorHandler and with Fastify's default handler alone", async () => {
    const store = await outageStore();
    const manager = newManager({ store });
    for (const withHandler of [true, false]) {
      const app = await loginApp(manager, withHandler);
      const r = await app.inject({ method: 'POST', url: '/login', payload: { userId: 'u8' } });
      expect(r.statusCode, r.body).toBe(503);
      expect(r.headers['retry-after']).toMatch(/^\d+$/);
      if (withHandler) expect(r.json()).toMatchObject({ reason: 'store_unavailable' });
    }
  });
});

describe('errorBody and composing error handlers', () => {
  it('errorBody replaces the body of refusals (plugin, per-route scopes) and of tokenErrorHandler answers; status and headers stay', async () => {
    const manager = newManager({ maxTokensPerUser: 1, limitPolicy: 'reject' });
    const app = newApp();
    const errorBody = (r: { status: number; body: { reason: string } }) => ({ code: r.body.reason, status: r.status });
    await app.register(tokenAuthPlugin, { manager, errorBody, realm: 'x' });
    app.setErrorHandler(tokenErrorHandler({ errorBody }));
    app.get('/admin', { preHandler: app.requireScopes('admin') }, async () => ({ ok: true }));
    app.post('/again', async (request) => manager.create(request.auth!.userId));
    const { token } = await manager.create('u9');
    const missing = await app.inject({ url: '/admin' });
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="x"');
    expect(missing.json()).toEqual({ code: 'missing_token', status: 401 });
    const scoped = await app.inject({ url: '/admin', headers: bearer(token) });
    expect(scoped.statusCode).toBe(403);
    expect(scoped.headers['www-authenticate']).toMatch(/^Bearer realm="x", error="insufficient_scope"/);
    expect(scoped.json()).toEqual({ code: 'insufficient_scope', status: 403 });
    const limit = await app.inject({ method: 'POST', url: '/again', headers: bearer(token) });
    expect(limit.statusCode).toBe(403);
    expect(limit.headers['cache-control']).toBe('no-store');
    expect(limit.json()).toEqual({ code: 'token_limit', status: 403 });
  });

  it("set in a child context, tokenErrorHandler hands every other error to the app's own handler of the parent", async () => {
    const manager = newManager();
    const app = newApp();
    const seen: string[] = [];
    app.setErrorHandler(async (error: Error, _request, reply) => {
      seen.push(error.message);
      return reply.code(599).send({ mine: true });
    });
    await app.register(async (api) => {
      api.setErrorHandler(tokenErrorHandler());
      api.get('/mine', async () => {
        throw new Error('app error');
      });
      api.get('/lib', async () => manager.create('u10', { deviceName: 42 as never }));
    });
    const mine = await app.inject({ url: '/mine' });
    expect(mine.statusCode).toBe(599);
    expect(mine.json()).toEqual({ mine: true });
    expect(seen).toEqual(['app error']);
    const lib = await app.inject({ url: '/lib' });
    expect(lib.statusCode).toBe(400);
    expect(lib.json()).toMatchObject({ reason: 'invalid_argument' });
    expect(seen).toEqual(['app error']);
    expect(() => tokenErrorHandler({ errorbody: () => ({}) } as never)).toThrow(/did you mean `errorBody`/);
  });
});

describe('deviceFromRequest', () => {
  it('reads request.ip, which honours trustProxy, and shows IPv4-mapped IPv6 as IPv4', async () => {
    for (const [trustProxy, expected] of [
      [false, '10.1.2.3'],
      [true, '203.0.113.7'],
    ] as const) {
      const app = newApp({ trustProxy });
      app.get('/device', async (request) => deviceFromRequest(request));
      const r = await app.inject({
        url: '/device',
        remoteAddress: '::ffff:10.1.2.3',
        headers: { 'user-agent': 'ua/1', 'x-forwarded-for': '203.0.113.7' },
      });
      expect(r.json()).toEqual({ userAgent: 'ua/1', ip: expected });
    }
    const app = newApp();
    app.get('/device', async (request) => deviceFromRequest(request));
    expect(
      (await app.inject({ url: '/device', remoteAddress: '2001:db8::1', headers: { 'user-agent': '' } })).json(),
    ).toEqual({ userAgent: null, ip: '2001:db8::1' });
  });
});
