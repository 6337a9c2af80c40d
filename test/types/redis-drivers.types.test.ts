/**
 * Type tests of the Redis drivers (checked by `tsc --noEmit`; vitest runs them as no-op assertions):
 * the clients of both majors of both libraries are accepted without casts, standalone, Cluster and
 * Sentinel; a wrong argument is refused.
 */
import { Redis, Cluster } from 'ioredis';
import { Redis as Redis5, Cluster as Cluster5 } from 'ioredis5';
import { createClient, createCluster, createSentinel } from 'redis';
import {
  createClient as createClient5,
  createCluster as createCluster5,
  createSentinel as createSentinel5,
} from 'redis5';
import { describe, expectTypeOf, it } from 'vitest';
import { RedisStore, type RedisDriver } from '../../src/redis.js';
import { ioredisDriver } from '../../src/ioredis.js';
import { nodeRedisDriver } from '../../src/node-redis.js';

describe('Redis driver types', () => {
  it('node-redis 5 and 6 clients, clusters and Sentinel clients need no cast', () => {
    const build = () => {
      const rootNodes = [{ url: 'redis://127.0.0.1:7000' }];
      const sentinel = { name: 'mymaster', sentinelRootNodes: [{ host: '127.0.0.1', port: 26379 }] };
      return [
        nodeRedisDriver(createClient()),
        nodeRedisDriver(createClient({ RESP: 2 })),
        nodeRedisDriver(createCluster({ rootNodes })),
        nodeRedisDriver(createSentinel(sentinel)),
        nodeRedisDriver(createClient5()),
        nodeRedisDriver(createCluster5({ rootNodes })),
        nodeRedisDriver(createSentinel5(sentinel)),
        nodeRedisDriver({ url: 'redis://localhost:6379' }),
      ];
    };
    expectTypeOf(build).returns.items.toMatchTypeOf<RedisDriver>();
  });

  it('ioredis 6 clients need no cast; the store takes any driver', () => {
    const build = () => {
      const d = ioredisDriver(new Redis({ lazyConnect: true }));
      ioredisDriver(new Cluster([]));
      ioredisDriver({ url: 'redis://localhost:6379' });
      return new RedisStore({ driver: d, keyPrefix: 'app:', commandTimeoutMs: 500 });
    };
    expectTypeOf(build).returns.toEqualTypeOf<RedisStore>();
    // ioredis 5 is typed against the ioredis the app installed; here the dev tree has 6 as `ioredis`.
    void (() => ioredisDriver(new Redis5() as unknown as Redis));
    void (() => ioredisDriver(new Cluster5([]) as unknown as Cluster));
  });

  it('wrong arguments are refused', () => {
    // @ts-expect-error a URL string is not a driver input: pass { url }
    void (() => nodeRedisDriver('redis://localhost'));
    // @ts-expect-error an ioredis client is not a node-redis client
    void (() => nodeRedisDriver(new Redis()));
    // @ts-expect-error RedisStore takes `driver`, not `client`
    void (() => new RedisStore({ client: new Redis() }));
  });
});
