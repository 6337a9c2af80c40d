/**
 * Defects found under test (issue 8), each pinned on the stores it concerns: the default device limit,
 * the wrong-secret counter revoked with its token, and the listeners a store leaves on a shared client.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_TOKENS_PER_USER, TokenManager } from '../../src/core/manager.js';
import type { Store } from '../../src/core/store.js';
import { forgeSecret } from '../../src/testing/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { IoredisStore, ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { nodeRedisDriver } from '../../src/stores/redis/node-redis.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { REDIS_URL, TEST_SECRET, deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const admin = testRedis();
const nodeClient = createClient({ url: REDIS_URL });
nodeClient.on('error', () => {});
const ready = nodeClient.connect();
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(admin, p);
  await admin.quit();
  nodeClient.destroy();
});

const stores: [string, () => Promise<Store>][] = [
  ['memory', async () => new MemoryStore()],
  [
    'redis (ioredis)',
    async () => {
      const keyPrefix = uniquePrefix('defect');
      prefixes.push(keyPrefix);
      return new RedisStore({ driver: ioredisDriver(admin), keyPrefix });
    },
  ],
  [
    'redis (node-redis)',
    async () => {
      await ready;
      const keyPrefix = uniquePrefix('defect');
      prefixes.push(keyPrefix);
      return new RedisStore({ driver: nodeRedisDriver(nodeClient), keyPrefix });
    },
  ],
];

/** Whether the wrong-secret counter of a token id is still held by the store. */
async function hasCounter(store: Store, m: TokenManager, userId: string, tokenId: string): Promise<boolean> {
  if (store instanceof RedisStore)
    return (await admin.hexists(store.keys.hashKey(m.userTag(userId)), store.keys.field(tokenId))) === 1; // the count lives in the record
  return (store as unknown as { failures: Map<string, unknown> }).failures.has(tokenId);
}

describe.each(stores)('defects: %s', (_name, make) => {
  it(`a user gets at most ${DEFAULT_MAX_TOKENS_PER_USER} live tokens by default (the least recently used go); null turns the limit off by name`, async () => {
    expect(DEFAULT_MAX_TOKENS_PER_USER).toBe(20);
    const store = await make();
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const made = [];
    // One login per millisecond at least: least-recently-used is only defined between distinct times.
    for (let i = 0; i < 25; i++) {
      made.push(await m.create('looper'));
      await new Promise((r) => setTimeout(r, 2));
    }
    expect((await m.list('looper')).length).toBe(20);
    expect(made.flatMap((c) => c.evictedTokenIds).sort()).toEqual(
      made
        .slice(0, 5)
        .map((c) => c.tokenId)
        .sort(),
    );
    const unlimited = new TokenManager({ store, secret: TEST_SECRET, maxTokensPerUser: null });
    for (let i = 0; i < 25; i++) await unlimited.create('many');
    expect((await m.list('many')).length).toBe(25);
    await store.close?.();
  });

  it('evict-lru within touchIntervalSeconds: memory ranks by the last verify; Redis by the last write, as docs/options.md ("Device limit") says (exact at 0)', async () => {
    const scenario = async (touchIntervalSeconds: number) => {
      const store = await make();
      const m = new TokenManager({
        store,
        secret: TEST_SECRET,
        maxTokensPerUser: 2,
        limitPolicy: 'evict-lru',
        touchIntervalSeconds,
      });
      const inUse = await m.create('lru');
      await sleep(20);
      const idle = await m.create('lru');
      await sleep(20);
      expect((await m.verify(inUse.token)).valid).toBe(true);
      await sleep(20);
      const third = await m.create('lru');
      await store.close?.();
      return third.evictedTokenIds[0] === idle.tokenId
        ? 'idle'
        : third.evictedTokenIds[0] === inUse.tokenId
          ? 'in use'
          : 'other';
    };
    expect(await scenario(0)).toBe('idle');
    // Within the interval the verify writes nothing: the Redis store still ranks the device in use by its creation.
    expect(await scenario(60)).toBe(_name === 'memory' ? 'idle' : 'in use');
  });

  it('revoking a token deletes its wrong-secret counter (revoke, revokeById, revokeAll, eviction)', async () => {
    const store = await make();
    const m = new TokenManager({ store, secret: TEST_SECRET, maxTokensPerUser: 3 });
    const ways: [string, (c: { token: string; tokenId: string }) => Promise<unknown>][] = [
      ['revoke', (c) => m.revoke(c.token)],
      ['revokeById', (c) => m.revokeById('u', c.tokenId)],
      ['revokeAll', () => m.revokeAll('u')],
      [
        'eviction',
        async () => {
          // Logins a few milliseconds apart: evict-lru ranks by last-used time in milliseconds, and between
          // equal times the one it evicts is undefined (seen under load: another token of the same ms went).
          for (let i = 0; i < 3; i++) {
            await new Promise((r) => setTimeout(r, 3));
            await m.create('u');
          }
        },
      ],
    ];
    for (const [way, revoke] of ways) {
      const c = await m.create('u');
      await m.verify(forgeSecret(c.token));
      await m.verify(forgeSecret(c.token));
      expect(await hasCounter(store, m, 'u', c.tokenId), `${way}: counter before`).toBe(true);
      await revoke(c);
      expect((await m.verify(c.token)).valid, `${way}: token gone`).toBe(false);
      expect(await hasCounter(store, m, 'u', c.tokenId), `${way}: counter after`).toBe(false);
      await m.revokeAll('u');
    }
    await store.close?.();
  });
});

