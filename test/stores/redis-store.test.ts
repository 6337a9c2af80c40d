/**
 * Redis-specific promises of the Redis store, checked on a real Redis: key layout (0.2: one hash per
 * user tag, an index past 32 tokens) and hash slots, nothing raw at rest, expired tokens pruned on every
 * write, key TTLs, memory per token, and the ioredis driver's options.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { pieceFields } from '../../src/stores/redis/store.js';
import { forgeSecret } from '../../src/testing/index.js';
import {
  REDIS_URL,
  TEST_SECRET,
  deletePrefix,
  pieceFieldsOf,
  storedText,
  testRedis,
  uniquePrefix,
} from '../support/redis.js';

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
  it('keeps every key of one user in one hash slot, named by the user tag: one hash, and an index past 32 tokens', async () => {
    const { m, keyPrefix } = setup({ maxTokensPerUser: null });
    for (const uid of ['a:b', '{x}', '用户', '42']) {
      await m.create(uid);
      await m.create(uid);
      const tag = m.userTag(uid);
      const keys = (await keysUnder(keyPrefix)).filter((k) => k.includes(`{${tag}}`));
      expect(keys).toEqual([`${keyPrefix}{${tag}}`]); // the hash of the tag's records, nothing else
      expect(calculateSlot(keys[0]!)).toBe(calculateSlot(`{${tag}}`));
    }
    for (let i = 0; i < 31; i++) await m.create('42');
    const tag = m.userTag('42');
    const keys = (await keysUnder(keyPrefix)).filter((k) => k.includes(`{${tag}}`));
    expect(keys).toEqual([`${keyPrefix}{${tag}}`, `${keyPrefix}{${tag}}:i:${Buffer.from('42').toString('hex')}`]);
    expect(new Set(keys.map((k) => calculateSlot(k))).size).toBe(1);
  });

  it('holds no token string nor any part of its secret, only HMAC digests', async () => {
    const { m, keyPrefix } = setup({ maxTokensPerUser: null });
    const tokens = [];
    for (let i = 0; i < 70; i++)
      tokens.push((await m.create(`user-${i % 2 ? 1 : 0}`, { deviceName: 'd', metadata: { k: 'v' } })).token);
    let dump = '';
    const types = new Set<string>();
    for (const key of await keysUnder(keyPrefix)) {
      const type = await redis.type(key);
      types.add(type);
      dump += `${key}\n`;
      if (type === 'hash') dump += JSON.stringify(await redis.hgetall(key));
      else if (type === 'zset') dump += JSON.stringify(await redis.zrange(key, '0', '-1', 'WITHSCORES'));
      else dump += `unexpected type ${type}`;
    }
    expect([...types].sort()).toEqual(['hash', 'zset']); // the scan saw records and an index
    for (const t of tokens) {
      expect(dump).not.toContain(t);
      const secret = t.slice(4 + 24, 4 + 24 + 43);
      for (let i = 0; i + 12 <= secret.length; i += 6) expect(dump).not.toContain(secret.slice(i, i + 12));
    }
  });

  it('text fields survive the compact record: empty vs null, NUL, 0x1e, 0x1f, commas, Unicode, in user ids too', async () => {
    const { m } = setup();
    const odd = ['', '\u0000', 'a\u001eb', 'x\u001fy', '\u001e', ',,,', '用户 😀', 'é'.repeat(190)];
    for (const [i, v] of odd.entries()) {
      const uid = `u${v}${i}`;
      const c = await m.create(uid, { deviceName: v, userAgent: v === '' ? null : v, ip: null, metadata: { v } });
      expect(c.record).toMatchObject({ userId: uid, ip: null, metadata: { v } });
      if (v !== '') expect(c.record).toMatchObject({ deviceName: v, userAgent: v });
      const got = await m.verify(c.token);
      expect(got.valid && got.record).toEqual(c.record);
      expect(await m.list(uid)).toEqual([{ ...c.record, current: false }]);
      expect(await m.revokeAll(uid)).toEqual([c.tokenId]);
    }
  });

  it("the user's hash expires with its longest-lived token, and has no TTL while one is immortal", async () => {
    const { m, store } = setup({ ttlSeconds: 100 });
    await m.create('u');
    const hash = store.keys.hashKey(m.userTag('u'));
    const pttl = await redis.pttl(hash);
    expect(pttl).toBeGreaterThan(99_000);
    expect(pttl).toBeLessThanOrEqual(100_000);
    const imm = await m.create('u', { ttlSeconds: null });
    expect(await redis.pttl(hash)).toBe(-1);
    await m.revokeById('u', imm.tokenId);
    expect(await redis.pttl(hash)).toBeGreaterThan(99_000);
  });
});

/** Every live token of `m`'s user as seen by the store: the latest expiry in ms from now (null: one is immortal). */
async function longestLeftMs(m: TokenManager, userId: string): Promise<number | null> {
  const now = Number((await redis.time())[0]) * 1000 + Math.floor(Number((await redis.time())[1]) / 1000);
  let top = 0;
  for (const t of await m.list(userId)) {
    if (t.expiresAtMs === null) return null;
    top = Math.max(top, t.expiresAtMs - now);
  }
  return top;
}

