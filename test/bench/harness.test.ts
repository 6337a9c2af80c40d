/**
 * The benchmark harness (bench/run.ts) in its tiny mode: one scenario, a few hundred operations on a
 * redis-server of its own, written to a temporary folder. Checks the shape of latest.json and that the
 * figures are numbers; asserts nothing about speed.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runHarness, type Results } from '../../bench/lib/harness.js';

const outDir = mkdtempSync(join(tmpdir(), 'rmt-bench-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('bench harness (tiny mode)', () => {
  it('runs the verify scenario and writes latest.json with numeric figures, the table and the chart', async () => {
    const lines: string[] = [];
    const returned = await runHarness({
      mode: 'tiny',
      only: ['verify'],
      outDir,
      writeDocs: false,
      merge: false,
      log: (l) => lines.push(l),
    });
    const written = JSON.parse(readFileSync(join(outDir, 'latest.json'), 'utf8')) as Results;
    expect(written).toEqual(JSON.parse(JSON.stringify(returned)));
    expect(written.schema).toBe(1);
    expect(written.mode).toBe('tiny');
    expect(written.machine.cpus).toBeGreaterThan(0);
    expect(written.versions.redis).toMatch(/^\d+\.\d+/);
    expect(Object.keys(written.scenarios)).toEqual(['verify']);

    const verify = written.scenarios.verify!;
    for (const name of [
      'ioredis.c1.ours.opsPerSec',
      'ioredis.c50.evalsha.opsPerSec',
      'ioredis.c50.ours-renewal.nodeCpuUsPerOp',
      'ioredis.c50.ours.redisCpuUsPerOp',
    ]) {
      const f = verify.figures[name];
      expect(f, name).toBeDefined();
      expect(Number.isFinite(f!.median) && f!.median > 0, name).toBe(true);
      expect(f!.rounds.length).toBe(f!.n);
    }
    const ratio = verify.ratios['ioredis.c50.ours/evalsha.opsPerSec'];
    expect(ratio?.unit).toBe('x');
    expect(Number.isFinite(ratio!.median)).toBe(true);
    expect(verify.notBuilt).toEqual([]);
    expect(verify.figures['ioredis.c50.ours-cache.opsPerSec']!.median).toBeGreaterThan(0); // the variant with the local verify cache runs
    expect(Number.isFinite(verify.ratios['ioredis.c50.ours-cache/evalsha.opsPerSec']!.median)).toBe(true);

    // every row of the table is there; the verify rows are measured, the others say so
    expect(written.table.map((r) => r.id)).toContain('verify-c50');
    expect(written.table.find((r) => r.id === 'verify-c50')!.status).not.toBe('not measured');
    expect(written.table.find((r) => r.id === 'memory-1-device')!.status).toBe('not measured');
    expect(readFileSync(join(outDir, 'latest.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    expect(existsSync(join(outDir, 'BENCHMARKS.md'))).toBe(false);
  });
});
