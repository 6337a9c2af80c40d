/**
 * One measured burst of an async operation in this process, with tinybench: `concurrency` calls in
 * flight (1 = one after the other), for `timeMs` milliseconds, after a short warm-up. Besides ops/s it
 * reports CPU MICROseconds per operation, of this Node process (`process.cpuUsage`) and of Redis's
 * main thread (INFO cpu), which are steadier than ops/s on a shared machine.
 */
import type { Redis } from 'ioredis';
import { Bench } from 'tinybench';
import { commandStats, redisCpuUs } from './redis.js';

/** What one burst measured. */
export interface Burst {
  ops: number;
  opsPerSec: number;
  /** Node CPU (user + system) per operation, in µs. */
  nodeCpuUsPerOp: number;
  /** Redis main-thread CPU per operation, in µs (NaN when no info client was given). */
  redisCpuUsPerOp: number;
  /** Redis time per operation of the commands named in `commands` (INFO commandstats usec), in µs; NaN without them. */
  redisCmdUsPerOp: number;
  /** Latency percentiles of one operation, in µs (with `concurrency` > 1: time in flight, queueing included). */
  p50Us: number;
  p99Us: number;
}

export interface BurstOptions {
  fn: () => Promise<unknown>;
  /** Calls in flight at once (1 = sequential). */
  concurrency: number;
  /** Measured time, in milliseconds. */
  timeMs: number;
  /** Warm-up time, in milliseconds (default: a fifth of `timeMs`, at least 50). */
  warmupMs?: number;
  /** A client on the same Redis (not the one under test) to read INFO cpu from. */
  info?: Redis;
  /** Commands whose server time to report per operation, e.g. `['evalsha', 'eval']` (needs `info`). */
  commands?: readonly string[];
}

async function tinyRun(fn: () => Promise<unknown>, concurrency: number, timeMs: number) {
  const bench =
    concurrency > 1
      ? new Bench({
          time: timeMs,
          iterations: 0,
          warmup: false,
          concurrency: 'task',
          threshold: concurrency,
          throws: true,
        })
      : new Bench({ time: timeMs, iterations: 1, warmup: false, throws: true });
  bench.add('op', fn);
  await bench.run();
  const r = bench.tasks[0]!.result as { state: string; latency?: { p50: number; p99: number; samplesCount: number } };
  if (!r.latency) throw new Error(`benchmark task ended as ${r.state}`);
  return r.latency;
}

/** Runs one burst (see the module comment). */
export async function burst(o: BurstOptions): Promise<Burst> {
  await tinyRun(o.fn, o.concurrency, o.warmupMs ?? Math.max(50, o.timeMs / 5));
  const statsBefore = o.info && o.commands ? await commandStats(o.info) : undefined;
  const redisBefore = o.info ? await redisCpuUs(o.info) : Number.NaN;
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  const latency = await tinyRun(o.fn, o.concurrency, o.timeMs);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpuBefore);
  const redisAfter = o.info ? await redisCpuUs(o.info) : Number.NaN;
  const statsAfter = o.info && o.commands ? await commandStats(o.info) : undefined;
  const ops = latency.samplesCount;
  let cmdUs = Number.NaN;
  if (statsBefore && statsAfter)
    cmdUs =
      o.commands!.reduce((sum, c) => sum + (statsAfter.get(c)?.usec ?? 0) - (statsBefore.get(c)?.usec ?? 0), 0) / ops;
  return {
    ops,
    opsPerSec: (ops * 1000) / elapsedMs,
    nodeCpuUsPerOp: (cpu.user + cpu.system) / ops,
    redisCpuUsPerOp: (redisAfter - redisBefore) / ops,
    redisCmdUsPerOp: cmdUs,
    p50Us: latency.p50 * 1000,
    p99Us: latency.p99 * 1000,
  };
}