describe('Redis store: TTLs after renewal', () => {
  for (const devices of [2, 40]) {
    it(`renewal keeps the hash (and index) TTL covering every token; the next write fits it exactly (${devices} devices: ${devices > 32 ? 'with' : 'without'} an index)`, async () => {
      const { m, store } = setup({ ttlSeconds: 100, touchIntervalSeconds: 0, maxTokensPerUser: null });
      const tag = m.userTag('u');
      const hash = store.keys.hashKey(tag);
      const idx = store.keys.indexKey('u', tag);
      const a = await m.create('u');
      const imm = await m.create('u', { ttlSeconds: null });
      for (let i = 2; i < devices; i++) await m.create('u', { ttlSeconds: 10 });
      expect(await redis.exists(idx)).toBe(devices > 32 ? 1 : 0);
      const keys = devices > 32 ? [hash, idx] : [hash];
      for (const k of keys) expect(await redis.pttl(k)).toBe(-1);
      const covers = async () => {
        const left = await longestLeftMs(m, 'u');
        for (const k of keys) {
          const p = await redis.pttl(k);
          if (left === null) expect(p).toBe(-1);
          else expect(p === -1 || p >= left - 50, `${k}: TTL ${p} ms covers ${left} ms`).toBe(true);
        }
      };
      // from immortal (overwriteNoneTtl): the token gets the TTL
      await sleep(20);
      const v1 = await m.verify(imm.token);
      expect(v1.valid && v1.renewed && v1.record.expiresAtMs !== null).toBe(true);
      await covers();
      // growing
      await sleep(30);
      expect((await m.verify(a.token)).valid).toBe(true);
      await covers();
      // shrinking (another configuration on the same store, so another verify script)
      const m50 = new TokenManager({ store, secret: TEST_SECRET, ttlSeconds: 50, touchIntervalSeconds: 0 });
      expect((await m50.verify(a.token)).valid).toBe(true);
      expect((await m50.verify(imm.token)).valid).toBe(true);
      await covers();
      // the next write of the user fits it: at most the longest-lived token
      const extra = await m50.create('u', { ttlSeconds: 20 });
      await m50.revokeById('u', extra.tokenId);
      const left = (await longestLeftMs(m, 'u'))!;
      expect(Math.abs((await redis.pttl(hash)) - left)).toBeLessThan(devices > 32 ? 100_000 : 50);
      await covers();
      // to immortal (ttlSeconds: null): the hash and the index lose their TTL
      const mNone = new TokenManager({ store, secret: TEST_SECRET, ttlSeconds: null, touchIntervalSeconds: 0 });
      const v2 = await mNone.verify(a.token);
      expect(v2.valid && v2.renewed && v2.record.expiresAtMs === null).toBe(true);
      for (const k of keys) expect(await redis.pttl(k)).toBe(-1);
      if (devices > 32)
        expect(Number(await redis.zscore(idx, store.keys.field(a.tokenId)))).toBeGreaterThanOrEqual(1e15);
    });
  }
});

/** The token ids (16 characters, no tag) whose records the hash holds. */
async function recordIds(hash: string): Promise<string[]> {
  return (await redis.hkeys(hash)).filter((f) => f.length === 16).sort();
}

