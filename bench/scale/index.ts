/**
 * Scenario `scale`:
 * 1. verify latency (p50, p99) with renewal due, at 1 and 50 in flight, on a Redis holding 1,000 live
 *    tokens against one holding many (1M in full mode), random tokens each call; the two Redis servers
 *    run side by side and the rounds alternate between them.
 * 2. for a user with 1, 10, 100 and 1,000 devices: create at the device limit (evicting one), list and
 *    revoke-all, each with the Redis time its script held the server (INFO commandstats), against one
 *    read of the same records (0.1 layout: MGET of the record keys; 0.2: HGETALL of the user's hash) and
 *    one DEL of the same keys. The user's keys are restored (DUMP/RESTORE) between destructive rounds.
 */
import { burst, type Burst } from '../lib/loop.js';
import { redisTimeOf, startBenchRedis } from '../lib/redis.js';
import { figure, pairedRatio } from '../lib/stats.js';
import { byMode, emptyResult, type Scenario, type ScenarioResult } from '../lib/types.js';
import { createMany, oursOn, type OursOnRedis } from './ours.js';

const SCRIPT = ['evalsha', 'eval'];

async function timed<T>(
  ours: OursOnRedis,
  commands: string[],
  fn: () => Promise<T>,
): Promise<{ redisUs: number; wallUs: number }> {
  let wallUs = 0;
  const t = await redisTimeOf(ours.redis, commands, async () => {
    const t0 = performance.now();
    await fn();
    wallUs = (performance.now() - t0) * 1000;
  });
  return { redisUs: t.usec, wallUs };
}

async function verifyAtScale(ctx: Parameters<Scenario['run']>[0], result: ScenarioResult): Promise<void> {
  const smallTokens = byMode(ctx.mode, { full: 1000, quick: 1000, tiny: 200 });
  const bigTokens = byMode(ctx.mode, { full: 1_000_000, quick: 50_000, tiny: 2_000 });
  const rounds = byMode(ctx.mode, { full: 5, quick: 3, tiny: 1 });
  const timeMs = byMode(ctx.mode, { full: 1500, quick: 400, tiny: 30 });
  Object.assign(result.params, {
    smallTokens,
    bigTokens,
    verifyRounds: rounds,
    verifyBurstMs: timeMs,
    verifyRenewal: 'due every call (touchIntervalSeconds 0)',
  });
  const bigServer = await startBenchRedis();
  const small = oursOn(ctx.redisUrl);
  const big = oursOn(bigServer.url);
  try {
    const t0 = performance.now();
    const smallSample = await createMany(small.fill, {
      count: smallTokens,
      perUser: 1,
      userPrefix: 'scale-s-',
      inFlight: 64,
      keepEvery: 1,
    });
    const bigSample = await createMany(big.fill, {
      count: bigTokens,
      perUser: 1,
      userPrefix: 'scale-b-',
      inFlight: 128,
      keepEvery: Math.max(1, Math.floor(bigTokens / 20_000)),
    });
    const fillS = (performance.now() - t0) / 1000;
    result.params.fillSeconds = Math.round(fillS);
    result.params.bigRedisUsedMemoryMB = Math.round(
      Number(/used_memory:(\d+)/.exec(await big.redis.info('memory'))![1]) / 2 ** 20,
    );
    ctx.log(`scale: filled ${smallTokens} + ${bigTokens} tokens in ${fillS.toFixed(0)} s`);
    const op = (ours: OursOnRedis, sample: string[]) => async () => {
      if (!(await ours.renewing.verify(sample[Math.floor(Math.random() * sample.length)]!)).valid)
        throw new Error('scale verify: token invalid');
    };
    for (const c of [1, 50]) {
      const runs: Record<'small' | 'big', Burst[]> = { small: [], big: [] };
      for (let r = 0; r < rounds; r++) {
        runs.small.push(await burst({ fn: op(small, smallSample), concurrency: c, timeMs }));
        runs.big.push(await burst({ fn: op(big, bigSample), concurrency: c, timeMs }));
      }
      for (const side of ['small', 'big'] as const) {
        result.figures[`verify.c${c}.${side}.p50Us`] = figure(
          runs[side].map((b) => b.p50Us),
          'µs',
        );
        result.figures[`verify.c${c}.${side}.p99Us`] = figure(
          runs[side].map((b) => b.p99Us),
          'µs',
        );
        result.figures[`verify.c${c}.${side}.opsPerSec`] = figure(
          runs[side].map((b) => b.opsPerSec),
          'ops/s',
        );
      }
      result.ratios[`verify.c${c}.big/small.p50Us`] = pairedRatio(
        runs.big.map((b) => b.p50Us),
        runs.small.map((b) => b.p50Us),
      );
      result.ratios[`verify.c${c}.big/small.p99Us`] = pairedRatio(
        runs.big.map((b) => b.p99Us),
        runs.small.map((b) => b.p99Us),
      );
      ctx.log(`scale verify c${c}: p99 big/small ${result.ratios[`verify.c${c}.big/small.p99Us`]!.median.toFixed(2)}x`);
    }
  } finally {
    await small.close();
    await big.close();
    await bigServer.stop('SIGKILL');
  }
}

