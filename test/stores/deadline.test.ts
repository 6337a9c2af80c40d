/**
 * The command timeout is measured on a monotonic clock (a step of the wall clock, as NTP makes, must
 * neither switch it off nor fire it early), and a stored record the store cannot parse fails closed
 * with StoreUnavailableError (503), not a bare SyntaxError (a 500). A throwaway redis-server each.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { TokenManager } from '../../src/core/manager.js';
import { ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { RedisStore, storedRecordText } from '../../src/stores/redis/store.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<{ server: RedisServer; admin: Redis; manager: TokenManager }> {
  const server = await startRedisServer();
  cleanups.push(() => server.stop());
  const admin = new Redis(server.url, { maxRetriesPerRequest: 0 });
  cleanups.push(() => admin.disconnect());
  const store = new RedisStore({ driver: ioredisDriver({ url: server.url }), keyPrefix: 'dl:', commandTimeoutMs: 300 });
  cleanups.push(() => store.close());
  return { server, admin, manager: new TokenManager({ store, secret: TEST_SECRET }) };
}

describe('the command timeout and a stepped wall clock', () => {
  it.each([
    ['back by 60 s', -60_000],
    ['forward by 60 s', 60_000],
  ])(
    'the clock stepped %s during a call: it still fails after commandTimeoutMs, not at once and not never',
    async (_name, stepMs) => {
      const { admin, manager } = await setup();
      const c = await manager.create('u');
      for (let i = 0; i < 20; i++) expect((await manager.verify(c.token)).valid).toBe(true);
      await admin.client('PAUSE', 2000, 'ALL');
      const started = performance.now();
      const first = manager.verify(c.token).then(
        () => 'resolved',
        (e: unknown) => e,
      );
      const realNow = Date.now.bind(Date);
      vi.spyOn(Date, 'now').mockImplementation(() => realNow() + stepMs);
      const second = manager.verify(c.token).then(
        () => 'resolved',
        (e: unknown) => e,
      );
      for (const outcome of [await first, await second]) expect(outcome).toBeInstanceOf(StoreUnavailableError);
      const elapsed = performance.now() - started;
      expect(elapsed, 'after commandTimeoutMs (300 ms), well before the 2,000 ms pause ends').toBeLessThan(1500);
      expect(elapsed, 'not at once').toBeGreaterThanOrEqual(250);
    },
  );
});

describe('a stored record that is not a valid record', () => {
  it('verify fails closed with StoreUnavailableError that quotes nothing of the record', async () => {
    const { admin, manager } = await setup();
    const c = await manager.create('u', { metadata: { k: 'v' } });
    const [key] = await admin.keys(`dl:*{${c.tokenId.slice(0, 8)}}`);
    const fields = await admin.hgetall(key!);
    const id = c.tokenId.slice(8);
    const text = storedRecordText(id, fields[id]!, (name) => fields[name])!;
    const broken = text.replace('{"k":"v"}', '{0x10}'); // the script does not read metadata, JSON.parse refuses it
    expect(broken).not.toBe(text);
    await admin.hdel(key!, ...Object.keys(fields));
    await admin.hset(key!, id, `0${broken}`);
    const error = await manager.verify(c.token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toContain('is not a valid record');
    expect((error as Error).message).not.toContain('0x10');
  });
});
