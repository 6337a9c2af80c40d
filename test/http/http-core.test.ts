/**
 * The framework-free HTTP core (src/http/*, src/core/errors.ts), without a server: the store calls
 * `authenticate` makes for generated headers (property test, memory and Redis stores), the HTTP meaning
 * of the library's errors and its recognition across package copies, `errorResponse`, `errorBody`,
 * `scopeRequirement` and `deviceDetails`. The same behaviour over HTTP, per framework, is the contract
 * suite (src/testing/http-suite.ts).
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidArgumentTypeError,
  InvalidArgumentValueError,
  RedisMultitokensError,
  StoreMisconfiguredError,
  StoreUnavailableError,
  TokenLimitError,
  isRedisMultitokensError,
} from '../../src/core/errors.js';
import { TokenManager } from '../../src/core/manager.js';
import type { Store } from '../../src/core/store.js';
import { parseToken } from '../../src/core/token-format.js';
import {
  applyErrorBody,
  authenticate,
  checkAuthOptions,
  deviceDetails,
  errorResponse,
  parseAuthorization,
  scopeRequirement,
} from '../../src/http/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { REDIS_URL, TEST_SECRET, deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';
import { BASE62, oracleChecksum } from '../support/oracle.js';

/** A store that counts the calls it passes on to the real store (a Proxy: nothing is mocked). */
function counted(inner: Store): { store: Store; counting: { calls: number; byMethod: Record<string, number> } } {
  const counting = { calls: 0, byMethod: {} as Record<string, number> };
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || prop === 'close') return value;
      return (...args: unknown[]) => {
        counting.calls++;
        counting.byMethod[String(prop)] = (counting.byMethod[String(prop)] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, counting };
}

const withChecksum = (body: string) => body + oracleChecksum(body);
function typo(token: string, pos: number): string {
  const c = token[pos]!;
  return token.slice(0, pos) + (c === 'A' ? 'B' : 'A') + token.slice(pos + 1);
}

