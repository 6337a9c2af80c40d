/**
 * Scenario `http`: requests per second of `GET /me` over loopback, measured by autocannon (in this
 * process) against each variant's app (each in a child process of its own): Express and Fastify with no
 * auth, a hand-written "SHA-256 + one GET", ours; Express with express-session + connect-redis. Variants
 * run interleaved, a bounded burst each (fixed connections and duration); every response must be a 2xx.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { redisCpuUs } from '../lib/redis.js';
import { figure, pairedRatio } from '../lib/stats.js';
import { byMode, emptyResult, type Scenario } from '../lib/types.js';
import type { VerifyCacheStats } from 'redis-multitokens';

const VARIANTS = [
  'express-none',
  'express-hand',
  'express-ours',
  'express-ours-cache',
  'express-session',
  'fastify-none',
  'fastify-hand',
  'fastify-ours',
  'fastify-ours-cache',
] as const;
type VariantName = (typeof VARIANTS)[number];
const CACHE_VARIANTS: readonly VariantName[] = ['express-ours-cache', 'fastify-ours-cache'];

interface Child {
  name: VariantName;
  proc: ChildProcess;
  port: number;
  headers: Record<string, string>;
}

async function startChild(name: VariantName, redisUrl: string): Promise<Child> {
  // The apps import the built package (dist/, as users do), not src/ through tsx: tsx compiles with
  // esbuild's keepNames, which adds a `__name` call (an Object.defineProperty) to every named closure
  // made per request, a cost only our variants paid (about 0.9 µs per request in `authenticate` alone).
  const env = { ...process.env, TSX_TSCONFIG_PATH: fileURLToPath(new URL('./tsconfig.dist.json', import.meta.url)) };
  const proc = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [name, redisUrl], {
    execArgv: ['--import', 'tsx'],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [msg] = (await Promise.race([
    once(proc, 'message'),
    once(proc, 'exit').then(() => {
      throw new Error(`http variant ${name}: the server process exited before it was ready`);
    }),
  ])) as [{ port: number; headers: Record<string, string> }];
  return { name, proc, port: msg.port, headers: msg.headers };
}

async function childCpuUs(child: Child): Promise<number> {
  const reply = once(child.proc, 'message');
  child.proc.send({ type: 'cpu' });
  return ((await reply)[0] as { us: number }).us;
}

/** The local verify cache's counters of a variant's app (null for a variant without the cache). */
async function childCacheStats(child: Child): Promise<VerifyCacheStats | null> {
  const reply = once(child.proc, 'message');
  child.proc.send({ type: 'cacheStats' });
  return ((await reply)[0] as { stats: VerifyCacheStats | null }).stats;
}

/** Least share of a burst's requests a cache variant must answer from its cache, else the run fails (not a cache result). */
const MIN_CACHE_HIT_SHARE = 0.5;

/** What a cache variant's cache did during one burst (counter deltas); throws when it was not serving. */
function cacheBurst(child: Child, before: VerifyCacheStats | null, after: VerifyCacheStats | null, requests: number) {
  if (before === null || after === null)
    throw new Error(`http variant ${child.name}: no verify cache counters (is verifyCache on?)`);
  const hits = after.hits - before.hits;
  const misses = after.misses - before.misses;
  const resets = after.resets - before.resets;
  if (hits < MIN_CACHE_HIT_SHARE * requests)
    throw new Error(
      `http variant ${child.name}: the verify cache answered ${hits} of ${requests} requests (${misses} misses, ${resets} resets, active now: ${after.active}): not a cache result`,
    );
  return { hits, misses, resets, hitShare: hits / (hits + misses) };
}

async function cannon(child: Child, connections: number, durationS: number) {
  const r = await autocannon({
    url: `http://127.0.0.1:${child.port}/me`,
    connections,
    duration: durationS,
    headers: child.headers,
  });
  const ok = r['2xx'];
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || ok === 0)
    throw new Error(
      `http variant ${child.name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts of ${r.requests.total} requests`,
    );
  return { requests: ok, reqPerSec: ok / (r.duration || durationS), p50Ms: r.latency.p50, p99Ms: r.latency.p99 };
}

