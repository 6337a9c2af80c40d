/**
 * The API reference (typedoc over the package's entry points, typedoc.json) builds without a single
 * warning: every export of every entry point carries TSDoc (`validation.notDocumented`), every
 * `{@link}` resolves, and every type an export refers to is itself documented
 * (`treatWarningsAsErrors`). `npm run docs` writes the HTML to api-docs/ (not committed); this test
 * runs the same conversion without writing it (`--emit none`), so the reference cannot drift from the code.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const json = (file: string) => JSON.parse(readFileSync(`${ROOT}${file}`, 'utf8'));

describe('API reference (typedoc)', () => {
  it('covers every subpath the package exports', () => {
    const subpaths = Object.keys(json('package.json').exports).filter((k) => k !== './package.json');
    const expected = subpaths.map((k) =>
      k === '.' ? 'src/index.ts' : k === './testing' ? 'src/testing/index.ts' : `src/${k.slice(2)}.ts`,
    );
    expect([...json('typedoc.json').entryPoints].sort()).toEqual(expected.sort());
  });

  it('builds from the TSDoc with no warning', () => {
    const run = spawnSync(process.execPath, ['node_modules/typedoc/bin/typedoc', '--emit', 'none'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    const output = `${run.stdout}${run.stderr}`;
    expect(output.split('\n').filter((line) => /\[(warning|error)\]/.test(line))).toEqual([]);
    expect(run.status, output).toBe(0);
  }, 180_000);
});