describe('Redis store: nothing stale piles up', () => {
  for (const devices of [4, 40]) {
    it(`drops expired tokens on the user's next write (${devices} devices)`, async () => {
      const { m, store } = setup({ ttlSeconds: 1, renew: 'off', maxTokensPerUser: null });
      const hash = store.keys.hashKey(m.userTag('p'));
      await m.create('p', { ttlSeconds: 3600 });
      for (let i = 1; i < devices; i++) await m.create('p');
      expect((await recordIds(hash)).length).toBe(devices);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await recordIds(hash)).length).toBe(devices); // nothing has written for this user yet
      await m.create('p', { ttlSeconds: 3600 });
      expect((await recordIds(hash)).length).toBe(2);
      const live = await m.list('p');
      expect(await recordIds(hash)).toEqual(live.map((r) => store.keys.field(r.tokenId)).sort());
      if (devices > 32)
        expect((await redis.zrange(store.keys.indexKey('p', m.userTag('p')), '0', '-1')).sort()).toEqual(
          await recordIds(hash),
        );
    });
  }

  it('a record deleted or broken by hand (a piece missing) is never counted, and leaves at the next write', async () => {
    const { m, store } = setup({ maxTokensPerUser: 10 });
    const hash = store.keys.hashKey(m.userTag('v'));
    const a = await m.create('v', { userAgent: 'x'.repeat(100) }); // in pieces
    await m.create('v');
    const [piece] = await pieceFieldsOf(redis, hash, store.keys.field(a.tokenId));
    expect(await redis.hexists(hash, piece!)).toBe(1);
    await redis.hdel(hash, piece!);
    expect((await m.verify(a.token)).valid).toBe(false);
    expect((await m.list('v')).length).toBe(1);
    await m.create('v');
    expect((await recordIds(hash)).length).toBe(2);
    expect(await redis.hexists(hash, store.keys.field(a.tokenId))).toBe(0);
    const { m: plain, store: s2 } = setup();
    const only = await plain.create('w');
    await redis.hdel(s2.keys.hashKey(plain.userTag('w')), s2.keys.field(only.tokenId));
    expect((await plain.create('w')).first).toBe(true); // the vanished token is not "live"
  });

  it('a user with 10,000 expired tokens costs no more memory after one login than a user with none', async () => {
    const { m, store } = setup({ ttlSeconds: 5, renew: 'off', maxTokensPerUser: null });
    const tag = m.userTag('heavy');
    await m.create('heavy', { ttlSeconds: 3600 }); // keeps the hash and the index alive
    for (let i = 0; i < 10_000; i += 500) await Promise.all(Array.from({ length: 500 }, () => m.create('heavy')));
    const idx = store.keys.indexKey('heavy', tag);
    const hash = store.keys.hashKey(tag);
    expect(await redis.zcard(idx)).toBe(10_001);
    const usage = async (keys: string[]) =>
      (await Promise.all(keys.map(async (k) => Number((await redis.memory('USAGE', k)) ?? 0)))).reduce(
        (x, y) => x + y,
        0,
      );
    const fullBytes = await usage([hash, idx]);
    await new Promise((r) => setTimeout(r, 5100)); // every one of them has expired now
    await m.create('heavy', { ttlSeconds: 3600 });
    await m.create('light', { ttlSeconds: 3600 });
    const heavy = await usage([hash, idx]);
    const light = await usage([store.keys.hashKey(m.userTag('light'))]);
    expect(await redis.zcard(idx), 'index').toBe(2);
    expect(await redis.hlen(hash), 'hash').toBe(2);
    expect(heavy).toBeLessThanOrEqual(6 * light); // a hashtable and a ZSET of two members, against a listpack of one
    expect(fullBytes).toBeGreaterThan(100 * heavy);
    console.log(
      `[memory] hash and index of 10,000 tokens: ${fullBytes} B; after pruning: ${heavy} B; fresh user: ${light} B`,
    );
  }, 60_000);

  it('memory per token is bounded, measured with MEMORY USAGE (whole-Redis figures: bench/memory/, npm run bench)', async () => {
    const { m, store } = setup();
    await m.create('mem', {
      deviceName: "Alice's iPhone",
      userAgent:
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
      ip: '203.0.113.7',
      scopes: ['read', 'write'],
    });
    const recordBytes = Number(await redis.memory('USAGE', store.keys.hashKey(m.userTag('mem'))));
    await m.create('mem2');
    const bareBytes = Number(await redis.memory('USAGE', store.keys.hashKey(m.userTag('mem2'))));
    for (let i = 0; i < 9; i++) await m.create('mem2');
    const tenBytes = Number(await redis.memory('USAGE', store.keys.hashKey(m.userTag('mem2'))));
    expect(await redis.object('ENCODING', store.keys.hashKey(m.userTag('mem2')))).toBe('listpack');
    console.log(
      `[memory] one user's hash: ${bareBytes} B bare, ${recordBytes} B with device name, user agent, ip and scopes; ${tenBytes / 10} B per token at 10 bare`,
    );
    expect(recordBytes).toBeLessThan(500);
    expect(bareBytes).toBeLessThan(250);
    expect(tenBytes / 10).toBeLessThan(150);
  });
});

/** Two user ids whose user tags collide under TEST_SECRET (a birthday search: about 40,000 HMACs). */
function collidingUsers(): [string, string] {
  const m = new TokenManager({ store: new IoredisStore({ client: redis }), secret: TEST_SECRET });
  const seen = new Map<string, string>();
  for (let i = 0; ; i++) {
    const id = `c${i}`;
    const tag = m.userTag(id);
    const other = seen.get(tag);
    if (other !== undefined) return [other, id];
    seen.set(tag, id);
  }
}

describe('Redis store: users whose tags collide share a hash, harmlessly', () => {
  const [a, b] = collidingUsers();
  for (const many of [false, true]) {
    it(`list, limits, revokeById, revokeAll and renewal stay per user (${many ? 'with' : 'without'} an index for one of them)`, async () => {
      const { m, store, keyPrefix } = setup({ maxTokensPerUser: null, touchIntervalSeconds: 0, renew: 'user' });
      expect(m.userTag(a)).toBe(m.userTag(b));
      const mine = [];
      for (let i = 0; i < (many ? 40 : 3); i++) mine.push(await m.create(a, { deviceName: `a${i}` }));
      const theirs = [await m.create(b, { deviceName: 'b0' }), await m.create(b, { deviceName: 'b1' })];
      expect(theirs[0]!.first).toBe(true); // a's tokens are not b's
      expect((await keysUnder(keyPrefix)).filter((k) => !k.includes(':i:'))).toEqual([
        store.keys.hashKey(m.userTag(a)),
      ]);
      expect((await m.list(b)).map((r) => r.deviceName).sort()).toEqual(['b0', 'b1']);
      expect((await m.list(a)).length).toBe(mine.length);
      const page = await m.list(b, { limit: 1000 });
      expect(page.tokens.map((r) => r.userId)).toEqual([b, b]);
      expect(await m.revokeById(a, theirs[0]!.tokenId)).toBe(false);
      expect((await m.verify(mine[0]!.token)).valid).toBe(true); // renew: 'user' renews a's tokens only
      const limited = new TokenManager({ store, secret: TEST_SECRET, maxTokensPerUser: 2, limitPolicy: 'evict-lru' });
      const third = await limited.create(b);
      expect(third.evictedTokenIds).toHaveLength(1);
      expect(theirs.map((t) => t.tokenId)).toContain(third.evictedTokenIds[0]);
      expect((await m.list(a)).length).toBe(mine.length); // nothing of a's evicted
      expect((await m.revokeAll(a)).sort()).toEqual(mine.map((t) => t.tokenId).sort());
      expect((await m.list(b)).length).toBe(2);
      for (const t of mine) expect((await m.verify(t.token)).valid).toBe(false);
      expect((await m.verify(third.token)).valid).toBe(true);
      expect(await m.revokeAll(b)).toHaveLength(2);
      expect(await keysUnder(keyPrefix)).toEqual([]);
    });
  }
});

