/**
 * The choice for a lost user index (see SECURITY.md): the Redis store refuses to work while Redis may
 * evict keys (`maxmemory-policy` other than `noeviction`), with a 503-class error, and recovers by
 * itself once the policy is fixed. Throwaway redis-servers, so the shared Redis is never reconfigured.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreMisconfiguredError, StoreUnavailableError } from '../../src/core/errors.js';
import { TokenManager } from '../../src/core/manager.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

const servers: RedisServer[] = [];
const clients: Redis[] = [];
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const s of servers) await s.stop();
});

async function setup(args: string[], policyCheckIntervalMs?: number) {
  const server = await startRedisServer({ args });
  servers.push(server);
  const client = new Redis(server.url);
  clients.push(client);
  const store = new IoredisStore({ client, policyCheckIntervalMs });
  return { client, store, m: new TokenManager({ store, secret: TEST_SECRET }) };
}

describe('Redis store and maxmemory-policy', () => {
  it.each(['allkeys-lru', 'volatile-ttl', 'allkeys-random'])(
    'refuses to work under %s, then recovers once it is noeviction',
    async (policy) => {
      const { client, store, m } = await setup(['--maxmemory-policy', policy]);
      const error = await m.create('u').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreMisconfiguredError);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as StoreMisconfiguredError).code).toBe('ERR_STORE_EVICTION_POLICY');
      expect((error as Error).message).toContain('noeviction');
      await expect(store.checkEvictionPolicy()).rejects.toBeInstanceOf(StoreMisconfiguredError);
      await expect(m.checkHealth()).rejects.toBeInstanceOf(StoreMisconfiguredError);
      expect(await client.dbsize()).toBe(0);
      await client.config('SET', 'maxmemory-policy', 'noeviction');
      await m.checkHealth();
      const c = await m.create('u');
      expect((await m.verify(c.token)).valid).toBe(true);
    },
  );

  it('notices a policy changed while running (background re-check), and fails closed from then on', async () => {
    const { client, m } = await setup(['--maxmemory-policy', 'noeviction'], 200);
    const c = await m.create('u');
    await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await new Promise((r) => setTimeout(r, 250));
    expect((await m.verify(c.token)).valid).toBe(true); // this call starts the background re-check
    await new Promise((r) => setTimeout(r, 100));
    await expect(m.verify(c.token)).rejects.toBeInstanceOf(StoreMisconfiguredError);
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    expect((await m.verify(c.token)).valid).toBe(true);
  });

  it('under maxmemory (noeviction): logins are refused and write nothing; verify still answers; revokeAll frees memory', async () => {
    const { client, store } = await setup(['--maxmemory-policy', 'noeviction', '--maxmemory', '3mb']);
    const m = new TokenManager({ store, secret: TEST_SECRET, maxTokensPerUser: null }); // 50 users fill 3 MB only without a device limit
    const made = [];
    let refused: unknown;
    for (let i = 0; i < 20_000 && !refused; i++) {
      try {
        made.push(await m.create(`user-${i % 50}`, { userAgent: 'x'.repeat(400) }));
      } catch (e) {
        refused = e;
      }
    }
    expect(refused).toBeInstanceOf(StoreUnavailableError);
    expect(String((refused as Error & { cause?: Error }).cause?.message)).toContain('OOM');
    const keys = await client.dbsize();
    await expect(m.create('user-0')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await client.dbsize()).toBe(keys); // the refused login wrote nothing, not even pruning
    const fresh = new TokenManager({
      store: new IoredisStore({ client }),
      secret: TEST_SECRET,
      touchIntervalSeconds: 0,
    });
    const v = await fresh.verify(made[0]!.token); // a touch is due, but there is no memory for it
    expect(v.valid && !v.renewed).toBe(true);
    expect((await fresh.verify(made[0]!.token.slice(0, 30) + 'x'.repeat(41) + made[0]!.token.slice(71))).valid).toBe(
      false,
    );
    for (let i = 0; i < 50; i++) await m.revokeAll(`user-${i}`);
    expect((await m.verify(made[0]!.token)).valid).toBe(false);
    const again = await m.create('user-0');
    expect((await m.verify(again.token)).valid).toBe(true);
  }, 60_000);

  it('checks the policy again after a reconnect: a Redis restarted with eviction is refused at once', async () => {
    const first = await startRedisServer({ args: ['--maxmemory-policy', 'noeviction'] });
    servers.push(first);
    const client = new Redis(first.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    client.on('error', () => {});
    clients.push(client);
    const m = new TokenManager({ store: new IoredisStore({ client }), secret: TEST_SECRET });
    await m.create('u');
    await first.stop();
    const second = await startRedisServer({ port: first.port, args: ['--maxmemory-policy', 'allkeys-lru'] });
    servers.push(second);
    const deadline = Date.now() + 10_000;
    while (client.status !== 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await expect(m.create('u')).rejects.toBeInstanceOf(StoreMisconfiguredError);
  });

  it('works under noeviction, and when CONFIG is not available to the client (the check cannot be made)', async () => {
    const ok = await setup(['--maxmemory-policy', 'noeviction']);
    await ok.store.checkEvictionPolicy();
    expect((await ok.m.verify((await ok.m.create('u')).token)).valid).toBe(true);
    const hidden = await setup(['--maxmemory-policy', 'allkeys-lru', '--rename-command', 'CONFIG', '""']);
    expect((await hidden.m.verify((await hidden.m.create('u')).token)).valid).toBe(true);
  });
});
