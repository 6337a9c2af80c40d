/**
 * The same Store conformance suite against a real 3-master Redis Cluster (throwaway redis-servers on
 * loopback ports, joined by redis-cli). Every script must touch one hash slot only, or Redis Cluster
 * refuses it (CROSSSLOT) or the keys live on another node.
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { TokenManager } from '../../src/core/manager.js';
import { storeConformanceCases } from '../../src/testing/index.js';
import { hasRedisServerBinary, startRedisCluster, type RedisClusterServer } from '../support/redis-server.js';
import { TEST_SECRET, uniquePrefix } from '../support/redis.js';

describe.runIf(hasRedisServerBinary())('Store conformance: redis cluster (ioredis Cluster, 3 masters)', () => {
  let cluster: RedisClusterServer;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    await client.ping();
  }, 60_000);

  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });

  it('spreads users over more than one node (the test would prove nothing on one)', async () => {
    const m = new TokenManager({ store: new IoredisStore({ client, keyPrefix: uniquePrefix('spread') }), secret: TEST_SECRET });
    for (let i = 0; i < 30; i++) await m.create(`spread-${i}`);
    const perNode = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
    expect(perNode.filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  for (const c of storeConformanceCases({
    create: () => new IoredisStore({ client, keyPrefix: uniquePrefix('cluster') }),
  }))
    it.concurrent(c.name, c.run, c.timeoutMs);
});
