/**
 * Upgrade from 0.1: tokens written by the 0.1 Lua scripts (kept as a fixture in test/support/layout-0.1/,
 * run unchanged) keep working after the upgrade, through both clients. The 0.2 store reads the old keys
 * (`P{T}:t:`, `P{T}:u:`, `P{T}:f:`): list shows them, revoke/revokeById/revokeAll delete them, and the
 * first verify or login of their user moves that user's tokens into the new hash (with their times,
 * device details and wrong-secret count) and deletes the old keys.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import { KeyRing } from '../../src/core/key-ring.js';
import { generateToken } from '../../src/core/token-format.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { forgeSecret } from '../../src/testing/store-suite.js';
import { RedisKeys as Keys01 } from '../support/layout-0.1/keys.js';
import { CREATE as CREATE_01, verifyScript as verifyScript01 } from '../support/layout-0.1/scripts.js';
import { clientKinds, type TestClient } from '../support/redis-clients.js';
import { startRedisServer } from '../support/redis-server.js';
import { ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { REDIS_URL, TEST_SECRET, deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const admin = testRedis();
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(admin, p);
  await admin.quit();
});

const ring = new KeyRing(TEST_SECRET);

/** Writes one token with the 0.1 create script, as a 0.1 server did; returns the token. */
async function create01(
  redis: Redis,
  keys: Keys01,
  userId: string,
  o: { ttlMs?: number | null; deviceName?: string; userAgent?: string; scopes?: string[]; metadata?: object } = {},
) {
  const tag = ring.userTag(userId);
  const t = generateToken(tag);
  const d = ring.sign(t.token);
  const stored: Record<string, string> = { u: userId, k: d.keyId, d: d.digest };
  if (o.deviceName) stored.n = o.deviceName;
  if (o.userAgent) stored.ua = o.userAgent;
  if (o.scopes) stored.s = JSON.stringify(o.scopes);
  if (o.metadata) stored.m = JSON.stringify(o.metadata);
  const ttl = o.ttlMs === undefined ? '3600000' : o.ttlMs === null ? '' : String(o.ttlMs);
  const reply = (await redis.eval(
    CREATE_01.source,
    2,
    keys.userKey(userId, tag),
    keys.tokenKey(t.tokenId, tag),
    t.tokenId,
    keys.tokenKeyPrefix(tag),
    '',
    'evict-lru',
    ttl,
    '0',
    '',
    JSON.stringify(stored),
    ring.keyIds.join(','),
  )) as unknown[];
  expect(Number(reply[0])).toBe(1);
  return t;
}

/** A wrong secret for a 0.1 token, counted by the 0.1 verify script (its counter key). */
async function wrongSecret01(redis: Redis, keys: Keys01, token: { token: string; tokenId: string; userTag: string }) {
  const script = verifyScript01({
    mode: 'token',
    ttlMs: 3_600_000,
    overwriteNoneTtl: true,
    touchIntervalMs: 60_000,
    maxFailures: 3,
    failureWindowMs: 300_000,
  });
  const forged = ring.sign(forgeSecret(token.token));
  const reply = (await redis.eval(
    script.source,
    2,
    keys.tokenKey(token.tokenId, token.userTag),
    keys.failureKey(token.tokenId, token.userTag),
    token.tokenId,
    forged.keyId,
    forged.digest,
  )) as unknown[];
  expect(Number(reply[0])).toBe(1); // mismatch, counted
}

