/**
 * The NestJS adapter's own behaviour, on the Express and the Fastify platform (real HTTP on 127.0.0.1,
 * the memory store; the store outage is an IoredisStore on a closed loopback port): the module
 * (forRoot, forRootAsync, option checks), the guard globally and per controller, @Public, @OptionalAuth,
 * @RequireScopes on controllers and routes, the param decorators, TokenErrorFilter registered each way,
 * device details behind each platform's trust-proxy setting, and what app.close() leaves behind.
 * The shared HTTP contract runs in nestjs.contract.test.ts.
 */
import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  ImATeapotException,
  Inject,
  Module,
  Post,
  UseGuards,
  type DynamicModule,
  type INestApplication,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, HttpAdapterHost, NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenManager, type TokenManagerOptions } from '../../src/core/manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import {
  CurrentAuth,
  CurrentUser,
  Device,
  OptionalAuth,
  Public,
  RequireScopes,
  TOKEN_MANAGER,
  TokenAuthGuard,
  TokenAuthModule,
  TokenErrorFilter,
  type DeviceDetails,
  type TokenErrorFilterOptions,
} from '../../src/frameworks/nestjs.js';
import { InvalidArgumentTypeError } from '../../src/core/errors.js';
import { freePort } from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

type Platform = 'express' | 'fastify';
interface TestUser {
  id: string;
  name: string;
}
const USERS = new Map<string, TestUser>([
  ['alice', { id: 'alice', name: 'Alice' }],
  ['bob', { id: 'bob', name: 'Bob' }],
]);
const loadUser = (id: string) => USERS.get(id) ?? null;

@Controller()
class MainController {
  constructor(@Inject(TOKEN_MANAGER) private readonly tokens: TokenManager) {}

  @Get('me')
  me(@CurrentAuth() auth: CurrentAuth<TestUser>, @CurrentUser() user: TestUser) {
    return { userId: auth.userId, user, tokenId: auth.token.tokenId, scopes: auth.token.scopes };
  }

  @Public()
  @Get('public')
  open(@CurrentAuth() auth: CurrentAuth | null) {
    return { auth };
  }

  @OptionalAuth()
  @Get('optional')
  optional(@CurrentAuth() auth: CurrentAuth | null) {
    return { authenticated: auth !== null, userId: auth?.userId ?? null };
  }

  @RequireScopes('admin')
  @Get('scoped')
  scoped() {
    return { ok: true };
  }

  @Public()
  @Post('login')
  @HttpCode(201)
  async login(
    @Body() body: { userId: string; deviceName?: string; scopes?: string[] },
    @Device() device: DeviceDetails,
  ) {
    const created = await this.tokens.create(body.userId, {
      deviceName: body.deviceName,
      scopes: body.scopes,
      ...device,
    });
    return {
      token: created.token,
      tokenId: created.tokenId,
      first: created.first,
      userAgent: created.record.userAgent,
      ip: created.record.ip,
    };
  }

  @Get('devices')
  async devices(@CurrentAuth() auth: CurrentAuth) {
    return this.tokens.list(auth.userId, { currentTokenId: auth.token.tokenId });
  }

  @Public()
  @Get('crash')
  crash() {
    throw new Error('boom');
  }

  @Public()
  @Get('teapot')
  teapot() {
    throw new ImATeapotException({ brewing: false });
  }

  @Public()
  @Get('http-error')
  httpError() {
    throw Object.assign(new Error('gone fishing'), { statusCode: 418 });
  }
}

@RequireScopes('read')
@Controller('reports')
class ReportsController {
  @Get()
  list() {
    return { reports: [] };
  }

  @RequireScopes(['write'])
  @Post()
  @HttpCode(201)
  add() {
    return { added: true };
  }
}

/** Guarded by @UseGuards only (for apps without APP_GUARD). */
@UseGuards(TokenAuthGuard)
@Controller('guarded')
class GuardedController {
  @Get()
  get(@CurrentUser() user: TestUser) {
    return { name: user.name };
  }
}

/** No guard at all: @CurrentAuth() must not pass `undefined` off as "anonymous". */
@Controller('unguarded')
class UnguardedController {
  @Get()
  get(@CurrentAuth() auth: CurrentAuth | null) {
    return { auth };
  }
}

