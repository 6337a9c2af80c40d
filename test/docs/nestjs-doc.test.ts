/**
 * The program of docs/frameworks/nestjs.md runs as pasted (code-blocks.test.ts type-checks it with the root
 * tsconfig: experimentalDecorators, no emitDecoratorMetadata) with tsx (esbuild: no decorator metadata either) against
 * the test Redis: the guides' common tour (test/support/doc-program.ts); SIGTERM then shuts it down
 * through its onApplicationShutdown (tokens and Redis closed, the process ends of the signal).
 */
import { describe, expect, it } from 'vitest';
import { docProgram, docTour } from '../support/doc-program.js';
import { REDIS_URL, deletePrefix, testRedis } from '../support/redis.js';

const program = docProgram('nestjs', 'Nest application successfully started', { tsconfigFile: true });

describe('docs/frameworks/nestjs.md', () => {
  it('its program runs: login, /me, /devices, a scope refusal, a bad device name, logout; SIGTERM closes it', async () => {
    const redis = testRedis();
    try {
      await program.run(REDIS_URL, async (base, child) => {
        await docTour(base);
        const exited = new Promise<[number | null, string | null]>((r) =>
          child.once('exit', (code, signal) => r([code, signal])),
        );
        child.kill('SIGTERM');
        expect(await exited).toEqual([null, 'SIGTERM']);
      });
    } finally {
      await deletePrefix(redis, 'nestapp:tokens:');
      await redis.quit();
    }
  }, 60_000);
});
