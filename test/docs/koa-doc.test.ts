/**
 * The program of docs/frameworks/koa.md compiles and runs as pasted: its first ```ts block is written
 * to a file in this repository (so 'redis-multitokens/*' resolves as in an app: tsconfig paths for tsc,
 * tsx's paths for the run), type-checked with the root tsconfig's options, then run with tsx against
 * the test Redis on a free port: login, /me, /devices, /admin/stats (403), logout, then 401.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/redis-server.js';
import { REDIS_URL, deletePrefix, testRedis } from '../support/redis.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const markdown = readFileSync(`${ROOT}docs/frameworks/koa.md`, 'utf8');
const program = /```ts\n([\s\S]*?)\n```/.exec(markdown)![1]!;
const file = `${ROOT}test/docs/.koa-doc-${process.pid}.ts`;
writeFileSync(file, program + '\n');
afterAll(() => rmSync(file, { force: true }));

describe('docs/frameworks/koa.md', () => {
  it('its program type-checks with the root tsconfig', () => {
    const config = ts.getParsedCommandLineOfConfigFile(`${ROOT}tsconfig.json`, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
    const diagnostics = ts.getPreEmitDiagnostics(ts.createProgram([file], { ...config.options, noEmit: true }));
    expect(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  }, 60_000);

  it('its program runs: login, /me, /devices, a scope refusal, logout', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), REDIS_URL, TOKEN_SECRET: randomBytes(32).toString('base64url') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const base = `http://127.0.0.1:${port}`;
    try {
      const deadline = Date.now() + 30_000;
      while (!output.includes('listening on port')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the program did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const json = { 'Content-Type': 'application/json' };
      const bad = await fetch(`${base}/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'alice', password: 'nope' }) });
      expect(bad.status).toBe(401);
      const login = await fetch(`${base}/login`, { method: 'POST', headers: { ...json, 'User-Agent': 'doc-test' }, body: JSON.stringify({ username: 'alice', password: 'correct horse battery', device: 'laptop' }) });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const auth = { Authorization: `Bearer ${token}` };
      const me = await fetch(`${base}/me`, { headers: auth });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ user: { id: '1', name: 'Alice' }, token: { deviceName: 'laptop', userAgent: 'doc-test', ip: '127.0.0.1' } });
      const devices = await fetch(`${base}/devices`, { headers: auth });
      expect(devices.status).toBe(200);
      expect(((await devices.json()) as unknown[]).length).toBeGreaterThan(0);
      const stats = await fetch(`${base}/admin/stats`, { headers: auth });
      expect(stats.status).toBe(403);
      expect(stats.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
      const badDevice = await fetch(`${base}/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'alice', password: 'correct horse battery', device: 42 }) });
      expect(badDevice.status).toBe(400);
      expect(await badDevice.json()).toMatchObject({ reason: 'invalid_argument' });
      expect((await fetch(`${base}/logout`, { method: 'POST', headers: auth })).status).toBe(204);
      const after = await fetch(`${base}/me`, { headers: auth });
      expect(after.status).toBe(401);
      expect(after.headers.get('www-authenticate')).toMatch(/^Bearer realm="api"/);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      const redis = testRedis();
      try {
        // The program's prefix: its tokens in the test Redis (the user is '1' of the doc).
        await deletePrefix(redis, 'shop:tokens:');
      } finally {
        await redis.quit();
      }
    }
  }, 60_000);
});
