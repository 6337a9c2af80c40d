/**
 * "Verifying a hot token 1,000 times in a second costs one write" (knox's MIN_REFRESH_INTERVAL idea),
 * counted by Redis itself: INFO commandstats on a throwaway redis-server that nothing else uses.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

let server: RedisServer;
let redis: Redis;
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

/** Calls of one command since the last CONFIG RESETSTAT, from INFO commandstats. */
async function calls(command: string): Promise<number> {
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await redis.info('commandstats'));
  return m ? Number(m[1]) : 0;
}

describe('touch interval, counted by Redis', () => {
  it('1,000 verifies of one token within the interval write once at most', async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
    const m = new TokenManager({
      store: new IoredisStore({ client: redis }),
      secret: TEST_SECRET,
      ttlSeconds: 3600,
      touchIntervalSeconds: 1,
    });
    const c = await m.create('hot');
    await new Promise((r) => setTimeout(r, 1100)); // the first touch is now due
    await redis.config('RESETSTAT');
    const results = await Promise.all(Array.from({ length: 1000 }, () => m.verify(c.token)));
    expect(results.every((r) => r.valid)).toBe(true);
    expect(results.filter((r) => r.valid && r.renewed).length).toBe(1);
    expect(await calls('evalsha')).toBe(1000); // one round trip each
    expect(await calls('hset')).toBe(1); // once: the record (its HSET is also the script's first write, refused under OOM)
    expect(await calls('hget')).toBe(1000); // each verify reads the record, with its wrong-secret count, once
    expect(await calls('get')).toBe(0); // no separate counter (0.1 read one per verify)
    expect((await calls('pexpireat')) + (await calls('persist'))).toBeLessThanOrEqual(1); // the hash TTL raised once at most
    expect(await calls('zadd')).toBe(0); // no index below 33 tokens
  });
});