for (const kind of clientKinds().filter((k) => k.newest)) {
  describe(`upgrade from 0.1 (${kind.name})`, () => {
    let client: TestClient;
    const raw = new Redis(REDIS_URL);
    beforeAll(async () => {
      client = await kind.standalone(REDIS_URL);
    });
    afterAll(async () => {
      await client.close();
      raw.disconnect();
    });

    function setup(options: Partial<ConstructorParameters<typeof TokenManager>[0]> = {}) {
      const keyPrefix = uniquePrefix('up');
      prefixes.push(keyPrefix);
      const store = new RedisStore({ driver: client.driver(), keyPrefix });
      return {
        keyPrefix,
        store,
        keys01: new Keys01(keyPrefix),
        m: new TokenManager({ store, secret: TEST_SECRET, ...options }),
      };
    }

    async function keysOf(prefix: string): Promise<string[]> {
      return (await raw.keys(`${prefix}*`)).sort();
    }

    it('a 0.1 token verifies, with its record; its user moves to the new hash and the old keys go', async () => {
      const { m, store, keys01, keyPrefix } = setup();
      const a = await create01(raw, keys01, 'alice', {
        deviceName: 'phone',
        userAgent: 'UA/1 ✓',
        scopes: ['read'],
        metadata: { plan: 'pro' },
      });
      const b = await create01(raw, keys01, 'alice', { ttlMs: null });
      const tag = a.userTag;
      expect(await keysOf(keyPrefix)).toEqual(
        [keys01.tokenKey(a.tokenId, tag), keys01.tokenKey(b.tokenId, tag), keys01.userKey('alice', tag)].sort(),
      );
      const listed = await m.list('alice'); // read only: nothing moves
      expect(listed.map((r) => r.tokenId).sort()).toEqual([a.tokenId, b.tokenId].sort());
      expect((await keysOf(keyPrefix)).length).toBe(3);
      const v = await m.verify(a.token);
      expect(v.valid).toBe(true);
      if (!v.valid) return;
      expect(v.userId).toBe('alice');
      expect(v.record).toMatchObject({
        tokenId: a.tokenId,
        deviceName: 'phone',
        userAgent: 'UA/1 ✓',
        scopes: ['read'],
        metadata: { plan: 'pro' },
      });
      expect(await keysOf(keyPrefix)).toEqual([store.keys.hashKey(tag)]); // both tokens moved, the 0.1 keys deleted
      const vb = await m.verify(b.token);
      expect(vb.valid && vb.record.expiresAtMs).not.toBe(false);
      expect((await m.list('alice')).find((r) => r.tokenId === b.tokenId)?.createdAtMs).toBe(
        listed.find((r) => r.tokenId === b.tokenId)?.createdAtMs,
      );
      expect((await m.create('alice')).first).toBe(false);
    });

    it('revoke, revokeById and revokeAll reach 0.1 tokens, before any of them moved', async () => {
      const { m, keys01, keyPrefix } = setup();
      const a = await create01(raw, keys01, 'bob');
      const b = await create01(raw, keys01, 'bob');
      const c = await create01(raw, keys01, 'bob');
      const d = await create01(raw, keys01, 'bob');
      expect(await m.revoke(a.token)).toBe(true);
      expect(await m.revokeById('bob', b.tokenId)).toBe(true);
      expect(await m.revokeById('mallory', c.tokenId)).toBe(false); // not hers
      expect((await m.revokeOthers('bob', d.tokenId)).sort()).toEqual([c.tokenId]);
      expect((await m.list('bob')).map((r) => r.tokenId)).toEqual([d.tokenId]);
      expect(await m.revokeAll('bob')).toEqual([d.tokenId]);
      for (const t of [a, b, c, d]) expect((await m.verify(t.token)).valid).toBe(false);
      expect(await keysOf(keyPrefix)).toEqual([]);
    });

    it("0.1 tokens moved beside a colliding user's records mark the hash: that user's revokeAll leaves them", async () => {
      // Two user ids whose tags collide under TEST_SECRET (see redis-store.test.ts).
      const [A, B] = ['u22952', 'u114440'];
      const { m, store, keys01 } = setup({ maxTokensPerUser: null });
      expect(ring.userTag(A)).toBe(ring.userTag(B));
      const a = [];
      for (let i = 0; i < 35; i++) a.push(await m.create(A)); // A has an index
      const b = [await create01(raw, keys01, B), await create01(raw, keys01, B)];
      const h = store.keys.hashKey(ring.userTag(A));
      expect(await raw.hexists(h, 'shared')).toBe(0);
      expect((await m.verify(b[0]!.token)).valid).toBe(true); // B's tokens move into the hash, unread by B
      expect(await raw.hexists(h, 'shared')).toBe(1);
      expect(await raw.hexists(h, store.keys.field(b[1]!.tokenId))).toBe(1);
      expect((await m.revokeAll(A)).length).toBe(35);
      for (const t of b) expect((await m.verify(t.token)).valid).toBe(true);
      expect((await m.revokeAll(B)).sort()).toEqual(b.map((t) => t.tokenId).sort());
      expect(await raw.exists(h)).toBe(0);
    });

    it("a login moves the user's 0.1 tokens: they count towards the limit and `first`", async () => {
      const { m, store, keys01, keyPrefix } = setup({ maxTokensPerUser: 2, touchIntervalSeconds: 0 });
      const a = await create01(raw, keys01, 'carol');
      await new Promise((r) => setTimeout(r, 5));
      const b = await create01(raw, keys01, 'carol');
      const c = await m.create('carol');
      expect(c.first).toBe(false);
      expect(c.evictedTokenIds).toEqual([a.tokenId]); // the least recently used, a 0.1 token
      expect(await keysOf(keyPrefix)).toEqual([store.keys.hashKey(a.userTag)]);
      expect((await m.verify(b.token)).valid).toBe(true);
      expect((await m.verify(a.token)).valid).toBe(false);
    });

    it('the wrong-secret count of a 0.1 token comes along: past the limit even the right secret waits', async () => {
      const { m, keys01 } = setup({ maxFailedVerifications: 3 });
      const reasons: string[] = [];
      m.on('authFailed', (e) => reasons.push(e.reason));
      const t = await create01(raw, keys01, 'dave');
      for (let i = 0; i < 3; i++) await wrongSecret01(raw, keys01, t);
      expect((await m.verify(t.token)).valid).toBe(false);
      expect(reasons).toEqual(['throttled']);
      const fresh = await create01(raw, keys01, 'erin');
      await wrongSecret01(raw, keys01, fresh);
      expect((await m.verify(fresh.token)).valid).toBe(true); // one failure is under the limit
      expect((await m.verify(forgeSecret(fresh.token))).valid).toBe(false);
      expect((await m.verify(forgeSecret(fresh.token))).valid).toBe(false); // the third, counted in the record
      expect((await m.verify(fresh.token)).valid).toBe(false);
      expect(reasons).toEqual(['throttled', 'invalid', 'invalid', 'throttled']);
    });

    it('expired 0.1 tokens stay dead and are deleted when their user moves', async () => {
      const { m, store, keys01, keyPrefix } = setup();
      const gone = await create01(raw, keys01, 'frank', { ttlMs: 50 });
      const kept = await create01(raw, keys01, 'frank');
      await raw.persist(keys01.tokenKey(gone.tokenId, gone.userTag)); // as if its key outlived it (its record says expired)
      await new Promise((r) => setTimeout(r, 80));
      expect((await m.verify(gone.token)).valid).toBe(false);
      expect((await m.list('frank')).map((r) => r.tokenId)).toEqual([kept.tokenId]);
      expect((await m.verify(kept.token)).valid).toBe(true);
      expect(await keysOf(keyPrefix)).toEqual([store.keys.hashKey(kept.userTag)]);
    });
  });
}