describe.each(['memory', 'ioredis'] as const)('authenticate() store calls, %s store', (kind) => {
  const prefix = uniquePrefix(`http-core-${kind}`);
  let admin: Redis | undefined;
  let counting: { calls: number; byMethod: Record<string, number> };
  let manager: TokenManager;
  let alice: string;

  beforeAll(async () => {
    const real: Store = kind === 'memory' ? new MemoryStore() : new IoredisStore({ url: REDIS_URL, keyPrefix: prefix });
    if (kind === 'ioredis') admin = testRedis();
    const c = counted(real);
    counting = c.counting;
    manager = new TokenManager({ store: c.store, secret: TEST_SECRET });
    alice = (await manager.create(1, { deviceName: 'laptop' })).token;
  });

  afterAll(async () => {
    await manager?.close();
    if (admin) {
      await deletePrefix(admin, prefix);
      await admin.quit();
    }
  });

  describe('store calls for generated headers (fast-check through authenticate())', () => {
    it('malformed headers and tokens cause zero store calls; a well-formed token exactly one (3,000 runs)', async () => {
      const live = [alice, (await manager.create(1)).token];
      const b62 = (n: number) => fc.string({ unit: fc.constantFrom(...BASE62), minLength: n, maxLength: n });
      // Well-formed tokens (right layout and checksum) that were never issued: each must cost one store call.
      const wellFormedUnknown = fc
        .tuple(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 8, maxLength: 8 }), b62(59))
        .map(([tag, rest]) => withChecksum(`rmt_${tag}${rest}`));
      const schemes = fc.constantFrom('Bearer', 'bearer', 'TOKEN', 'Token', 'Bearor', 'Tokens', 'Basic', '', ' Bearer');
      const seps = fc.constantFrom(' ', ' ', '  ', '', '\t', '\u00a0', ',', ', ');
      const candidates = fc.oneof(
        fc.constantFrom(...live),
        wellFormedUnknown,
        fc.tuple(fc.constantFrom(...live), fc.nat(76)).map(([t, p]) => typo(t, p)),
        fc.tuple(fc.constantFrom(...live), fc.nat(77)).map(([t, n]) => t.slice(0, n)),
        fc.constantFrom(...live).map((t) => t + t),
        fc.string({ unit: 'grapheme-ascii', maxLength: 90 }),
        fc.string({ unit: 'binary', maxLength: 90 }),
        fc.string({ unit: fc.constantFrom(...'rmt_0aZ*?[]{}:,'), minLength: 70, maxLength: 80 }),
      );
      const accepted = fc
        .tuple(
          fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Token', 'token', 'tOKEN'),
          fc.integer({ min: 1, max: 3 }),
          fc.oneof(fc.constantFrom(...live), wellFormedUnknown),
        )
        .map(([s, n, t]) => s + ' '.repeat(n) + t);
      const single = fc.oneof(
        { weight: 4, arbitrary: fc.tuple(schemes, seps, candidates).map(([s, sep, t]) => s + sep + t) },
        { weight: 1, arbitrary: accepted },
        { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
        { weight: 1, arbitrary: fc.constant('') },
      );
      const header = fc.oneof(
        { weight: 6, arbitrary: single },
        { weight: 1, arbitrary: fc.array(single, { minLength: 0, maxLength: 3 }) },
      );
      const tally = { zero: 0, one: 0 };
      await fc.assert(
        fc.asyncProperty(header, async (h) => {
          const before = counting.calls;
          const verifiesBefore = counting.byMethod.verify ?? 0;
          const outcome = await authenticate(manager, h);
          const calls = counting.calls - before;
          const parsed = parseAuthorization(h);
          const wellFormed = parsed.kind === 'token' && parseToken(parsed.token) !== null;
          if (!wellFormed) {
            tally.zero++;
            expect(calls).toBe(0);
            expect(outcome.kind).toBe('refused');
            if (outcome.kind === 'refused') {
              expect(outcome.response.status).toBe(401);
              expect(['missing_token', 'malformed_header', 'malformed_token']).toContain(outcome.reason);
              expect(outcome.response.headers['WWW-Authenticate']).toMatch(/^Bearer realm="/);
            }
          } else {
            tally.one++;
            expect(calls).toBe(1);
            expect((counting.byMethod.verify ?? 0) - verifiesBefore).toBe(1);
            const isLive = live.includes((parsed as { token: string }).token);
            expect(outcome.kind).toBe(isLive ? 'authenticated' : 'refused');
            if (outcome.kind === 'refused') expect(outcome.reason).toBe('invalid_token');
          }
        }),
        { numRuns: 3_000 },
      );
      expect(tally.zero).toBeGreaterThan(1_500);
      expect(tally.one).toBeGreaterThan(200);
    });
  });
});

