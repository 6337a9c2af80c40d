/**
 * Memory per token in Redis, as `used_memory` grows (records, user indexes and Redis's own per-key
 * overhead, everything counted), for 1 and 10 tokens per user, bare and with device details.
 * FLUSHALLs its Redis: point it at a redis-server of its own.
 *
 * Run: `redis-server --port 6393 --save '' --daemonize yes && REDIS_URL=redis://127.0.0.1:6393 npx tsx bench/memory.ts`
 * (writes bench/results/memory.md).
 */
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { TokenManager } from 'redis-multitokens';
import { IoredisStore } from 'redis-multitokens/ioredis';

const url = process.env.REDIS_URL;
if (!url || /:6379(\/|$)/.test(url)) {
  console.error('bench/memory.ts flushes its Redis: set REDIS_URL to a redis-server of its own (not :6379)');
  process.exit(1);
}
const redis = new Redis(url);
const m = new TokenManager({ store: new IoredisStore({ client: redis }), secret: 'memory-bench-secret-memory-bench-0123' });
const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
const details = {
  deviceName: "Alice's iPhone",
  userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
  ip: '203.0.113.7',
  scopes: ['read', 'write'],
};
const users = 2000;
const rows: string[] = [];
for (const perUser of [1, 10]) {
  for (const withDetails of [false, true]) {
    await redis.flushall();
    const before = await usedMemory();
    for (let u = 0; u < users; u++) await Promise.all(Array.from({ length: perUser }, () => m.create(`user-${u}`, withDetails ? details : {})));
    const perToken = (await usedMemory() - before) / (users * perUser);
    rows.push(`| ${perUser} | ${withDetails ? 'name, 140-char user agent, IP, 2 scopes' : 'none'} | ${users * perUser} | ${perToken.toFixed(0)} |`);
  }
}
await redis.flushall();
const lines = [
  '# memory per token',
  '',
  `Run: \`REDIS_URL=<a redis-server of its own> npx tsx bench/memory.ts\` on ${new Date().toISOString().slice(0, 10)}, Redis ${/redis_version:(\S+)/.exec(await redis.info('server'))![1]}.`,
  'Growth of `used_memory` divided by the number of tokens: records, user indexes and per-key overhead all included.',
  '',
  '| tokens per user | device details | tokens | bytes per token |',
  '| ---: | --- | ---: | ---: |',
  ...rows,
];
console.log(lines.join('\n'));
writeFileSync(new URL('./results/memory.md', import.meta.url), lines.join('\n') + '\n');
await redis.quit();