describe('upgrade from 0.1 on a Redis out of memory (noeviction)', () => {
  it('a 0.1 token still verifies, read only; revoke and revokeAll still work; its user moves once memory is back', async () => {
    const server = await startRedisServer({ args: ['--maxmemory-policy', 'noeviction', '--maxmemory', '3mb'] });
    const raw = new Redis(server.url);
    try {
      const keys01 = new Keys01('oom:');
      const a = await create01(raw, keys01, 'olga');
      const b = await create01(raw, keys01, 'olga');
      const c = await create01(raw, keys01, 'oscar');
      let full = false;
      for (let i = 0; i < 1000 && !full; i++)
        await raw.set(`fill:${i}`, 'x'.repeat(100_000)).catch(() => (full = true));
      expect(full).toBe(true);
      const store = new RedisStore({ driver: ioredisDriver(raw), keyPrefix: 'oom:' });
      const m = new TokenManager({ store, secret: TEST_SECRET, touchIntervalSeconds: 0 });
      const v = await m.verify(a.token);
      expect(v.valid && !v.renewed && v.record.userId === 'olga').toBe(true);
      expect((await m.verify(forgeSecret(a.token))).valid).toBe(false);
      expect(await raw.exists(keys01.tokenKey(a.tokenId, a.userTag))).toBe(1); // not moved: no memory for it
      expect(await m.revoke(b.token)).toBe(true);
      expect((await m.verify(b.token)).valid).toBe(false);
      expect(await m.revokeAll('oscar')).toEqual([c.tokenId]);
      expect((await m.verify(c.token)).valid).toBe(false);
      for (let i = 0; i < 1000; i++) await raw.del(`fill:${i}`);
      expect((await m.verify(a.token)).valid).toBe(true);
      expect(await raw.exists(keys01.tokenKey(a.tokenId, a.userTag))).toBe(0); // moved now
      expect((await m.list('olga')).map((r) => r.tokenId)).toEqual([a.tokenId]);
      await store.close();
    } finally {
      raw.disconnect();
      await server.stop();
    }
  }, 30_000);
});
