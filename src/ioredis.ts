/**
 * `redis-multitokens/ioredis`: the Redis store on an ioredis `Redis` or `Cluster` client.
 * @packageDocumentation
 */
export { IoredisStore, type IoredisStoreOptions } from './stores/redis/ioredis.js';