interface StartOptions {
  module: DynamicModule;
  controllers?: Type[];
  /** Register TokenAuthGuard with APP_GUARD (default true). */
  appGuard?: boolean;
  /** How TokenErrorFilter is registered (default 'provider' = APP_FILTER). */
  filter?: 'provider' | 'global-with-adapter' | 'global-bare' | 'none';
  trustProxy?: boolean;
  extraModules?: Type[];
  /** The options of a TokenErrorFilter made with `new` ('global-with-adapter', 'global-bare'). */
  filterOptions?: TokenErrorFilterOptions;
}

interface Running {
  app: INestApplication;
  url: string;
}

const running: INestApplication[] = [];
afterEach(async () => {
  for (const app of running.splice(0)) await app.close();
});

async function start(platform: Platform, options: StartOptions): Promise<Running> {
  const providers: Provider[] = [];
  if (options.appGuard ?? true) providers.push({ provide: APP_GUARD, useClass: TokenAuthGuard });
  if ((options.filter ?? 'provider') === 'provider')
    providers.push({ provide: APP_FILTER, useClass: TokenErrorFilter });
  @Module({
    imports: [options.module, ...(options.extraModules ?? [])],
    controllers: options.controllers ?? [MainController, ReportsController],
    providers,
  })
  class AppModule {}
  const adapter =
    platform === 'express' ? new ExpressAdapter() : new FastifyAdapter({ trustProxy: options.trustProxy ?? false });
  const app = await NestFactory.create(AppModule, adapter, { logger: false, abortOnError: false });
  running.push(app);
  if (platform === 'express' && options.trustProxy) (app as NestExpressApplication).set('trust proxy', true);
  if (options.filter === 'global-with-adapter')
    app.useGlobalFilters(new TokenErrorFilter(app.get(HttpAdapterHost).httpAdapter, options.filterOptions));
  if (options.filter === 'global-bare') app.useGlobalFilters(new TokenErrorFilter(undefined, options.filterOptions));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: the tests read fields of JSON bodies of many shapes.
  body: any;
}

async function call(
  url: string,
  path: string,
  init: { method?: string; token?: string; headers?: Record<string, string>; json?: unknown } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url + path, {
    method: init.method ?? (init.json !== undefined ? 'POST' : 'GET'),
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

function manager(options: Omit<TokenManagerOptions, 'store'> = { secret: TEST_SECRET }): TokenManager {
  return new TokenManager({ store: new MemoryStore(), ...options });
}

/** A manager whose store is an IoredisStore on a loopback port nothing listens on. */
async function outageManager(): Promise<TokenManager> {
  const port = await freePort();
  return new TokenManager({
    secret: TEST_SECRET,
    store: new IoredisStore({
      url: `redis://127.0.0.1:${port}`,
      keyPrefix: 'rmt-test:nest-outage:',
      commandTimeoutMs: 300,
    }),
  });
}

function expectChallenge(r: Answer, status: 401 | 403, reason: string, realm = 'api'): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('www-authenticate')).toMatch(new RegExp(`^Bearer realm="${realm}"`));
  expect(r.headers.get('cache-control')).toBe('no-store');
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  expect(r.body.reason).toBe(reason);
}

