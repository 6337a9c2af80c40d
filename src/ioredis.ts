/**
 * `redis-multitokens/ioredis`: the Redis driver over ioredis 5 or 6 (`Redis`, Sentinel-managed
 * `Redis`, or `Cluster`), for `new RedisStore({ driver: ioredisDriver(client) })` from
 * `redis-multitokens/redis`; and the deprecated one-call `IoredisStore`.
 * @packageDocumentation
 */
export {
  ioredisDriver,
  IoredisStore,
  type IoredisDriver,
  type IoredisDriverInput,
  type IoredisStoreOptions,
} from './stores/redis/ioredis.js';
