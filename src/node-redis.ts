/**
 * `redis-multitokens/node-redis`: the Redis driver over node-redis 5 or 6 (the `redis` package:
 * `createClient`, `createCluster`, `createSentinel`), for `new RedisStore({ driver: nodeRedisDriver(client) })`
 * from `redis-multitokens/redis`.
 * @packageDocumentation
 */
export {
  nodeRedisDriver,
  type NodeRedisDriver,
  type NodeRedisDriverInput,
  type NodeRedisClientLike,
  type NodeRedisClusterLike,
  type NodeRedisSentinelLike,
  type ClusterNodeLike,
} from './stores/redis/node-redis.js';
