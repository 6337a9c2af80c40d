/**
 * The harness's own Redis: a throwaway `redis-server` on a free loopback port (no persistence,
 * `noeviction`), never the shared one at 6379; and the INFO figures the scenarios read from it.
 */
import type { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../../test/support/redis-server.js';

/** Starts a throwaway redis-server for the benchmarks (killed by `stop()` and when the process exits). */
export async function startBenchRedis(): Promise<RedisServer> {
  return startRedisServer({ args: ['--maxmemory-policy', 'noeviction', '--slowlog-log-slower-than', '-1'] });
}

/** Parses an INFO section into a map of its fields. */
export function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** CPU time of Redis's main thread (user + system) so far, in MICROseconds (INFO cpu, Redis 7+; falls back to the whole process). */
export async function redisCpuUs(redis: Redis): Promise<number> {
  const info = parseInfo(await redis.info('cpu'));
  const user = info.get('used_cpu_user_main_thread') ?? info.get('used_cpu_user');
  const sys = info.get('used_cpu_sys_main_thread') ?? info.get('used_cpu_sys');
  return (Number(user) + Number(sys)) * 1e6;
}

/** `used_memory` in bytes (INFO memory). */
export async function usedMemory(redis: Redis): Promise<number> {
  return Number(parseInfo(await redis.info('memory')).get('used_memory'));
}

/** Calls and total MICROseconds per command so far (INFO commandstats), e.g. `evalsha -> { calls, usec }`. */
export async function commandStats(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const out = new Map<string, { calls: number; usec: number }>();
  for (const [k, v] of parseInfo(await redis.info('commandstats'))) {
    if (!k.startsWith('cmdstat_')) continue;
    const calls = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
    const usec = Number(/usec=(\d+)/.exec(v)?.[1] ?? 0);
    out.set(k.slice('cmdstat_'.length), { calls, usec });
  }
  return out;
}

/**
 * Runs `fn` and returns the Redis time (µs) and calls that commands `names` took meanwhile, from
 * INFO commandstats (the whole script for EVALSHA/EVAL: the time it held the server).
 */
export async function redisTimeOf(
  redis: Redis,
  names: readonly string[],
  fn: () => Promise<unknown>,
): Promise<{ usec: number; calls: number }> {
  const before = await commandStats(redis);
  await fn();
  const after = await commandStats(redis);
  let usec = 0;
  let calls = 0;
  for (const n of names) {
    usec += (after.get(n)?.usec ?? 0) - (before.get(n)?.usec ?? 0);
    calls += (after.get(n)?.calls ?? 0) - (before.get(n)?.calls ?? 0);
  }
  return { usec, calls };
}

/** The server's version (INFO server). */
export async function redisVersion(redis: Redis): Promise<string> {
  return parseInfo(await redis.info('server')).get('redis_version') ?? 'unknown';
}