const scenario: Scenario = {
  name: 'http',
  title:
    'GET /me over loopback (autocannon): Express and Fastify with no auth, a hand-written SHA-256 + GET, ours, ours with the local verify cache; express-session + connect-redis',
  async run(ctx) {
    const result = emptyResult();
    const rounds = byMode(ctx.mode, { full: 5, quick: 2, tiny: 1 });
    const durationS = byMode(ctx.mode, { full: 6, quick: 2, tiny: 1 });
    const connections = byMode(ctx.mode, { full: 50, quick: 50, tiny: 4 });
    result.params = {
      rounds,
      durationSecondsPerBurst: durationS,
      connections,
      pipelining: 1,
      variants: [...VARIANTS],
      serverProcess:
        'one child process per variant (tsx; the library imported from its build, dist/); autocannon in the runner',
    };
    const info = new Redis(ctx.redisUrl);
    const children: Child[] = [];
    try {
      for (const name of VARIANTS) children.push(await startChild(name, ctx.redisUrl));
      for (const c of children) await cannon(c, connections, 1); // warm-up (JIT, connections)
      const samples = new Map<
        VariantName,
        { reqPerSec: number; cpuUs: number; redisUs: number; p50Ms: number; p99Ms: number }[]
      >(VARIANTS.map((v) => [v, []]));
      const cacheSamples = new Map<VariantName, ReturnType<typeof cacheBurst>[]>(CACHE_VARIANTS.map((v) => [v, []]));
      for (let r = 0; r < rounds; r++)
        for (const c of children) {
          const cached = cacheSamples.get(c.name);
          const stats0 = cached ? await childCacheStats(c) : null;
          const cpu0 = await childCpuUs(c);
          const redis0 = await redisCpuUs(info);
          const b = await cannon(c, connections, durationS);
          const cpu1 = await childCpuUs(c);
          const redis1 = await redisCpuUs(info);
          const cache = cached ? cacheBurst(c, stats0, await childCacheStats(c), b.requests) : null;
          cached?.push(cache!);
          samples.get(c.name)!.push({
            reqPerSec: b.reqPerSec,
            cpuUs: (cpu1 - cpu0) / b.requests,
            redisUs: (redis1 - redis0) / b.requests,
            p50Ms: b.p50Ms,
            p99Ms: b.p99Ms,
          });
          ctx.log(
            `http round ${r + 1}/${rounds} ${c.name}: ${Math.round(b.reqPerSec)} req/s` +
              (cache ? ` (cache: ${cache.hits} hits, ${cache.misses} misses, ${cache.resets} resets)` : ''),
          );
        }
      for (const v of VARIANTS) {
        const s = samples.get(v)!;
        result.figures[`${v}.reqPerSec`] = figure(
          s.map((x) => x.reqPerSec),
          'req/s',
        );
        result.figures[`${v}.serverCpuUsPerReq`] = figure(
          s.map((x) => x.cpuUs),
          'µs',
        );
        result.figures[`${v}.redisCpuUsPerReq`] = figure(
          s.map((x) => x.redisUs),
          'µs',
        );
        result.figures[`${v}.p50Ms`] = figure(
          s.map((x) => x.p50Ms),
          'ms',
        );
        result.figures[`${v}.p99Ms`] = figure(
          s.map((x) => x.p99Ms),
          'ms',
        );
      }
      for (const [v, s] of cacheSamples)
        for (const [name, pick, unit] of [
          ['cacheHitShare', (x) => x.hitShare, 'share'],
          ['cacheHitsPerBurst', (x) => x.hits, 'hits'],
          ['cacheMissesPerBurst', (x) => x.misses, 'misses'],
          ['cacheResetsPerBurst', (x) => x.resets, 'resets'],
        ] as const satisfies readonly [string, (x: ReturnType<typeof cacheBurst>) => number, string][])
          result.figures[`${v}.${name}`] = figure(s.map(pick), unit);
      const rps = (v: VariantName) => samples.get(v)!.map((x) => x.reqPerSec);
      const pairs: [VariantName, VariantName][] = [
        ['express-ours', 'express-hand'],
        ['express-ours', 'express-session'],
        ['express-ours', 'express-none'],
        ['express-hand', 'express-none'],
        ['fastify-ours', 'fastify-hand'],
        ['fastify-ours', 'fastify-none'],
        ['fastify-hand', 'fastify-none'],
        ['express-ours-cache', 'express-none'],
        ['express-ours-cache', 'express-ours'],
        ['fastify-ours-cache', 'fastify-none'],
        ['fastify-ours-cache', 'fastify-ours'],
      ];
      for (const [a, b] of pairs) result.ratios[`${a}/${b}.reqPerSec`] = pairedRatio(rps(a), rps(b));
    } finally {
      await Promise.all(
        children.map(async (c) => {
          const exited = once(c.proc, 'exit');
          c.proc.send({ type: 'close' });
          await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
          if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
        }),
      );
      await info.quit();
    }
    result.notes.push(
      "reqPerSec: 2xx responses per second; serverCpuUsPerReq: the app process's CPU (user + system) per request; redisCpuUsPerReq: Redis main-thread CPU per request.",
      "On 2 cores the app, autocannon and Redis compete for CPU: the app's CPU per request is the steadier figure.",
      `The cache variants wait for their cache to turn on before they are measured; cacheHitShare, cacheHitsPerBurst, cacheMissesPerBurst, cacheResetsPerBurst: what the cache did in each burst (counter deltas); a burst it answered less than ${MIN_CACHE_HIT_SHARE * 100}% of fails the run.`,
    );
    return result;
  },
};
export default scenario;
