/**
 * Redis-specific promises of the Redis store, checked on a real Redis: key layout and hash slots,
 * nothing raw at rest, the user index pruned on every write, index TTLs, memory per token, and the
 * ioredis driver's options.
 */
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { REDIS_URL, TEST_SECRET, deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const redis = testRedis();
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(redis, p);
  await redis.quit();
});

function setup(options: Partial<ConstructorParameters<typeof TokenManager>[0]> = {}) {
  const keyPrefix = uniquePrefix('rs');
  prefixes.push(keyPrefix);
  const store = new IoredisStore({ client: redis, keyPrefix });
  return { store, keyPrefix, m: new TokenManager({ store, secret: TEST_SECRET, ...options }) };
}

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

describe('Redis store: layout and secrets', () => {
  it('keeps every key of one user in one hash slot, named by the user tag', async () => {
    const { m, keyPrefix } = setup();
    for (const uid of ['a:b', '{x}', '用户', '42']) {
      await m.create(uid);
      await m.create(uid);
      const tag = m.userTag(uid);
      const keys = (await keysUnder(keyPrefix)).filter((k) => k.includes(`{${tag}}`));
      expect(keys.length).toBe(3); // two records and the index
      expect(new Set(keys.map((k) => calculateSlot(k))).size).toBe(1);
      expect(calculateSlot(keys[0]!)).toBe(calculateSlot(`{${tag}}`));
    }
  });

  it('holds no token string nor any part of its secret, only HMAC digests', async () => {
    const { m, keyPrefix } = setup();
    const tokens = [];
    for (let i = 0; i < 5; i++) tokens.push((await m.create(`user-${i % 2}`, { deviceName: 'd', metadata: { k: 'v' } })).token);
    let dump = '';
    for (const key of await keysUnder(keyPrefix)) {
      const type = await redis.type(key);
      dump += `${key}\n`;
      if (type === 'string') dump += await redis.get(key);
      else if (type === 'zset') dump += JSON.stringify(await redis.zrange(key, '0', '-1', 'WITHSCORES'));
      else dump += `unexpected type ${type}`;
    }
    expect(dump).not.toContain('unexpected type');
    for (const t of tokens) {
      expect(dump).not.toContain(t);
      const secret = t.slice(4 + 24, 4 + 24 + 43);
      for (let i = 0; i + 12 <= secret.length; i += 6) expect(dump).not.toContain(secret.slice(i, i + 12));
    }
  });

  it('a record key expires with its token; the index expires with its longest-lived token', async () => {
    const { m, store } = setup({ ttlSeconds: 100 });
    const a = await m.create('u');
    const key = store.keys.tokenKey(a.tokenId, m.userTag('u'));
    const idx = store.keys.userKey('u', m.userTag('u'));
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(99_000);
    expect(pttl).toBeLessThanOrEqual(100_000);
    expect(Math.abs((await redis.pttl(idx)) - pttl)).toBeLessThan(50);
    const imm = await m.create('u', { ttlSeconds: null });
    expect(await redis.pttl(store.keys.tokenKey(imm.tokenId, m.userTag('u')))).toBe(-1);
    expect(await redis.pttl(idx)).toBe(-1);
    await m.revokeById('u', imm.tokenId);
    expect(await redis.pttl(idx)).toBeGreaterThan(99_000);
  });
});

describe('Redis store: TTLs after renewal', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  it("renewal moves the record's TTL and keeps the index's at its longest-lived token (growing, shrinking, to and from immortal)", async () => {
    const { m, store } = setup({ ttlSeconds: 100, touchIntervalSeconds: 0 });
    const tag = m.userTag('u');
    const idx = store.keys.userKey('u', tag);
    const a = await m.create('u');
    const imm = await m.create('u', { ttlSeconds: null });
    const keyA = store.keys.tokenKey(a.tokenId, tag);
    const keyImm = store.keys.tokenKey(imm.tokenId, tag);
    expect(await redis.pttl(idx)).toBe(-1);
    const near = async (key: string, ms: number) => expect(Math.abs((await redis.pttl(key)) - ms)).toBeLessThan(50);
    // from immortal (overwriteNoneTtl): the record and the index get the TTL
    await sleep(20);
    const v1 = await m.verify(imm.token);
    expect(v1.valid && v1.renewed && v1.record.expiresAtMs !== null).toBe(true);
    await near(keyImm, 100_000);
    await near(idx, await redis.pttl(keyImm));
    // growing: the index follows the longest-lived token
    await sleep(30);
    expect((await m.verify(a.token)).valid).toBe(true);
    await near(keyA, 100_000);
    await near(idx, await redis.pttl(keyA));
    // shrinking (another configuration on the same store, so another verify script): the index comes down with them
    const m50 = new TokenManager({ store, secret: TEST_SECRET, ttlSeconds: 50, touchIntervalSeconds: 0 });
    expect((await m50.verify(a.token)).valid).toBe(true);
    expect((await m50.verify(imm.token)).valid).toBe(true);
    await near(keyA, 50_000);
    await near(idx, Math.max(await redis.pttl(keyA), await redis.pttl(keyImm)));
    expect(await redis.pttl(idx)).toBeLessThanOrEqual(50_000);
    // to immortal (ttlSeconds: null): the record and the index lose their TTL
    const mNone = new TokenManager({ store, secret: TEST_SECRET, ttlSeconds: null, touchIntervalSeconds: 0 });
    const v2 = await mNone.verify(a.token);
    expect(v2.valid && v2.renewed && v2.record.expiresAtMs === null).toBe(true);
    expect(await redis.pttl(keyA)).toBe(-1);
    expect(await redis.pttl(idx)).toBe(-1);
    expect(await redis.zscore(idx, a.tokenId)).toBe('inf');
  });
});

