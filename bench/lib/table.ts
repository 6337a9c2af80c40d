/**
 * The rows of issue 9's table: what the issue measured "today", the target, and where the harness's
 * figure for each row lives in the results. One place, read by the JSON, the Markdown and the chart.
 */
import { figure, type Figure } from './stats.js';
import type { ScenarioResult } from './types.js';

/** A row of the issue's table, resolved against a run's results. */
export interface TableRow {
  id: string;
  /** A short label for the chart. */
  label: string;
  figure: string;
  /** The issue's "today" figure, as written there. */
  issueToday: string;
  /** The issue's figure as a number in the row's unit (for the chart's marker). */
  issueTodayValue: number;
  target: string;
  /** `'>='` higher is better; `'<='` lower is better. */
  direction: '>=' | '<=';
  targetValue: number;
  unit: string;
  /** The measured figure (median, spread), or null when its scenario did not run. */
  measured: Figure | null;
  /** Other figures a reader needs beside it (e.g. CPU per operation, the other client). */
  detail: string;
  /** 'met', 'missed', or 'not measured'. */
  status: 'met' | 'missed' | 'not measured';
}

type Results = Record<string, ScenarioResult | undefined>;

/** How a row is made: the issue's fixed columns, where its measured figure is, and what to show beside it. */
type RowSpec = Omit<TableRow, 'measured' | 'detail' | 'status'> & {
  pick(r: Results): Figure | undefined;
  detail(r: Results): string;
};

const f = (fig: Figure | undefined, digits = 2) =>
  fig && Number.isFinite(fig.median) ? fig.median.toFixed(digits) : '—';
const fig = (r: Results, scenario: string, kind: 'figures' | 'ratios', name: string): Figure | undefined =>
  r[scenario]?.[kind][name];
/** A µs figure divided by 1,000 (ms). */
const toMs = (x: Figure | undefined): Figure | undefined =>
  x && {
    ...x,
    median: x.median / 1000,
    min: x.min / 1000,
    max: x.max / 1000,
    unit: 'ms',
    rounds: x.rounds.map((v) => v / 1000),
  };

/** Per round: (Node + Redis CPU per op of `floor`) ÷ (the same of `v`): the throughput ratio if CPU were the only limit. */
const cpuRatio = (r: Results, at: string, v: string, floor: string): string => {
  const g = (name: string, w: string) => fig(r, 'verify', 'figures', `${at}.${name}.${w}`)?.rounds ?? [];
  const [vn, vr, fn, fr] = [
    g(v, 'nodeCpuUsPerOp'),
    g(v, 'redisCpuUsPerOp'),
    g(floor, 'nodeCpuUsPerOp'),
    g(floor, 'redisCpuUsPerOp'),
  ];
  const per = vn.map((_, i) => (fn[i]! + fr[i]!) / (vn[i]! + vr[i]!));
  return f(figure(per, 'x'));
};

const cpu = (r: Results, at: string, v: string) =>
  `Node ${f(fig(r, 'verify', 'figures', `${at}.${v}.nodeCpuUsPerOp`), 1)} µs + Redis ${f(fig(r, 'verify', 'figures', `${at}.${v}.redisCpuUsPerOp`), 1)} µs CPU/op`;

