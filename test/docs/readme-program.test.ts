/**
 * The README's complete Express program runs as pasted (only its fixed port 3000 is swapped for a free
 * one, and its key prefix for a unique one, so runs in parallel never share keys) with tsx against the test Redis: a login as the stand-in user, the first authenticated request
 * (/me with the device details), a logout, then 401 for the same token. code-blocks.test.ts type-checks it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/redis-server.js';
import { deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILE = `${ROOT}test/docs/.readme-program-${process.pid}.ts`;
const json = { 'Content-Type': 'application/json' };
const PREFIX = uniquePrefix('readme');

afterAll(async () => {
  rmSync(FILE, { force: true });
  const redis = testRedis();
  try {
    await deletePrefix(redis, PREFIX);
  } finally {
    await redis.quit();
  }
});

describe('README.md complete setup', () => {
  it('logs in, answers the first authenticated request, logs out', async () => {
    const program = /```ts\n([\s\S]*?)\n```/.exec(readFileSync(`${ROOT}README.md`, 'utf8'))![1]!;
    expect(program).toContain('app.listen(3000');
    expect(program).toContain("keyPrefix: 'myapp:tokens:'");
    const port = await freePort();
    writeFileSync(FILE, program.replaceAll('3000', String(port)).replace("'myapp:tokens:'", `'${PREFIX}'`) + '\n');
    const child = spawn(process.execPath, ['--import', 'tsx', FILE], {
      cwd: ROOT,
      env: { ...process.env, TOKEN_SECRET: randomBytes(32).toString('base64url') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const deadline = Date.now() + 30_000;
      while (!output.includes('listening on')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the program did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const base = `http://127.0.0.1:${port}`;
      const login = await fetch(`${base}/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'alice', password: 'correct horse battery', device: 'readme' }) });
      expect(login.status).toBe(200);
      const { token, first } = (await login.json()) as { token: string; first: boolean };
      expect(typeof first).toBe('boolean');
      const auth = { Authorization: `Bearer ${token}` };
      const me = await fetch(`${base}/me`, { headers: auth });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ userId: '1', user: { name: 'Alice' }, token: { deviceName: 'readme', ip: '127.0.0.1' } });
      expect((await fetch(`${base}/logout`, { method: 'POST', headers: auth })).status).toBe(204);
      expect((await fetch(`${base}/me`, { headers: auth })).status).toBe(401);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    }
  }, 60_000);
});