describe('Redis store: nothing stale piles up', () => {
  it("drops expired tokens from the user's index on the user's next write", async () => {
    const { m, store } = setup({ ttlSeconds: 1, renew: 'off' });
    const idx = store.keys.userKey('p', m.userTag('p'));
    await m.create('p', { ttlSeconds: 3600 });
    for (let i = 0; i < 3; i++) await m.create('p');
    expect(await redis.zcard(idx)).toBe(4);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await redis.zcard(idx)).toBe(4); // nothing has written for this user yet
    await m.create('p', { ttlSeconds: 3600 });
    expect(await redis.zcard(idx)).toBe(2);
    const live = await m.list('p');
    expect((await redis.zrange(idx, '0', '-1')).sort()).toEqual(live.map((r) => r.tokenId).sort());
  });

  it('members whose record vanished (deleted by hand) are never counted, and leave at the next write that walks the index', async () => {
    const { m, store } = setup({ maxTokensPerUser: 10 });
    const idx = store.keys.userKey('v', m.userTag('v'));
    const a = await m.create('v');
    await m.create('v');
    await redis.del(store.keys.tokenKey(a.tokenId, m.userTag('v')));
    await m.create('v'); // a login under a limit counts live tokens, so it walks the whole index
    expect(await redis.zcard(idx)).toBe(2);
    const { m: plain, store: s2 } = setup();
    const only = await plain.create('w');
    await redis.del(s2.keys.tokenKey(only.tokenId, plain.userTag('w')));
    expect((await plain.create('w')).first).toBe(true); // the vanished token is not "live"
    expect(await redis.zcard(s2.keys.userKey('w', plain.userTag('w')))).toBe(1);
  });

  it('a user with 10,000 expired tokens costs no more index memory after one login than a user with none', async () => {
    const { m, store } = setup({ ttlSeconds: 5, renew: 'off', maxTokensPerUser: null });
    const tag = m.userTag('heavy');
    for (let i = 0; i < 10_000; i += 500) await Promise.all(Array.from({ length: 500 }, () => m.create('heavy')));
    const idx = store.keys.userKey('heavy', tag);
    expect(await redis.zcard(idx)).toBe(10_000);
    const fullBytes = Number(await redis.memory('USAGE', idx));
    await new Promise((r) => setTimeout(r, 5100)); // every one of them has expired now
    await m.create('heavy', { ttlSeconds: 3600 });
    await m.create('light', { ttlSeconds: 3600 });
    const heavy = Number(await redis.memory('USAGE', idx));
    const light = Number(await redis.memory('USAGE', store.keys.userKey('light', m.userTag('light'))));
    expect(await redis.zcard(idx)).toBe(1);
    expect(heavy).toBeLessThanOrEqual(light);
    expect(fullBytes).toBeGreaterThan(100 * heavy);
    console.log(`[memory] index of 10,000 tokens: ${fullBytes} B; after pruning: ${heavy} B; fresh user: ${light} B`);
  }, 60_000);

  it('memory of one token record is bounded, measured with MEMORY USAGE (whole-Redis figures: bench/memory/, npm run bench)', async () => {
    const { m, store } = setup();
    const c = await m.create('mem', { deviceName: "Alice's iPhone", userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1', ip: '203.0.113.7', scopes: ['read', 'write'] });
    const recordBytes = Number(await redis.memory('USAGE', store.keys.tokenKey(c.tokenId, m.userTag('mem'))));
    const bare = await m.create('mem2');
    const bareBytes = Number(await redis.memory('USAGE', store.keys.tokenKey(bare.tokenId, m.userTag('mem2'))));
    console.log(`[memory] one token record: ${bareBytes} B bare, ${recordBytes} B with device name, user agent, ip and scopes`);
    expect(recordBytes).toBeLessThan(600);
    expect(bareBytes).toBeLessThan(320);
  });
});

describe('Redis store: step-up fields (RFC 9470)', () => {
  it('a record without `au` (as 0.1 wrote them) counts as authenticated at creation; reauthenticate writes `au` and `acr` into the record only, keeping its TTL and the index', async () => {
    const { m, store } = setup({ ttlSeconds: 3600 });
    const c = await m.create('su');
    const tag = m.userTag('su');
    const key = store.keys.tokenKey(c.tokenId, tag);
    const before = JSON.parse((await redis.get(key))!) as Record<string, unknown>;
    expect(before.au).toBeUndefined(); // create writes no `au`: the 0.1 shape
    expect(before.acr).toBeUndefined();
    const v = await m.verify(c.token);
    expect(v.valid && v.record.authenticatedAtMs).toBe(c.record.createdAtMs);
    const [ttlBefore, scoreBefore] = [await redis.pttl(key), await redis.zscore(store.keys.userKey('su', tag), c.tokenId)];
    const r = await m.reauthenticate('su', c.tokenId, { acr: 'mfa' });
    const after = JSON.parse((await redis.get(key))!) as Record<string, unknown>;
    expect(after.au).toBe(r!.authenticatedAtMs);
    expect(after.acr).toBe('mfa');
    expect({ ...after, au: undefined, acr: undefined }).toEqual({ ...before, au: undefined, acr: undefined });
    const ttlAfter = await redis.pttl(key);
    expect(ttlAfter).toBeGreaterThan(0);
    expect(Math.abs(ttlAfter - ttlBefore)).toBeLessThan(1000); // the expiry did not move
    expect(await redis.zscore(store.keys.userKey('su', tag), c.tokenId)).toBe(scoreBefore);
    await m.reauthenticate('su', c.tokenId);
    expect((JSON.parse((await redis.get(key))!) as Record<string, unknown>).acr).toBeUndefined(); // cleared, not "null"
  });

  it('verify reports the Redis clock (TIME) as verifiedAtMs', async () => {
    const { m } = setup();
    const c = await m.create('clock');
    const [sec, usec] = await redis.time();
    const v = await m.verify(c.token);
    expect(v.valid).toBe(true);
    if (!v.valid) return;
    const redisNowMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    expect(v.verifiedAtMs).toBeGreaterThanOrEqual(redisNowMs);
    expect(v.verifiedAtMs - redisNowMs).toBeLessThan(5000);
  });
});

describe('IoredisStore options', () => {
  it('refuses a client with its own ioredis keyPrefix, and a key prefix with braces', () => {
    const prefixed = new Redis(REDIS_URL, { keyPrefix: 'app:', lazyConnect: true });
    expect(() => new IoredisStore({ client: prefixed })).toThrow(/keyPrefix/);
    prefixed.disconnect();
    expect(() => new IoredisStore({ client: redis, keyPrefix: 'a{b}' })).toThrow(RangeError);
    expect(() => new IoredisStore({ client: redis, commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/);
    expect(() => new IoredisStore({ url: 'http://x' })).toThrow(/redis:\/\//);
    expect(() => new IoredisStore({} as never)).toThrow(/url/);
    expect(() => new IoredisStore({ client: redis, keyprefix: 'x:' } as never)).toThrow(/unknown option `keyprefix`.*keyPrefix/);
    expect(() => new IoredisStore({ client: {} as never })).toThrow(/ioredis Redis or Cluster/);
    expect(() => new IoredisStore({ client: REDIS_URL as never })).toThrow(/use `url`/);
  });

  it('opens its own client from a URL, honours the database number, and closes it', async () => {
    const keyPrefix = uniquePrefix('url');
    const url = `${REDIS_URL.replace(/\/\d*$/, '')}/3`;
    const store = new IoredisStore({ url, keyPrefix });
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const c = await m.create('db3');
    expect((await m.verify(c.token)).valid).toBe(true);
    const db3 = new Redis(url);
    expect(await db3.exists(store.keys.tokenKey(c.tokenId, m.userTag('db3')))).toBe(1);
    expect(await redis.exists(store.keys.tokenKey(c.tokenId, m.userTag('db3')))).toBe(0);
    await m.revokeAll('db3');
    await db3.quit();
    await m.close();
    expect(store.redis.status).toBe('end');
  });

  it("never closes the app's own client", async () => {
    const { m } = setup();
    await m.close();
    expect(await redis.ping()).toBe('PONG');
  });
});