describe('Redis store: step-up fields (RFC 9470)', () => {
  it('a new record has no last-authentication time (it is the creation time); reauthenticate writes it and `acr` into the record only, keeping its TTL', async () => {
    const { m, store } = setup({ ttlSeconds: 3600 });
    const c = await m.create('su', { userAgent: 'x'.repeat(100) }); // in pieces
    const hash = store.keys.hashKey(m.userTag('su'));
    const id = store.keys.field(c.tokenId);
    const text = async () => {
      const t = (await storedText(redis, hash, id))!;
      const [core, ...tail] = t.split('\x1f');
      return { core: core!.split(','), tail };
    };
    const before = await text();
    expect(before.core[10]).toBe(''); // u: none, the creation time
    expect(before.tail.at(-1)).toBe(''); // acr: none
    const v = await m.verify(c.token);
    expect(v.valid && v.record.authenticatedAtMs).toBe(c.record.createdAtMs);
    const ttlBefore = await redis.pttl(hash);
    const r = await m.reauthenticate('su', c.tokenId, { acr: 'mfa' });
    const after = await text();
    expect(c.record.createdAtMs + parseInt(after.core[10]!, 36)).toBe(r!.authenticatedAtMs);
    expect(after.tail.at(-1)).toBe('mfa');
    expect([...after.core.slice(0, 10), ...after.tail.slice(0, -1)]).toEqual([
      ...before.core.slice(0, 10),
      ...before.tail.slice(0, -1),
    ]); // nothing else changed
    const ttlAfter = await redis.pttl(hash);
    expect(ttlAfter).toBeGreaterThan(0);
    expect(Math.abs(ttlAfter - ttlBefore)).toBeLessThan(1000); // the expiry did not move
    await m.reauthenticate('su', c.tokenId);
    expect((await text()).tail.at(-1)).toBe(''); // cleared, not "null"
    expect(await m.reauthenticate('someone-else', c.tokenId)).toBeNull(); // not theirs
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
    expect(() => new IoredisStore({ client: redis, keyprefix: 'x:' } as never)).toThrow(
      /unknown option `keyprefix`.*keyPrefix/,
    );
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
    expect(await db3.hexists(store.keys.hashKey(m.userTag('db3')), store.keys.field(c.tokenId))).toBe(1);
    expect(await redis.exists(store.keys.hashKey(m.userTag('db3')))).toBe(0);
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

describe('Redis store: two users whose tags collide share one hash harmlessly', () => {
  // Found once by brute force: with TEST_SECRET, user ids `u0`..`u399999` until two shared
  // `manager.userTag(id)` (the first pair found: u22952 and u114440, tag 6954bd56).
  const A = 'u22952';
  const B = 'u114440';

  it('the by-id revokeAll/revokeOthers of a marked hash refits the TTLs once an immortal token is gone', async () => {
    for (const mode of ['revokeOthers', 'revokeAll'] as const) {
      const { m, store } = setup({ maxTokensPerUser: null, ttlSeconds: 3600 });
      const h = store.keys.hashKey(m.userTag(A));
      const idx = store.keys.indexKey(A, m.userTag(A));
      const b = await m.create(B, { ttlSeconds: 60 });
      const keep = await m.create(A, { ttlSeconds: 60 });
      await m.create(A, { ttlSeconds: null });
      for (let i = 0; i < 33; i++) await m.create(A, { ttlSeconds: 60 });
      expect(await redis.hget(h, 'shared')).toBe('1');
      expect(await redis.pttl(h)).toBe(-1); // the immortal token
      if (mode === 'revokeOthers') await m.revokeOthers(A, keep.tokenId);
      else await m.revokeAll(A);
      const left = await redis.pttl(h);
      expect(left, mode).toBeGreaterThan(0);
      expect(left, mode).toBeLessThanOrEqual(60_000);
      if (mode === 'revokeOthers') expect(await redis.pttl(idx)).toBeGreaterThan(0);
      expect((await m.verify(b.token)).valid).toBe(true);
    }
  });

  it('a login of one user drops the other user expired records from its index too', async () => {
    const { m, store } = setup({ maxTokensPerUser: null });
    expect(m.userTag(A)).toBe(m.userTag(B));
    const idx = store.keys.indexKey(A, m.userTag(A));
    await m.create(A, { ttlSeconds: 1 });
    await m.create(A, { ttlSeconds: 1 });
    for (let i = 0; i < 33; i++) await m.create(A);
    expect(await redis.zcard(idx)).toBe(35);
    await new Promise((r) => setTimeout(r, 1100));
    await m.create(B); // B has no index: its login tidies the whole hash, A's expired records included
    expect(await redis.zcard(idx)).toBe(33);
    expect((await m.list(A)).length).toBe(33);
  });

  it('revokeAll of a user with an index never deletes the other user tokens, even when HLEN equals its ZCARD', async () => {
    const { m, store } = setup({ maxTokensPerUser: null });
    expect(m.userTag(A)).toBe(m.userTag(B));
    const h = store.keys.hashKey(m.userTag(A));
    const idx = store.keys.indexKey(A, m.userTag(A));
    const a = [];
    for (let i = 0; i < 35; i++) a.push(await m.create(A));
    const bTokens = [(await m.create(B)).token];
    // A's records lost (by hand, or any stale index entry) until A's index counts as many entries as the
    // hash has fields (B's record and its pieces, and the collision mark, make up the difference).
    for (let i = 2; (await redis.hlen(h)) > (await redis.zcard(idx)); i++) await redis.hdel(h, a[i]!.tokenId.slice(8));
    expect(await redis.hlen(h)).toBe(await redis.zcard(idx)); // the counts agree by accident
    await m.revokeAll(A);
    expect(await m.list(A)).toEqual([]);
    expect((await m.list(B)).length).toBe(bTokens.length);
    for (const t of bTokens) expect((await m.verify(t)).valid).toBe(true);
  });

  // revokeAll UNLINKs the whole hash of a user with an index unless the hash has the mark `shared`,
  // which the write that first puts two users' live records side by side sets (see REVOKE_ALL).
  for (const order of ['the other user first', 'the user with an index first'] as const)
    it(`revokeAll of a user with an index keeps the other user's tokens when tags collide (${order})`, async () => {
      const { m, keyPrefix, store } = setup({ maxTokensPerUser: null });
      expect(m.userTag(A)).toBe(m.userTag(B));
      const h = store.keys.hashKey(m.userTag(A));
      const b = [];
      const a = [];
      if (order === 'the other user first') b.push(await m.create(B));
      for (let i = 0; i < 35; i++) a.push(await m.create(A));
      if (order !== 'the other user first') b.push(await m.create(B));
      b.push(await m.create(B)); // B has no index: its login reads the whole hash
      expect(await redis.hget(h, 'shared')).toBe('1');
      expect((await m.revokeAll(A)).sort()).toEqual(a.map((t) => t.tokenId).sort());
      for (const t of a) expect((await m.verify(t.token)).valid).toBe(false);
      for (const t of b) expect((await m.verify(t.token)).valid).toBe(true);
      expect((await m.list(B)).length).toBe(2);
      expect((await m.revokeAll(B)).sort()).toEqual(b.map((t) => t.tokenId).sort());
      expect(await keysUnder(keyPrefix)).toEqual([]); // the mark does not keep an emptied hash alive
    });

  it("a login through a stale index (the user's records gone by hand) marks a hash holding another user's records", async () => {
    const { m, store } = setup({ maxTokensPerUser: null });
    const h = store.keys.hashKey(m.userTag(A));
    const a = [];
    for (let i = 0; i < 35; i++) a.push(await m.create(A));
    await redis.del(h); // A's index stays, its records are gone: B's login reads no record of A
    const b = await m.create(B);
    expect(await redis.hexists(h, 'shared')).toBe(0);
    const a2 = await m.create(A); // A's index names no record in the hash, which is not empty: marked
    expect(await redis.hget(h, 'shared')).toBe('1');
    expect(await m.revokeAll(A)).toContain(a2.tokenId);
    expect((await m.verify(b.token)).valid).toBe(true);
    expect((await m.verify(a2.token)).valid).toBe(false);
  });

  it('revokeAll and revokeOthers of a user alone in an unmarked hash delete both keys whole, and a kept token stays whole', async () => {
    const { m, store, keyPrefix } = setup({ maxTokensPerUser: null, ttlSeconds: 3600 });
    const h = store.keys.hashKey(m.userTag(A));
    const idx = store.keys.indexKey(A, m.userTag(A));
    const a = [];
    for (let i = 0; i < 40; i++) a.push(await m.create(A, { deviceName: `d${i}` }));
    await redis.hset(h, 'x'.repeat(16), 'junk'); // not a record, not indexed: only a whole-hash delete drops it
    expect(await redis.hexists(h, 'shared')).toBe(0);
    const keep = a[7]!;
    const others = await m.revokeOthers(A, keep.tokenId);
    expect(others.sort()).toEqual(
      a
        .filter((t) => t !== keep)
        .map((t) => t.tokenId)
        .sort(),
    );
    expect(await redis.hkeys(h)).toEqual([store.keys.field(keep.tokenId)]);
    expect(await redis.zrange(idx, '0', '-1')).toEqual([store.keys.field(keep.tokenId)]);
    for (const key of [h, idx]) {
      const p = await redis.pttl(key);
      expect(p).toBeGreaterThan(3590_000);
      expect(p).toBeLessThanOrEqual(3600_000);
    }
    const v = await m.verify(keep.token);
    expect(v.valid && v.record.deviceName).toBe('d7');
    for (const t of a.slice(0, 3)) expect((await m.verify(t.token)).valid).toBe(false);
    const more = [];
    for (let i = 0; i < 35; i++) more.push(await m.create(A, { ttlSeconds: null }));
    expect((await m.revokeAll(A)).sort()).toEqual([keep, ...more].map((t) => t.tokenId).sort());
    expect(await keysUnder(keyPrefix)).toEqual([]);
  });
});

describe('Redis store: key TTLs past 32 tokens', () => {
  it('once the immortal token of a user with an index is gone, its next write gives the hash and index a TTL again', async () => {
    const { m, store } = setup({ maxTokensPerUser: null, ttlSeconds: 3600 });
    const h = store.keys.hashKey(m.userTag('imm'));
    const idx = store.keys.indexKey('imm', m.userTag('imm'));
    const imm = await m.create('imm', { ttlSeconds: null });
    for (let i = 0; i < 33; i++) await m.create('imm');
    expect(await redis.pttl(h)).toBe(-1);
    expect(await redis.pttl(idx)).toBe(-1);
    await m.revokeById('imm', imm.tokenId); // a write: both keys refitted to the longest-lived token left
    for (const key of [h, idx]) {
      const p = await redis.pttl(key);
      expect(p).toBeGreaterThan(3590_000);
      expect(p).toBeLessThanOrEqual(3600_000);
    }
    const again = await m.create('imm', { ttlSeconds: null });
    expect(await redis.pttl(h)).toBe(-1);
    expect(await redis.pttl(idx)).toBe(-1);
    await m.revoke(again.token);
    expect(await redis.pttl(h)).toBeGreaterThan(0);
    expect(await redis.pttl(idx)).toBeGreaterThan(0);
    await redis.persist(h);
    await redis.persist(idx);
    await m.create('imm'); // a create refits too (keys left without a TTL by hand)
    expect(await redis.pttl(h)).toBeGreaterThan(0);
    expect(await redis.pttl(idx)).toBeGreaterThan(0);
  });
});

describe('Redis store: the device limit past 32 tokens', () => {
  it("limitPolicy 'reject' counts only live records: records deleted by hand no longer lock the user out", async () => {
    const { m, store } = setup({ maxTokensPerUser: 36, limitPolicy: 'reject' });
    const h = store.keys.hashKey(m.userTag('lim'));
    const idx = store.keys.indexKey('lim', m.userTag('lim'));
    const made = [];
    for (let i = 0; i < 36; i++) made.push(await m.create('lim'));
    await expect(m.create('lim')).rejects.toMatchObject({ code: 'ERR_TOKEN_LIMIT' });
    await redis.hdel(h, made[3]!.tokenId.slice(8), made[7]!.tokenId.slice(8));
    expect((await m.list('lim')).length).toBe(34);
    await m.create('lim');
    await m.create('lim');
    expect(await redis.zcard(idx)).toBe(36); // the lost records' entries went while counting
    await expect(m.create('lim')).rejects.toMatchObject({ code: 'ERR_TOKEN_LIMIT' });
    expect((await m.list('lim')).length).toBe(36);
  });
});

describe('Redis store: records edited by hand', () => {
  it('an emptied or unparsable record is absent: no 503 for its user, stats and prune work, it goes at the next write', async () => {
    const { m, store } = setup();
    const h = store.keys.hashKey(m.userTag('ed'));
    const [a, b, c] = [await m.create('ed'), await m.create('ed'), await m.create('ed')];
    await redis.hset(h, a.tokenId.slice(8), '');
    const kid = String(await redis.hget(h, c.tokenId.slice(8)))
      .slice(1)
      .split(',')[0];
    await redis.hset(h, b.tokenId.slice(8), `0${kid},not,a,record`);
    expect((await m.verify(a.token)).valid).toBe(false);
    expect((await m.verify(b.token)).valid).toBe(false);
    expect((await m.verify(c.token)).valid).toBe(true);
    expect((await m.list('ed')).map((t) => t.tokenId)).toEqual([c.tokenId]);
    expect((await m.list('ed', { limit: 10 })).tokens.map((t) => t.tokenId)).toEqual([c.tokenId]);
    expect(await store.stats()).toMatchObject({ liveTokens: 1, staleIndexEntries: 2 });
    await m.create('ed'); // the user's next write drops both
    expect(await redis.hexists(h, a.tokenId.slice(8))).toBe(0);
    expect(await redis.hexists(h, b.tokenId.slice(8))).toBe(0);
    await redis.hset(h, a.tokenId.slice(8), '');
    expect(await store.prune()).toMatchObject({ entriesDropped: 1 });
    expect(await redis.hexists(h, a.tokenId.slice(8))).toBe(0);
  });
});

describe('Redis store: stats and prune agree', () => {
  it('counts an expired record of a user with an index once, and finds a hash of stale records without a TTL', async () => {
    const { m, store } = setup({ maxTokensPerUser: null });
    await m.create('big', { ttlSeconds: 1 });
    await m.create('big', { ttlSeconds: 1 });
    for (let i = 0; i < 33; i++) await m.create('big');
    await m.create('gone', { ttlSeconds: 1 });
    await redis.persist(store.keys.hashKey(m.userTag('gone'))); // a hash left without a TTL, by hand
    await new Promise((r) => setTimeout(r, 1100));
    const stats = await store.stats();
    expect(stats.keysWithoutTtl.tokenRecords).toBe(1);
    expect(stats.staleIndexEntries).toBe(3);
    expect(await store.prune({ dryRun: true })).toMatchObject({ entriesDropped: 3 });
    expect(await store.prune()).toMatchObject({ entriesDropped: 3 });
    expect(await store.stats()).toMatchObject({ staleIndexEntries: 0, liveTokens: 33 });
  });
});

describe('Redis store: pieces of a record (short field names announced by the first piece)', () => {
  /** Every field of the hash, as { record id: its piece fields }; fields no record claims under `stray`. */
  async function claims(hash: string): Promise<{ pieces: Map<string, string[]>; stray: string[] }> {
    const all = await redis.hgetall(hash);
    const pieces = new Map<string, string[]>();
    const claimed = new Set<string>();
    for (const [f, v] of Object.entries(all))
      if (f.length === 16) {
        const names = pieceFields(f, v)?.names ?? [];
        pieces.set(f, names);
        for (const n of [f, ...names]) {
          expect(claimed.has(n), `field ${n} claimed twice`).toBe(false);
          claimed.add(n);
        }
      }
    // 'shared' is the hash's collision mark (see REVOKE_ALL), not a record or a piece.
    if ('shared' in all) expect(all.shared).toBe('1');
    return { pieces, stray: Object.keys(all).filter((f) => !claimed.has(f) && f !== 'shared') };
  }

  /** Rewrites a record as the released 0.2 stored it: a digit, then pieces of 63 and 64 bytes in fields `<id>1`.. (ASCII text here). */
  async function storeAsReleased(hash: string, id: string): Promise<void> {
    const text = (await storedText(redis, hash, id))!;
    const rest: string[] = [];
    for (let pos = 63; pos < text.length; pos += 64) rest.push(text.slice(pos, pos + 64));
    await redis.hdel(hash, id, ...(await pieceFieldsOf(redis, hash, id)));
    await redis.hset(hash, id, `${rest.length}${text.slice(0, 63)}`, ...rest.flatMap((p, i) => [`${id}${i + 1}`, p]));
  }

  it('a record stored by the released 0.2 (pieces <id>1..) still verifies, lists, inspects and revokes; its next write moves it to short names', async () => {
    const { m, store } = setup({ ttlSeconds: 3600 });
    const details = { deviceName: 'Pixel 8', userAgent: `Mozilla/5.0 ${'y'.repeat(120)}`, ip: '203.0.113.7' };
    const x = await m.create('old', details);
    const y = await m.create('old', { ...details, deviceName: 'Pixel 9' });
    const hash = store.keys.hashKey(m.userTag('old'));
    const [ix, iy] = [store.keys.field(x.tokenId), store.keys.field(y.tokenId)];
    for (const id of [ix, iy]) await storeAsReleased(hash, id);
    expect(await redis.hexists(hash, `${ix}2`)).toBe(1); // three pieces, the released way
    const v = await m.verify(x.token);
    expect(v.valid && v.record).toMatchObject({ tokenId: x.tokenId, userId: 'old', ...details });
    expect((await m.list('old')).map((t) => [t.tokenId, t.deviceName, t.userAgent]).sort()).toEqual(
      [
        [x.tokenId, 'Pixel 8', details.userAgent],
        [y.tokenId, 'Pixel 9', details.userAgent],
      ].sort(),
    );
    const page = await m.list('old', { limit: 1 });
    expect(page.tokens.length).toBeGreaterThanOrEqual(1);
    expect(await m.inspect(y.token)).toMatchObject({ found: true, valid: true, record: { deviceName: 'Pixel 9' } });
    expect(await m.reauthenticate('old', x.tokenId, { acr: 'mfa' })).not.toBeNull(); // a write: x moves
    expect((await redis.hget(hash, ix))!.charCodeAt(0)).toBeGreaterThanOrEqual(97);
    for (let i = 1; i <= 7; i++) expect(await redis.hexists(hash, `${ix}${i}`)).toBe(0);
    const moved = await m.verify(x.token);
    expect(moved.valid && moved.record).toMatchObject({ ...details, acr: 'mfa' });
    expect(await m.revoke(y.token)).toBe(true);
    expect((await m.verify(y.token)).valid).toBe(false);
    const { pieces, stray } = await claims(hash);
    expect([...pieces.keys()]).toEqual([ix]);
    expect(stray).toEqual([]);
  });

  it('pieces of two users whose tags collide never share a field, through creates, renewals, growth and revokes', async () => {
    const [a, b] = collidingUsers();
    const { m, store } = setup({ maxTokensPerUser: null, touchIntervalSeconds: 0, renew: 'user' });
    const hash = store.keys.hashKey(m.userTag(a));
    const made = [];
    for (let i = 0; i < 12; i++) {
      const user = i % 2 === 0 ? a : b;
      made.push({ user, i, c: await m.create(user, { deviceName: `d${i}`, userAgent: `${'u'.repeat(40 + i * 9)}` }) });
    }
    for (const { c } of made.slice(0, 6)) expect((await m.verify(c.token)).valid).toBe(true); // renews every token of its user
    for (const { user, c } of made.filter((_, j) => j % 3 === 0))
      await m.reauthenticate(user, c.tokenId, { acr: 'x'.repeat(60) }); // grows by a piece
    await m.revokeById(b, made[3]!.c.tokenId);
    await m.create(a, { userAgent: 'z'.repeat(150) });
    const { pieces, stray } = await claims(hash);
    expect(stray).toEqual([]);
    expect([...pieces.values()].filter((n) => n.length > 1).length).toBeGreaterThan(5); // most are in pieces
    for (const { user, i, c } of made) {
      const v = await m.verify(c.token);
      if (i === 3) {
        expect(v.valid).toBe(false);
        continue;
      }
      expect(v.valid && v.record).toMatchObject({
        userId: user,
        deviceName: `d${i}`,
        userAgent: 'u'.repeat(40 + i * 9),
      });
    }
    expect((await m.list(a)).length).toBe(7);
    expect((await m.list(b)).map((t) => t.deviceName).sort()).toEqual(['d1', 'd11', 'd5', 'd7', 'd9']);
  });

  it('a record missing one of its pieces is absent (not a 503) for verify, inspect, revoke and list; the next write drops the rest of it', async () => {
    const { m, store } = setup();
    const a = await m.create('gap', { userAgent: 'g'.repeat(150) });
    const b = await m.create('gap');
    const hash = store.keys.hashKey(m.userTag('gap'));
    const id = store.keys.field(a.tokenId);
    const names = await pieceFieldsOf(redis, hash, id);
    expect(names.length).toBeGreaterThanOrEqual(2);
    await redis.hdel(hash, names[1]!);
    expect((await m.verify(a.token)).valid).toBe(false);
    expect(await m.inspect(a.token)).toMatchObject({ wellFormed: true, found: false });
    expect(await m.revoke(a.token)).toBe(false);
    expect((await m.list('gap')).map((t) => t.tokenId)).toEqual([b.tokenId]);
    expect((await m.list('gap', { limit: 1 })).tokens.map((t) => t.tokenId)).toEqual([b.tokenId]);
    await m.create('gap');
    for (const f of [id, names[0]!]) expect(await redis.hexists(hash, f)).toBe(0);
    expect((await claims(hash)).stray).toEqual([]);
  });

  it('the name of a piece deleted by hand is never given to another record while its record still announces it', async () => {
    const { m, store } = setup({ maxTokensPerUser: null });
    const made = [];
    for (let i = 0; i < 25; i++) made.push(await m.create('frank', { deviceName: `d${i}`, userAgent: 'U'.repeat(80) }));
    const hash = store.keys.hashKey(m.userTag('frank'));
    const [x, ...others] = made;
    const lost = (await pieceFieldsOf(redis, hash, store.keys.field(x!.tokenId)))[0]!;
    await redis.hdel(hash, lost);
    // Every other record grows by a piece (a write that runs no tidy): each takes new names.
    for (const o of others) expect(await m.reauthenticate('frank', o.tokenId, { acr: 'a'.repeat(64) })).not.toBeNull();
    await claims(hash); // no name is announced by two records (x still announces the lost one)
    expect(await redis.hexists(hash, lost)).toBe(0);
    expect((await m.verify(x!.token)).valid).toBe(false);
    for (const o of others.slice(0, 5)) expect((await m.verify(o.token)).valid).toBe(true);
  });
});

describe('Redis store: a user with an index keeps whole records and a fitting index TTL', () => {
  it('a wrong secret on a token of a user with an index leaves its record whole', async () => {
    const { m, store } = setup({ maxTokensPerUser: null });
    const made = [];
    for (let i = 0; i < 34; i++) made.push(await m.create('whole', { userAgent: 'W'.repeat(120) }));
    const hash = store.keys.hashKey(m.userTag('whole'));
    const id = store.keys.field(made[0]!.tokenId);
    expect((await redis.hget(hash, id))![0]).toBe('0');
    expect((await m.verify(forgeSecret(made[0]!.token))).valid).toBe(false);
    expect((await redis.hget(hash, id))![0]).toBe('0'); // not cut in pieces
    expect(await pieceFieldsOf(redis, hash, id)).toEqual([]);
    await m.revokeAll('whole');
    expect(await redis.exists(hash)).toBe(0);
  });

  it("renew: 'user' keeps the index alive as long as the longest-lived token it renews", async () => {
    const { m, store } = setup({ maxTokensPerUser: null, ttlSeconds: 10, renew: 'user', touchIntervalSeconds: 0 });
    const long = await m.create('um', { ttlSeconds: 20 });
    const rest = [];
    for (let i = 0; i < 33; i++) rest.push(await m.create('um'));
    const idx = store.keys.indexKey('um', m.userTag('um'));
    await sleep(1100);
    expect(await m.verify(rest[0]!.token)).toMatchObject({ valid: true, renewed: true });
    const record = (await m.list('um')).find((t) => t.tokenId === long.tokenId)!;
    const [sec, usec] = await redis.time();
    const recordLeftMs = record.expiresAtMs! - (Number(sec) * 1000 + Math.floor(Number(usec) / 1000));
    expect(await redis.pttl(idx)).toBeGreaterThanOrEqual(recordLeftMs - 50);
  });
});
