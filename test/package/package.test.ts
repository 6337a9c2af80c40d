/**
 * The built package (dist/, made by `npm run build` before the tests) as a user gets it: every subpath
 * of the `exports` map loads in ESM and in CommonJS, error classes are one class across entries (so
 * `instanceof` works whichever entry threw), and publint finds no error in package.json.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const subpaths = ['redis-multitokens', 'redis-multitokens/express', 'redis-multitokens/redis', 'redis-multitokens/ioredis', 'redis-multitokens/node-redis', 'redis-multitokens/http', 'redis-multitokens/testing'];

describe('package exports', () => {
  it.each(subpaths)('%s loads as ESM and as CommonJS with the same export names', async (name) => {
    const esm = (await import(name)) as Record<string, unknown>;
    const cjs = require(name) as Record<string, unknown>;
    expect(Object.keys(esm).length).toBeGreaterThan(0);
    expect(Object.keys(cjs).filter((k) => k !== 'default').sort()).toEqual(Object.keys(esm).filter((k) => k !== 'default').sort());
  });

  it('shares one StoreUnavailableError class between entries, in both formats', async () => {
    const errorsOf = async (load: (n: string) => Promise<Record<string, unknown>>) => {
      const core = await load('redis-multitokens');
      const io = await load('redis-multitokens/ioredis');
      const store = new (io.IoredisStore as new (o: unknown) => { verify(i: unknown): Promise<unknown> })({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 200 });
      const error = await store.verify({ tokenId: 'x', userTag: 'y', digests: [], renewal: { mode: 'off', ttlMs: null, overwriteNoneTtl: true, touchIntervalMs: 0 } }).catch((e: unknown) => e);
      await (store as unknown as { close(): Promise<void> }).close();
      return error instanceof (core.StoreUnavailableError as new () => Error);
    };
    expect(await errorsOf((n) => import(n))).toBe(true);
    expect(await errorsOf(async (n) => require(n))).toBe(true);
  });

  it('publint finds no errors or warnings in package.json', async () => {
    const { publint } = await import('publint');
    const { messages } = await publint({ pkgDir: process.cwd(), level: 'warning' });
    expect(messages.map((m) => `${m.type} ${m.code} ${m.path.join('.')}`)).toEqual([]);
  });
});
