/**
 * The program of docs/frameworks/express.md runs as pasted (test/docs/code-blocks.test.ts type-checks
 * it), once against the test Redis (database 9, so the doc's fixed key prefix cannot meet another test's
 * keys): the guides' common tour (test/support/doc-program.ts); and once against a Redis that is down:
 * 503 + Retry-After JSON from the login route, never a 500.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { docLogin, docProgram, docTour } from '../support/doc-program.js';
import { freePort } from '../support/redis-server.js';
import { REDIS_URL, deletePrefix } from '../support/redis.js';

const program = docProgram('express', 'listening on');
const redisUrl = (() => {
  const u = new URL(REDIS_URL);
  u.pathname = '/9';
  return u.toString();
})();

describe('docs/frameworks/express.md', () => {
  it('its program runs: login, /me, /devices, a scope refusal, a bad device name, logout', async () => {
    const redis = new Redis(redisUrl);
    try {
      await program.run(redisUrl, docTour);
    } finally {
      await deletePrefix(redis, 'myapp:tokens:');
      await redis.quit();
    }
  }, 60_000);

  it('with Redis down its login route answers 503 + Retry-After JSON, not a 500 page', async () => {
    await program.run(`redis://127.0.0.1:${await freePort()}`, async (base) => {
      const login = await docLogin(base);
      expect(login.status).toBe(503);
      expect(login.headers.get('retry-after')).toBe('1');
      expect(login.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await login.json()).toMatchObject({ reason: 'store_unavailable' });
    });
  }, 60_000);
});
