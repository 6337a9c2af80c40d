/**
 * Every ```ts block of README.md and docs/**\/*.md type-checks (with the TypeScript compiler API, the
 * repository's tsconfig, and `redis-multitokens/*` mapped to src/ by its `paths`).
 *
 * - A block with an `import` is a complete program: checked as pasted, nothing added.
 * - A block without one is a snippet: checked after the prelude below, which declares the free names
 *   the docs use (`tokens`, `userId`, `redis`, `User`, ...). A snippet must still be valid TypeScript.
 * - A block that declares `interface Register` (the app's user type, global to a program) is checked as
 *   a program of its own, so it cannot change the types of the other blocks.
 *
 * The blocks are written to test/.tmp-docs/ (inside the repository, so node_modules and the ESM
 * package type apply), removed afterwards.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { markdownFiles } from '../support/doc-program.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TMP = join(ROOT, 'test', '.tmp-docs');

const PRELUDE = `import { TokenManager, type RevokeReason, type Store } from 'redis-multitokens';
import { IoredisStore } from 'redis-multitokens/ioredis';
import { RedisStore } from 'redis-multitokens/redis';
import { ioredisDriver } from 'redis-multitokens/ioredis';
import { Redis } from 'ioredis';
declare const tokens: TokenManager;
declare const redis: Redis;
declare const userId: string;
declare const currentTokenId: string;
declare const reason: RevokeReason;
declare const userAgent: string | null;
declare const ip: string | null;
declare const NEW_SECRET: string;
declare const OLD_SECRET: string;
declare const MyStore: new () => Store;
declare function it(name: string, fn: () => Promise<void>, timeoutMs?: number): void;
interface User { id: string; name: string }
void TokenManager; void IoredisStore; void RedisStore; void ioredisDriver;
`;

interface Block {
  source: string; // e.g. README.md:17
  code: string;
  snippet: boolean;
  register: boolean;
}

function blocksOf(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    const code = lines.slice(start, end).join('\n');
    const snippet = !/^\s*import\s/m.test(code);
    blocks.push({
      source: `${relative(ROOT, file)}:${start}`,
      code,
      snippet,
      register: /\binterface\s+Register\b/.test(code),
    });
    i = end;
  }
  return blocks;
}

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(ROOT, 'tsconfig.json');
  const { config } = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, configPath);
  return { ...parsed.options, noEmit: true, incremental: false, declaration: false };
}

/** Type-checks `files` as one program; returns the diagnostics as `README.md:17 (+3): message`. */
function check(files: { path: string; block: Block }[], options: ts.CompilerOptions): string[] {
  const program = ts.createProgram(
    files.map((f) => f.path),
    options,
  );
  const out: string[] = [];
  for (const f of files) {
    const sf = program.getSourceFile(f.path);
    if (!sf) {
      out.push(`${f.block.source}: not compiled`);
      continue;
    }
    const offset = f.block.snippet ? PRELUDE.split('\n').length - 1 : 0;
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line - offset;
      out.push(`${f.block.source} (+${line}): ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
  }
  return out;
}

const blocks = markdownFiles().flatMap(blocksOf);

afterAll(() => rmSync(TMP, { recursive: true, force: true }));

describe('code blocks of README.md and docs/', () => {
  it('finds the blocks (the README and the complete programs of the Express guide: Express 5, Express 4)', () => {
    expect(blocks.length).toBeGreaterThan(4);
    expect(blocks.filter((b) => b.source.startsWith('docs/frameworks/express.md') && !b.snippet)).toHaveLength(2);
  });

  it('every ```ts block type-checks', () => {
    rmSync(TMP, { recursive: true, force: true });
    mkdirSync(TMP, { recursive: true });
    const files = blocks.map((block, i) => {
      const path = join(TMP, `${block.source.replace(/[^A-Za-z0-9]+/g, '-')}-${i}.ts`);
      writeFileSync(path, block.snippet ? `${PRELUDE}${block.code}\nexport {};\n` : block.code);
      return { path, block };
    });
    const options = compilerOptions();
    const errors = [
      ...check(
        files.filter((f) => !f.block.register),
        options,
      ),
      ...files.filter((f) => f.block.register).flatMap((f) => check([f], options)),
    ];
    expect(errors).toEqual([]);
  }, 120_000);
});
