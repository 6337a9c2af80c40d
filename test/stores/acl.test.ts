/**
 * The least-privilege ACL user of docs/deployment.md ("Sharing one Redis between apps") works: the test
 * reads the `ACL SETUSER` line from the page itself (so the doc and the test cannot drift), applies it
 * to a throwaway redis-server, and runs every store operation and the start-up checks through each
 * client as that user. Also: every command a Lua script calls is in the line (grep of `redis.call` /
 * `redis.pcall` in the scripts), and the user can touch no key outside its prefix.
 */
import { readFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import { ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { nodeRedisDriver } from '../../src/stores/redis/node-redis.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { clientKinds } from '../support/redis-clients.js';
import {
  hasRedisServerBinary,
  startRedisCluster,
  startRedisServer,
  type RedisServer,
} from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

const doc = readFileSync(new URL('../../docs/deployment.md', import.meta.url), 'utf8');
const aclLines = doc.split('\n').filter((l) => l.startsWith('ACL SETUSER '));
const aclLine = aclLines[0] ?? '';
const [, user, password] = /^ACL SETUSER (\S+) on >(\S+) /.exec(aclLine) ?? [];
const keyPrefix = /~(\S+)\*/.exec(aclLine)?.[1] ?? '';

describe('docs/deployment.md ACL line', () => {
  it('is there once, names a user, a password and a key pattern', () => {
    expect(aclLines).toHaveLength(1);
    expect(user && password && keyPrefix).toBeTruthy();
  });

  it('allows every command the Lua scripts call', () => {
    const sources = ['scripts.ts', 'keys.ts']
      .map((f) => readFileSync(new URL(`../../src/stores/redis/${f}`, import.meta.url), 'utf8'))
      .join('\n');
    const called = new Set([...sources.matchAll(/redis\.p?call\(\s*'([A-Za-z]+)'/g)].map((m) => m[1]!.toLowerCase()));
    expect(called.size).toBeGreaterThan(10);
    const allowed = new Set(
      aclLine
        .split(' ')
        .filter((w) => w.startsWith('+'))
        .map((w) => w.slice(1).toLowerCase()),
    );
    for (const c of called) expect(allowed, c).toContain(c);
  });
});

describe.runIf(hasRedisServerBinary())('the doc ACL user runs the store through every client', () => {
  let server: RedisServer;
  let admin: Redis;
  let url: string;

  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url);
    await admin.call('ACL', ...aclLine.split(' ').slice(1));
    url = `redis://${user}:${password}@127.0.0.1:${server.port}/3`; // a database in the URL: SELECT too
  });

  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  it('the user is confined to its prefix', async () => {
    const app = new Redis(url);
    try {
      await expect(app.set('other-app:key', '1')).rejects.toThrow(/NOPERM/);
      await expect(app.call('FLUSHALL')).rejects.toThrow(/NOPERM/);
      await expect(app.call('KEYS', '*')).rejects.toThrow(/NOPERM/);
    } finally {
      app.disconnect();
    }
  });

  for (const kind of clientKinds()) {
    for (const form of ['app client', 'URL driver'] as const) {
      it(`${kind.name} (${form}): start-up checks, create, verify with renewal due, list, revokeById, revokeOthers, revoke, revokeAll`, async () => {
        const client = form === 'app client' ? await kind.standalone(url) : null;
        const driver = client ? client.driver() : kind.owned(url).driver;
        const store = new RedisStore({ driver, keyPrefix });
        const warnings: unknown[] = [];
        const warn = console.warn;
        console.warn = (...args: unknown[]) => void warnings.push(args);
        try {
          for (const options of [
            { touchIntervalSeconds: 0 },
            { touchIntervalSeconds: 0, renew: 'user' as const, ttlSeconds: null, maxFailedVerifications: 3 },
            { touchIntervalSeconds: 0, verifyCache: {} }, // SUBSCRIBE and the heartbeat's PUBLISH on <prefix>revoked
          ]) {
            const m = new TokenManager({ store, secret: TEST_SECRET, ...options });
            if ('verifyCache' in options)
              await vi.waitFor(() => expect(m.verifyCacheStats!.active).toBe(true), { timeout: 5_000 });
            await m.checkHealth();
            await store.checkEvictionPolicy();
            const userId = `acl-${kind.name}-${form}`;
            const a = await m.create(userId, { deviceName: 'phone' });
            const b = await m.create(userId);
            const c = await m.create(userId);
            const d = await m.create(userId);
            await new Promise((r) => setTimeout(r, 5));
            const v = await m.verify(a.token);
            expect(v.valid).toBe(true);
            expect(v.valid && v.renewed).toBe(true);
            expect((await m.verify(`${a.token.slice(0, -6)}AAAAAA`)).valid).toBe(false); // a wrong secret: the failure counter (INCR)
            // A DPoP-bound token: the key match and the jti's SET NX PX in the same script.
            const jkt = 'j'.repeat(43);
            const bound = await m.create(userId, { jkt });
            const dpop = { jkt, jtiHash: `jti-${Math.random().toString(36).slice(2)}`, replayWindowMs: 10_000 };
            expect(await m.verify(bound.token, { dpop })).toMatchObject({ valid: true });
            expect(await m.verify(bound.token, { dpop })).toEqual({ valid: false, reason: 'dpop_replay' });
            expect(await m.revoke(bound.token)).toBe(true);
            expect((await m.list(userId)).map((r) => r.tokenId).sort()).toEqual(
              [a.tokenId, b.tokenId, c.tokenId, d.tokenId].sort(),
            );
            expect(await m.revokeById(userId, b.tokenId)).toBe(true);
            expect((await m.revokeOthers(userId, a.tokenId)).sort()).toEqual([c.tokenId, d.tokenId].sort());
            expect(await m.revoke(a.token)).toBe(true);
            await m.create(userId);
            expect(await m.revokeAll(userId)).toHaveLength(1);
            expect(await m.list(userId)).toEqual([]);
            // Past 32 tokens (an index): revokeOthers and revokeAll delete the keys whole and write the kept token back.
            const unlimited = new TokenManager({ store, secret: TEST_SECRET, maxTokensPerUser: null });
            const many = [];
            for (let i = 0; i < 34; i++) many.push(await unlimited.create(userId));
            expect(await unlimited.revokeOthers(userId, many[0]!.tokenId)).toHaveLength(33);
            expect(await unlimited.revokeAll(userId)).toEqual([many[0]!.tokenId]);
          }
          expect(warnings).toEqual([]);
        } finally {
          console.warn = warn;
          await store.close();
          await client?.close();
        }
      });
    }
  }
});

