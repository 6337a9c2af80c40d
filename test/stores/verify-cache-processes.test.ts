/**
 * The local verify cache across processes (issue 9): a child process (test/support/cache-child.ts, run
 * with `node --import tsx`) holds a cache and verifies a token in a loop; this process revokes it; the
 * child must refuse it within `maxStalenessMs` of the revoke call, on standalone Redis and on a
 * 3-primary Cluster, through ioredis and node-redis. Then the fallback: a subscriber connection killed
 * (CLIENT KILL TYPE pubsub) empties the cache, which serves again once resubscribed; a channel that lags
 * (every byte held by a black-hole proxy) turns the cache off within `maxStalenessMs`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import type { VerifyCacheStats } from '../../src/core/verify-cache.js';
import { clientKinds, type TestClient } from '../support/redis-clients.js';
import {
  hasRedisServerBinary,
  startBlackHoleProxy,
  startRedisCluster,
  startRedisServer,
  type RedisClusterServer,
  type RedisServer,
} from '../support/redis-server.js';
import { REDIS_URL, TEST_SECRET, uniquePrefix } from '../support/redis.js';

const CHILD = fileURLToPath(new URL('../support/cache-child.ts', import.meta.url));
const MAX_STALENESS_MS = 1_000;

interface ChildMsg {
  ready?: true;
  warm?: true;
  refusedAtMs?: number;
  stats?: VerifyCacheStats;
}

async function startChild(config: object): Promise<{ proc: ChildProcess; next: () => Promise<ChildMsg> }> {
  const proc = fork(CHILD, [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const queue: ChildMsg[] = [];
  const waiters: ((m: ChildMsg) => void)[] = [];
  proc.on('message', (m: ChildMsg) => (waiters.length ? waiters.shift()!(m) : queue.push(m)));
  const exited = once(proc, 'exit').then(() => {
    throw new Error('the cache child exited');
  });
  exited.catch(() => {});
  const next = () =>
    queue.length
      ? Promise.resolve(queue.shift()!)
      : Promise.race([new Promise<ChildMsg>((resolve) => waiters.push(resolve)), exited]);
  expect((await next()).ready).toBe(true);
  return { proc, next };
}

async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  proc.send({ exit: true });
  await Promise.race([once(proc, 'exit'), sleep(5_000).then(() => proc.kill('SIGKILL'))]);
}

/**
 * One token per revoke operation, for users spread over the key space: the child caches it (a hit is
 * seen), then this process removes it; the child's first refusal must come within MAX_STALENESS_MS of
 * the moment the removing call was made. Returns the delays seen (milliseconds), for the log.
 */
async function revokeAcrossProcesses(
  manager: TokenManager,
  child: { proc: ChildProcess; next: () => Promise<ChildMsg> },
  label: string,
): Promise<number[]> {
  const delays: number[] = [];
  for (const op of ['revoke', 'revokeById', 'revokeAll', 'revokeOthers', 'evicted'] as const) {
    const user = `${label}-${op}-${Math.random().toString(36).slice(2)}`;
    const t = await manager.create(user);
    const keep = await manager.create(user);
    child.proc.send({ watch: t.token });
    const warm = await child.next();
    expect(warm.warm, `${label} ${op}: the child answers from its cache`).toBe(true);
    await sleep(50); // many hits in the child meanwhile
    const startedAtMs = Date.now();
    if (op === 'revoke') await manager.revoke(t.token);
    else if (op === 'revokeById') await manager.revokeById(user, t.tokenId);
    else if (op === 'revokeAll') await manager.revokeAll(user);
    else if (op === 'revokeOthers') await manager.revokeOthers(user, keep.tokenId);
    else {
      const evicting = await new TokenManager({
        store: manager.store,
        secret: TEST_SECRET,
        maxTokensPerUser: 1,
      }).create(user);
      expect(evicting.evictedTokenIds.sort()).toEqual([t.tokenId, keep.tokenId].sort());
    }
    const refused = await child.next();
    expect(refused.refusedAtMs, `${label} ${op}: refused`).toBeTypeOf('number');
    const delay = refused.refusedAtMs! - startedAtMs;
    expect(
      delay,
      `${label} ${op}: refused ${delay} ms after the revoke call (bound ${MAX_STALENESS_MS} ms)`,
    ).toBeLessThanOrEqual(MAX_STALENESS_MS);
    expect(refused.stats!.hits).toBeGreaterThan(0);
    delays.push(delay);
  }
  return delays;
}

/**
 * The parent's manager (no cache, over `io`) and a child on the same Redis (`where`: { url } or
 * { nodes }) with `client`; `rounds` rounds of every removal; logs the delays seen.
 */
async function acrossProcesses(
  io: TestClient,
  where: object,
  client: string,
  label: string,
  rounds: number,
): Promise<void> {
  const keyPrefix = uniquePrefix('vcp');
  const manager = new TokenManager({
    store: new RedisStore({ driver: io.driver(), keyPrefix, commandTimeoutMs: 5_000 }),
    secret: TEST_SECRET,
  });
  const child = await startChild({
    ...where,
    client,
    keyPrefix,
    secret: TEST_SECRET,
    maxStalenessMs: MAX_STALENESS_MS,
  });
  try {
    const delays: number[] = [];
    for (let round = 0; round < rounds; round++)
      delays.push(...(await revokeAcrossProcesses(manager, child, `${label} ${client} ${round}`)));
    console.log(`verify cache, ${label}, ${client}: refused after ${delays.join(', ')} ms (bound ${MAX_STALENESS_MS})`);
  } finally {
    await stopChild(child.proc);
    await manager.store.close?.();
    await io.close();
  }
}

