/**
 * The program of docs/frameworks/fastify.md type-checks and runs as pasted against the test Redis: the
 * guides' common tour (test/support/doc-program.ts).
 */
import { describe, expect, it } from 'vitest';
import { docProgram, docTour } from '../support/doc-program.js';
import { REDIS_URL, deletePrefix, testRedis } from '../support/redis.js';

const program = docProgram('fastify', 'Server listening');

describe('docs/frameworks/fastify.md', () => {
  it('its program type-checks with the root tsconfig', () => {
    expect(program.diagnostics()).toEqual([]);
  }, 60_000);

  it('its program runs: login, /me, /devices, a scope refusal, a bad device name, logout', async () => {
    const redis = testRedis();
    try {
      await program.run(REDIS_URL, docTour);
    } finally {
      await deletePrefix(redis, 'myapp:tokens:'); // the doc's key prefix (its user is '1')
      await redis.quit();
    }
  }, 60_000);
});