describe.runIf(hasRedisServerBinary())('the doc ACL user on a 3-primary cluster (ioredis 6, node-redis 6)', () => {
  it('checkHealth, create, verify, list, revokeAll for users on every primary; nothing denied (ACL LOG empty)', async () => {
    const cluster = await startRedisCluster(3);
    const io = new Cluster(cluster.nodes, { lazyConnect: true, redisOptions: { username: user, password } }); // connects on first use, after the ACL
    io.on('error', () => {});
    const nr = createCluster({
      rootNodes: cluster.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
      defaults: { username: user, password },
    });
    nr.on('error', () => {});
    try {
      for (const n of cluster.nodes) {
        const r = new Redis(n.port, n.host);
        await r.call('ACL', ...aclLine.split(' ').slice(1));
        r.disconnect();
      }
      await nr.connect();
      for (const driver of [ioredisDriver(io), nodeRedisDriver(nr as never)]) {
        const store = new RedisStore({ driver, keyPrefix, commandTimeoutMs: 5000 });
        const m = new TokenManager({ store, secret: TEST_SECRET, touchIntervalSeconds: 0 });
        await m.checkHealth();
        const made = await Promise.all(Array.from({ length: 20 }, (_, i) => m.create(`acl-c-${i}`)));
        for (const c of made) expect((await m.verify(c.token)).valid).toBe(true);
        expect(await m.list('acl-c-0')).toHaveLength(1);
        for (let i = 0; i < 20; i++) expect(await m.revokeAll(`acl-c-${i}`)).toHaveLength(1);
        await store.close();
      }
      for (const n of cluster.nodes) {
        const r = new Redis(n.port, n.host);
        expect(await r.call('ACL', 'LOG')).toEqual([]);
        r.disconnect();
      }
    } finally {
      io.disconnect();
      try {
        nr.destroy();
      } catch {
        // not connected
      }
      await cluster.stop();
    }
  }, 60_000);
});