describe.runIf(hasRedisServerBinary())('verify cache across two processes', () => {
  for (const client of ['ioredis', 'node-redis'] as const)
    it(`standalone Redis, ${client}: every removal (revoke, revokeById, revokeAll, revokeOthers, eviction) is refused by the other process within maxStalenessMs`, async () => {
      await acrossProcesses(await clientKinds()[0]!.standalone(REDIS_URL), { url: REDIS_URL }, client, 'standalone', 1);
    }, 60_000);

  describe('on a 3-primary Redis Cluster', () => {
    let cluster: RedisClusterServer;
    beforeAll(async () => {
      cluster = await startRedisCluster(3);
    }, 60_000);
    afterAll(() => cluster?.stop());
    for (const client of ['ioredis', 'node-redis'] as const)
      it(`${client}: every removal is refused by the other process within maxStalenessMs (users on every primary)`, async () => {
        await acrossProcesses(
          await clientKinds()[0]!.cluster(cluster.nodes),
          { nodes: cluster.nodes },
          client,
          'cluster',
          3,
        );
      }, 120_000);
  });
});

describe.runIf(hasRedisServerBinary())('verify cache fallback when the revocation channel drops or lags', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);
  afterAll(() => server?.stop());

  for (const kind of clientKinds().filter((k) => k.newest)) {
    it(`${kind.name}: CLIENT KILL TYPE pubsub empties the cache, which serves again (empty at first) once resubscribed`, async () => {
      const client: TestClient = await kind.standalone(server.url);
      const m = new TokenManager({
        store: new RedisStore({ driver: client.driver(), keyPrefix: uniquePrefix('vcd') }),
        secret: TEST_SECRET,
        verifyCache: {},
      });
      try {
        while (!m.verifyCacheStats!.active) await sleep(5);
        const t = await m.create('drop');
        await m.verify(t.token);
        await m.verify(t.token);
        const before = m.verifyCacheStats!;
        expect(before.hits).toBe(1);
        expect(before.entries).toBe(1);
        const killer = new Redis(server.url);
        expect(await killer.call('CLIENT', 'KILL', 'TYPE', 'pubsub')).toBe(1); // this manager's subscriber, the only one
        killer.disconnect();
        const deadline = performance.now() + 15_000;
        // The loss empties the cache (resets + 1) and the new subscription again (+ 1), then a heartbeat returns.
        while (!(m.verifyCacheStats!.resets >= before.resets + 2 && m.verifyCacheStats!.active)) {
          expect(performance.now(), JSON.stringify(m.verifyCacheStats)).toBeLessThan(deadline);
          await sleep(10);
        }
        expect(m.verifyCacheStats!.entries).toBe(0);
        const misses = m.verifyCacheStats!.misses;
        expect((await m.verify(t.token)).valid).toBe(true);
        expect(m.verifyCacheStats!.misses).toBe(misses + 1); // empty: the store answers
        expect((await m.verify(t.token)).valid).toBe(true);
        expect(m.verifyCacheStats!.hits).toBe(before.hits + 1); // and it serves again
      } finally {
        await m.close();
        await client.close();
      }
    }, 30_000);

    it(`${kind.name}: a channel that lags (a black-holed connection) turns the cache off within maxStalenessMs; it serves again once the channel catches up`, async () => {
      const proxy = await startBlackHoleProxy(server.port);
      const client: TestClient = await kind.standalone(proxy.url);
      const maxStalenessMs = 400;
      const m = new TokenManager({
        store: new RedisStore({ driver: client.driver(), keyPrefix: uniquePrefix('vcl'), commandTimeoutMs: 100 }),
        secret: TEST_SECRET,
        verifyCache: { maxStalenessMs },
      });
      try {
        while (!m.verifyCacheStats!.active) await sleep(5);
        const t = await m.create('lag');
        await m.verify(t.token);
        proxy.blackHole();
        const start = performance.now();
        let lastHitStartedAt = -Infinity;
        for (;;) {
          const hits = m.verifyCacheStats!.hits;
          const at = performance.now();
          const outcome = await m.verify(t.token).then(
            () => 'ok',
            (e: unknown) => (e instanceof StoreUnavailableError ? 'unavailable' : 'other'),
          );
          if (m.verifyCacheStats!.hits > hits) lastHitStartedAt = at;
          else {
            expect(outcome).toBe('unavailable'); // not from the cache: the held store call times out
            break;
          }
          expect(at - start).toBeLessThan(10 * maxStalenessMs);
          await sleep(5);
        }
        expect(lastHitStartedAt - start).toBeLessThanOrEqual(maxStalenessMs);
        expect(m.verifyCacheStats!.active).toBe(false);
        expect(m.verifyCacheStats!.entries).toBe(0);
        proxy.restore();
        const deadline = performance.now() + 10_000;
        while (!m.verifyCacheStats!.active) {
          expect(performance.now()).toBeLessThan(deadline);
          await sleep(10);
        }
        await m.verify(t.token).catch(() => {});
        let served = false;
        for (let i = 0; i < 50 && !served; i++) {
          const hits = m.verifyCacheStats!.hits;
          await m.verify(t.token).catch(() => {});
          served = m.verifyCacheStats!.hits > hits;
        }
        expect(served).toBe(true);
      } finally {
        await m.close();
        await client.close();
        await proxy.close();
      }
    }, 30_000);
  }
});