describe('listeners on a shared client', () => {
  it('11 stores on one ioredis client and 11 on one node-redis client: no MaxListenersExceededWarning, and close() leaves exactly the listeners there were', async () => {
    await ready;
    const io = new Redis(REDIS_URL);
    const counts = (c: { eventNames(): (string | symbol)[]; listenerCount(e: string | symbol): number }) =>
      Object.fromEntries(c.eventNames().map((e) => [String(e), c.listenerCount(e)]));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const ioBefore = counts(io);
      const nodeBefore = counts(nodeClient);
      const all = [
        ...Array.from({ length: 11 }, () => new IoredisStore({ client: io, keyPrefix: uniquePrefix('leak') })),
        ...Array.from(
          { length: 11 },
          () => new RedisStore({ driver: nodeRedisDriver(nodeClient), keyPrefix: uniquePrefix('leak') }),
        ),
      ];
      await Promise.all(all.map((s) => new TokenManager({ store: s, secret: TEST_SECRET }).checkHealth()));
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([]);
      await Promise.all(all.map((s) => s.close()));
      expect(counts(io)).toEqual(ioBefore);
      expect(counts(nodeClient)).toEqual(nodeBefore);
      expect(await io.ping()).toBe('PONG');
    } finally {
      process.off('warning', onWarning);
      io.disconnect();
    }
  });
});

describe('driver and store options', () => {
  it('refuse what would break the key layout or hide a mistake, naming the option', () => {
    const prefixed6 = createClient({ url: REDIS_URL, keyPrefix: 'app:' } as never);
    expect(() => nodeRedisDriver(prefixed6 as never)).toThrow(/keyPrefix/);
    expect(() => nodeRedisDriver({ url: 'http://x' })).toThrow(/redis:\/\//);
    expect(() => nodeRedisDriver({} as never)).toThrow(/node-redis client/);
    expect(() => nodeRedisDriver({ url: REDIS_URL, extra: 1 } as never)).toThrow(/unknown option `extra`/);
    const prefixedIo = new Redis(REDIS_URL, { keyPrefix: 'app:', lazyConnect: true });
    expect(() => ioredisDriver(prefixedIo)).toThrow(/keyPrefix/);
    prefixedIo.disconnect();
    expect(() => ioredisDriver({ url: 'http://x' })).toThrow(/redis:\/\//);
    expect(() => new RedisStore({ client: admin } as never)).toThrow(/`driver`/);
    expect(() => new RedisStore({} as never)).toThrow(/driver/);
    expect(() => new RedisStore({ driver: ioredisDriver(admin), keyprefix: 'x' } as never)).toThrow(
      /unknown option `keyprefix`.*keyPrefix/,
    );
  });
});