describe.each<Platform>(['express', 'fastify'])('NestJS on the %s platform', (platform) => {
  it('APP_GUARD authenticates every route; @CurrentAuth and @CurrentUser give the auth and the loaded user', async () => {
    const tokens = manager();
    const { url } = await start(platform, { module: TokenAuthModule.forRoot({ manager: tokens, loadUser }) });
    const { token, tokenId } = await tokens.create('alice', { deviceName: 'laptop' });
    const me = await call(url, '/me', { token });
    expect(me.status, me.text).toBe(200);
    expect(me.body).toEqual({ userId: 'alice', user: { id: 'alice', name: 'Alice' }, tokenId, scopes: [] });
    expectChallenge(await call(url, '/me'), 401, 'missing_token');
    expect((await call(url, '/me')).headers.get('www-authenticate')).toBe('Bearer realm="api"');
    expectChallenge(await call(url, '/me', { headers: { authorization: 'Basic abc' } }), 401, 'malformed_header');
    expectChallenge(
      await call(url, '/me', { token: token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A') }),
      401,
      'malformed_token',
    );
    await tokens.revokeById('alice', tokenId);
    expectChallenge(await call(url, '/me', { token }), 401, 'invalid_token');
    const bob = await tokens.create('carol'); // no such user: loadUser gives null
    expectChallenge(await call(url, '/me', { token: bob.token }), 401, 'user_not_found');
  });

  it('@Public skips authentication (even a bad header); @OptionalAuth lets anonymous through but refuses a bad header', async () => {
    const tokens = manager();
    const { url } = await start(platform, { module: TokenAuthModule.forRoot({ manager: tokens, loadUser }) });
    const { token } = await tokens.create('bob');
    expect((await call(url, '/public')).body).toEqual({ auth: null });
    expect((await call(url, '/public', { headers: { authorization: 'garbage' } })).status).toBe(200);
    expect((await call(url, '/optional')).body).toEqual({ authenticated: false, userId: null });
    expect((await call(url, '/optional', { token })).body).toEqual({ authenticated: true, userId: 'bob' });
    expectChallenge(await call(url, '/optional', { headers: { authorization: 'Bearer' } }), 401, 'malformed_header');
  });

  it('@RequireScopes: 403 insufficient_scope in the module realm; controller and route scopes add up', async () => {
    const tokens = manager();
    const { url } = await start(platform, {
      module: TokenAuthModule.forRoot({ manager: tokens, loadUser, realm: 'reports' }),
    });
    const plain = await tokens.create('alice');
    const admin = await tokens.create('alice', { scopes: ['admin'] });
    const refused = await call(url, '/scoped', { token: plain.token });
    expectChallenge(refused, 403, 'insufficient_scope', 'reports');
    expect(refused.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(refused.headers.get('www-authenticate')).toContain('scope="admin"');
    expect(refused.body.scopes).toEqual(['admin']);
    expect((await call(url, '/scoped', { token: admin.token })).body).toEqual({ ok: true });
    expectChallenge(await call(url, '/scoped'), 401, 'missing_token', 'reports');

    const reader = await tokens.create('bob', { scopes: ['read'] });
    const writer = await tokens.create('bob', { scopes: ['write'] });
    const both = await tokens.create('bob', { scopes: ['read', 'write'] });
    expect((await call(url, '/reports', { token: reader.token })).status).toBe(200);
    expect((await call(url, '/reports', { token: writer.token })).body.scopes).toEqual(['read']);
    expect((await call(url, '/reports', { method: 'POST', token: reader.token })).body.scopes).toEqual(['write']);
    expect((await call(url, '/reports', { method: 'POST', token: both.token })).status).toBe(201);
  });

  it('TokenErrorFilter maps errors of create and list to 400, 403 token_limit and 503 + Retry-After; other errors stay a plain 500', async () => {
    const tokens = manager({ secret: TEST_SECRET, maxTokensPerUser: 1, limitPolicy: 'reject' });
    const { url } = await start(platform, { module: TokenAuthModule.forRoot({ manager: tokens, loadUser }) });
    const first = await call(url, '/login', {
      json: { userId: 'alice', deviceName: 'phone' },
      headers: { 'user-agent': 'ua/1' },
    });
    expect(first.status, first.text).toBe(201);
    expect(first.body).toMatchObject({ first: true, userAgent: 'ua/1', ip: '127.0.0.1' });
    const limited = await call(url, '/login', { json: { userId: 'alice' } });
    expect(limited.status, limited.text).toBe(403);
    expect(limited.body).toMatchObject({ reason: 'token_limit', limit: 1 });
    expect(limited.headers.get('cache-control')).toBe('no-store');
    const bad = await call(url, '/login', { json: { userId: 'bob', deviceName: 42 } });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.body.reason).toBe('invalid_argument');
    const crash = await call(url, '/crash');
    expect(crash.status).toBe(500);
    expect(crash.body).toEqual({ statusCode: 500, message: 'Internal server error' });
    // Nest's own handling of other errors is kept (BaseExceptionFilter: HttpException, http-errors style).
    const teapot = await call(url, '/teapot');
    expect([teapot.status, teapot.body]).toEqual([418, { brewing: false }]);
    const httpError = await call(url, '/http-error');
    expect([httpError.status, httpError.body]).toEqual([418, { statusCode: 418, message: 'gone fishing' }]);
  });

  it('with APP_FILTER the filter applies the module errorBody to route errors too', async () => {
    const tokens = manager({ secret: TEST_SECRET, maxTokensPerUser: 1, limitPolicy: 'reject' });
    const { url } = await start(platform, {
      module: TokenAuthModule.forRoot({ manager: tokens, errorBody: (r) => ({ code: r.body.reason }) }),
    });
    await call(url, '/login', { json: { userId: 'alice' } });
    const limited = await call(url, '/login', { json: { userId: 'alice' } });
    expect([limited.status, limited.body]).toEqual([403, { code: 'token_limit' }]);
  });

  it('a store outage is 503 + Retry-After from the guard and from a route, never 401 or 500', async () => {
    const tokens = await outageManager();
    try {
      const { url } = await start(platform, { module: TokenAuthModule.forRoot({ manager: tokens }) });
      const token = 'x'.repeat(10);
      const fake = (await manager().create('alice')).token; // well-formed, so it reaches the store
      for (const r of [
        await call(url, '/me', { token: fake }),
        await call(url, '/login', { json: { userId: 'alice' } }),
      ]) {
        expect(r.status, r.text).toBe(503);
        expect(r.headers.get('retry-after')).toBe('1');
        expect(r.headers.get('cache-control')).toBe('no-store');
        expect(r.body.reason).toBe('store_unavailable');
      }
      // Malformed input never reaches the store: still 401 during the outage.
      expectChallenge(await call(url, '/me', { token }), 401, 'malformed_token');
    } finally {
      await tokens.close();
    }
  });

  it('errorBody replaces the body of refusals; status and headers stay', async () => {
    const tokens = manager();
    const { url } = await start(platform, {
      module: TokenAuthModule.forRoot({
        manager: tokens,
        errorBody: (r) => ({ code: r.body.reason, status: r.status }),
      }),
    });
    const r = await call(url, '/me');
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ code: 'missing_token', status: 401 });
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="api"');
    const plain = await tokens.create('alice');
    const s = await call(url, '/scoped', { token: plain.token });
    expect(s.status).toBe(403);
    expect(s.body).toEqual({ code: 'insufficient_scope', status: 403 });
    expect(s.headers.get('www-authenticate')).toContain('scope="admin"');
  });

  it('without TokenErrorFilter the guard still answers with its headers and body (Nest default filter)', async () => {
    const tokens = manager();
    const { url } = await start(platform, { module: TokenAuthModule.forRoot({ manager: tokens }), filter: 'none' });
    const r = await call(url, '/me');
    expectChallenge(r, 401, 'missing_token');
    expect(r.body.error).toBe('unauthorized');
  });

  it.each(['none', 'provider'] as const)(
    'an errorBody returning a string or null is sent as JSON, not wrapped by Nest (filter: %s)',
    async (filter) => {
      const tokens = manager();
      const errorBody = (r: { status: number; body: { reason: string } }) =>
        r.status === 401 ? `denied: ${r.body.reason}` : null;
      const { url } = await start(platform, {
        module: TokenAuthModule.forRoot({ manager: tokens, errorBody }),
        filter,
      });
      const r = await call(url, '/me');
      expect([r.status, r.text, r.headers.get('content-type')]).toEqual([
        401,
        '"denied: missing_token"',
        expect.stringMatching(/^application\/json/),
      ]);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="api"');
      const plain = await tokens.create('alice');
      const s = await call(url, '/scoped', { token: plain.token });
      expect([s.status, s.text, s.headers.get('content-type')]).toEqual([
        403,
        'null',
        expect.stringMatching(/^application\/json/),
      ]);
      expect(s.headers.get('www-authenticate')).toContain('scope="admin"');
    },
  );

  it.each(['global-with-adapter', 'global-bare'] as const)(
    'TokenErrorFilter made with new (%s) sends a string errorBody of a route error as JSON',
    async (filter) => {
      const tokens = manager({ secret: TEST_SECRET, maxTokensPerUser: 1, limitPolicy: 'reject' });
      const { url } = await start(platform, {
        module: TokenAuthModule.forRoot({ manager: tokens }),
        filter,
        filterOptions: { errorBody: (r) => `refused: ${r.body.reason}` },
      });
      expect((await call(url, '/login', { json: { userId: 'bob' } })).status).toBe(201);
      const limited = await call(url, '/login', { json: { userId: 'bob' } });
      expect([limited.status, limited.text, limited.headers.get('content-type')]).toEqual([
        403,
        '"refused: token_limit"',
        expect.stringMatching(/^application\/json/),
      ]);
    },
  );

  it.each(['global-with-adapter', 'global-bare'] as const)(
    'TokenErrorFilter with app.useGlobalFilters (%s)',
    async (filter) => {
      const tokens = manager({ secret: TEST_SECRET, maxTokensPerUser: 1, limitPolicy: 'reject' });
      const { url } = await start(platform, { module: TokenAuthModule.forRoot({ manager: tokens }), filter });
      expect((await call(url, '/login', { json: { userId: 'bob' } })).status).toBe(201);
      const limited = await call(url, '/login', { json: { userId: 'bob' } });
      expect(limited.status).toBe(403);
      expect(limited.body.reason).toBe('token_limit');
      expectChallenge(await call(url, '/me'), 401, 'missing_token');
      const crash = await call(url, '/crash');
      expect(crash.status).toBe(500);
      expect(crash.text).not.toContain('boom');
      expect(crash.body).toEqual({ statusCode: 500, message: 'Internal server error' });
      const teapot = await call(url, '/teapot');
      expect([teapot.status, teapot.body]).toEqual([418, { brewing: false }]);
    },
  );

  it('per-controller @UseGuards without APP_GUARD; @CurrentAuth on an unguarded route is a 500, not anonymous', async () => {
    const tokens = manager();
    const { url } = await start(platform, {
      module: TokenAuthModule.forRoot({ manager: tokens, loadUser }),
      controllers: [GuardedController, UnguardedController],
      appGuard: false,
    });
    const { token } = await tokens.create('alice');
    expectChallenge(await call(url, '/guarded'), 401, 'missing_token');
    expect((await call(url, '/guarded', { token })).body).toEqual({ name: 'Alice' });
    expect((await call(url, '/unguarded', { token })).status).toBe(500);
  });

  it('the guard both global and per controller verifies once per request', async () => {
    const tokens = manager();
    let verifies = 0;
    const verify = tokens.verify.bind(tokens);
    tokens.verify = (t: string) => {
      verifies++;
      return verify(t);
    };
    const { url } = await start(platform, {
      module: TokenAuthModule.forRoot({ manager: tokens, loadUser }),
      controllers: [GuardedController],
    });
    const { token } = await tokens.create('bob');
    expect((await call(url, '/guarded', { token })).body).toEqual({ name: 'Bob' });
    expect(verifies).toBe(1);
  });

  it('forRootAsync takes options from a factory with inject and imports', async () => {
    const tokens = manager();
    @Module({ providers: [{ provide: 'CONFIG', useValue: { realm: 'async-realm' } }], exports: ['CONFIG'] })
    class ConfigModule {}
    const { url } = await start(platform, {
      module: TokenAuthModule.forRootAsync({
        imports: [ConfigModule],
        inject: ['CONFIG'],
        useFactory: async (config: { realm: string }) => ({ manager: tokens, loadUser, realm: config.realm }),
      }),
    });
    const { token } = await tokens.create('alice');
    expect((await call(url, '/me', { token })).body.user).toEqual({ id: 'alice', name: 'Alice' });
    expectChallenge(await call(url, '/me'), 401, 'missing_token', 'async-realm');
  });

  it('forRootAsync with bad options fails the start-up, naming the option', async () => {
    const tokens = manager();
    const bad = start(platform, {
      module: TokenAuthModule.forRootAsync({ useFactory: () => ({ manager: tokens, realm: 'a"b' }) }),
    });
    await expect(bad).rejects.toThrow(/realm/);
  });

  it('device details honour the platform trust-proxy setting', async () => {
    const tokens = manager();
    const direct = await start(platform, { module: TokenAuthModule.forRoot({ manager: tokens }) });
    const proxied = await start(platform, { module: TokenAuthModule.forRoot({ manager: tokens }), trustProxy: true });
    const headers = { 'x-forwarded-for': '203.0.113.7', 'user-agent': 'agent/2' };
    expect((await call(direct.url, '/login', { json: { userId: 'alice' }, headers })).body).toMatchObject({
      ip: '127.0.0.1',
      userAgent: 'agent/2',
    });
    expect((await call(proxied.url, '/login', { json: { userId: 'alice' }, headers })).body).toMatchObject({
      ip: '203.0.113.7',
      userAgent: 'agent/2',
    });
  });

  it('app.close() leaves the manager open and adds no listener that outlives the app', async () => {
    const tokens = manager();
    const events = ['authFailed', 'storeUnavailable', 'storeRecovered', 'revoked', 'created'] as const;
    const before = events.map((e) => tokens.listenerCount(e));
    const processBefore = ['SIGTERM', 'SIGINT', 'exit', 'beforeExit'].map((e) => process.listenerCount(e));
    const { app, url } = await start(platform, { module: TokenAuthModule.forRoot({ manager: tokens, loadUser }) });
    const { token } = await tokens.create('alice');
    expect((await call(url, '/me', { token })).status).toBe(200);
    await app.close();
    running.splice(running.indexOf(app), 1);
    expect(events.map((e) => tokens.listenerCount(e))).toEqual(before);
    expect(['SIGTERM', 'SIGINT', 'exit', 'beforeExit'].map((e) => process.listenerCount(e))).toEqual(processBefore);
    const verified = await tokens.verify(token);
    expect(verified.valid).toBe(true);
  });
});

