/**
 * Verify, side by side in one run (this machine is shared and noisy: compare the ratios, not the
 * absolute numbers). Variants of one scenario, "verify one valid token", against the same Redis:
 *
 * - redis GET (baseline): one plain GET of a key, the floor for anything that needs one round trip.
 * - redis EVALSHA of a one-line GET script: the floor for anything done in one Lua script.
 * - redis verify (no write due): the verify script within the touch interval (reads only).
 * - redis verify (renewal every call): touchIntervalSeconds 0, the script writes every time.
 * - redis verify, renew 'user' with 5 devices, every call: the plugin's behaviour (renew all tokens).
 * - memory verify: the embedded MemoryStore (no I/O).
 * - malformed token: rejected before any I/O.
 *
 * Run: `REDIS_URL=redis://127.0.0.1:6379 npx tsx bench/verify.bench.ts` (writes bench/results/verify.md).
 * Uses the package's public exports.
 */
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { deletePrefix } from '../test/support/redis.js';
import { Bench } from 'tinybench';
import { MemoryStore, TokenManager } from 'redis-multitokens';
import { IoredisStore } from 'redis-multitokens/ioredis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const secret = 'bench-secret-bench-secret-bench-secret-0123';
const redis = new Redis(url);
const keyPrefix = `rmt-bench:${process.pid}:`;
const store = new IoredisStore({ client: redis, keyPrefix });

const readOnly = new TokenManager({ store, secret, touchIntervalSeconds: 3600 });
const renewing = new TokenManager({ store, secret, touchIntervalSeconds: 0 });
const userMode = new TokenManager({ store, secret, touchIntervalSeconds: 0, renew: 'user' });
const memory = new TokenManager({ store: new MemoryStore(), secret, touchIntervalSeconds: 0 });

const t1 = (await readOnly.create('bench-user')).token;
const t2 = (await renewing.create('bench-user-2')).token;
for (let i = 0; i < 4; i++) await userMode.create('bench-user-3');
const t3 = (await userMode.create('bench-user-3')).token;
const tm = (await memory.create('bench-user')).token;
await redis.set(`${keyPrefix}plain`, 'x'.repeat(200));
await readOnly.verify(t1); // load the scripts once (EVALSHA afterwards)
const trivialSha = (await redis.script('LOAD', "return redis.call('GET', KEYS[1])")) as string;

const bench = new Bench({ time: 2000, warmupTime: 300 });
bench
  .add('redis GET (baseline, one round trip)', async () => {
    await redis.get(`${keyPrefix}plain`);
  })
  .add('redis EVALSHA of a one-line GET script', async () => {
    await redis.evalsha(trivialSha, 1, `${keyPrefix}plain`);
  })
  .add('redis verify (no write due)', async () => {
    if (!(await readOnly.verify(t1)).valid) throw new Error('invalid');
  })
  .add('redis verify (renewal every call)', async () => {
    if (!(await renewing.verify(t2)).valid) throw new Error('invalid');
  })
  .add("redis verify, renew 'user', 5 devices, every call", async () => {
    if (!(await userMode.verify(t3)).valid) throw new Error('invalid');
  })
  .add('memory verify (renewal every call)', async () => {
    if (!(await memory.verify(tm)).valid) throw new Error('invalid');
  })
  .add('malformed token (no I/O)', async () => {
    if ((await readOnly.verify('rmt_not-a-token')).valid) throw new Error('valid?');
  });

await bench.run();

const rows = bench.tasks.map((t) => {
  const r = t.result as unknown as { latency: { mean: number; p99?: number }; throughput: { mean: number } };
  return { name: t.name, meanUs: r.latency.mean * 1000, p99Us: (r.latency.p99 ?? Number.NaN) * 1000, opsPerSec: r.throughput.mean };
});
const base = rows[0]!.meanUs;
const lines = [
  `# verify benchmark`,
  ``,
  `Run: \`npm run bench\` (REDIS_URL=${url.replace(/\/\/.*@/, '//')}) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, one connection, one call at a time (latency).`,
  `Ratios are to the plain GET in the same run; absolute numbers vary with the (shared) machine.`,
  ``,
  `| variant | mean latency (µs) | p99 (µs) | ops/s | × GET |`,
  `| --- | ---: | ---: | ---: | ---: |`,
  ...rows.map((r) => `| ${r.name} | ${r.meanUs.toFixed(1)} | ${r.p99Us.toFixed(1)} | ${Math.round(r.opsPerSec)} | ${(r.meanUs / base).toFixed(2)} |`),
];
console.log(lines.join('\n'));
writeFileSync(new URL('./results/verify.md', import.meta.url), lines.join('\n') + '\n');

await deletePrefix(redis, keyPrefix);
await redis.quit();
