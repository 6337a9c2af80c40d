/**
 * Redis Sentinel: the Store conformance suite through a Sentinel-aware client of each library (one
 * primary, one replica, three sentinels on loopback, test/support/redis-sentinel.ts), and a store
 * pointed straight at the read-only replica, which must behave as under OOM: a token still verifies
 * when only its renewal or last-used write is refused; the writes that matter fail with
 * StoreUnavailableError (503). Failovers are in sentinel-failover.test.ts.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { TokenManager } from '../../src/core/manager.js';
import { createClient, createSentinel } from 'redis';
import { ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { nodeRedisDriver } from '../../src/stores/redis/node-redis.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import type { RedisDriver } from '../../src/stores/redis/driver.js';
import { forgeSecret, storeConformanceCases } from '../../src/testing/index.js';
import { hasRedisServerBinary } from '../support/redis-server.js';
import { startRedisSentinel, waitReplicated, type RedisSentinelSet } from '../support/redis-sentinel.js';
import { deletePrefix, TEST_SECRET, uniquePrefix } from '../support/redis.js';

describe.runIf(hasRedisServerBinary())('Redis Sentinel (1 primary, 1 replica, 3 sentinels)', () => {
  let set: RedisSentinelSet;
  let ioredis: Redis;
  let nodeRedis: ReturnType<typeof createSentinel>;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    set = await startRedisSentinel();
    ioredis = new Redis({ sentinels: set.sentinels, name: set.name, maxRetriesPerRequest: 1 });
    await ioredis.ping();
    nodeRedis = createSentinel({ name: set.name, sentinelRootNodes: set.sentinels });
    nodeRedis.on('error', () => {});
    await nodeRedis.connect();
  }, 60_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    ioredis?.disconnect();
    await nodeRedis?.close().catch(() => nodeRedis.destroy());
    await set?.stop();
  });

  it('the ioredis Sentinel client is connected to the primary the sentinels name', async () => {
    const primary = await set.primary();
    expect((await ioredis.info('server')).includes(`tcp_port:${primary.port}`)).toBe(true);
    expect((await ioredis.call('ROLE')) as unknown[]).toContain('master');
  });

  it('the node-redis Sentinel client is connected to the primary the sentinels name', async () => {
    const primary = await set.primary();
    expect(String(await nodeRedis.sendCommand(false, ['INFO', 'server']))).toContain(`tcp_port:${primary.port}`);
  });

  // A generous command timeout, as in cluster.test.ts: the tests share a loaded machine, and the suite
  // checks behaviour, not speed (200 concurrent logins of one user timed out at 1,000 ms under load).
  const commandTimeoutMs = 5000;
  const stores: Record<string, () => RedisStore> = {
    ioredis: () =>
      new RedisStore({ driver: ioredisDriver(ioredis), keyPrefix: uniquePrefix('sentinel'), commandTimeoutMs }),
    'node-redis': () =>
      new RedisStore({ driver: nodeRedisDriver(nodeRedis), keyPrefix: uniquePrefix('sentinel'), commandTimeoutMs }),
  };
  for (const [client, create] of Object.entries(stores))
    describe.concurrent(`Store conformance: redis sentinel (${client})`, () => {
      for (const c of storeConformanceCases({
        create,
        destroy: async (s) => {
          await deletePrefix(ioredis, (s as RedisStore).keys.prefix);
          await s.close?.();
        },
      }))
        it(c.name, c.run, c.timeoutMs);
    });

  /** A driver over a plain client of the replica (not through Sentinel), and a raw SET on it. */
  const replicaClients: Record<string, () => Promise<{ driver: RedisDriver; set(key: string): Promise<unknown> }>> = {
    ioredis: async () => {
      const replica = new Redis({ ...(await set.replica()), maxRetriesPerRequest: 1 });
      cleanups.push(() => replica.disconnect());
      return { driver: ioredisDriver(replica), set: (key) => replica.set(key, '1') };
    },
    'node-redis': async () => {
      const replica = createClient({ socket: await set.replica() });
      replica.on('error', () => {});
      await replica.connect();
      cleanups.push(() => replica.close().catch(() => replica.destroy()));
      return { driver: nodeRedisDriver(replica), set: (key) => replica.set(key, '1') };
    },
  };

  for (const [clientName, openReplica] of Object.entries(replicaClients))
    describe(`a store pointed at the read-only replica (${clientName})`, () => {
      /** A manager on the primary (through Sentinel) and one on the replica, same prefix and secret. */
      async function pair(options: { touchIntervalSeconds?: number; renew?: 'token' | 'user' | 'off' } = {}) {
        const keyPrefix = uniquePrefix('replica');
        const replica = await openReplica();
        const onPrimary = new TokenManager({
          store: new RedisStore({ driver: ioredisDriver(ioredis), keyPrefix }),
          secret: TEST_SECRET,
          ttlSeconds: 3600,
          ...options,
        });
        const onReplica = new TokenManager({
          store: new RedisStore({ driver: replica.driver, keyPrefix }),
          secret: TEST_SECRET,
          ttlSeconds: 3600,
          ...options,
        });
        cleanups.push(() => deletePrefix(ioredis, keyPrefix));
        return { onPrimary, onReplica, replica };
      }

      it('is a replica indeed: a plain write is refused with READONLY', async () => {
        const { replica } = await pair();
        await expect(replica.set(`${uniquePrefix('ro')}x`)).rejects.toThrow(/READONLY/);
      });

      it.each(['token', 'user'] as const)(
        'verifies a token whose renewal is due (renew: %s), without renewing it',
        async (renew) => {
          const { onPrimary, onReplica } = await pair({ touchIntervalSeconds: 0, renew });
          const a = await onPrimary.create('u1', { deviceName: 'phone' });
          await onPrimary.create('u1', { deviceName: 'laptop' });
          await waitReplicated(await set.primary());
          const v = await onReplica.verify(a.token);
          expect(v.valid).toBe(true);
          if (!v.valid) return;
          expect(v.userId).toBe('u1');
          expect(v.record.expiresAtMs).toBe(a.record.expiresAtMs); // not renewed: the write was refused
          expect(v.record.lastUsedAtMs).toBe(a.record.lastUsedAtMs);
        },
      );

      it('a wrong secret is still invalid (its failure count is simply not kept)', async () => {
        const { onPrimary, onReplica } = await pair();
        const a = await onPrimary.create('u1');
        await waitReplicated(await set.primary());
        expect(await onReplica.verify(forgeSecret(a.token))).toEqual({ valid: false, reason: 'invalid' });
        expect((await onReplica.verify(a.token)).valid).toBe(true);
      });

      it('create, revoke, revokeById and revokeAll fail with StoreUnavailableError; list works', async () => {
        const { onPrimary, onReplica } = await pair();
        const a = await onPrimary.create('u1');
        await waitReplicated(await set.primary());
        await expect(onReplica.create('u1')).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(onReplica.create('new-user')).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(onReplica.revoke(a.token)).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(onReplica.revokeById('u1', a.tokenId)).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(onReplica.revokeAll('u1')).rejects.toBeInstanceOf(StoreUnavailableError);
        expect((await onReplica.list('u1')).map((r) => r.tokenId)).toEqual([a.tokenId]);
        expect((await onPrimary.verify(a.token)).valid).toBe(true); // nothing was revoked
      });
    });
});
