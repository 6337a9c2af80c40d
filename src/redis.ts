/**
 * `redis-multitokens/redis`: the Redis store, its driver interface and its key layout. Pair it with a
 * driver over your client: `ioredisDriver` from `redis-multitokens/ioredis` or `nodeRedisDriver` from
 * `redis-multitokens/node-redis`.
 *
 * ```ts
 * import { RedisStore } from 'redis-multitokens/redis';
 * import { ioredisDriver } from 'redis-multitokens/ioredis';
 * const store = new RedisStore({ driver: ioredisDriver(new Redis(process.env.REDIS_URL!)), keyPrefix: 'myapp:tokens:' });
 * ```
 * @packageDocumentation
 */
export {
  RedisStore,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_POLICY_CHECK_INTERVAL_MS,
  type RedisStoreOptions,
} from './stores/redis/store.js';
export type { RedisDriver, RedisDriverState, RedisSubscriptionHandlers } from './stores/redis/driver.js';
export type {
  StoreStats,
  StatsOptions,
  PruneResult,
  PruneOptions,
  AdminWalkOptions,
  AdminProgress,
} from './stores/redis/admin.js';
export { RedisKeys, DEFAULT_KEY_PREFIX, type RedisKeyKind } from './stores/redis/keys.js';
export type { LuaScript } from './stores/redis/scripts.js';
