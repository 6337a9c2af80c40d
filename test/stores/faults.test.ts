/**
 * Redis faults seen by the store itself (the Express middleware's 503s are in test/http): a black-holed
 * connection fails within commandTimeoutMs and recovers; a "log out everywhere" that times out reports
 * the failure, and a retry finishes the job; an outage does not pile up queued commands or memory.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { TokenManager } from '../../src/core/manager.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import {
  startBlackHoleProxy,
  startRedisServer,
  type BlackHoleProxy,
  type RedisServer,
} from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Node's `gc` when it was started without --expose-gc: set the flag, then read `gc` from a new context. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function throwaway(): Promise<RedisServer> {
  const s = await startRedisServer();
  cleanups.push(() => s.stop());
  return s;
}

describe('Redis faults', () => {
  it('a black-holed connection answers StoreUnavailableError within commandTimeoutMs, then recovers', async () => {
    const server = await throwaway();
    const proxy: BlackHoleProxy = await startBlackHoleProxy(server.port);
    cleanups.push(() => proxy.close());
    const store = new IoredisStore({ url: proxy.url, commandTimeoutMs: 250 });
    cleanups.push(() => store.close());
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const c = await m.create('u');
    proxy.blackHole();
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      await expect(m.verify(c.token)).rejects.toBeInstanceOf(StoreUnavailableError);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(240);
      expect(took).toBeLessThan(2000); // a bound, not a speed measurement: the timeout, not a hang
    }
    await expect(m.checkHealth()).rejects.toBeInstanceOf(StoreUnavailableError);
    proxy.restore();
    await m.checkHealth();
    expect((await m.verify(c.token)).valid).toBe(true);
  });

  it('"log out everywhere" that times out reports failure; a retry finishes the job', async () => {
    const server = await throwaway();
    const admin = new Redis(server.url);
    cleanups.push(() => admin.disconnect());
    const store = new IoredisStore({ url: server.url, commandTimeoutMs: 200 });
    cleanups.push(() => store.close());
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const made = await Promise.all(Array.from({ length: 5 }, () => m.create('u')));
    await admin.client('PAUSE', 800, 'WRITE');
    await expect(m.revokeAll('u')).rejects.toBeInstanceOf(StoreUnavailableError);
    await new Promise((r) => setTimeout(r, 900));
    const retry = await m.revokeAll('u'); // [] if the first call ran once the pause ended, else the five
    expect([0, 5]).toContain(retry.length);
    for (const c of made) expect((await m.verify(c.token)).valid).toBe(false);
    expect(await m.list('u')).toEqual([]);
  });

  it('while Redis is down, calls fail at once and nothing queues: heap stays flat over 20,000 failed verifies', async () => {
    const server = await throwaway();
    const store = new IoredisStore({ url: server.url, commandTimeoutMs: 200 });
    cleanups.push(() => store.close());
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const c = await m.create('u');
    await server.stop();
    await new Promise((r) => setTimeout(r, 100));
    const burst = async () => {
      for (let i = 0; i < 10; i++)
        await Promise.all(
          Array.from({ length: 1000 }, () =>
            m.verify(c.token).catch((e: unknown) => e instanceof StoreUnavailableError),
          ),
        );
    };
    await burst(); // warm-up
    // A real collection before each reading (also without --expose-gc): without it the figure says when
    // the young generation was last collected, not what stayed behind.
    const gc = global.gc ?? exposeGc();
    gc();
    const before = process.memoryUsage().heapUsed;
    const started = Date.now();
    await burst();
    const took = Date.now() - started;
    gc();
    const after = process.memoryUsage().heapUsed;
    expect(took).toBeLessThan(5000); // 10,000 calls failing at once, not after 200 ms each
    // ioredis internals (private in its types): nothing may be waiting to be sent or answered.
    const queues = store.redis as unknown as { offlineQueue: { length: number }; commandQueue: { length: number } };
    expect(queues.offlineQueue.length).toBe(0);
    expect(queues.commandQueue.length).toBe(0);
    expect(after - before).toBeLessThan(20 * 1024 * 1024);
  });
});
