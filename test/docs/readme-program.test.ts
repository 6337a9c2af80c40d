/**
 * The README's complete Express program runs as pasted (its fixed key prefix swapped for a unique one,
 * so parallel runs never share keys) with tsx against the test Redis, through the helper every guide's
 * program uses (test/support/doc-program.ts): a login as the stand-in user, the first authenticated
 * request (/me with the device details), a logout, then 401 for the same token.
 * code-blocks.test.ts type-checks it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { docProgram } from '../support/doc-program.js';
import { REDIS_URL, deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const json = { 'Content-Type': 'application/json' };
const PREFIX = uniquePrefix('readme');
const program = docProgram('readme', 'listening on', {
  markdown: 'README.md',
  transform: (p) => {
    expect(p).toContain("keyPrefix: 'myapp:tokens:'");
    return p.replace("'myapp:tokens:'", `'${PREFIX}'`);
  },
});

afterAll(async () => {
  const redis = testRedis();
  try {
    await deletePrefix(redis, PREFIX);
  } finally {
    await redis.quit();
  }
});

describe('README.md complete setup', () => {
  it('logs in, answers the first authenticated request, logs out', async () => {
    await program.run(REDIS_URL, async (base) => {
      const login = await fetch(`${base}/login`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ username: 'alice', password: 'correct horse battery', device: 'readme' }),
      });
      expect(login.status).toBe(200);
      const { token, first } = (await login.json()) as { token: string; first: boolean };
      expect(first).toBe(true);
      const auth = { Authorization: `Bearer ${token}` };
      const me = await fetch(`${base}/me`, { headers: auth });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({
        userId: '1',
        user: { name: 'Alice' },
        token: { deviceName: 'readme', ip: '127.0.0.1' },
      });
      expect((await fetch(`${base}/logout`, { method: 'POST', headers: auth })).status).toBe(204);
      expect((await fetch(`${base}/me`, { headers: auth })).status).toBe(401);
    });
  }, 60_000);
});
