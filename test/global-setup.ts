/**
 * Vitest global set-up: make sure a Redis answers at REDIS_URL (default redis://127.0.0.1:6379).
 * When none does and `redis-server` is installed, start a throwaway one on a free loopback port and
 * point REDIS_URL at it; otherwise stop with one clear line. Tests isolate themselves by key prefix.
 */
import { hasRedisServerBinary, redisAnswers, startRedisServer, type RedisServer } from './support/redis-server.js';

let server: RedisServer | undefined;

export async function setup(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) {
    process.env.REDIS_URL = url;
    return;
  }
  if (!hasRedisServerBinary()) {
    throw new Error(
      `No Redis answers at ${url} and redis-server is not installed: start Redis or set REDIS_URL (apt-get install redis-server)`,
    );
  }
  server = await startRedisServer();
  process.env.REDIS_URL = server.url;
  console.log(`[tests] no Redis at ${url}; started a throwaway redis-server at ${server.url}`);
}

export async function teardown(): Promise<void> {
  await server?.stop('SIGTERM');
}
