/**
 * A partial outage of a Redis Cluster costs only the users on the lost primary. One primary of a
 * 3-primary cluster (throwaway redis-servers, `cluster-require-full-coverage no`) is paused (SIGSTOP:
 * its sockets stay open and silent), then killed (SIGKILL). A FRESH store (its eviction-policy check
 * still pending, as after an app restart or a reconnect) over the app's already-connected cluster
 * client must serve the users whose slots live on the two healthy primaries within `commandTimeoutMs`,
 * and answer the users on the lost primary with StoreUnavailableError (503), never a false "invalid";
 * and once the killed primary is started again, the same app clients serve its users again.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreMisconfiguredError, StoreUnavailableError } from '../../src/core/errors.js';
import { TokenManager } from '../../src/core/manager.js';
import { ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { clientKinds, type TestClient } from '../support/redis-clients.js';
import { hasRedisServerBinary, startRedisCluster, type RedisClusterServer } from '../support/redis-server.js';
import { TEST_SECRET, uniquePrefix } from '../support/redis.js';

const TIMEOUT_MS = 1000;
const USERS = 30;

describe.runIf(hasRedisServerBinary())('Redis Cluster with one primary lost', () => {
  let cluster: RedisClusterServer;
  let admin: Cluster;
  const keyPrefix = uniquePrefix('partial');
  /** Per user: a live token, and the index (in cluster.nodes) of the primary that holds it. */
  const users: { userId: string; token: string; node: number }[] = [];
  const clients: { name: string; client: TestClient }[] = [];
  let victim = 0;
  let victimPid = 0;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    for (const n of cluster.nodes) {
      const r = new Redis(n.port, n.host);
      await r.config('SET', 'cluster-require-full-coverage', 'no');
      r.disconnect();
    }
    admin = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    admin.on('error', () => {});
    const m = new TokenManager({
      store: new RedisStore({ driver: ioredisDriver(admin), keyPrefix }),
      secret: TEST_SECRET,
    });
    const made = await Promise.all(
      Array.from({ length: USERS }, (_, i) => m.create(`partial-${i}`).then((c) => ({ userId: `partial-${i}`, ...c }))),
    );
    // Which primary holds each token: SCAN each node for the hash of its user tag.
    const nodeOfTag = new Map<string, number>();
    for (const [i, n] of cluster.nodes.entries()) {
      const r = new Redis(n.port, n.host);
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${keyPrefix}{*}`, 'COUNT', 1000);
        cursor = next;
        for (const k of keys) nodeOfTag.set(k.slice(k.lastIndexOf('{') + 1, -1), i);
      } while (cursor !== '0');
      r.disconnect();
    }
    for (const c of made) users.push({ userId: c.userId, token: c.token, node: nodeOfTag.get(c.tokenId.slice(0, 8))! });
    victim = users[0]!.node;
    const v = cluster.nodes[victim]!;
    const r = new Redis(v.port, v.host);
    victimPid = Number(/process_id:(\d+)/.exec(await r.info('server'))![1]);
    r.disconnect();
    // The app's cluster clients, connected while all is well.
    for (const kind of clientKinds()) clients.push({ name: kind.name, client: await kind.cluster(cluster.nodes) });
    expect(new Set(users.map((u) => u.node)).size).toBe(3);
  }, 60_000);

  afterAll(async () => {
    if (victimPid) {
      try {
        process.kill(victimPid, 'SIGCONT');
      } catch {
        // gone already
      }
    }
    for (const c of clients) await c.client.close();
    admin?.disconnect();
    await cluster?.stop();
  });

  /** A fresh store over each app client: healthy users are served in time, the lost primary's users get 503 quickly. */
  async function expectOnlyTheLostPrimaryFails(): Promise<void> {
    for (const { name, client } of clients) {
      const store = new RedisStore({ driver: client.driver(), keyPrefix, commandTimeoutMs: TIMEOUT_MS });
      const m = new TokenManager({ store, secret: TEST_SECRET });
      const outcome: string[] = [];
      const started = Date.now();
      await Promise.all(
        users.map(async (u) => {
          const t0 = Date.now();
          const v = await m.verify(u.token).then(
            (r) => (r.valid ? 'valid' : 'INVALID'),
            (e: unknown) =>
              e instanceof StoreUnavailableError && !(e instanceof StoreMisconfiguredError)
                ? '503'
                : `other ${String(e)}`,
          );
          const ms = Date.now() - t0;
          outcome.push(`${name} ${u.userId} node ${u.node === victim ? 'lost' : 'live'}: ${v}`);
          expect(ms, `${name} ${u.userId}`).toBeLessThan(TIMEOUT_MS + 300);
          if (u.node === victim) expect(v, `${name} ${u.userId} on the lost primary`).toBe('503');
          else expect(v, `${name} ${u.userId} on a live primary`).toBe('valid');
        }),
      );
      // Logins of users on live primaries work too, and the lost primary's users get 503 at once now.
      for (const u of users) {
        const t0 = Date.now();
        if (u.node === victim) {
          await expect(m.create(u.userId)).rejects.toBeInstanceOf(StoreUnavailableError);
          expect(Date.now() - t0).toBeLessThan(TIMEOUT_MS + 300);
        } else {
          const c = await m.create(u.userId);
          expect((await m.verify(c.token)).valid).toBe(true);
          await m.revoke(c.token);
        }
      }
      expect(Date.now() - started).toBeLessThan(30_000);
      await store.close();
    }
  }

  it('a paused primary (SIGSTOP): users on the two live primaries verify and log in; users on it get 503', async () => {
    process.kill(victimPid, 'SIGSTOP');
    await expectOnlyTheLostPrimaryFails();
  }, 120_000);

  it('a killed primary (SIGKILL): the same', async () => {
    process.kill(victimPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    await expectOnlyTheLostPrimaryFails();
  }, 120_000);

  it('the killed primary restarted (same port and nodes.conf, its data gone): the same app clients serve its users again, no restart', async () => {
    await cluster.restart(victim);
    victimPid = 0;
    const lost = users.find((u) => u.node === victim)!;
    for (const { name, client } of clients) {
      // One store kept across attempts, as in a running app (ioredis only reconnects a lost master when
      // a command is routed to its slots; the store routes one when the master is missing).
      const store = new RedisStore({ driver: client.driver(), keyPrefix, commandTimeoutMs: TIMEOUT_MS });
      const m = new TokenManager({ store, secret: TEST_SECRET });
      const deadline = Date.now() + 30_000;
      let last: unknown;
      for (;;) {
        const c = await m.create(lost.userId).catch((e: unknown) => {
          last = e;
          return undefined;
        });
        if (c) {
          expect((await m.verify(c.token)).valid, name).toBe(true);
          await m.revoke(c.token);
          break;
        }
        expect(last, `${name}: only 503 while it comes back`).toBeInstanceOf(StoreUnavailableError);
        if (Date.now() > deadline)
          throw new Error(`${name}: the restarted primary's users still fail after 30 s: ${String(last)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      // Its users' old tokens died with its data: a definite "invalid", not a 503.
      expect((await m.verify(lost.token)).valid, name).toBe(false);
      await store.close();
    }
  }, 150_000);
});
