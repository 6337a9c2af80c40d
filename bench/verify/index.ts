/**
 * Scenario `verify`: verifying one valid token, in this process, through each Redis client, against
 * the floors on the same connection: a bare GET and a bare EVALSHA of a trivial script; and ours with the
 * local verify cache (ours-cache). At 1 and 50
 * calls in flight, with no write due and with renewal due on every call. Variants run interleaved
 * (get, evalsha, ours, ours-renewal, get, evalsha, ...), so each round's ratios share the machine's mood.
 */
import { Redis } from 'ioredis';
import { burst, type Burst } from '../lib/loop.js';
import { figure, pairedRatio } from '../lib/stats.js';
import { byMode, emptyResult, type Scenario } from '../lib/types.js';
import bareEvalsha from './bare-evalsha.js';
import bareGet from './bare-get.js';
import { openConnection, type ClientKind } from './connection.js';
import { oursCache } from './ours-cache.js';
import { malformed, memoryStore } from './no-redis.js';
import { oursNoWrite, oursRenewal, oursRenewUser } from './ours.js';
import { oursOtel, oursTraced } from './ours-observed.js';
import type { VerifyVariant } from './variant.js';

import { dpopProof, oursDpop } from './ours-dpop.js';

const VARIANTS: VerifyVariant[] = [
  bareGet,
  bareEvalsha,
  oursNoWrite,
  oursTraced,
  oursOtel,
  oursRenewal,
  oursRenewUser,
  oursCache,
  oursDpop,
  memoryStore,
  malformed,
  dpopProof,
];
/** Distinct users (one token each) the operations rotate over. */
const USERS = 64;

// The no-I/O variants go in the ioredis pass only; their figures are named `c1.memory-store...`, not per client.
const scenario: Scenario = {
  name: 'verify',
  title:
    'verify one token: ours through ioredis and node-redis vs a bare GET and a bare EVALSHA on the same connection',
  async run(ctx) {
    const result = emptyResult();
    const rounds = byMode(ctx.mode, { full: 7, quick: 3, tiny: 1 });
    const timeMs = byMode(ctx.mode, { full: 1000, quick: 250, tiny: 20 });
    const clients: ClientKind[] = ctx.mode === 'tiny' ? ['ioredis'] : ['ioredis', 'node-redis'];
    const concurrencies = [1, 50];
    result.params = {
      rounds,
      timeMsPerBurst: timeMs,
      clients,
      concurrencies,
      usersRotated: USERS,
      variants: VARIANTS.map((v) => `${v.name}: ${v.title}`),
    };
    const info = new Redis(ctx.redisUrl);
    try {
      for (const kind of clients) {
        const conn = await openConnection(kind, ctx.redisUrl);
        try {
          const variants = VARIANTS.filter((v) => !v.clients || v.clients.includes(kind));
          const ops = new Map<string, () => Promise<unknown>>();
          for (const v of variants) ops.set(v.name, await v.prepare(conn, USERS));
          for (const c of concurrencies) {
            const runs = new Map<string, Burst[]>(variants.map((v) => [v.name, []]));
            for (let r = 0; r < rounds; r++)
              for (const v of variants) {
                const deactivate = v.activate?.();
                try {
                  runs
                    .get(v.name)!
                    .push(await burst({ fn: ops.get(v.name)!, concurrency: c, timeMs, info, commands: v.commands }));
                } finally {
                  deactivate?.();
                }
              }
            const at = `${kind}.c${c}`;
            for (const v of variants) {
              const key = v.clients ? `c${c}` : at;
              const b = runs.get(v.name)!;
              result.figures[`${key}.${v.name}.opsPerSec`] = figure(
                b.map((x) => x.opsPerSec),
                'ops/s',
              );
              result.figures[`${key}.${v.name}.nodeCpuUsPerOp`] = figure(
                b.map((x) => x.nodeCpuUsPerOp),
                'µs',
              );
              result.figures[`${key}.${v.name}.redisCpuUsPerOp`] = figure(
                b.map((x) => x.redisCpuUsPerOp),
                'µs',
              );
              result.figures[`${key}.${v.name}.redisCmdUsPerOp`] = figure(
                b.map((x) => x.redisCmdUsPerOp),
                'µs',
              );
              result.figures[`${key}.${v.name}.p50Us`] = figure(
                b.map((x) => x.p50Us),
                'µs',
              );
              result.figures[`${key}.${v.name}.p99Us`] = figure(
                b.map((x) => x.p99Us),
                'µs',
              );
              ctx.log(
                `verify ${at} ${v.name}: ${Math.round(result.figures[`${key}.${v.name}.opsPerSec`]!.median)} ops/s`,
              );
            }
            const ops_ = (name: string) => runs.get(name)!.map((x) => x.opsPerSec);
            result.ratios[`${at}.ours-dpop/ours.opsPerSec`] = pairedRatio(ops_('ours-dpop'), ops_('ours'));
            for (const ours of ['ours', 'ours-renewal', 'ours-renew-user', 'ours-cache'])
              for (const floor of ['evalsha', 'get'])
                result.ratios[`${at}.${ours}/${floor}.opsPerSec`] = pairedRatio(ops_(ours), ops_(floor));
            // What tracing costs when someone listens (with nobody listening, `ours` is the figure).
            for (const observed of ['ours-traced', 'ours-otel']) {
              result.ratios[`${at}.${observed}/ours.opsPerSec`] = pairedRatio(ops_(observed), ops_('ours'));
              const cpu = (name: string) => runs.get(name)!.map((x) => x.nodeCpuUsPerOp);
              result.ratios[`${at}.${observed}/ours.nodeCpuUsPerOp`] = pairedRatio(cpu(observed), cpu('ours'));
            }
          }
        } finally {
          await conn.close();
        }
      }
    } finally {
      await info.quit();
    }
    result.notes.push(
      "opsPerSec: completed calls per second of wall time; nodeCpuUsPerOp: this process's CPU (user + system) per call, harness included;",
      'redisCpuUsPerOp: Redis main-thread CPU per call (INFO cpu), network handling included; redisCmdUsPerOp: INFO commandstats usec per call (the script or command alone).',
      'p50Us/p99Us: latency of one call; at 50 in flight it includes queueing behind the other 49.',
    );
    return result;
  },
};
export default scenario;
