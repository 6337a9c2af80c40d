/**
 * The programs of docs/frameworks/*.md, as an app would paste them: the doc's first ```ts block is
 * written to a file in this repository (so 'redis-multitokens/*' resolves as in an app, through tsx's
 * tsconfig paths), run with tsx on a free port, and walked through the tour every framework guide
 * promises (login, /me, /devices, a scope refusal, a bad device name, logout, then 401). One helper for
 * every guide's test. (test/docs/code-blocks.test.ts type-checks these programs with every other block.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';
import { freePort } from './redis-server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The README and every markdown file under docs/ (absolute paths): the pages whose examples the doc tests run. */
export function markdownFiles(dir = join(ROOT, 'docs'), top = true): string[] {
  const below = readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownFiles(join(dir, e.name), false) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
  return top ? [join(ROOT, 'README.md'), ...below] : below;
}

export interface DocProgram {
  /** Where the program was written (removed after the file's tests). */
  file: string;
  /**
   * Runs the program against `redisUrl` until `fn` (given its base URL and the process) settles; then
   * SIGTERM, unless `fn` ended the process itself.
   */
  run(redisUrl: string, fn: (base: string, child: ChildProcess) => Promise<void>): Promise<void>;
}

/**
 * Writes the first ```ts block of docs/frameworks/`name`.md (or of `options.markdown`, a path from the
 * repository's root, or of docs/`options.doc`; with `options.marker`, the first ```ts block that contains
 * it) to a file and returns how to check and run it. `ready` is a piece of the line the program prints
 * once it listens. `tsconfigFile` also writes a tsconfig naming the program (tsx applies a tsconfig only
 * to the files it includes, and wildcards skip dot files), for programs that need the root options at
 * run time (NestJS: experimentalDecorators). `transform` changes the program's text before it is
 * written (e.g. a fixed key prefix for a unique one).
 */
export function docProgram(
  name: string,
  ready: string,
  options: {
    tsconfigFile?: boolean;
    markdown?: string;
    doc?: string;
    marker?: string;
    transform?: (program: string) => string;
  } = {},
): DocProgram {
  const path = options.markdown ?? (options.doc === undefined ? `docs/frameworks/${name}.md` : `docs/${options.doc}`);
  const markdown = readFileSync(`${ROOT}${path}`, 'utf8');
  const blocks = [...markdown.matchAll(/```ts\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
  const program = blocks.find((b) => b.includes(options.marker ?? ''))!;
  const base = `.${name}-doc-${process.pid}`;
  const file = `${ROOT}test/docs/${base}.ts`;
  writeFileSync(file, `${(options.transform ?? ((p: string) => p))(program)}\n`);
  const tsconfig = options.tsconfigFile ? `${ROOT}test/docs/${base}.tsconfig.json` : undefined;
  if (tsconfig)
    writeFileSync(tsconfig, JSON.stringify({ extends: '../../tsconfig.json', files: [`${base}.ts`], include: [] }));
  afterAll(() => {
    rmSync(file, { force: true });
    if (tsconfig) rmSync(tsconfig, { force: true });
  });

  return {
    file,
    async run(redisUrl, fn) {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PORT: String(port),
        REDIS_URL: redisUrl,
        TOKEN_SECRET: randomBytes(32).toString('base64url'),
      };
      if (tsconfig) env.TSX_TSCONFIG_PATH = tsconfig;
      const child = spawn(process.execPath, ['--import', 'tsx', file], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise((r) => child.once('exit', r));
      try {
        const deadline = Date.now() + 30_000;
        while (!output.includes(ready)) {
          if (Date.now() > deadline || child.exitCode !== null)
            throw new Error(`the program did not start:\n${output}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        await fn(`http://127.0.0.1:${port}`, child);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

const json = { 'Content-Type': 'application/json' };
const alice = { username: 'alice', password: 'correct horse battery' };

/**
 * The tour every guide's program answers the same way: a wrong password (401), a login, /me with the
 * device details, /devices, /admin/stats refused for its scope (403), a bad device name (400 JSON),
 * logout (204), then 401 for the same token.
 */
export async function docTour(base: string): Promise<void> {
  expect(
    (
      await fetch(`${base}/login`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ ...alice, password: 'nope' }),
      })
    ).status,
  ).toBe(401);
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { ...json, 'User-Agent': 'doc-test' },
    body: JSON.stringify({ ...alice, device: 'laptop' }),
  });
  expect(login.status).toBe(200);
  const { token } = (await login.json()) as { token: string };
  const auth = { Authorization: `Bearer ${token}` };
  const me = await fetch(`${base}/me`, { headers: auth });
  expect(me.status).toBe(200);
  expect(await me.json()).toMatchObject({
    user: { id: '1', name: 'Alice' },
    token: { deviceName: 'laptop', userAgent: 'doc-test', ip: '127.0.0.1' },
  });
  const devices = await fetch(`${base}/devices`, { headers: auth });
  expect(devices.status).toBe(200);
  expect(((await devices.json()) as unknown[]).length).toBeGreaterThan(0);
  const stats = await fetch(`${base}/admin/stats`, { headers: auth });
  expect(stats.status).toBe(403);
  expect(stats.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
  const badDevice = await fetch(`${base}/login`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ ...alice, device: 42 }),
  });
  expect(badDevice.status).toBe(400);
  expect(await badDevice.json()).toMatchObject({ reason: 'invalid_argument' });
  expect((await fetch(`${base}/logout`, { method: 'POST', headers: auth })).status).toBe(204);
  const after = await fetch(`${base}/me`, { headers: auth });
  expect(after.status).toBe(401);
  expect(after.headers.get('www-authenticate')).toMatch(/^Bearer realm="api"/);
}

/** A login to the program, for tests that check one answer with the store down. */
export function docLogin(base: string): Promise<Response> {
  return fetch(`${base}/login`, { method: 'POST', headers: json, body: JSON.stringify(alice) });
}
