/** BENCHMARKS.md, written from latest.json by the harness (edit this file, not BENCHMARKS.md). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Results } from './harness.js';
import { REPO_ROOT } from './paths.js';
import { spreadPct, type Figure } from './stats.js';

const num = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '—');
const digitsFor = (f: Figure) => (f.unit === 'x' ? 2 : f.unit === 'ms' ? 2 : f.unit === 'µs' ? 1 : 0);
const cell = (f: Figure | null) =>
  f
    ? `**${num(f.median, digitsFor(f))} ${f.unit}** (${num(f.min, digitsFor(f))}–${num(f.max, digitsFor(f))}, n=${f.n})`
    : 'not measured';

/** Every figure of a scenario as Markdown table lines. */
function figureLines(title: string, figures: Record<string, Figure>): string[] {
  const names = Object.keys(figures);
  if (names.length === 0) return [];
  return [
    `| ${title} | median | min | max | spread | rounds |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...names.map((n) => {
      const f = figures[n]!;
      const d = digitsFor(f);
      return `| ${n} | ${num(f.median, d)} ${f.unit} | ${num(f.min, d)} | ${num(f.max, d)} | ${num(spreadPct(f), 0)}% | ${f.n} |`;
    }),
  ];
}

export function markdown(r: Results): string {
  const lines: string[] = [
    '# Benchmarks',
    '',
    '<!-- Written by `npm run bench` (bench/lib/markdown.ts): edit that file, not this one. -->',
    '',
    `Last run: ${r.date.slice(0, 16).replace('T', ' ')} UTC, **${r.mode}** mode (\`${r.command}\`, ${r.durationSeconds} s), on ${r.machine.cpus} × ${r.machine.cpuModel}`,
    `(${r.machine.totalMemoryMB} MB, ${r.machine.platform}/${r.machine.arch}, shared with other jobs), Node ${r.versions.node}, Redis ${r.versions.redis} (a throwaway \`redis-server\` the harness`,
    'starts on a free loopback port: no persistence, `noeviction`), ' +
      Object.entries(r.versions.packages)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') +
      '.',
    '',
    'Every figure is the **median over interleaved rounds** (variants run A B C A B C ...), with the',
    "rounds' min–max beside it; ratios are taken per round (round i of A ÷ round i of B) and then their",
    'median, so a slow moment of this shared machine hits both sides. Read the ratios and the CPU µs per',
    'operation; absolute ops/s move with whatever else the machine runs.',
    '',
    '## Issue 9: today against the targets',
    '',
    '| figure | issue 9 "today" | measured now: median (min–max, rounds) | target | status | beside it |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.table.map(
      (row) =>
        `| ${row.figure} | ${row.issueToday} | ${cell(row.measured)} | ${row.target} | ${row.status} | ${row.detail} |`,
    ),
    '',
    '![issue 9 figures against their targets](bench/results/latest.svg)',
    '',
    'The chart shows each row as progress toward its target (1.0 = on target; right of the dashed line is',
    "better, whether the target is a floor or a ceiling), the whisker the rounds' spread, and the hollow",
    'circle the figure the issue measured before this harness existed.',
    '',
  ];
  const notBuilt = Object.values(r.scenarios).flatMap((s) => s?.notBuilt ?? []);
  if (notBuilt.length)
    lines.push('Not built yet, so not measured (listed, not faked):', '', ...notBuilt.map((n) => `- ${n}`), '');
  const notes = join(REPO_ROOT, 'bench', 'results', 'notes.md');
  if (existsSync(notes)) lines.push(readFileSync(notes, 'utf8').trimEnd(), '');
  lines.push(
    '## How to rerun',
    '',
    '```sh',
    'npm ci',
    'npm run bench                      # full run (about 10 minutes on 2 cores); writes this file',
    'npm run bench -- --quick           # under 2 minutes, fewer rounds and tokens; written to bench/results/quick/, not recorded',
    'npm run bench -- --only scale      # one scenario (verify, http, memory, scale); others kept from latest.json',
    'npm run bench -- --render          # measure nothing: redraw this file and the chart from latest.json',
    '```',
    '',
    'It needs `redis-server` on the PATH (7.x here) and never touches a Redis of yours: it starts its own',
    'on a free loopback port and kills it at the end. Results: `bench/results/latest.json` (every figure',
    'with its rounds, the machine and the versions) and `bench/results/latest.svg`. Scenarios live in',
    '`bench/<scenario>/`, one module per variant; `bench/run.ts` is the runner. `npm run soak` is separate',
    '(bench/soak.ts, bench/results/soak.md).',
    '',
    '## Every figure, per scenario',
    '',
  );
  for (const [name, s] of Object.entries(r.scenarios)) {
    if (!s) continue;
    lines.push(
      `### ${name}`,
      '',
      `${s.title}. Run ${s.date.slice(0, 16).replace('T', ' ')} UTC, ${s.mode} mode, ${s.durationSeconds} s.`,
      '',
    );
    lines.push(
      `Parameters: ${Object.entries(s.params)
        .map(([k, v]) => `${k} = ${Array.isArray(v) ? v.join('; ') : String(v)}`)
        .join(', ')}.`,
      '',
    );
    for (const n of s.notes) lines.push(`- ${n}`);
    if (s.notes.length) lines.push('');
    lines.push(...figureLines('ratio', s.ratios), '', ...figureLines('figure', s.figures), '');
  }
  return lines.join('\n');
}
