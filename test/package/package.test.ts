/**
 * The built package (dist/, made by `npm test`'s tsup run before the tests; built here once when absent)
 * as a user gets it: every subpath of the `exports` map loads in ESM and in CommonJS, error classes are
 * one class across entries (so `instanceof` works whichever entry threw) and are recognised across the
 * ESM and CommonJS copies (no dual-package hazard), publint finds no error in package.json, and
 * @arethetypeswrong/cli finds every subpath typed under node10, node16 (CJS and ESM) and bundler resolution.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, unknown>;
};
const subpaths = Object.keys(pkg.exports)
  .filter((k) => k !== './package.json')
  .map((k) => (k === '.' ? 'redis-multitokens' : `redis-multitokens/${k.slice(2)}`));

beforeAll(() => {
  if (!existsSync(new URL('../../dist/index.js', import.meta.url)))
    execFileSync('npx', ['tsup', '--silent'], { stdio: 'inherit' });
}, 180_000);

describe('package exports', () => {
  it.each(subpaths)('%s loads as ESM and as CommonJS with the same export names', async (name) => {
    const esm = (await import(name)) as Record<string, unknown>;
    const cjs = require(name) as Record<string, unknown>;
    expect(Object.keys(esm).length).toBeGreaterThan(0);
    expect(
      Object.keys(cjs)
        .filter((k) => k !== 'default')
        .sort(),
    ).toEqual(
      Object.keys(esm)
        .filter((k) => k !== 'default')
        .sort(),
    );
  });

  it('shares one StoreUnavailableError class between entries, in both formats', async () => {
    const errorsOf = async (load: (n: string) => Promise<Record<string, unknown>>) => {
      const core = await load('redis-multitokens');
      const io = await load('redis-multitokens/ioredis');
      const store = new (io.IoredisStore as new (o: unknown) => { verify(i: unknown): Promise<unknown> })({
        url: 'redis://127.0.0.1:1',
        commandTimeoutMs: 200,
      });
      const error = await store
        .verify({
          tokenId: 'x',
          userTag: 'y',
          digests: [],
          renewal: { mode: 'off', ttlMs: null, overwriteNoneTtl: true, touchIntervalMs: 0 },
        })
        .catch((e: unknown) => e);
      await (store as unknown as { close(): Promise<void> }).close();
      return error instanceof (core.StoreUnavailableError as new () => Error);
    };
    expect(await errorsOf((n) => import(n))).toBe(true);
    expect(await errorsOf(async (n) => require(n))).toBe(true);
  });

  it('errors are recognised across the ESM and CommonJS copies: an ESM core with a CommonJS http entry still gives 503', async () => {
    const esm = (await import('redis-multitokens')) as typeof import('../../src/index.js');
    const cjs = require('redis-multitokens') as typeof import('../../src/index.js');
    const cjsHttp = require('redis-multitokens/http') as typeof import('../../src/http/index.js');
    const esmHttp = (await import('redis-multitokens/http')) as typeof import('../../src/http/index.js');
    expect(cjs.StoreUnavailableError).not.toBe(esm.StoreUnavailableError); // two copies: the hazard is real
    const fromEsm = new esm.StoreUnavailableError();
    const fromCjs = new cjs.TokenLimitError(2);
    expect(fromEsm instanceof cjs.StoreUnavailableError).toBe(true);
    expect(fromEsm instanceof cjs.RedisMultitokensError).toBe(true);
    expect(fromEsm instanceof cjs.TokenLimitError).toBe(false);
    expect(fromCjs instanceof esm.TokenLimitError).toBe(true);
    expect(new cjs.InvalidArgumentTypeError('x') instanceof esm.InvalidArgumentTypeError).toBe(true);
    expect(cjsHttp.errorResponse(fromEsm)).toMatchObject({ status: 503, headers: { 'Retry-After': '1' } });
    expect(esmHttp.errorResponse(fromCjs)).toMatchObject({ status: 403, body: { reason: 'token_limit' } });
    // The middleware of one copy answers 503 for the store error of the other.
    const failing = new esm.MemoryStore();
    failing.verify = async () => Promise.reject(new cjs.StoreUnavailableError());
    const manager = new esm.TokenManager({ secret: 'x'.repeat(32), store: failing });
    const { token } = await manager.create(1);
    expect(await esmHttp.authenticate(manager, `Bearer ${token}`)).toMatchObject({
      kind: 'refused',
      response: { status: 503 },
    });
  });

  it('@arethetypeswrong/cli: every entry typed under node10, node16 (CJS and ESM) and bundler resolution', () => {
    let out: string;
    try {
      out = execFileSync('npx', ['attw', '--pack', '.', '--format', 'json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      out = String((error as { stdout?: string }).stdout ?? ''); // attw exits 1 when it finds problems; the JSON says which
    }
    const report = JSON.parse(out.slice(out.indexOf('{'))) as {
      analysis: { problems?: { kind: string; entrypoint?: string; resolutionKind?: string }[] };
    };
    expect(
      (report.analysis.problems ?? []).map((p) => `${p.kind} ${p.entrypoint ?? ''} ${p.resolutionKind ?? ''}`),
    ).toEqual([]);
  }, 120_000);

  it('the tarball carries the licence, the changelog and the security policy beside the code', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'CHANGELOG.md',
        'SECURITY.md',
        'package.json',
        'dist/index.js',
        'dist/index.cjs',
      ]),
    );
    expect(
      files.filter((f) => !/^(dist\/|LICENSE$|README\.md$|CHANGELOG\.md$|SECURITY\.md$|package\.json$)/.test(f)),
      'nothing else (no tests, sources or bench)',
    ).toEqual([]);
    expect(readFileSync(new URL('../../LICENSE', import.meta.url), 'utf8')).toMatch(/^MIT License/);
  }, 60_000);

  it('publint finds no errors or warnings in package.json', async () => {
    const { publint } = await import('publint');
    const { messages } = await publint({ pkgDir: process.cwd(), level: 'warning' });
    expect(messages.map((m) => `${m.type} ${m.code} ${m.path.join('.')}`)).toEqual([]);
  });
});
