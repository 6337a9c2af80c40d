/**
 * A second process holding a local verify cache, for test/stores/verify-cache-processes.test.ts (run
 * with `node --import tsx`). argv[2] is JSON: { url?, nodes?, client: 'ioredis' | 'node-redis',
 * keyPrefix, secret, maxStalenessMs }. It sends { ready } once subscribed; on { watch: token } it
 * verifies that token in a loop (one verify per event-loop turn, so pub/sub messages are read between
 * them) and sends { warm, stats } once the cache answers for it, then { refusedAtMs, stats } at the
 * first refusal (`Date.now()`: the parent reads the same clock). { stats } asks for the counters now;
 * { exit } closes everything.
 */
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { TokenManager } from '../../src/core/manager.js';
import { ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { nodeRedisDriver } from '../../src/stores/redis/node-redis.js';
import type { RedisDriver } from '../../src/stores/redis/driver.js';
import { RedisStore } from '../../src/stores/redis/store.js';

interface Config {
  url?: string;
  nodes?: { host: string; port: number }[];
  client: 'ioredis' | 'node-redis';
  keyPrefix: string;
  secret: string;
  maxStalenessMs: number;
}
const config = JSON.parse(process.argv[2]!) as Config;
const send = (msg: unknown) => process.send!(msg);

async function driverOf(): Promise<{ driver: RedisDriver; close: () => Promise<void> }> {
  if (config.client === 'ioredis') {
    const c = config.nodes
      ? new Cluster(config.nodes)
      : new Redis(config.url!, { retryStrategy: (n) => Math.min(n * 50, 500) });
    c.on('error', () => {});
    await c.ping();
    return { driver: ioredisDriver(c), close: async () => void c.disconnect() };
  }
  const c = config.nodes
    ? createCluster({ rootNodes: config.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) })
    : createClient({ url: config.url!, socket: { reconnectStrategy: (n: number) => Math.min((n + 1) * 50, 500) } });
  c.on('error', () => {});
  await c.connect();
  return { driver: nodeRedisDriver(c as never), close: async () => c.destroy() };
}

const { driver, close } = await driverOf();
const manager = new TokenManager({
  store: new RedisStore({ driver, keyPrefix: config.keyPrefix, commandTimeoutMs: 5000 }),
  secret: config.secret,
  verifyCache: { maxStalenessMs: config.maxStalenessMs },
});
while (!manager.verifyCacheStats!.active) await new Promise((r) => setTimeout(r, 5));
send({ ready: true });

process.on('message', async (msg: { watch?: string; stats?: true; exit?: true }) => {
  if (msg.stats) send({ stats: manager.verifyCacheStats });
  if (msg.exit) {
    await manager.close();
    await close();
    process.exit(0);
  }
  if (!msg.watch) return;
  let warm = false;
  for (;;) {
    let valid: boolean;
    try {
      valid = (await manager.verify(msg.watch)).valid;
    } catch {
      valid = true; // a store fault is not a refusal of the token; try again
    }
    if (!valid) {
      send({ refusedAtMs: Date.now(), stats: manager.verifyCacheStats });
      return;
    }
    if (!warm && manager.verifyCacheStats!.hits > 0) {
      warm = true;
      send({ warm: true, stats: manager.verifyCacheStats });
    }
    await new Promise((r) => setImmediate(r));
  }
});
