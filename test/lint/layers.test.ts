/**
 * The layer rule of biome.jsonc (`frameworks -> http -> core <- stores`, Biome's `noRestrictedImports` in
 * one override per folder) bites: fixture files placed at src/<layer>/ in a throwaway copy of the project
 * (biome.jsonc copied unchanged into a temp directory, nothing written into the repository) are linted
 * by the real Biome binary; each forbidden import fails naming the rule and the layering, each allowed one
 * passes, so the rule can neither be switched off nor widen to refuse everything without a test failing.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const biome = join(root, 'node_modules', '.bin', 'biome');
const run = promisify(execFile);

interface Diagnostic {
  category: string;
  message: string;
  location: { path: string | null };
}

/** Lints `files` (relative paths) in `cwd` with the layer rule only; the diagnostics of Biome's JSON reporter. */
async function lintLayers(cwd: string, files: string[]): Promise<Diagnostic[]> {
  const args = ['lint', '--vcs-enabled=false', '--only=style/noRestrictedImports', '--reporter=json', ...files];
  // Biome exits 1 when it reports an error; the report on stdout is what the test reads either way.
  const { stdout } = await run(biome, args, { cwd, maxBuffer: 16 * 1024 * 1024 }).catch(
    (e: { stdout?: string; stderr?: string }) => {
      if (!e.stdout) throw new Error(`biome printed no report: ${e.stderr ?? String(e)}`);
      return { stdout: e.stdout };
    },
  );
  return (JSON.parse(stdout) as { diagnostics: Diagnostic[] }).diagnostics;
}

const project = mkdtempSync(join(tmpdir(), 'rmt-layers-'));
copyFileSync(join(root, 'biome.jsonc'), join(project, 'biome.jsonc'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

let counter = 0;
/** Writes a fixture module at `src/<layer>/<name>` of the throwaway project; its relative path. */
function fixture(layer: string, source: string): string {
  const path = join('src', layer, `fixture-${++counter}.ts`);
  mkdirSync(dirname(join(project, path)), { recursive: true });
  writeFileSync(join(project, path), source);
  return path;
}

const importOf = (specifier: string) => `import { x } from '${specifier}';\nexport const y = x;\n`;

/** [layer folder under src/, import specifier]: each must be refused by the layer rule. */
const forbidden: Array<[string, string]> = [
  ['core', '../stores/memory.js'],
  ['core', '../stores/redis/store.js'],
  ['core', '../http/index.js'],
  ['core', '../frameworks/express.js'],
  ['core', '../express.js'],
  ['core', 'redis-multitokens/redis'],
  ['core', 'ioredis'],
  ['core', 'redis'],
  ['core', '@redis/client'],
  ['core', 'express'],
  ['core', 'fastify'],
  ['core', 'hono/factory'],
  ['core', '@nestjs/common'],
  ['http', '../frameworks/express.js'],
  ['http', '../stores/memory.js'],
  ['http', '../stores/redis/driver.js'],
  ['http', '../express.js'],
  ['http', 'ioredis'],
  ['http', 'koa'],
  ['http', '@nestjs/core'],
  ['stores', '../http/index.js'],
  ['stores', '../frameworks/koa.js'],
  ['stores/redis', '../../http/responses.js'],
  ['stores/redis', '../../frameworks/fastify.js'],
  ['stores/redis', '../../express.js'],
  ['stores/redis', 'fastify'],
  ['frameworks', '../stores/memory.js'],
  ['frameworks', '../stores/redis/store.js'],
  ['frameworks', '../redis.js'],
  ['frameworks', 'ioredis'],
  ['frameworks', 'redis'],
  ['integrations', '../stores/memory.js'],
  ['integrations', '../http/index.js'],
  ['integrations', '../redis.js'],
  ['integrations', 'redis-multitokens'],
  ['integrations', '@opentelemetry/sdk-trace-base'],
  ['integrations', 'ioredis'],
];

/** [layer folder under src/, import specifier]: what each layer is meant to import, which must pass. */
const allowed: Array<[string, string]> = [
  ['core', './store.js'],
  ['core', 'node:crypto'],
  ['http', '../core/errors.js'],
  ['http', './responses.js'],
  ['stores', '../core/store.js'],
  ['stores/redis', '../../core/errors.js'],
  ['stores/redis', 'ioredis'],
  ['stores/redis', 'redis'],
  ['frameworks', '../http/authenticate.js'],
  ['frameworks', '../core/manager.js'],
  ['frameworks', 'express'],
  ['integrations', '../core/tracing.js'],
  ['integrations', '@opentelemetry/api'],
  ['integrations', 'node:perf_hooks'],
];

const dynamicSources = [
  "import type { MemoryStore } from '../stores/memory.js';\nexport type S = MemoryStore;\n",
  "export { authenticate } from '../http/authenticate.js';\n",
  "import '../frameworks/hono.js';\n",
  "export const load = () => import('ioredis');\n",
];

// Every fixture is written first and linted by one Biome run (one process, not one per case).
const forbiddenPaths = forbidden.map(([layer, specifier]) => fixture(layer, importOf(specifier)));
const allowedPaths = allowed.map(([layer, specifier]) => fixture(layer, importOf(specifier)));
const otherFormPaths = dynamicSources.map((source) => fixture('core', source));
let diagnostics: Diagnostic[] = [];
beforeAll(async () => {
  diagnostics = await lintLayers(project, ['src']);
}, 60_000);
const diagnosticsOf = (path: string) => diagnostics.filter((d) => d.location.path === path);

describe('layer rule (frameworks -> http -> core <- stores)', () => {
  it.each(forbidden.map(([layer, specifier], i) => [layer, specifier, forbiddenPaths[i]!]))(
    'src/%s refuses an import of %s',
    (_layer, _specifier, path) => {
      const found = diagnosticsOf(path);
      expect(found).toHaveLength(1);
      expect(found[0]!.category).toBe('lint/style/noRestrictedImports');
      expect(found[0]!.message).toContain('layering (frameworks -> http -> core <- stores)');
    },
  );

  it.each(allowed.map(([layer, specifier], i) => [layer, specifier, allowedPaths[i]!]))(
    'src/%s may import %s',
    (_layer, _specifier, path) => {
      expect(diagnosticsOf(path)).toEqual([]);
    },
  );

  it('catches type-only imports, re-exports, side-effect and dynamic imports too', () => {
    for (const path of otherFormPaths)
      expect(diagnosticsOf(path).map((d) => d.category)).toEqual(['lint/style/noRestrictedImports']);
  });

  it('reports nothing but the fixtures above', () => {
    const expected = new Set([...forbiddenPaths, ...otherFormPaths]);
    expect(diagnostics.filter((d) => !expected.has(d.location.path ?? ''))).toEqual([]);
  });

  it('holds in the repository as it is', async () => {
    expect(await lintLayers(root, ['src'])).toEqual([]);
  });
});
