/**
 * The harness: starts its own Redis, runs the chosen scenarios one after the other, stops the Redis,
 * and writes `latest.json`, `latest.svg` and (by default) BENCHMARKS.md. `bench/run.ts` is its CLI;
 * the test suite calls {@link runHarness} in `tiny` mode.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startBenchRedis, redisVersion } from './redis.js';
import { markdown } from './markdown.js';
import { REPO_ROOT } from './paths.js';
import { chartSvg } from './svg.js';
import { resolveTable, type TableRow } from './table.js';
import type { Mode, Scenario, ScenarioResult } from './types.js';

export { REPO_ROOT };
export const SCENARIO_NAMES = ['verify', 'http', 'memory', 'scale'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** A scenario's result as stored in latest.json, with when and how it ran. */
export interface StoredScenario extends ScenarioResult {
  title: string;
  date: string;
  mode: Mode;
  durationSeconds: number;
}

/** The shape of bench/results/latest.json. */
export interface Results {
  schema: 1;
  date: string;
  /** The mode of the last run; each scenario says its own (a run with --only keeps the others' results). */
  mode: Mode;
  command: string;
  durationSeconds: number;
  machine: { cpus: number; cpuModel: string; totalMemoryMB: number; platform: string; arch: string };
  versions: { node: string; redis: string; packages: Record<string, string> };
  scenarios: Partial<Record<ScenarioName, StoredScenario>>;
  table: TableRow[];
}

export interface HarnessOptions {
  mode: Mode;
  only?: readonly ScenarioName[];
  /** Where latest.json and latest.svg go (default bench/results). */
  outDir?: string;
  /** Write BENCHMARKS.md at the repo root (default true). */
  writeDocs?: boolean;
  /** Keep the other scenarios of an existing latest.json when running only some (default true). */
  merge?: boolean;
  log?: (line: string) => void;
  command?: string;
}

const LOADERS: Record<ScenarioName, () => Promise<{ default: Scenario }>> = {
  verify: () => import('../verify/index.js'),
  http: () => import('../http/index.js'),
  memory: () => import('../memory/index.js'),
  scale: () => import('../scale/index.js'),
};

async function loadScenario(name: ScenarioName): Promise<Scenario> {
  return (await LOADERS[name]()).default;
}

const PACKAGES = [
  'redis-multitokens',
  'ioredis',
  'redis',
  'express',
  'fastify',
  'express-session',
  'connect-redis',
  'autocannon',
  'tinybench',
];

function packageVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of PACKAGES) {
    const file =
      p === 'redis-multitokens' ? join(REPO_ROOT, 'package.json') : join(REPO_ROOT, 'node_modules', p, 'package.json');
    try {
      out[p] = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      out[p] = 'not installed';
    }
  }
  return out;
}

/**
 * Rewrites latest.json's table, latest.svg and BENCHMARKS.md from the figures already in latest.json,
 * measuring nothing (after a change to the table, the chart or the Markdown).
 */
export function renderResults(options: { outDir?: string; writeDocs?: boolean } = {}): Results {
  const outDir = options.outDir ?? join(REPO_ROOT, 'bench', 'results');
  const jsonPath = join(outDir, 'latest.json');
  const results = JSON.parse(readFileSync(jsonPath, 'utf8')) as Results;
  results.table = resolveTable(results.scenarios);
  writeOutputs(results, outDir, options.writeDocs ?? true);
  return results;
}

function writeOutputs(results: Results, outDir: string, writeDocs: boolean): void {
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const subtitle = `${results.date.slice(0, 10)}, ${results.mode} run, ${results.machine.cpus} × ${results.machine.cpuModel}, Node ${results.versions.node}, Redis ${results.versions.redis}`;
  writeFileSync(join(outDir, 'latest.svg'), chartSvg(results.table, subtitle));
  if (writeDocs) writeFileSync(join(REPO_ROOT, 'BENCHMARKS.md'), markdown(results));
}

/** Runs the harness (see the module comment) and returns what it wrote to latest.json. */
export async function runHarness(options: HarnessOptions): Promise<Results> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const outDir = options.outDir ?? join(REPO_ROOT, 'bench', 'results');
  const names = options.only?.length ? SCENARIO_NAMES.filter((n) => options.only!.includes(n)) : [...SCENARIO_NAMES];
  const started = performance.now();
  const server = await startBenchRedis();
  log(`[bench] ${options.mode} run of ${names.join(', ')} on a throwaway redis-server at ${server.url}`);
  const scenarios: Partial<Record<ScenarioName, StoredScenario>> = {};
  let version = 'unknown';
  try {
    const admin = new Redis(server.url);
    version = await redisVersion(admin);
    for (const name of names) {
      await admin.flushall();
      const scenario = await loadScenario(name);
      const t0 = performance.now();
      log(`[bench] ${name}: ${scenario.title}`);
      const result = await scenario.run({ mode: options.mode, redisUrl: server.url, log: (l) => log(`  ${l}`) });
      const durationSeconds = Math.round((performance.now() - t0) / 100) / 10;
      scenarios[name] = {
        title: scenario.title,
        date: new Date().toISOString(),
        mode: options.mode,
        durationSeconds,
        ...result,
      };
      log(`[bench] ${name} done in ${durationSeconds} s`);
    }
    await admin.quit();
  } finally {
    await server.stop('SIGKILL');
  }
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, 'latest.json');
  let merged = scenarios;
  if ((options.merge ?? true) && options.only?.length && existsSync(jsonPath)) {
    try {
      const previous = JSON.parse(readFileSync(jsonPath, 'utf8')) as Results;
      merged = { ...previous.scenarios, ...scenarios };
    } catch {
      // an unreadable previous file: write this run's scenarios only
    }
  }
  const cpuList = cpus();
  const results: Results = {
    schema: 1,
    date: new Date().toISOString(),
    mode: options.mode,
    command: options.command ?? `npm run bench${options.mode === 'quick' ? ' -- --quick' : ''}`,
    durationSeconds: Math.round((performance.now() - started) / 1000),
    machine: {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model ?? 'unknown',
      totalMemoryMB: Math.round(totalmem() / 2 ** 20),
      platform: process.platform,
      arch: process.arch,
    },
    versions: { node: process.version, redis: version, packages: packageVersions() },
    scenarios: merged,
    table: resolveTable(merged),
  };
  writeOutputs(results, outDir, options.writeDocs ?? true);
  log(
    `[bench] wrote ${jsonPath}${(options.writeDocs ?? true) ? ' and BENCHMARKS.md' : ''} (${results.durationSeconds} s in all)`,
  );
  return results;
}
