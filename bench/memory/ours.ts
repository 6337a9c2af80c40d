/**
 * Variant: the Redis store's layout (0.2: one hash per user tag), filled through the public API
 * (`TokenManager.create` over the Redis store), as an app would. A later layout is measured by adding a module like this one.
 */
import { Redis } from 'ioredis';
import { TokenManager } from 'redis-multitokens';
import { ioredisDriver } from 'redis-multitokens/ioredis';
import { RedisStore } from 'redis-multitokens/redis';

/** About 100 bytes of device details, as a phone browser would send them. */
export const DEVICE_DETAILS = {
  deviceName: 'Pixel 8',
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile',
  ip: '203.0.113.7',
};

export interface Filler {
  /** Creates `tokens` tokens for users of `devicesPerUser` devices each, `inFlight` creates at a time. */
  fill(o: {
    tokens: number;
    devicesPerUser: number;
    details: boolean;
    inFlight: number;
    userPrefix: string;
  }): Promise<void>;
  /** Key names of one user's hash of records and index (which exists only past 32 tokens), for MEMORY USAGE. */
  keysOfOneUser(userPrefix: string): Promise<{ record: string; index: string }>;
  close(): Promise<void>;
}

export function oursFiller(redisUrl: string, options: { maxTokensPerUser?: number | null } = {}): Filler {
  const redis = new Redis(redisUrl);
  const store = new RedisStore({ driver: ioredisDriver(redis), keyPrefix: 'rmt:' });
  const manager = new TokenManager({
    store,
    secret: 'memory-bench-secret-memory-bench-secret-0123',
    maxTokensPerUser: options.maxTokensPerUser ?? 20,
  });
  return {
    async fill({ tokens, devicesPerUser, details, inFlight, userPrefix }) {
      let next = 0;
      const worker = async () => {
        while (next < tokens) {
          const i = next++;
          await manager.create(`${userPrefix}${Math.floor(i / devicesPerUser)}`, details ? DEVICE_DETAILS : {});
        }
      };
      await Promise.all(Array.from({ length: inFlight }, worker));
    },
    async keysOfOneUser(userPrefix) {
      const userId = `${userPrefix}0`;
      const tag = manager.userTag(userId);
      return { record: store.keys.hashKey(tag), index: store.keys.indexKey(userId, tag) };
    },
    close: async () => {
      await store.close();
      await redis.quit();
    },
  };
}
