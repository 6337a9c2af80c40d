/**
 * What the drivers accept, and the errors they give for what they cannot use: a `{ url }` whose
 * database is not a whole number, a database the server does not have, a node-redis client pool, the
 * other library's client, a node-redis client the app has not connected (or has closed), and a store
 * used after `close()`. Each answer names the problem; none is a crash, a hang or a silent fallback.
 */
import { Redis as Ioredis6 } from 'ioredis';
import { Redis as Ioredis5 } from 'ioredis5';
import { createClient as createClient6, createClientPool as createClientPool6 } from 'redis';
import { createClient as createClient5, createClientPool as createClientPool5 } from 'redis5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import {
  InvalidArgumentTypeError,
  InvalidArgumentValueError,
  StoreMisconfiguredError,
  StoreUnavailableError,
} from '../../src/core/errors.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { nodeRedisDriver } from '../../src/stores/redis/node-redis.js';
import type { RedisDriver } from '../../src/stores/redis/driver.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { TEST_SECRET, uniquePrefix } from '../support/redis.js';

/** A throwaway server with 4 databases (0 to 3), so database 7 does not exist. */
let server: RedisServer;
let admin: Ioredis6;
beforeAll(async () => {
  server = await startRedisServer({ args: ['--databases', '4'] });
  admin = new Ioredis6(server.url, { maxRetriesPerRequest: 0 });
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

const managerOn = (driver: RedisDriver) => {
  const store = new RedisStore({ driver, keyPrefix: uniquePrefix('input'), commandTimeoutMs: 500 });
  return { store, manager: new TokenManager({ store, secret: TEST_SECRET }) };
};

describe('a `{ url }` whose database is not a whole number is refused when the driver is built', () => {
  for (const [name, make] of [
    ['ioredisDriver', (url: string) => ioredisDriver({ url })],
    ['nodeRedisDriver', (url: string) => nodeRedisDriver({ url })],
  ] as const)
    for (const path of ['/abc', '/-1', '/1.5', '/tmp/redis.sock', '/3x'])
      it(`${name}: redis://…${path}`, () => {
        const url = `redis://app:Pw-Hidden-991@127.0.0.1:6379${path}`;
        let error: unknown;
        try {
          make(url);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(InvalidArgumentValueError);
        const message = (error as Error).message;
        expect(message).toContain(`${name}: the database in \`url\` must be a whole number`);
        expect(message).toContain(`"${path}"`);
        expect(message).toContain('redis://***:***@127.0.0.1:6379');
        expect(message).not.toContain('Pw-Hidden-991');
      });

  it('ioredisDriver: an app client with a `db` that is not a whole number', () => {
    const redis = new Ioredis6({ port: server.port, db: 'abc' as unknown as number, lazyConnect: true });
    expect(() => ioredisDriver(redis)).toThrow(InvalidArgumentValueError);
    expect(() => ioredisDriver(redis)).toThrow(/`db` option must be a whole number/);
    redis.disconnect();
  });

  it('a `?db=` query: ioredis takes a whole number that agrees with the path; node-redis (which ignores it) refuses it; a password in the query never shows', async () => {
    const bad = (make: () => unknown): string => {
      try {
        make();
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidArgumentValueError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    for (const query of ['?db=abc', '?db=-1', '?db=1&db=2', '?db=2&password=Pw-Query-771'])
      expect(bad(() => ioredisDriver({ url: `${server.url}/3${query}` }))).not.toContain('Pw-Query-771');
    expect(bad(() => ioredisDriver({ url: `${server.url}/?db=abc&password=Pw-Query-771` }))).toMatch(
      /\?db=.*must be one whole number/,
    );
    for (const url of [`${server.url}/?db=3`, `${server.url}?db=3`, `${server.url}/3?db=3&password=Pw-Query-771`]) {
      const message = bad(() => nodeRedisDriver({ url }));
      expect(message).toMatch(/ignores `\?db=`/);
      expect(message).not.toContain('Pw-Query-771');
    }
    // An app's node-redis client made with `?db=` is in database 0: refused too.
    const app = createClient6({ url: `${server.url}/?db=3` });
    expect(() => nodeRedisDriver(app as never)).toThrow(/ignores `\?db=`/);
    // ioredis with `?db=2` uses database 2, as the URL says.
    const { store, manager } = managerOn(ioredisDriver({ url: `${server.url}/?db=2` }));
    await manager.create('q');
    await store.close();
    await admin.select(2);
    expect((await admin.keys('*input*')).length).toBeGreaterThan(0);
    await admin.flushdb();
    await admin.select(0);
  });

  it('a whole number, or no database, is accepted', async () => {
    for (const url of [server.url, `${server.url}/`, `${server.url}/3`]) {
      await ioredisDriver({ url }).close();
      await nodeRedisDriver({ url }).close();
    }
  });
});

describe('a database the server does not have fails closed with a clear error', () => {
  const ioredisCases: [string, () => { driver: RedisDriver; close(): void }][] = [
    ['ioredisDriver({ url })', () => ({ driver: ioredisDriver({ url: `${server.url}/7` }), close: () => {} })],
    ...(
      [
        ['ioredis 6', Ioredis6],
        ['ioredis 5', Ioredis5 as unknown as typeof Ioredis6],
      ] as const
    ).map(
      ([label, R]) =>
        [
          `${label} app client with db 7`,
          () => {
            const redis = new R({ host: '127.0.0.1', port: server.port, db: 7, maxRetriesPerRequest: 1 });
            redis.on('error', () => {});
            return { driver: ioredisDriver(redis), close: () => redis.disconnect() };
          },
        ] as [string, () => { driver: RedisDriver; close(): void }],
    ),
  ];
  for (const [name, make] of ioredisCases)
    it(`${name}: StoreMisconfiguredError (ERR_STORE_DATABASE), and nothing written to database 0`, async () => {
      const { driver, close } = make();
      const { store, manager } = managerOn(driver);
      const before = await admin.dbsize();
      try {
        for (const call of [() => manager.create('alice'), () => manager.checkHealth(), () => manager.list('alice')]) {
          const error = await call().then(
            () => null,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(StoreMisconfiguredError);
          expect(error).toBeInstanceOf(StoreUnavailableError);
          expect((error as StoreMisconfiguredError).code).toBe('ERR_STORE_DATABASE');
          expect((error as Error).message).toContain(
            `database 7 does not exist on 127.0.0.1:${server.port} (databases 4)`,
          );
        }
        expect(await admin.dbsize()).toBe(before);
      } finally {
        await store.close();
        close();
      }
    });

  it('nodeRedisDriver({ url }) and a node-redis 6 and 5 app client: StoreUnavailableError naming the reason', async () => {
    const clients = [createClient6, createClient5 as unknown as typeof createClient6].map((create) => {
      const c = create({ url: `${server.url}/7`, socket: { reconnectStrategy: () => 200 } });
      c.on('error', () => {});
      c.connect().catch(() => {});
      return c;
    });
    const drivers = [nodeRedisDriver({ url: `${server.url}/7` }), ...clients.map((c) => nodeRedisDriver(c as never))];
    try {
      for (const driver of drivers) {
        const { store, manager } = managerOn(driver);
        await manager.create('alice').catch(() => {}); // the first call may wait for the (failing) start-up
        await new Promise((r) => setTimeout(r, 100));
        const error = await manager.create('alice').then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message).toMatch(
          new RegExp(`127\\.0\\.0\\.1:${server.port} db 7 \\(node-redis\\) is down: ERR DB index is out of range`),
        );
        await store.close();
      }
    } finally {
      for (const c of clients) c.destroy();
    }
  });
});

describe('node-redis client pools are refused', () => {
  for (const [label, createPool] of [
    ['node-redis 6', createClientPool6],
    ['node-redis 5', createClientPool5 as unknown as typeof createClientPool6],
  ] as const)
    it(`${label}: createClientPool() is an InvalidArgumentTypeError at construction`, async () => {
      const pool = createPool({ url: server.url });
      await pool.connect();
      try {
        expect(() => nodeRedisDriver(pool as never)).toThrow(InvalidArgumentTypeError);
        expect(() => nodeRedisDriver(pool as never)).toThrow(
          /does not take a node-redis client pool \(createClientPool\): pass one client from createClient/,
        );
      } finally {
        pool.destroy();
      }
    });
});

describe('a node-redis app client that met its start-up errors before the store watched it', () => {
  it('a database the server lacks, connect() still pending: the 503 gives a reason and where to look', async () => {
    const client = createClient6({ url: server.url, database: 7, socket: { reconnectStrategy: 100 } });
    client.on('error', () => {});
    const connecting = client.connect().catch(() => {});
    await new Promise((r) => setTimeout(r, 300)); // SELECT 7 has failed by now, before the driver exists
    const { store, manager } = managerOn(nodeRedisDriver(client as never));
    try {
      const error = await manager.create('u').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreUnavailableError);
      // "is down: ..." at once, or "the connection is not ready: ..." after commandTimeoutMs: either way, a reason.
      expect((error as Error).message).toMatch(/(is down|is not ready): .*(not ready|DB index)/);
    } finally {
      await store.close();
      client.destroy();
      await connecting;
    }
  });
});

describe("the other library's client is named as such", () => {
  it('a node-redis client given to ioredisDriver', () => {
    const client = createClient6({ url: server.url });
    expect(() => ioredisDriver(client as never)).toThrow(InvalidArgumentTypeError);
    expect(() => ioredisDriver(client as never)).toThrow(
      'ioredisDriver was given a node-redis client (createClient, createCluster or createSentinel): use nodeRedisDriver',
    );
  });
  it('an ioredis client given to nodeRedisDriver', () => {
    const redis = new Ioredis6({ port: server.port, lazyConnect: true });
    expect(() => nodeRedisDriver(redis as never)).toThrow(InvalidArgumentTypeError);
    expect(() => nodeRedisDriver(redis as never)).toThrow(
      'nodeRedisDriver was given an ioredis client: use ioredisDriver',
    );
    redis.disconnect();
  });
});

describe('a node-redis client the app has not connected, or has closed, is named as the cause', () => {
  for (const [label, create] of [
    ['node-redis 6', createClient6],
    ['node-redis 5', createClient5 as unknown as typeof createClient6],
  ] as const) {
    it(`${label}: never connected`, async () => {
      const client = create({ url: server.url });
      const { store, manager } = managerOn(nodeRedisDriver(client as never));
      const error = await manager.create('alice').then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toContain(
        'the node-redis client is not connected (call client.connect() before using the store)',
      );
      await store.close();
    });
    it(`${label}: closed by the app while the store uses it`, async () => {
      const client = create({ url: server.url });
      await client.connect();
      const { store, manager } = managerOn(nodeRedisDriver(client as never));
      await manager.create('alice');
      await client.close();
      const error = await manager.create('alice').then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toContain('the node-redis client was closed');
      await store.close();
    });
  }
});

describe('a store used after close() says it was closed', () => {
  for (const [label, make] of [
    ['ioredis', () => ioredisDriver({ url: server.url })],
    ['node-redis', () => nodeRedisDriver({ url: server.url })],
  ] as const)
    it(`${label}: StoreUnavailableError (503) with code ERR_STORE_CLOSED`, async () => {
      const { store, manager } = managerOn(make());
      await manager.create('alice');
      await manager.close();
      for (const call of [
        () => manager.create('alice'),
        () => manager.verify('x'.repeat(10)),
        () => manager.checkHealth(),
      ]) {
        const error = await call().then(
          () => null,
          (e: unknown) => e,
        );
        if (error === null) continue; // a malformed token is refused before any I/O
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as StoreUnavailableError).code).toBe('ERR_STORE_CLOSED');
        expect((error as StoreUnavailableError).status).toBe(503);
        expect((error as Error).message).toMatch(
          /this store \(127\.0\.0\.1:\d+ \((ioredis|node-redis)\)\) was closed by store\.close\(\) or manager\.close\(\)/,
        );
      }
      expect(store).toBeDefined();
    });
});
