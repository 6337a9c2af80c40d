/**
 * `npm run bench`: the benchmark runner (see BENCHMARKS.md).
 *
 *   npm run bench                    full run; writes bench/results/latest.{json,svg} and BENCHMARKS.md
 *   npm run bench -- --quick         under 2 minutes: fewer rounds, shorter bursts, fewer tokens; writes
 *                                    bench/results/quick/ (not tracked), never the recorded results
 *   npm run bench -- --only verify   one scenario (or a comma-separated list); the others' results are kept
 *   npm run bench -- --render        measure nothing: redraw the table, chart and BENCHMARKS.md from latest.json
 *
 * Starts its own throwaway redis-server on a free loopback port (never the shared one at 6379).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderResults, runHarness, SCENARIO_NAMES, type ScenarioName } from './lib/harness.js';
import type { Mode } from './lib/types.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    tiny: { type: 'boolean', default: false },
    render: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    'no-docs': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: npm run bench [-- --quick] [--only verify|http|memory|scale[,...]] [--render] [--no-docs] [--out <dir>]',
  );
  process.exit(0);
}
if (values.render) {
  renderResults({ writeDocs: !values['no-docs'], ...(values.out ? { outDir: values.out } : {}) });
  process.exit(0);
}
const only = (values.only ?? [])
  .flatMap((s) => s.split(','))
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = only.filter((s) => !(SCENARIO_NAMES as readonly string[]).includes(s));
if (unknown.length) {
  console.error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIO_NAMES.join(', ')}`);
  process.exit(2);
}
const mode: Mode = values.tiny ? 'tiny' : values.quick ? 'quick' : 'full';
const args = process.argv.slice(2).join(' ');
// Only a full run is recorded (bench/results/latest.* and BENCHMARKS.md, tracked in git): a quick or
// tiny one writes to bench/results/quick/ (ignored by git) unless --out says otherwise.
const recorded = mode === 'full';
const outDir = values.out ?? (recorded ? undefined : fileURLToPath(new URL('./results/quick/', import.meta.url)));
const results = await runHarness({
  mode,
  only: only as ScenarioName[],
  writeDocs: recorded && !values['no-docs'],
  ...(outDir ? { outDir } : {}),
  command: `npm run bench${args ? ` -- ${args}` : ''}`,
});
for (const row of results.table)
  console.log(
    `${row.status.padEnd(12)} ${row.id.padEnd(24)} ${row.measured ? `${row.measured.median.toFixed(2)} ${row.measured.unit} (${row.measured.min.toFixed(2)}–${row.measured.max.toFixed(2)})` : '—'}  target ${row.target}; issue: ${row.issueToday}`,
  );
process.exit(0);
