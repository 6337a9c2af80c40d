/**
 * docs/options.md names every option the code accepts, so the reference cannot drift from the code.
 * The names come from the code itself, two ways:
 * - at run time: each constructor and factory is given an unknown option, and the list of known options
 *   its `rejectUnknownOptions` error prints ("known options: a, b, c") is read back;
 * - from the types: every property of every exported `...Options` type of the package's entry points
 *   (read with the TypeScript compiler API), which also covers the options without a runtime list
 *   (MemoryStore, the adapters' module options).
 * A name counts as documented when docs/options.md has it in backticks (`name`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { TokenManager } from 'redis-multitokens';
import { checkAuthOptions, checkErrorHandlerOptions, scopeRequirement } from 'redis-multitokens/http';
import { RedisStore } from 'redis-multitokens/redis';
import { IoredisStore, ioredisDriver } from 'redis-multitokens/ioredis';
import { nodeRedisDriver } from 'redis-multitokens/node-redis';
import { deviceFromRequest as honoDevice } from 'redis-multitokens/hono';
import { TEST_SECRET } from '../support/redis.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs', 'options.md'), 'utf8');
const ENTRY_POINTS = [
  'index',
  'redis',
  'ioredis',
  'node-redis',
  'http',
  'express',
  'fastify',
  'koa',
  'hono',
  'nestjs',
].map((n) => join(ROOT, 'src', `${n}.ts`));

/** Runs `fn`, which must throw the "unknown option" error, and returns the known options it lists. */
async function knownOptions(fn: () => unknown): Promise<string[]> {
  let message = '';
  try {
    await fn();
  } catch (error) {
    message = (error as Error).message;
  }
  const match = /known options: (.+)$/.exec(message);
  expect(match, `expected an "unknown option" error, got: ${message || 'no error'}`).not.toBeNull();
  return match![1]!.split(', ');
}

const documented = (name: string) => DOC.includes(`\`${name}\``);

describe('docs/options.md', () => {
  it('names every option each constructor and factory accepts (read from its "unknown option" error)', async () => {
    const tokens = new TokenManager({ secret: TEST_SECRET });
    const lists: Record<string, string[]> = {
      TokenManager: await knownOptions(() => new TokenManager({ secret: TEST_SECRET, zzUnknown: 1 } as never)),
      create: await knownOptions(() => tokens.create('u1', { zzUnknown: 1 } as never)),
      revokeById: await knownOptions(() => tokens.revokeById('u1', 'x'.repeat(24), { zzUnknown: 1 } as never)),
      list: await knownOptions(() => tokens.list('u1', { zzUnknown: 1 } as never)),
      RedisStore: await knownOptions(
        () => new RedisStore({ driver: ioredisDriver({ url: 'redis://127.0.0.1:1' }), zzUnknown: 1 } as never),
      ),
      IoredisStore: await knownOptions(() => new IoredisStore({ url: 'redis://127.0.0.1:1', zzUnknown: 1 } as never)),
      ioredisDriver: await knownOptions(() => ioredisDriver({ url: 'redis://127.0.0.1:1', zzUnknown: 1 } as never)),
      nodeRedisDriver: await knownOptions(() => nodeRedisDriver({ url: 'redis://127.0.0.1:1', zzUnknown: 1 } as never)),
      'auth options': await knownOptions(() => checkAuthOptions(tokens, { zzUnknown: 1 } as never)),
      'scope requirement': await knownOptions(() => scopeRequirement(tokens, ['read'], { zzUnknown: 1 } as never)),
      'error handler': await knownOptions(() =>
        checkErrorHandlerOptions('tokenErrorHandler options', { zzUnknown: 1 }),
      ),
      'hono deviceFromRequest': await knownOptions(() => honoDevice({} as never, { zzUnknown: 1 } as never)),
    };
    await tokens.close();
    for (const names of Object.values(lists)) expect(names.length).toBeGreaterThan(0);
    const missing = Object.entries(lists).flatMap(([where, names]) =>
      names.filter((n) => !documented(n)).map((n) => `${where}: ${n}`),
    );
    expect(missing).toEqual([]);
  });

  it('names every property of every exported ...Options type of the entry points', () => {
    const { config } = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (p) => ts.sys.readFile(p));
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
    const program = ts.createProgram(ENTRY_POINTS, { ...options, noEmit: true });
    const checker = program.getTypeChecker();
    const found = new Map<string, string[]>();
    for (const file of ENTRY_POINTS) {
      const module = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
      for (const exported of checker.getExportsOfModule(module)) {
        if (!/Options$/.test(exported.name)) continue;
        const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        const type = checker.getDeclaredTypeOfSymbol(symbol);
        found.set(
          `${file.slice(ROOT.length)}: ${exported.name}`,
          checker.getPropertiesOfType(type).map((p) => p.name),
        );
      }
    }
    expect(found.size).toBeGreaterThan(10);
    const missing = [...found].flatMap(([where, names]) =>
      names.filter((n) => !documented(n)).map((n) => `${where}.${n}`),
    );
    expect(missing).toEqual([]);
  }, 60_000);
});
