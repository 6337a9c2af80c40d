/**
 * The programs of docs/frameworks/{fastify,hono,koa}.md run as pasted (code-blocks.test.ts type-checks them) against the test
 * Redis: the guides' common tour (test/support/doc-program.ts). Express and NestJS, which check more
 * (an outage; a shutdown), have files of their own.
 */
import { describe, it } from 'vitest';
import { docProgram, docTour } from '../support/doc-program.js';
import { REDIS_URL, deletePrefix, testRedis } from '../support/redis.js';

/** Each guide: the line its program prints once it listens, and its key prefix (its user is '1'). */
const GUIDES = [
  { name: 'fastify', ready: 'Server listening', prefix: 'myapp:tokens:' },
  { name: 'hono', ready: 'listening on port', prefix: 'notes:tokens:' },
  { name: 'koa', ready: 'listening on port', prefix: 'shop:tokens:' },
];

describe.each(GUIDES)('docs/frameworks/$name.md', ({ name, ready, prefix }) => {
  const program = docProgram(name, ready);

  it('its program runs: login, /me, /devices, a scope refusal, a bad device name, logout', async () => {
    const redis = testRedis();
    try {
      await program.run(REDIS_URL, docTour);
    } finally {
      await deletePrefix(redis, prefix);
      await redis.quit();
    }
  }, 60_000);
});
