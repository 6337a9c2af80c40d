/**
 * The Redis store's admin methods (`stats`, `prune`; the CLI uses them) through every client of this
 * run (ioredis 6 and 5, node-redis 6 and 5) on the standalone test Redis, each under a fresh prefix:
 * their results, their progress reports and their bounds. (The CLI's own tests run them on the Cluster.)
 * The only key names used here are the store's own builders, to damage data as a hand edit would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentValueError, StoreUnavailableError } from '../../src/core/errors.js';
import { TokenManager } from '../../src/core/manager.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import type { AdminProgress } from '../../src/stores/redis/admin.js';
import { forgeSecret } from '../../src/testing/index.js';
import { clientKinds, type TestClient } from '../support/redis-clients.js';
import { REDIS_URL, TEST_SECRET, deletePrefix, pieceFieldsOf, testRedis, uniquePrefix } from '../support/redis.js';

const admin = testRedis();
afterAll(() => admin.quit());

for (const kind of clientKinds()) {
  describe.concurrent(`RedisStore admin methods (${kind.name})`, () => {
    let client: TestClient;
    beforeAll(async () => {
      client = await kind.standalone(REDIS_URL);
    });
    afterAll(() => client?.close());

    async function withStore(fn: (store: RedisStore, m: TokenManager) => Promise<void>): Promise<void> {
      const store = new RedisStore({ driver: client.driver(), keyPrefix: uniquePrefix('admin') });
      try {
        await fn(store, new TokenManager({ store, secret: TEST_SECRET, maxTokensPerUser: null }));
      } finally {
        await deletePrefix(admin, store.keys.prefix);
        await store.close();
      }
    }

    it('stats counts live tokens, users and tokens per user; lost TTLs and 0.1 counters are found', async () => {
      await withStore(async (store, m) => {
        expect(await store.stats()).toMatchObject({
          liveTokens: 0,
          usersWithTokens: 0,
          tokensPerUser: null,
          bytesPerToken: null,
          keysSeen: 0,
          complete: true,
        });
        const made = await Promise.all(
          ['a', 'b', 'b', 'c', 'c', 'c', 'c'].map((u) => m.create(u, { userAgent: 'x'.repeat(100) })),
        );
        expect((await m.verify(forgeSecret(made[1]!.token))).valid).toBe(false); // a wrong secret: counted in the record
        const stats = await store.stats({ sampleSize: 3 });
        expect(stats).toMatchObject({
          liveTokens: 7,
          usersWithTokens: 3,
          tokensPerUser: { min: 1, median: 2, max: 4 },
          staleIndexEntries: 0,
          legacyKeys: 0,
          keysSeen: 3,
          primaries: 1,
          complete: true,
        });
        expect(stats.bytesPerToken).toMatchObject({ sampledRecords: 3, sampledIndexes: 0, indexEntry: 0 });
        expect(stats.bytesPerToken!.record).toBeGreaterThan(100); // the user agent alone is 100 bytes
        let bytes = 0;
        for (const u of ['a', 'b', 'c'])
          bytes += Number(await admin.call('MEMORY', 'USAGE', store.keys.hashKey(m.userTag(u)), 'SAMPLES', '0'));
        expect(stats.bytesPerToken!.record).toBe(Math.round(bytes / 7));
        expect(stats.keysWithoutTtl).toEqual({ tokenRecords: 0, userIndexes: 0, failureCounters: 0 });
        for (let i = 0; i < 33; i++) await m.create('d'); // past 32 tokens: an index
        const tagC = m.userTag('c');
        await admin.persist(store.keys.hashKey(tagC));
        await admin.persist(store.keys.indexKey('d', m.userTag('d')));
        await admin.set(store.keys.legacyFailureKey(made[3]!.tokenId, tagC), '3');
        expect(await store.stats()).toMatchObject({
          keysWithoutTtl: { tokenRecords: 1, userIndexes: 1, failureCounters: 1 },
          legacyKeys: 1,
          liveTokens: 40,
        });
        expect((await store.prune()).entriesDropped).toBe(0);
        expect((await store.stats()).keysWithoutTtl).toEqual({ tokenRecords: 0, userIndexes: 0, failureCounters: 1 }); // prune fits hash and index TTLs; 0.1 keys are left alone
      });
    });

    it('immortal tokens: their hashes and indexes rightly have no TTL', async () => {
      await withStore(async (store, m) => {
        await m.create('forever', { ttlSeconds: null });
        for (let i = 0; i < 33; i++) await m.create('forever');
        expect(await store.stats()).toMatchObject({
          liveTokens: 34,
          usersWithTokens: 1,
          keysWithoutTtl: { tokenRecords: 0, userIndexes: 0, failureCounters: 0 },
        });
      });
    });

    it('prune drops records that expired or lost a piece (and their index entries), and only those; dry run changes nothing', async () => {
      await withStore(async (store, m) => {
        const keep = await m.create('p');
        const gone = await m.create('p', { userAgent: 'x'.repeat(100) }); // in pieces
        const short = await m.create('q', { ttlSeconds: 1 });
        const long = await m.create('q');
        await m.create('r');
        const tagP = m.userTag('p');
        const [piece] = await pieceFieldsOf(admin, store.keys.hashKey(tagP), store.keys.field(gone.tokenId));
        expect(await admin.hdel(store.keys.hashKey(tagP), piece!)).toBe(1); // a piece deleted by hand
        await new Promise((r) => setTimeout(r, 1100)); // `short` expires (its record stays until the user's next write)
        expect(await store.prune({ dryRun: true })).toMatchObject({
          indexesSeen: 3,
          entriesDropped: 2,
          indexesChanged: 2,
          dryRun: true,
          complete: true,
        });
        expect((await store.stats()).staleIndexEntries).toBe(2);
        expect(await store.prune()).toMatchObject({
          indexesSeen: 3,
          entriesDropped: 2,
          indexesChanged: 2,
          dryRun: false,
        });
        expect(await store.prune({ dryRun: true })).toMatchObject({ entriesDropped: 0 });
        expect((await store.stats()).staleIndexEntries).toBe(0);
        expect(await admin.hexists(store.keys.hashKey(tagP), store.keys.field(gone.tokenId))).toBe(0);
        expect((await m.verify(keep.token)).valid).toBe(true);
        expect((await m.list('p')).map((t) => t.tokenId)).toEqual([keep.tokenId]);
        expect((await m.list('q')).map((t) => t.tokenId)).toEqual([long.tokenId]);
        expect(await m.inspect(short.token)).toMatchObject({ wellFormed: true, found: false });
      });
    });

    it('prune drops index entries whose record is gone (a user past 32 tokens)', async () => {
      await withStore(async (store, m) => {
        const made = [];
        for (let i = 0; i < 34; i++) made.push(await m.create('big'));
        const tag = m.userTag('big');
        await admin.hdel(store.keys.hashKey(tag), store.keys.field(made[0]!.tokenId)); // the whole record, by hand
        expect((await store.stats()).staleIndexEntries).toBe(1);
        expect(await store.prune()).toMatchObject({ indexesSeen: 2, entriesDropped: 1, indexesChanged: 1 });
        expect(await admin.zcard(store.keys.indexKey('big', tag))).toBe(33);
        expect((await m.list('big')).length).toBe(33);
      });
    });

    it('limit bounds the walk and says so; progress reaches its total; bad bounds are refused', async () => {
      await withStore(async (store, m) => {
        await Promise.all(Array.from({ length: 12 }, (_, i) => m.create(`l${i}`)));
        const seen: AdminProgress[] = [];
        const full = await store.stats({ onProgress: (p) => seen.push(p) });
        expect(full).toMatchObject({ liveTokens: 12, usersWithTokens: 12, keysSeen: 12, complete: true });
        expect(seen.length).toBeGreaterThan(0);
        for (let i = 1; i < seen.length; i++) expect(seen[i]!.done).toBeGreaterThanOrEqual(seen[i - 1]!.done);
        expect(seen.at(-1)!.done).toBe(seen.at(-1)!.total);
        const limited = await store.stats({ limit: 5 });
        expect(limited).toMatchObject({ keysSeen: 5, complete: false });
        expect(await store.prune({ dryRun: true, limit: 4 })).toMatchObject({ indexesSeen: 4, complete: false });
        expect(await store.prune({ dryRun: true, limit: 12 })).toMatchObject({ indexesSeen: 12 });
        await expect(store.stats({ limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentValueError);
        await expect(store.stats({ sampleSize: -1 })).rejects.toBeInstanceOf(InvalidArgumentValueError);
      });
    });

    it('keys of another prefix sharing the Redis are never counted or pruned', async () => {
      await withStore(async (store, m) => {
        await m.create('mine');
        const otherStore = new RedisStore({ driver: client.driver(), keyPrefix: `${store.keys.prefix}x:` });
        try {
          const other = new TokenManager({ store: otherStore, secret: TEST_SECRET });
          const theirs = await other.create('theirs', { userAgent: 'x'.repeat(100) }); // in pieces
          const theirHash = otherStore.keys.hashKey(theirs.tokenId.slice(0, 8));
          const [piece] = await pieceFieldsOf(admin, theirHash, otherStore.keys.field(theirs.tokenId));
          await admin.hdel(theirHash, piece!);
          expect(await store.stats()).toMatchObject({ liveTokens: 1, usersWithTokens: 1, staleIndexEntries: 0 });
          expect(await store.prune()).toMatchObject({ indexesSeen: 1, entriesDropped: 0 });
          expect(await otherStore.prune({ dryRun: true })).toMatchObject({ entriesDropped: 1 });
        } finally {
          await deletePrefix(admin, otherStore.keys.prefix);
          await otherStore.close();
        }
      });
    });
  });
}

describe('RedisStore admin methods: faults', () => {
  it('a closed store refuses them as StoreUnavailableError', async () => {
    const kind = clientKinds()[0]!;
    const client = await kind.standalone(REDIS_URL);
    try {
      const store = new RedisStore({ driver: client.driver(), keyPrefix: uniquePrefix('admin-closed') });
      await store.close();
      await expect(store.stats()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.prune()).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await client.close();
    }
  });
});