describe('TokenAuthModule option checks (at definition, before any request)', () => {
  const tokens = manager();
  it.each<[string, () => unknown, RegExp]>([
    ['no manager', () => TokenAuthModule.forRoot({} as never), /manager/],
    ['not a manager', () => TokenAuthModule.forRoot({ manager: {} as never }), /manager/],
    ['bad realm', () => TokenAuthModule.forRoot({ manager: tokens, realm: 'a"b' }), /realm/],
    ['a misspelt option', () => TokenAuthModule.forRoot({ manager: tokens, relam: 'x' } as never), /relam/],
    [
      'scopes at module level',
      () => TokenAuthModule.forRoot({ manager: tokens, scopes: ['admin'] } as never),
      /RequireScopes/,
    ],
    [
      'optional at module level',
      () => TokenAuthModule.forRoot({ manager: tokens, optional: true } as never),
      /OptionalAuth/,
    ],
    ['loadUser not a function', () => TokenAuthModule.forRoot({ manager: tokens, loadUser: 'x' as never }), /loadUser/],
    ['global not a boolean', () => TokenAuthModule.forRoot({ manager: tokens, global: 'yes' as never }), /global/],
    ['forRootAsync without useFactory', () => TokenAuthModule.forRootAsync({} as never), /useFactory/],
    [
      'forRootAsync with useClass',
      () => TokenAuthModule.forRootAsync({ useFactory: () => ({ manager: tokens }), useClass: Object } as never),
      /useClass/,
    ],
    ['@RequireScopes() without a scope', () => RequireScopes(), /at least one scope/],
    ['@RequireScopes with a bad scope', () => RequireScopes('has space'), /not a scope/],
  ])('%s', (_name, make, message) => {
    expect(make).toThrow(message);
  });

  it.each<[string, () => unknown, RegExp]>([
    [
      'errorBody not a function',
      () => new TokenErrorFilter(undefined, { errorBody: 'oops' as never }),
      /errorBody must be a function/,
    ],
    [
      'a misspelt option',
      () => new TokenErrorFilter(undefined, { errrorBody: () => 1 } as never),
      /unknown option `errrorBody` \(did you mean `errorBody`\?\)/,
    ],
    ['options not an object', () => new TokenErrorFilter(undefined, 'x' as never), /must be an object/],
    ['the options given first', () => new TokenErrorFilter({ errorBody: () => 1 } as never), /HTTP adapter/],
  ])('TokenErrorFilter checks its options when made: %s', (_name, make, message) => {
    expect(make).toThrow(InvalidArgumentTypeError);
    expect(make).toThrow(message);
  });

  it('forRoot is global by default and can be made local', () => {
    expect(TokenAuthModule.forRoot({ manager: tokens }).global).toBe(true);
    expect(TokenAuthModule.forRoot({ manager: tokens, global: false }).global).toBe(false);
    expect(TokenAuthModule.forRootAsync({ useFactory: () => ({ manager: tokens }), global: false }).global).toBe(false);
  });
});