describe('errors speak HTTP', () => {
  const cases: [string, Error, number, Record<string, string>, boolean][] = [
    [
      'StoreUnavailableError',
      new StoreUnavailableError(),
      503,
      { 'Retry-After': '1', 'Cache-Control': 'no-store' },
      false,
    ],
    [
      'StoreMisconfiguredError',
      new StoreMisconfiguredError('maxmemory-policy is allkeys-lru'),
      503,
      { 'Retry-After': '1', 'Cache-Control': 'no-store' },
      false,
    ],
    ['TokenLimitError', new TokenLimitError(3), 403, { 'Cache-Control': 'no-store' }, true],
    [
      'InvalidArgumentTypeError',
      new InvalidArgumentTypeError('userId must be a string'),
      400,
      { 'Cache-Control': 'no-store' },
      true,
    ],
    [
      'InvalidArgumentValueError',
      new InvalidArgumentValueError('userId must not be empty'),
      400,
      { 'Cache-Control': 'no-store' },
      true,
    ],
    ['RedisMultitokensError', new RedisMultitokensError('ERR_X', 'x'), 500, { 'Cache-Control': 'no-store' }, false],
  ];
  it.each(cases)(
    '%s has status, statusCode, headers and expose (http-errors convention)',
    (_name, error, status, headers, expose) => {
      const e = error as unknown as {
        status: number;
        statusCode: number;
        headers: Record<string, string>;
        expose: boolean;
      };
      expect(e.status).toBe(status);
      expect(e.statusCode).toBe(status);
      expect(e.headers).toEqual(headers);
      expect(e.expose).toBe(expose);
      expect(isRedisMultitokensError(error)).toBe(true);
    },
  );

  it('errorResponse: 503 / 403 token_limit / 400 with JSON bodies; null for other errors and values', () => {
    expect(
      errorResponse(
        new StoreUnavailableError('connection is down', { cause: new Error('ECONNREFUSED 10.0.0.5:6379') }),
      ),
    ).toEqual({
      status: 503,
      headers: { 'Retry-After': '1', 'Cache-Control': 'no-store' },
      body: {
        error: 'service_unavailable',
        reason: 'store_unavailable',
        message: 'authentication is temporarily unavailable; retry shortly',
      },
    });
    expect(errorResponse(new TokenLimitError(2))).toMatchObject({
      status: 403,
      body: { error: 'forbidden', reason: 'token_limit', limit: 2 },
    });
    expect(errorResponse(new InvalidArgumentTypeError('deviceName must be a string; got number'))).toEqual({
      status: 400,
      headers: { 'Cache-Control': 'no-store' },
      body: { error: 'bad_request', reason: 'invalid_argument', message: 'deviceName must be a string; got number' },
    });
    for (const other of [
      new Error('boom'),
      new TypeError('x'),
      { status: 503 },
      null,
      undefined,
      'text',
      new RedisMultitokensError('ERR_X', 'x'),
    ])
      expect(errorResponse(other)).toBeNull();
  });

  it('instanceof and errorResponse recognise an error of another copy of the package (the brand, not the class)', async () => {
    // A second copy of the module, as a CommonJS adapter next to the ESM core would load.
    // @ts-expect-error a Vite query: the same file loaded again as a second module (a second copy of the classes)
    const copy = (await import('../../src/core/errors.ts?copy')) as typeof import('../../src/core/errors.js');
    expect(copy.StoreUnavailableError).not.toBe(StoreUnavailableError);
    const foreign = new copy.StoreMisconfiguredError('policy');
    expect(foreign instanceof StoreUnavailableError).toBe(true);
    expect(foreign instanceof StoreMisconfiguredError).toBe(true);
    expect(foreign instanceof RedisMultitokensError).toBe(true);
    expect(foreign instanceof TokenLimitError).toBe(false);
    expect(new copy.InvalidArgumentValueError('x') instanceof InvalidArgumentValueError).toBe(true);
    expect(new copy.InvalidArgumentValueError('x') instanceof InvalidArgumentTypeError).toBe(false);
    expect(new StoreUnavailableError() instanceof copy.StoreUnavailableError).toBe(true);
    expect(errorResponse(new copy.TokenLimitError(4))?.status).toBe(403);
    // A subclass of the app's keeps working with instanceof, both ways.
    class AppStoreError extends StoreUnavailableError {}
    expect(new AppStoreError() instanceof StoreUnavailableError).toBe(true);
    expect(new StoreUnavailableError() instanceof AppStoreError).toBe(false);
    expect(errorResponse(new AppStoreError())?.status).toBe(503);
  });

  it('authenticate answers 503 for a StoreUnavailableError of another copy', async () => {
    // @ts-expect-error a Vite query: the same file loaded again as a second module (a second copy of the classes)
    const copy = (await import('../../src/core/errors.ts?copy')) as typeof import('../../src/core/errors.js');
    const failing = new Proxy(new MemoryStore(), {
      get(target, prop, receiver) {
        if (prop === 'verify') return async () => Promise.reject(new copy.StoreUnavailableError());
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const manager = new TokenManager({ store: failing, secret: TEST_SECRET });
    const { token } = await manager.create(1);
    const outcome = await authenticate(manager, `Bearer ${token}`);
    expect(outcome).toMatchObject({ kind: 'refused', reason: 'store_unavailable', response: { status: 503 } });
  });
});

describe('errorBody, scopeRequirement, deviceDetails', () => {
  const manager = new TokenManager({ store: new MemoryStore(), secret: TEST_SECRET });

  it('errorBody replaces the body of every refusal; status and headers stay; it cannot change the headers', async () => {
    const errorBody = (r: { status: number; headers: Record<string, string>; body: { reason: string } }) => {
      r.headers['WWW-Authenticate'] = 'changed';
      return { code: r.body.reason };
    };
    const outcome = await authenticate(manager, undefined, { errorBody, realm: 'x' });
    expect(outcome).toEqual({
      kind: 'refused',
      reason: 'missing_token',
      response: {
        status: 401,
        headers: { 'WWW-Authenticate': 'Bearer realm="x"', 'Cache-Control': 'no-store' },
        body: { code: 'missing_token' },
      },
    });
    expect(applyErrorBody(errorResponse(new TokenLimitError(1))!, errorBody)).toMatchObject({
      status: 403,
      body: { code: 'token_limit' },
    });
    expect(() => checkAuthOptions(manager, { errorBody: 'json' as never })).toThrow(/errorBody must be a function/);
  });

  it('scopeRequirement: checked when made; 401 for anonymous, 403 naming the missing scopes in the realm, null when held', async () => {
    expect(() => scopeRequirement(manager, [])).toThrow(/at least one scope/);
    expect(() => scopeRequirement(manager, ['a b'])).toThrow(/scopes/);
    expect(() => scopeRequirement(manager, ['admin'], { realm: 'a"b' })).toThrow(/realm/);
    expect(() => scopeRequirement(manager, ['admin'], { relm: 'x' } as never)).toThrow(/unknown option `relm`.*realm/);
    expect(() => scopeRequirement(null as never, ['admin'])).toThrow(/TokenManager/);
    const check = scopeRequirement(manager, ['admin', 'write'], { realm: 'admin area' });
    expect(check(undefined)).toMatchObject({
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="admin area"' },
    });
    const { record } = await manager.create(1, { scopes: ['write'] });
    const refused = check({ token: record });
    expect(refused?.status).toBe(403);
    expect(refused?.headers['WWW-Authenticate']).toMatch(
      /^Bearer realm="admin area", error="insufficient_scope", error_description="[^"]*", scope="admin write"$/,
    );
    expect(refused?.body).toMatchObject({ reason: 'insufficient_scope', scopes: ['admin'] });
    expect(check({ token: { ...record, scopes: ['admin', 'write', 'read'] } })).toBeNull();
  });

  it('deviceDetails: the first User-Agent, empty as null, IPv4-mapped IPv6 as IPv4 (RFC 4291 §2.5.5.2)', () => {
    expect(deviceDetails({ userAgent: 'curl/8', ip: '::ffff:203.0.113.7' })).toEqual({
      userAgent: 'curl/8',
      ip: '203.0.113.7',
    });
    expect(deviceDetails({ userAgent: ['a', 'b'], ip: '::FFFF:10.1.2.3' })).toEqual({ userAgent: 'a', ip: '10.1.2.3' });
    expect(deviceDetails({ userAgent: '', ip: '' })).toEqual({ userAgent: null, ip: null });
    expect(deviceDetails({})).toEqual({ userAgent: null, ip: null });
    expect(deviceDetails({ ip: '2001:db8::1' }).ip).toBe('2001:db8::1');
    expect(deviceDetails({ ip: '::ffff:2001:db8::1' }).ip).toBe('::ffff:2001:db8::1');
  });
});
