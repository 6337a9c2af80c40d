/** Today's store and manager for the scale scenario (a later layout adds a module like this one). */
import { Redis } from 'ioredis';
import { TokenManager } from 'redis-multitokens';
import { ioredisDriver } from 'redis-multitokens/ioredis';
import { RedisStore } from 'redis-multitokens/redis';

export const SCALE_SECRET = 'scale-bench-secret-scale-bench-secret-0123';

export interface OursOnRedis {
  redis: Redis;
  store: RedisStore;
  /** Managers sharing the store and secret: `fill` (no device limit, so filling walks nothing), `renewing` (renewal due every call). */
  fill: TokenManager;
  renewing: TokenManager;
  /** A manager whose device limit is `max` (evict-lru). */
  limited(max: number): TokenManager;
  close(): Promise<void>;
}

export function oursOn(redisUrl: string): OursOnRedis {
  const redis = new Redis(redisUrl);
  const store = new RedisStore({ driver: ioredisDriver(redis), keyPrefix: 'rmt:' });
  return {
    redis,
    store,
    fill: new TokenManager({ store, secret: SCALE_SECRET, maxTokensPerUser: null }),
    renewing: new TokenManager({ store, secret: SCALE_SECRET, touchIntervalSeconds: 0 }),
    limited: (max) =>
      new TokenManager({ store, secret: SCALE_SECRET, maxTokensPerUser: max, limitPolicy: 'evict-lru' }),
    close: async () => {
      await store.close();
      await redis.quit();
    },
  };
}

/** Creates `count` tokens (users `${userPrefix}${i / perUser}`), `inFlight` at a time; keeps every `keepEvery`-th token. */
export async function createMany(
  manager: TokenManager,
  o: { count: number; perUser: number; userPrefix: string; inFlight: number; keepEvery: number },
): Promise<string[]> {
  const kept: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < o.count) {
      const i = next++;
      const { token } = await manager.create(`${o.userPrefix}${Math.floor(i / o.perUser)}`);
      if (i % o.keepEvery === 0) kept.push(token);
    }
  };
  await Promise.all(Array.from({ length: o.inFlight }, worker));
  return kept;
}
