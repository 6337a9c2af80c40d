/**
 * The shell walkthroughs of the README and docs/ (every ```sh block that calls curl on localhost:3000)
 * run as pasted against the real demo (`demo/server.ts`, as `npm start` runs it, on a free port), on the
 * memory store and on Redis, and every answer is the one their comments promise.
 *
 * How a block is checked: it runs in one bash (so `T1=$(curl ...)` carries to the next lines), with
 * `localhost:3000` replaced by the demo's address and a `curl` function that adds
 * `-w '%{stderr}@@status <code>'` in front of the block's own arguments (a `-w` of the block wins, so
 * its output stays as written). After each command the test reads the statuses it saw:
 * - a command whose comment starts with a status (`# 204`, `# 401: ...`) must have answered exactly that;
 * - a comment with a JSON fragment (`# 401 {"error":"invalid_token",...}`) must be in its output;
 * - every other curl must have answered 2xx.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { markdownFiles } from '../support/doc-program.js';
import { freePort } from '../support/redis-server.js';
import { deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Command {
  text: string;
  /** Line in its file, for messages. */
  line: number;
  status: number | null;
  fragment: string | null;
}

interface Walkthrough {
  source: string;
  commands: Command[];
}

/** The curl walkthroughs of one markdown file, split into commands (continuation lines joined). */
function walkthroughs(file: string): Walkthrough[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Walkthrough[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash|shell)\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    const body = lines.slice(start, end);
    i = end;
    if (!body.some((l) => /\bcurl\b.*localhost:3000/.test(l))) continue;
    const commands: Command[] = [];
    for (let j = 0; j < body.length; j++) {
      const first = j;
      let text = body[j]!;
      while (text.endsWith('\\') && j + 1 < body.length) text = `${text.slice(0, -1)}${body[++j]!}`;
      if (/^\s*(#|$)/.test(text)) continue;
      // The comment: a ` # ` outside quotes at the end (the walkthroughs' comments never hold quotes of their own).
      const m = /^(.*?)\s+#\s+(.*)$/.exec(text);
      const code = m ? m[1]! : text;
      const comment = m ? m[2]! : '';
      const status = /^(\d{3})\b/.exec(comment);
      const fragment = /(\{.*?)(,\.\.\.\})?$/.exec(comment);
      commands.push({
        text: code,
        line: start + first + 1,
        status: status ? Number(status[1]) : null,
        fragment: fragment ? fragment[1]! : null,
      });
    }
    out.push({ source: `${relative(ROOT, file)}:${start}`, commands });
  }
  return out;
}

const WALKTHROUGHS = markdownFiles().flatMap(walkthroughs);

/** Starts demo/server.ts as `npm start` does (the package's exports resolved by tsx from src/). */
async function startDemo(env: NodeJS.ProcessEnv): Promise<{ base: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      REDIS_URL: '',
      ...env,
      PORT: String(port),
      SQLITE_PATH: ':memory:',
      TOKEN_SECRET: randomBytes(32).toString('base64url'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('listening on')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the demo did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base: `127.0.0.1:${port}`, child, output: () => output };
}

const MARK = '@@rmt-walkthrough-end';

/** Runs the commands in one bash; returns each command's stdout and the statuses its curls reported. */
function run(commands: Command[], base: string): { stdout: string; statuses: number[] }[] {
  const script = [
    `curl() { command curl -w '%{stderr}@@status %{http_code}\\n' "$@"; }`,
    ...commands.flatMap((c, i) => [
      c.text.replaceAll('localhost:3000', base),
      `printf '\\n${MARK} ${i}\\n'; printf '\\n${MARK} ${i}\\n' >&2`,
    ]),
  ].join('\n');
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  const split = (text: string) => text.split(new RegExp(`\\n${MARK} \\d+\\n`)).slice(0, commands.length);
  const outs = split(result.stdout);
  const errs = split(result.stderr);
  return commands.map((_, i) => ({
    stdout: (outs[i] ?? '').trim(),
    statuses: [...(errs[i] ?? '').matchAll(/@@status (\d{3})/g)].map((m) => Number(m[1])),
  }));
}

describe.each([
  { store: 'memory', env: () => ({}) },
  { store: 'redis', env: () => ({ REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: prefix }) },
])('shell walkthroughs against the demo ($store store)', ({ store, env }) => {
  it('finds the walkthroughs (docs/demo.md has one)', () => {
    expect(WALKTHROUGHS.filter((w) => w.source.startsWith('docs/demo.md')).length).toBeGreaterThan(0);
    expect(WALKTHROUGHS.flatMap((w) => w.commands).filter((c) => c.status !== null).length).toBeGreaterThan(3);
  });

  it.each(WALKTHROUGHS.map((w) => [w.source, w] as const))(
    '%s answers as its comments say',
    async (_source, walkthrough) => {
      const demo = await startDemo(env());
      try {
        expect(demo.output()).toContain(`token store: ${store}`);
        const results = run(walkthrough.commands, demo.base);
        const problems: string[] = [];
        walkthrough.commands.forEach((command, i) => {
          const { stdout, statuses } = results[i]!;
          // A command with its own -w '%{http_code}' prints the status on stdout instead.
          const seen = /%\{http_code\}/.test(command.text) && /^\d{3}$/.test(stdout) ? [Number(stdout)] : statuses;
          const where = `line ${command.line}: ${command.text.trim().slice(0, 80)}`;
          if (command.status !== null) {
            if (seen.length !== 1 || seen[0] !== command.status)
              problems.push(`${where}: expected ${command.status}, got ${seen.join(', ') || 'nothing'}`);
          } else if (/\bcurl\b/.test(command.text) && (seen.length === 0 || seen.some((s) => s < 200 || s > 299))) {
            problems.push(`${where}: expected 2xx, got ${seen.join(', ') || 'nothing'}`);
          }
          if (command.fragment !== null && !stdout.includes(command.fragment))
            problems.push(`${where}: expected ${command.fragment} in ${stdout}`);
        });
        expect(problems).toEqual([]);
      } finally {
        demo.child.kill('SIGTERM');
        await new Promise((r) => (demo.child.exitCode !== null ? r(null) : demo.child.once('exit', r)));
      }
    },
    90_000,
  );
});

const prefix = uniquePrefix('walkthrough');
afterAll(async () => {
  const redis = testRedis();
  try {
    await deletePrefix(redis, prefix);
  } finally {
    await redis.quit();
  }
});