const SPECS: RowSpec[] = [
  {
    id: 'verify-c50',
    label: 'verify c50 ÷ bare EVALSHA',
    figure:
      'verify ops/s at 50 in flight ÷ a bare EVALSHA of a trivial script on the same connection (ioredis), no write due',
    issueToday: '0.35x (Node 28 µs + Redis 23 µs CPU per verify, against 9.5 + 8)',
    issueTodayValue: 0.35,
    target: '>= 0.7x',
    direction: '>=',
    targetValue: 0.7,
    unit: 'x',
    pick: (r) => fig(r, 'verify', 'ratios', 'ioredis.c50.ours/evalsha.opsPerSec'),
    detail: (r) =>
      `CPU-based ratio ${cpuRatio(r, 'ioredis.c50', 'ours', 'evalsha')}x; ours ${cpu(r, 'ioredis.c50', 'ours')}; EVALSHA ${cpu(r, 'ioredis.c50', 'evalsha')}; script ${f(fig(r, 'verify', 'figures', 'ioredis.c50.ours.redisCmdUsPerOp'), 1)} µs vs ${f(fig(r, 'verify', 'figures', 'ioredis.c50.evalsha.redisCmdUsPerOp'), 1)} µs (commandstats); node-redis ${f(fig(r, 'verify', 'ratios', 'node-redis.c50.ours/evalsha.opsPerSec'))}x; at 1 in flight ${f(fig(r, 'verify', 'ratios', 'ioredis.c1.ours/evalsha.opsPerSec'))}x`,
  },
  {
    id: 'verify-c50-renewal',
    label: 'verify c50, renewal due ÷ EVALSHA',
    figure: 'the same with renewal due on every call',
    issueToday: '0.19x',
    issueTodayValue: 0.19,
    target: '>= 0.5x',
    direction: '>=',
    targetValue: 0.5,
    unit: 'x',
    pick: (r) => fig(r, 'verify', 'ratios', 'ioredis.c50.ours-renewal/evalsha.opsPerSec'),
    detail: (r) =>
      `CPU-based ratio ${cpuRatio(r, 'ioredis.c50', 'ours-renewal', 'evalsha')}x; ${cpu(r, 'ioredis.c50', 'ours-renewal')}; script ${f(fig(r, 'verify', 'figures', 'ioredis.c50.ours-renewal.redisCmdUsPerOp'), 1)} µs; node-redis ${f(fig(r, 'verify', 'ratios', 'node-redis.c50.ours-renewal/evalsha.opsPerSec'))}x`,
  },
  {
    id: 'express-vs-hand',
    label: 'Express: ours ÷ hand-written',
    figure: 'Express: `tokenAuth` ÷ a hand-written "SHA-256 + one GET" middleware, req/s',
    issueToday: '0.86x',
    issueTodayValue: 0.86,
    target: '>= 0.95x',
    direction: '>=',
    targetValue: 0.95,
    unit: 'x',
    pick: (r) => fig(r, 'http', 'ratios', 'express-ours/express-hand.reqPerSec'),
    detail: (r) =>
      `server CPU/req: ours ${f(fig(r, 'http', 'figures', 'express-ours.serverCpuUsPerReq'), 0)} µs, hand ${f(fig(r, 'http', 'figures', 'express-hand.serverCpuUsPerReq'), 0)} µs, no auth ${f(fig(r, 'http', 'figures', 'express-none.serverCpuUsPerReq'), 0)} µs`,
  },
  {
    id: 'fastify-vs-hand',
    label: 'Fastify: ours ÷ hand-written',
    figure: 'Fastify: our adapter ÷ the hand-written one, req/s',
    issueToday: '0.61x (a 9-line hook on `authenticate()`)',
    issueTodayValue: 0.61,
    target: '>= 0.9x',
    direction: '>=',
    targetValue: 0.9,
    unit: 'x',
    pick: (r) => fig(r, 'http', 'ratios', 'fastify-ours/fastify-hand.reqPerSec'),
    detail: (r) =>
      `server CPU/req: ours ${f(fig(r, 'http', 'figures', 'fastify-ours.serverCpuUsPerReq'), 0)} µs, hand ${f(fig(r, 'http', 'figures', 'fastify-hand.serverCpuUsPerReq'), 0)} µs, no auth ${f(fig(r, 'http', 'figures', 'fastify-none.serverCpuUsPerReq'), 0)} µs`,
  },
  {
    id: 'express-vs-session',
    label: 'Express: ours ÷ express-session',
    figure: 'Express: `tokenAuth` ÷ express-session + connect-redis, req/s',
    issueToday: '1.30x',
    issueTodayValue: 1.3,
    target: '>= 1.5x',
    direction: '>=',
    targetValue: 1.5,
    unit: 'x',
    pick: (r) => fig(r, 'http', 'ratios', 'express-ours/express-session.reqPerSec'),
    detail: (r) => `session server CPU/req ${f(fig(r, 'http', 'figures', 'express-session.serverCpuUsPerReq'), 0)} µs`,
  },
  {
    id: 'memory-10-devices',
    label: 'bytes/token, 10 devices, details',
    figure: 'Redis bytes per token, index included, 10 devices per user, ~100 B of device details',
    issueToday: '456 B (no details: 361)',
    issueTodayValue: 456,
    target: '<= 250 B',
    direction: '<=',
    targetValue: 250,
    unit: 'B',
    pick: (r) => fig(r, 'memory', 'figures', 'devices10.details.bytesPerToken'),
    detail: (r) => `no details: ${f(fig(r, 'memory', 'figures', 'devices10.bare.bytesPerToken'), 0)} B`,
  },
  {
    id: 'memory-1-device',
    label: 'bytes/token, 1 device, details',
    figure: 'the same at 1 device per user',
    issueToday: '602 B (no details: 506)',
    issueTodayValue: 602,
    target: '<= 400 B',
    direction: '<=',
    targetValue: 400,
    unit: 'B',
    pick: (r) => fig(r, 'memory', 'figures', 'devices1.details.bytesPerToken'),
    detail: (r) => `no details: ${f(fig(r, 'memory', 'figures', 'devices1.bare.bytesPerToken'), 0)} B`,
  },
  {
    id: 'verify-p99-scale-c50',
    label: 'verify p99 many ÷ 1k tokens, c50',
    figure: 'verify p99 with renewal at many live tokens ÷ at 1k, 50 in flight',
    issueToday: '1.19x (1M tokens)',
    issueTodayValue: 1.19,
    target: '<= 1.2x',
    direction: '<=',
    targetValue: 1.2,
    unit: 'x',
    pick: (r) => fig(r, 'scale', 'ratios', 'verify.c50.big/small.p99Us'),
    detail: (r) =>
      `${String(r.scale?.params.bigTokens ?? '?')} tokens; p99 ${f(fig(r, 'scale', 'figures', 'verify.c50.big.p99Us'), 0)} vs ${f(fig(r, 'scale', 'figures', 'verify.c50.small.p99Us'), 0)} µs; p50 ratio ${f(fig(r, 'scale', 'ratios', 'verify.c50.big/small.p50Us'))}x`,
  },
  {
    id: 'verify-p99-scale-c1',
    label: 'verify p99 many ÷ 1k tokens, c1',
    figure: 'the same, 1 in flight',
    issueToday: '1.68x (1M tokens)',
    issueTodayValue: 1.68,
    target: '<= 1.2x',
    direction: '<=',
    targetValue: 1.2,
    unit: 'x',
    pick: (r) => fig(r, 'scale', 'ratios', 'verify.c1.big/small.p99Us'),
    detail: (r) =>
      `p99 ${f(fig(r, 'scale', 'figures', 'verify.c1.big.p99Us'), 0)} vs ${f(fig(r, 'scale', 'figures', 'verify.c1.small.p99Us'), 0)} µs; p50 ratio ${f(fig(r, 'scale', 'ratios', 'verify.c1.big/small.p50Us'))}x`,
  },
  {
    id: 'create-at-limit-1000',
    label: 'create at limit, 1,000 devices',
    figure: 'create at the device limit with 1,000 devices, Redis time of the script',
    issueToday: '14.9 ms (2,000 GETs and decodes)',
    issueTodayValue: 14.9,
    target: '<= 1 ms, independent of the device count',
    direction: '<=',
    targetValue: 1,
    unit: 'ms',
    pick: (r) => toMs(fig(r, 'scale', 'figures', 'create-at-limit.d1000.redisUs')),
    detail: (r) =>
      `at 1/10/100 devices: ${[1, 10, 100].map((d) => f(toMs(fig(r, 'scale', 'figures', `create-at-limit.d${d}.redisUs`)), 3)).join(' / ')} ms`,
  },
  {
    id: 'revoke-all-1000',
    label: 'revoke-all 1,000 ÷ DEL',
    figure: 'revoke-all of 1,000 devices ÷ one DEL of the same keys (wall time of the call; Redis time beside)',
    issueToday: '3.1x',
    issueTodayValue: 3.1,
    target: '<= 2x',
    direction: '<=',
    targetValue: 2,
    unit: 'x',
    pick: (r) => fig(r, 'scale', 'ratios', 'revoke-all.d1000/del.wallUs'),
    detail: (r) =>
      `${f(toMs(fig(r, 'scale', 'figures', 'revoke-all.d1000.wallUs')), 2)} ms vs DEL ${f(toMs(fig(r, 'scale', 'figures', 'del.d1000.wallUs')), 2)} ms; Redis time ${f(toMs(fig(r, 'scale', 'figures', 'revoke-all.d1000.redisUs')), 2)} ms vs ${f(toMs(fig(r, 'scale', 'figures', 'del.d1000.redisUs')), 2)} ms = ${f(fig(r, 'scale', 'ratios', 'revoke-all.d1000/del.redisUs'))}x`,
  },
  {
    id: 'list-1000',
    label: 'list 1,000 ÷ MGET',
    figure:
      'list of 1,000 devices ÷ one MGET of the same keys (wall time of the call, decoding included; Redis time beside)',
    issueToday: '7x',
    issueTodayValue: 7,
    target: '<= 2x, with paging for big lists',
    direction: '<=',
    targetValue: 2,
    unit: 'x',
    pick: (r) => fig(r, 'scale', 'ratios', 'list.d1000/mget.wallUs'),
    detail: (r) =>
      `${f(toMs(fig(r, 'scale', 'figures', 'list.d1000.wallUs')), 2)} ms vs one read (HGETALL; 0.1: MGET) ${f(toMs(fig(r, 'scale', 'figures', 'mget.d1000.wallUs')), 2)} ms; Redis time ${f(toMs(fig(r, 'scale', 'figures', 'list.d1000.redisUs')), 2)} ms vs ${f(toMs(fig(r, 'scale', 'figures', 'mget.d1000.redisUs')), 2)} ms = ${f(fig(r, 'scale', 'ratios', 'list.d1000/mget.redisUs'))}x`,
  },
  {
    id: 'fastify-cache-vs-none',
    label: 'Fastify: ours with the cache ÷ no auth',
    figure: 'Fastify with our adapter and the local cache ÷ Fastify with no auth, req/s',
    issueToday: '0.39x without a cache',
    issueTodayValue: 0.39,
    target: '>= 0.85x (with the cache)',
    direction: '>=',
    targetValue: 0.85,
    unit: 'x',
    pick: (r) => fig(r, 'http', 'ratios', 'fastify-ours-cache/fastify-none.reqPerSec'),
    detail: (r) =>
      `without the cache ${f(fig(r, 'http', 'ratios', 'fastify-ours/fastify-none.reqPerSec'))}x; server CPU/req: ours with the cache ${f(fig(r, 'http', 'figures', 'fastify-ours-cache.serverCpuUsPerReq'), 0)} µs, no auth ${f(fig(r, 'http', 'figures', 'fastify-none.serverCpuUsPerReq'), 0)} µs`,
  },
];

/** The issue's table resolved against `results` (scenarios that did not run give 'not measured'). */
export function resolveTable(results: Results): TableRow[] {
  return SPECS.map((s) => {
    const measured = s.pick(results) ?? null;
    const ok = measured && Number.isFinite(measured.median);
    const met = ok && (s.direction === '>=' ? measured.median >= s.targetValue : measured.median <= s.targetValue);
    return {
      id: s.id,
      label: s.label,
      figure: s.figure,
      issueToday: s.issueToday,
      issueTodayValue: s.issueTodayValue,
      target: s.target,
      direction: s.direction,
      targetValue: s.targetValue,
      unit: s.unit,
      measured: ok ? measured : null,
      detail: ok ? s.detail(results) : '',
      status: !ok ? 'not measured' : met ? 'met' : 'missed',
    };
  });
}
