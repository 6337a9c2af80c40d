/**
 * The Express middleware through a real HTTP server (Express 5 on 127.0.0.1, requests sent with
 * `node:http` so every header byte is under control), against the memory store and the Redis store.
 *
 * Store calls are counted by a delegating Store (every call reaches the real store and real Redis):
 * malformed input must cost zero calls; a well-formed token exactly one.
 */
import { createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import type { Store, StoreCreateInput, StoreTokenRef, StoreVerifyInput } from '../../src/core/store.js';
import { generateToken, parseToken } from '../../src/core/token-format.js';
import { optionalTokenAuth, requireScopes, tokenAuth } from '../../src/frameworks/express.js';
import { authenticate } from '../../src/http/authenticate.js';
import { parseAuthorization } from '../../src/http/authorization.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { REDIS_URL, TEST_SECRET, deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { KeyRing } from '../../src/core/key-ring.js';
import { BASE62, oracleChecksum } from '../support/oracle.js';

/** User tags as a TokenManager with this test secret computes them. */
const tagOf = (userId: string) => new KeyRing('tag-secret-tag-secret-tag-secret-0123').userTag(userId);

// ---------------------------------------------------------------------------------------------
// Helpers

/** A Store that counts calls and hands each one to the real store (not a mock: every call does real work). */
class CountingStore implements Store {
  calls = 0;
  readonly byMethod: Record<string, number> = {};
  constructor(readonly inner: Store) {}
  private count(method: string): void {
    this.calls++;
    this.byMethod[method] = (this.byMethod[method] ?? 0) + 1;
  }
  create(input: StoreCreateInput) {
    this.count('create');
    return this.inner.create(input);
  }
  verify(input: StoreVerifyInput) {
    this.count('verify');
    return this.inner.verify(input);
  }
  revokeToken(input: StoreTokenRef) {
    this.count('revokeToken');
    return this.inner.revokeToken(input);
  }
  revokeById(userId: string, userTag: string, tokenId: string) {
    this.count('revokeById');
    return this.inner.revokeById(userId, userTag, tokenId);
  }
  revokeAll(userId: string, userTag: string, exceptTokenId?: string) {
    this.count('revokeAll');
    return this.inner.revokeAll(userId, userTag, exceptTokenId);
  }
  list(userId: string, userTag: string, keyIds: readonly string[]) {
    this.count('list');
    return this.inner.list(userId, userTag, keyIds);
  }
  async close() {
    await this.inner.close?.();
  }
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown> | undefined;
  ms: number;
}

/** One GET with exactly these headers (an array value sends the header once per element). */
function send(port: number, path: string, headers: OutgoingHttpHeaders = {}): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers, agent: false }, (res) => {
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

async function listen(app: express.Express): Promise<{ server: Server; port: number }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Text that looks like a stack trace, a source path or an internal error. */
const LEAK_RE = /\n\s+at |\bat [\w.<>]+ \(|\.ts:\d+|\.js:\d+|node_modules|\/src\/|\bstack\b|TypeError|RangeError|ReferenceError/;

/** Asserts the shape shared by every 401: challenge, JSON body, no stack, no token echoed. */
function expect401(r: Reply, expected: { reason: string; rfcError: 'invalid_request' | 'invalid_token' | null; sent?: string }): void {
  expect(r.status, r.text).toBe(401);
  const challenge = r.headers['www-authenticate'];
  expect(typeof challenge).toBe('string');
  expect(challenge).toMatch(/^Bearer realm="/);
  if (expected.rfcError) expect(challenge).toContain(`error="${expected.rfcError}"`);
  else expect(challenge).not.toMatch(/error=/);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.json).toBeDefined();
  expect(typeof r.json!.error).toBe('string');
  expect(r.json!.reason).toBe(expected.reason);
  expect(typeof r.json!.message).toBe('string');
  expect((r.json!.message as string).length).toBeGreaterThan(0);
  expect(r.text).not.toMatch(LEAK_RE);
  if (expected.sent && expected.sent.length >= 8) {
    expect(r.text).not.toContain(expected.sent);
    expect(challenge).not.toContain(expected.sent);
  }
}

/** A well-formed token (correct checksum, from node:zlib's CRC-32) with the same id as `token` but another secret. */
function sameIdOtherSecret(token: string): string {
  const secret = [...token.slice(28, 71)].map((c) => BASE62[(BASE62.indexOf(c) + 1) % 62]).join('');
  return withChecksum(token.slice(0, 28) + secret);
}

/** Appends the CRC-32 checksum (the test oracle's, not the library's) to a 71-character token body. */
function withChecksum(body: string): string {
  return body + oracleChecksum(body);
}

/** `token` with the character at `pos` replaced by another base62 character (a typo: the checksum catches it). */
function typo(token: string, pos: number): string {
  const c = token[pos]!;
  const other = c === 'A' ? 'B' : 'A';
  return token.slice(0, pos) + other + token.slice(pos + 1);
}

/** Raw UTF-8 bytes as Node writes a latin1 header string: each byte one character. */
const utf8Bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

// ---------------------------------------------------------------------------------------------
// The app

interface AppUser {
  id: string;
  name: string;
}
const USERS = new Map<string, AppUser>([
  ['1', { id: '1', name: 'Alice' }],
  ['3', { id: '3', name: 'Carol' }],
]);

function buildApp(manager: TokenManager, shortLived: TokenManager): express.Express {
  const app = express();
  const loadUser = (id: string) => USERS.get(id) ?? null;
  app.get('/me', tokenAuth(manager, { loadUser }), (req: Request, res: Response) => {
    res.json({ userId: req.auth!.userId, token: req.auth!.token, user: req.auth!.user });
  });
  app.get('/optional', optionalTokenAuth(manager, { loadUser }), (req: Request, res: Response) => {
    res.json({ anonymous: req.auth === undefined, userId: req.auth?.userId ?? null });
  });
  app.get('/admin', tokenAuth(manager), requireScopes(manager, 'admin', 'write'), (req: Request, res: Response) => {
    res.json({ ok: true, userId: req.auth!.userId });
  });
  app.get('/scoped-optional', optionalTokenAuth(manager), requireScopes(manager, 'read'), (_req: Request, res: Response) => {
    res.json({ ok: true });
  });
  app.get('/false-user', tokenAuth(manager, { loadUser: () => false }), (_req: Request, res: Response) => {
    res.json({ reached: true });
  });
  app.get('/null-user', tokenAuth(manager, { loadUser: () => null }), (_req: Request, res: Response) => {
    res.json({ reached: true });
  });
  app.get(
    '/throwing-user',
    tokenAuth(manager, {
      loadUser: async () => {
        throw new Error('user database exploded at db.internal:5432');
      },
    }),
    (_req: Request, res: Response) => {
      res.json({ reached: true });
    },
  );
  app.get('/short', tokenAuth(shortLived), (req: Request, res: Response) => {
    res.json({ userId: req.auth!.userId });
  });
  // The app's own error handler: errors thrown by loadUser must land here.
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ handledBy: 'app', message: 'internal error' });
    appErrors.push(err);
  });
  return app;
}
const appErrors: Error[] = [];