async function perDeviceCount(ctx: Parameters<Scenario['run']>[0], result: ScenarioResult): Promise<void> {
  const counts = byMode(ctx.mode, { full: [1, 10, 100, 1000], quick: [1, 10, 100, 1000], tiny: [1, 10] });
  // Quick: 9 rounds (each under 10 ms at 1,000 devices), as 3 read noise on a shared machine more than the change.
  const rounds = byMode(ctx.mode, { full: 7, quick: 9, tiny: 1 });
  const creates = byMode(ctx.mode, { full: 10, quick: 3, tiny: 2 });
  Object.assign(result.params, { deviceCounts: counts, listRevokeRounds: rounds, createsAtLimit: creates });
  const ours = oursOn(ctx.redisUrl);
  try {
    // Warm-up: the first call of each script loads it (NOSCRIPT, then EVAL compiles it); keep that out of the figures.
    await createMany(ours.fill, { count: 2, perUser: 2, userPrefix: 'scale-warmup-', inFlight: 1, keepEvery: 3 });
    await ours.limited(2).create('scale-warmup-0');
    await ours.fill.list('scale-warmup-0');
    await ours.fill.revokeAll('scale-warmup-0');
    for (const d of counts) {
      const user = `scale-devices-${d}`;
      await createMany(ours.fill, { count: d, perUser: d, userPrefix: `${user}-`, inFlight: 16, keepEvery: d + 1 });
      const userId = `${user}-0`;
      const tag = ours.fill.userTag(userId);
      const hashKey = ours.store.keys.hashKey(tag);
      const indexKey = ours.store.keys.indexKey(userId, tag);

      // create at the device limit: each create evicts the least recently used token, the user stays at d
      const limited = ours.limited(d);
      const create = [];
      for (let i = 0; i < creates; i++) create.push(await timed(ours, SCRIPT, () => limited.create(userId)));
      result.figures[`create-at-limit.d${d}.redisUs`] = figure(
        create.map((x) => x.redisUs),
        'µs',
      );
      result.figures[`create-at-limit.d${d}.wallUs`] = figure(
        create.map((x) => x.wallUs),
        'µs',
      );

      const listed = (await ours.fill.list(userId)).length;
      if (listed !== d) throw new Error(`scale: expected ${d} devices, the store lists ${listed}`);
      const allKeys = [hashKey, ...((await ours.redis.exists(indexKey)) === 1 ? [indexKey] : [])];
      const snapshot = await Promise.all(
        allKeys.map(async (k) => ({ k, dump: (await ours.redis.dumpBuffer(k))!, pttl: await ours.redis.pttl(k) })),
      );
      const restore = async () => {
        const p = ours.redis.pipeline();
        for (const s of snapshot) p.restore(s.k, Math.max(s.pttl, 0), s.dump, 'REPLACE');
        await p.exec();
      };
      const rows: Record<'list' | 'mget' | 'revoke-all' | 'del', { redisUs: number; wallUs: number }[]> = {
        list: [],
        mget: [],
        'revoke-all': [],
        del: [],
      };
      for (let r = 0; r < rounds; r++) {
        rows.list.push(await timed(ours, SCRIPT, () => ours.fill.list(userId)));
        rows.mget.push(await timed(ours, ['hgetall'], () => ours.redis.hgetall(hashKey)));
        rows['revoke-all'].push(await timed(ours, SCRIPT, () => ours.fill.revokeAll(userId)));
        await restore();
        rows.del.push(await timed(ours, ['del'], () => ours.redis.del(...allKeys)));
        await restore();
      }
      for (const [name, xs] of Object.entries(rows)) {
        result.figures[`${name}.d${d}.redisUs`] = figure(
          xs.map((x) => x.redisUs),
          'µs',
        );
        result.figures[`${name}.d${d}.wallUs`] = figure(
          xs.map((x) => x.wallUs),
          'µs',
        );
      }
      for (const unit of ['redisUs', 'wallUs'] as const) {
        result.ratios[`list.d${d}/mget.${unit}`] = pairedRatio(
          rows.list.map((x) => x[unit]),
          rows.mget.map((x) => x[unit]),
        );
        result.ratios[`revoke-all.d${d}/del.${unit}`] = pairedRatio(
          rows['revoke-all'].map((x) => x[unit]),
          rows.del.map((x) => x[unit]),
        );
      }
      ctx.log(
        `scale d${d}: create at limit ${(result.figures[`create-at-limit.d${d}.redisUs`]!.median / 1000).toFixed(2)} ms Redis; list/MGET ${result.ratios[`list.d${d}/mget.redisUs`]!.median.toFixed(1)}x; revoke-all/DEL ${result.ratios[`revoke-all.d${d}/del.redisUs`]!.median.toFixed(1)}x`,
      );
      await ours.fill.revokeAll(userId);
    }
  } finally {
    await ours.close();
  }
}

const scenario: Scenario = {
  name: 'scale',
  title:
    'verify p50/p99 at 1k vs many live tokens; create at the device limit, list and revoke-all at 1 to 1,000 devices vs one HGETALL / one DEL of the same keys',
  async run(ctx) {
    const result = emptyResult();
    await verifyAtScale(ctx, result);
    await perDeviceCount(ctx, result);
    result.notes.push(
      'verify.*: latency of one verify with renewal due, random tokens; small = a Redis holding smallTokens live tokens, big = a second Redis holding bigTokens; rounds alternate small, big.',
      'redisUs: the server time of the script (EVALSHA) or command, from INFO commandstats: how long it held Redis; wallUs: the call as the app sees it (decoding in Node included).',
      'create-at-limit: creates by a manager with maxTokensPerUser = the device count (evict-lru), so each one prunes and evicts; its figure counts one create per round.',
    );
    return result;
  },
};
export default scenario;
