/**
 * The program of docs/frameworks/express.md runs as pasted (test/docs/code-blocks.test.ts type-checks
 * it): its first ```ts block is written to a file in this repository (so 'redis-multitokens/*' resolves
 * as in an app, by tsx's tsconfig paths) and run with tsx on a free port, once against the test Redis
 * (database 9, so the doc's fixed key prefix cannot meet another test's keys) and once against a Redis
 * that is down: login, /me, /devices, a scope refusal, a bad device name (400), logout then 401; and
 * during the outage 503 + Retry-After JSON from the login route, never a 500.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/redis-server.js';
import { REDIS_URL, deletePrefix } from '../support/redis.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const markdown = readFileSync(`${ROOT}docs/frameworks/express.md`, 'utf8');
const program = /```ts\n([\s\S]*?)\n```/.exec(markdown)![1]!;
const file = `${ROOT}test/docs/.express-doc-${process.pid}.ts`;
writeFileSync(file, program + '\n');
afterAll(() => rmSync(file, { force: true }));

const DB = 9;
const redisUrl = (() => {
  const u = new URL(REDIS_URL);
  u.pathname = `/${DB}`;
  return u.toString();
})();

/** Runs the program with `redisUrl`, calls `fn` with its base URL, then stops it with SIGTERM. */
async function withProgram(url: string, fn: (base: string) => Promise<void>): Promise<void> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), REDIS_URL: url, TOKEN_SECRET: randomBytes(32).toString('base64url') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  try {
    const deadline = Date.now() + 30_000;
    while (!output.includes('listening on')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the program did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}

const json = { 'Content-Type': 'application/json' };
const alice = { username: 'alice', password: 'correct horse battery' };

describe('docs/frameworks/express.md', () => {
  it('its program runs: login, /me, /devices, a scope refusal, a bad device name, logout', async () => {
    const redis = new Redis(redisUrl);
    try {
      await withProgram(redisUrl, async (base) => {
        expect((await fetch(`${base}/login`, { method: 'POST', headers: json, body: JSON.stringify({ ...alice, password: 'nope' }) })).status).toBe(401);
        const login = await fetch(`${base}/login`, { method: 'POST', headers: { ...json, 'User-Agent': 'doc-test' }, body: JSON.stringify({ ...alice, device: 'laptop' }) });
        expect(login.status).toBe(200);
        const { token } = (await login.json()) as { token: string };
        const auth = { Authorization: `Bearer ${token}` };
        const me = await fetch(`${base}/me`, { headers: auth });
        expect(me.status).toBe(200);
        expect(await me.json()).toMatchObject({ user: { id: '1', name: 'Alice' }, token: { deviceName: 'laptop', userAgent: 'doc-test', ip: '127.0.0.1' } });
        const devices = await fetch(`${base}/devices`, { headers: auth });
        expect(((await devices.json()) as unknown[]).length).toBe(1);
        const stats = await fetch(`${base}/admin/stats`, { headers: auth });
        expect(stats.status).toBe(403);
        expect(stats.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
        const badDevice = await fetch(`${base}/login`, { method: 'POST', headers: json, body: JSON.stringify({ ...alice, device: 42 }) });
        expect(badDevice.status).toBe(400);
        expect(await badDevice.json()).toMatchObject({ reason: 'invalid_argument' });
        expect((await fetch(`${base}/logout`, { method: 'POST', headers: auth })).status).toBe(204);
        const after = await fetch(`${base}/me`, { headers: auth });
        expect(after.status).toBe(401);
        expect(after.headers.get('www-authenticate')).toMatch(/^Bearer realm="api"/);
      });
    } finally {
      await deletePrefix(redis, 'myapp:tokens:');
      await redis.quit();
    }
  }, 60_000);

  it('with Redis down its login route answers 503 + Retry-After JSON, not a 500 page', async () => {
    await withProgram(`redis://127.0.0.1:${await freePort()}`, async (base) => {
      const login = await fetch(`${base}/login`, { method: 'POST', headers: json, body: JSON.stringify(alice) });
      expect(login.status).toBe(503);
      expect(login.headers.get('retry-after')).toBe('1');
      expect(login.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await login.json()).toMatchObject({ reason: 'store_unavailable' });
    });
  }, 60_000);
});