// ---------------------------------------------------------------------------------------------

describe.each(['memory', 'ioredis'] as const)('Express middleware over HTTP, %s store', (kind) => {
  const prefix = uniquePrefix(`http-${kind}`);
  let admin: Redis | undefined;
  let counting: CountingStore;
  let manager: TokenManager;
  let shortLived: TokenManager;
  let server: Server;
  let port: number;
  let alice: string; // token of user 1 (exists), no scopes
  let ghost: string; // token of user 2 (no such app user)

  beforeAll(async () => {
    const real: Store = kind === 'memory' ? new MemoryStore() : new IoredisStore({ url: REDIS_URL, keyPrefix: prefix });
    if (kind === 'ioredis') admin = testRedis();
    counting = new CountingStore(real);
    manager = new TokenManager({ store: counting, secret: TEST_SECRET });
    shortLived = new TokenManager({ store: counting, secret: TEST_SECRET, ttlSeconds: 1, renew: 'off' });
    ({ server, port } = await listen(buildApp(manager, shortLived)));
    alice = (await manager.create(1, { deviceName: 'laptop' })).token;
    ghost = (await manager.create(2)).token;
  });

  afterAll(async () => {
    await closeServer(server);
    await manager?.close();
    if (admin) {
      await deletePrefix(admin, prefix);
      await admin.quit();
    }
  });

  /** Sends and returns the reply with the number of store calls it caused. */
  async function sendCounted(path: string, headers: OutgoingHttpHeaders = {}): Promise<Reply & { storeCalls: number }> {
    const before = counting.calls;
    const r = await send(port, path, headers);
    return { ...r, storeCalls: counting.calls - before };
  }

  describe('valid tokens', () => {
    it.each(['Bearer', 'Token', 'bearer', 'token', 'BEARER', 'TOKEN', 'bEaReR', 'ToKeN'])('%s scheme -> 200 with req.auth set, one store call', async (scheme) => {
      const r = await sendCounted('/me', { Authorization: `${scheme} ${alice}` });
      expect(r.status, r.text).toBe(200);
      expect(r.storeCalls).toBe(1);
      expect(counting.byMethod.verify).toBeGreaterThan(0);
      expect(r.json!.userId).toBe('1');
      expect(r.json!.user).toEqual({ id: '1', name: 'Alice' });
      const record = r.json!.token as Record<string, unknown>;
      expect(record.tokenId).toBe(parseToken(alice)!.tokenId);
      expect(record.userId).toBe('1');
      expect(record.deviceName).toBe('laptop');
      expect(r.text).not.toContain(alice);
    });

    it('several spaces between scheme and token -> 200', async () => {
      const r = await send(port, '/me', { Authorization: `Bearer     ${alice}` });
      expect(r.status).toBe(200);
    });

    it('no loadUser: req.auth.user is { id }', async () => {
      const r = await send(port, '/admin', { Authorization: `Bearer ${(await manager.create(1, { scopes: ['admin', 'write'] })).token}` });
      expect(r.status, r.text).toBe(200);
      expect(r.json).toEqual({ ok: true, userId: '1' });
    });
  });

  describe('bad input -> 401 with a challenge and a JSON body, never 500, and no store call', () => {
    // [name, headers, reason, RFC 6750 error code, store calls]
    const cases: () => [string, OutgoingHttpHeaders, string, 'invalid_request' | 'invalid_token' | null][] = () => [
      ['no Authorization header', {}, 'missing_token', null],
      ['empty header', { Authorization: '' }, 'malformed_header', 'invalid_request'],
      ['whitespace-only header (Node trims it to empty)', { Authorization: '   ' }, 'malformed_header', 'invalid_request'],
      ['empty header twice', { Authorization: ['', ''] }, 'malformed_header', 'invalid_request'],
      ['scheme only', { Authorization: 'Bearer' }, 'malformed_header', 'invalid_request'],
      ['scheme and trailing spaces (Node trims them)', { Authorization: 'Token   ' }, 'malformed_header', 'invalid_request'],
      ['token only, no scheme', { Authorization: alice }, 'malformed_header', 'invalid_request'],
      ['no separator', { Authorization: `Bearer${alice}` }, 'malformed_header', 'invalid_request'],
      ['Basic credentials', { Authorization: 'Basic dXNlcjpwYXNz' }, 'malformed_header', 'invalid_request'],
      ['near-miss scheme Bearor', { Authorization: `Bearor ${alice}` }, 'malformed_header', 'invalid_request'],
      ['near-miss scheme Tokens', { Authorization: `Tokens ${alice}` }, 'malformed_header', 'invalid_request'],
      ['tab separator', { Authorization: `Bearer\t${alice}` }, 'malformed_header', 'invalid_request'],
      ['space and tab', { Authorization: `Bearer \t${alice}` }, 'malformed_header', 'invalid_request'],
      ['non-breaking space (raw byte 0xA0)', { Authorization: `Bearer\u00a0${alice}` }, 'malformed_header', 'invalid_request'],
      ['non-breaking space (raw UTF-8 bytes C2 A0)', { Authorization: `Bearer${utf8Bytes('\u00a0')}${alice}` }, 'malformed_header', 'invalid_request'],
      ['raw UTF-8 é inside the token', { Authorization: `Bearer ${alice.slice(0, 30)}${utf8Bytes('é')}${alice.slice(31)}` }, 'malformed_header', 'invalid_request'],
      ['raw UTF-8 emoji after the token', { Authorization: `Bearer ${alice}${utf8Bytes('\u{1F600}')}` }, 'malformed_header', 'invalid_request'],
      ['two Authorization headers, both valid tokens', { Authorization: [`Bearer ${alice}`, `Bearer ${alice}`] }, 'malformed_header', 'invalid_request'],
      ['two Authorization headers, Bearer and Token', { Authorization: [`Bearer ${alice}`, `Token ${ghost}`] }, 'malformed_header', 'invalid_request'],
      ['comma-joined credentials', { Authorization: `Bearer ${alice}, Bearer ${alice}` }, 'malformed_header', 'invalid_request'],
      ['comma-joined tokens', { Authorization: `Bearer ${alice},${alice}` }, 'malformed_header', 'invalid_request'],
      ['token then extra part', { Authorization: `Bearer ${alice} ${alice}` }, 'malformed_header', 'invalid_request'],
      ['10 KB header', { Authorization: `Bearer ${'a'.repeat(10 * 1024)}` }, 'malformed_header', 'invalid_request'],
      ['8 KB header of repeated tokens', { Authorization: `Bearer ${alice.repeat(107)}` }, 'malformed_header', 'invalid_request'],
      ['short token', { Authorization: 'Bearer x' }, 'malformed_token', 'invalid_token'],
      ['truncated token', { Authorization: `Bearer ${alice.slice(0, 76)}` }, 'malformed_token', 'invalid_token'],
      ['doubled token', { Authorization: `Bearer ${alice}${alice}` }, 'malformed_token', 'invalid_token'],
      ['typo in the secret', { Authorization: `Bearer ${typo(alice, 50)}` }, 'malformed_token', 'invalid_token'],
      ['typo in the token id', { Authorization: `Token ${typo(alice, 20)}` }, 'malformed_token', 'invalid_token'],
      ['typo in the checksum', { Authorization: `Token ${typo(alice, 74)}` }, 'malformed_token', 'invalid_token'],
      ['upper-case prefix', { Authorization: `Bearer RMT_${alice.slice(4)}` }, 'malformed_token', 'invalid_token'],
      ['glob characters in the token', { Authorization: `Bearer rmt_*${alice.slice(5)}` }, 'malformed_token', 'invalid_token'],
      ['hash-tag characters in the token', { Authorization: `Bearer ${alice.slice(0, 4)}{${alice.slice(5, 12)}}${alice.slice(13)}` }, 'malformed_token', 'invalid_token'],
      ['colons and brackets', { Authorization: 'Bearer rmt:t:[a-z]?{x}' }, 'malformed_token', 'invalid_token'],
    ];

    it('every bad case on a required route', async () => {
      for (const [name, headers, reason, rfcError] of cases()) {
        const r = await sendCounted('/me', headers);
        expect401(r, { reason, rfcError, sent: alice });
        expect(r.storeCalls, `${name}: store calls`).toBe(0);
      }
    });

    it('every bad header on an optional route is still 401, never downgraded to anonymous', async () => {
      for (const [name, headers, reason, rfcError] of cases()) {
        if (name === 'no Authorization header') continue;
        const r = await sendCounted('/optional', headers);
        expect401(r, { reason, rfcError, sent: alice });
        expect(r.storeCalls, `${name}: store calls`).toBe(0);
      }
    });

    it('a well-formed token that was never issued -> 401 invalid_token after exactly one store call', async () => {
      const unknown = generateToken(tagOf('1')).token;
      const r = await sendCounted('/me', { Authorization: `Bearer ${unknown}` });
      expect401(r, { reason: 'invalid_token', rfcError: 'invalid_token', sent: unknown });
      expect(r.storeCalls).toBe(1);
    });

    it('the right token id with another secret (checksum recomputed) -> 401 invalid_token', async () => {
      const forged = sameIdOtherSecret(alice);
      expect(parseToken(forged)?.tokenId).toBe(parseToken(alice)!.tokenId);
      const r = await sendCounted('/me', { Authorization: `Bearer ${forged}` });
      expect401(r, { reason: 'invalid_token', rfcError: 'invalid_token', sent: forged });
      expect(r.storeCalls).toBe(1);
      // The real token still works: a failed guess does not harm it.
      expect((await send(port, '/me', { Authorization: `Bearer ${alice}` })).status).toBe(200);
    });

    it('a token issued under another server secret -> 401 invalid_token', async () => {
      const other = new TokenManager({ store: counting, secret: 'another-secret-another-secret-0123456789' });
      const { token } = await other.create(1);
      const r = await send(port, '/me', { Authorization: `Bearer ${token}` });
      expect401(r, { reason: 'invalid_token', rfcError: 'invalid_token', sent: token });
    });

    it('the server still serves a valid request after all of this', async () => {
      expect((await send(port, '/me', { Authorization: `Token ${alice}` })).status).toBe(200);
    });
  });

  describe('users, errors, optional routes and scopes', () => {
    it('loadUser returning null -> 401 user_not_found', async () => {
      const r1 = await send(port, '/me', { Authorization: `Bearer ${ghost}` });
      expect401(r1, { reason: 'user_not_found', rfcError: 'invalid_token', sent: ghost });
      const r2 = await send(port, '/null-user', { Authorization: `Bearer ${alice}` });
      expect401(r2, { reason: 'user_not_found', rfcError: 'invalid_token', sent: alice });
      expect(r2.text).not.toContain('reached');
      // `return user.active && user` gives false for an inactive user: a 401 too.
      const r3 = await send(port, '/false-user', { Authorization: `Bearer ${alice}` });
      expect401(r3, { reason: 'user_not_found', rfcError: 'invalid_token', sent: alice });
      expect(r3.text).not.toContain('reached');
    });

    it("loadUser throwing -> the app's error handler, and the server lives on", async () => {
      const before = appErrors.length;
      const r = await send(port, '/throwing-user', { Authorization: `Bearer ${alice}` });
      expect(r.status).toBe(500);
      expect(r.json).toEqual({ handledBy: 'app', message: 'internal error' });
      expect(appErrors.length).toBe(before + 1);
      expect(appErrors.at(-1)!.message).toContain('user database exploded');
      expect((await send(port, '/me', { Authorization: `Bearer ${alice}` })).status).toBe(200);
    });

    it('optional route: no header -> 200 anonymous, no store call', async () => {
      const r = await sendCounted('/optional');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ anonymous: true, userId: null });
      expect(r.storeCalls).toBe(0);
    });

    it('optional route: valid token -> 200 authenticated', async () => {
      const r = await send(port, '/optional', { Authorization: `bearer ${alice}` });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ anonymous: false, userId: '1' });
    });

    it('optional route: unknown or unknown-user token -> 401, not anonymous', async () => {
      expect401(await send(port, '/optional', { Authorization: `Bearer ${generateToken(tagOf('9')).token}` }), { reason: 'invalid_token', rfcError: 'invalid_token' });
      expect401(await send(port, '/optional', { Authorization: `Bearer ${ghost}` }), { reason: 'user_not_found', rfcError: 'invalid_token' });
    });

    it('requireScopes: a token without the scopes -> 403 insufficient_scope naming the missing ones', async () => {
      const { token } = await manager.create(1, { scopes: ['read'] });
      const r = await send(port, '/admin', { Authorization: `Bearer ${token}` });
      expect(r.status, r.text).toBe(403);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer realm="/);
      expect(r.headers['www-authenticate']).toContain('error="insufficient_scope"');
      expect(r.json!.error).toBe('insufficient_scope');
      expect(r.json!.reason).toBe('insufficient_scope');
      expect(r.json!.scopes).toEqual(['admin', 'write']);
      expect(r.json!.message).toMatch(/admin/);
      expect(r.json!.message).toMatch(/write/);
      expect(r.text).not.toMatch(LEAK_RE);
      expect(r.text).not.toContain(token);
    });

    it('requireScopes: one scope missing -> 403 naming only that one', async () => {
      const { token } = await manager.create(1, { scopes: ['admin', 'read'] });
      const r = await send(port, '/admin', { Authorization: `Token ${token}` });
      expect(r.status).toBe(403);
      expect(r.json!.scopes).toEqual(['write']);
      expect(r.json!.message).toMatch(/\bwrite\b/);
      expect(r.json!.message).not.toMatch(/\badmin\b/);
    });

    it('requireScopes after an optional auth: anonymous -> 401, bad header -> 401, scoped token -> 200', async () => {
      const anon = await send(port, '/scoped-optional');
      expect401(anon, { reason: 'missing_token', rfcError: null });
      expect401(await send(port, '/scoped-optional', { Authorization: 'Bearer nope' }), { reason: 'malformed_token', rfcError: 'invalid_token' });
      const { token } = await manager.create(1, { scopes: ['read'] });
      expect((await send(port, '/scoped-optional', { Authorization: `Bearer ${token}` })).status).toBe(200);
    });
  });

  describe('expiry and revocation', () => {
    it('an expired token (ttlSeconds 1, renew off) -> 401 invalid_token', async () => {
      const { token } = await shortLived.create(1);
      expect((await send(port, '/short', { Authorization: `Bearer ${token}` })).status).toBe(200);
      await sleep(1100);
      expect401(await send(port, '/short', { Authorization: `Bearer ${token}` }), { reason: 'invalid_token', rfcError: 'invalid_token', sent: token });
    });

    it('a revoked token -> 401 as soon as revoke resolves; the other devices stay logged in', async () => {
      const phone = (await manager.create(1, { deviceName: 'phone' })).token;
      const tablet = (await manager.create(1, { deviceName: 'tablet' })).token;
      expect((await send(port, '/me', { Authorization: `Bearer ${phone}` })).status).toBe(200);
      expect(await manager.revoke(phone)).toBe(true);
      expect401(await send(port, '/me', { Authorization: `Bearer ${phone}` }), { reason: 'invalid_token', rfcError: 'invalid_token', sent: phone });
      expect((await send(port, '/me', { Authorization: `Bearer ${tablet}` })).status).toBe(200);
    });

    it('revoke all -> every token of the user is 401 at once, other users unaffected', async () => {
      const a = (await manager.create(3)).token;
      const b = (await manager.create(3)).token;
      expect((await send(port, '/me', { Authorization: `Bearer ${a}` })).status).toBe(200);
      expect((await manager.revokeAll(3)).length).toBe(2);
      expect401(await send(port, '/me', { Authorization: `Bearer ${a}` }), { reason: 'invalid_token', rfcError: 'invalid_token' });
      expect401(await send(port, '/me', { Authorization: `Token ${b}` }), { reason: 'invalid_token', rfcError: 'invalid_token' });
      expect((await send(port, '/me', { Authorization: `Bearer ${alice}` })).status).toBe(200);
    });
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
        .tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Token', 'token', 'tOKEN'), fc.integer({ min: 1, max: 3 }), fc.oneof(fc.constantFrom(...live), wellFormedUnknown))
        .map(([s, n, t]) => s + ' '.repeat(n) + t);
      const single = fc.oneof(
        { weight: 4, arbitrary: fc.tuple(schemes, seps, candidates).map(([s, sep, t]) => s + sep + t) },
        { weight: 1, arbitrary: accepted },
        { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
        { weight: 1, arbitrary: fc.constant('') },
      );
      const header = fc.oneof({ weight: 6, arbitrary: single }, { weight: 1, arbitrary: fc.array(single, { minLength: 0, maxLength: 3 }) });
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

// ---------------------------------------------------------------------------------------------

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
    ({ server, port } = await listen(buildApp(manager, manager)));
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
    for (const leak of ['127.0.0.1', 'localhost', String(serverPort), 'redis://', 'ECONNREFUSED', 'ECONNRESET', prefix]) expect(r.text).not.toContain(leak);
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
    expect401(await send(port, '/me', { Authorization: 'Bearer nope' }), { reason: 'malformed_token', rfcError: 'invalid_token' });
    expect401(await send(port, '/me'), { reason: 'missing_token', rfcError: null });
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
    expect401(await send(port, '/me', { Authorization: `Bearer ${old}` }), { reason: 'invalid_token', rfcError: 'invalid_token' });
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
  const manager = new TokenManager({ store: new MemoryStore(), secret: 'options-secret-options-secret-0123456789' });
  it('bad options throw at once, naming the option', () => {
    expect(() => tokenAuth(manager, { scopes: 'read' as never })).toThrow(/scopes must be an array/);
    expect(() => tokenAuth(manager, { scopes: ['has space'] })).toThrow(/scopes/);
    expect(() => tokenAuth(manager, { realm: 'a"b' })).toThrow(/realm/);
    expect(() => tokenAuth(manager, { realm: 'a\r\nb' })).toThrow(/realm/);
    expect(() => tokenAuth(null as never)).toThrow(/TokenManager/);
    expect(() => tokenAuth(manager, { loadUser: 'x' as never })).toThrow(/loadUser/);
    expect(() => requireScopes(manager, 'has space')).toThrow(/scopes/);
    expect(() => tokenAuth(manager, { scope: ['admin'] } as never)).toThrow(/unknown option `scope`.*scopes/);
    expect(() => tokenAuth(manager, { loaduser: () => null } as never)).toThrow(/unknown option `loaduser`/);
    expect(() => requireScopes(manager)).toThrow(/at least one scope/);
  });

  it('requireScopes takes arrays as well as arguments', async () => {
    const { token } = await manager.create('s', { scopes: ['read', 'write'] });
    const app = express();
    app.get('/r', tokenAuth(manager), requireScopes(manager, ['read']), (_req: Request, res: Response) => res.json({ ok: true }));
    app.get('/rw', tokenAuth(manager), requireScopes(manager, ['read'], 'write', ['admin']), (_req: Request, res: Response) => res.json({ ok: true }));
    const { server, port } = await listen(app);
    try {
      expect((await send(port, '/r', { Authorization: `Bearer ${token}` })).status).toBe(200);
      const r = await send(port, '/rw', { Authorization: `Bearer ${token}` });
      expect(r.status).toBe(403);
      expect(r.json?.scopes).toEqual(['admin']);
    } finally {
      await closeServer(server);
    }
  });
});
