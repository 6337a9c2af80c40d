/**
 * Promise 1 for Redis credentials: no Redis password ever reaches an error, an event, a log line or
 * `util.inspect` / `JSON.stringify` of the store or the manager. ioredis attaches the failed handshake
 * command (`HELLO 3 AUTH user <password>`, `AUTH <password>`) to its errors and keeps the password in
 * `client.options`; the store must pass neither on.
 *
 * A throwaway redis-server with `requirepass` and an ACL user; for each client (ioredis 6 and 5,
 * node-redis 6 and 5, and each driver's own `{ url }` client) a wrong password and a right one.
 */
import { inspect } from 'node:util';
import { Redis as Ioredis6 } from 'ioredis';
import { Redis as Ioredis5 } from 'ioredis5';
import { createClient as createClient6 } from 'redis';
import { createClient as createClient5 } from 'redis5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { nodeRedisDriver } from '../../src/stores/redis/node-redis.js';
import type { RedisDriver } from '../../src/stores/redis/driver.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

const SERVER_PW = 'ServerPw-Zq81xK';
const USER = 'tokapp';
const USER_PW = 'UserPw-Hm27vR';
const WRONG_PW = 'WrongPw-Yc64tB';
const PASSWORDS = [SERVER_PW, USER_PW, WRONG_PW];

let server: RedisServer;
let port: number;
beforeAll(async () => {
  server = await startRedisServer();
  port = server.port;
  const admin = new Ioredis6(server.url, { maxRetriesPerRequest: 0 });
  await admin.call('ACL', 'SETUSER', USER, 'on', `>${USER_PW}`, '~*', '&*', '+@all');
  await admin.config('SET', 'requirepass', SERVER_PW);
  admin.disconnect();
});
afterAll(async () => {
  await server?.stop();
});

/** Every own property (enumerable or not, symbols too) of errors and plain objects, as a pino-like serializer would walk them. */
function walk(value: unknown, seen = new Set<unknown>()): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  const out: Record<string, unknown> = {};
  for (const key of Reflect.ownKeys(value)) {
    let v: unknown;
    try {
      v = (value as Record<string | symbol, unknown>)[key];
    } catch {
      continue;
    }
    if (typeof v !== 'function') out[String(key)] = walk(v, seen);
  }
  return out;
}

/**
 * Every way an app may print or log `value`; with `walkAll`, also every own property of it, hidden ones
 * included (for errors and event payloads: the store and the manager hold the app's client, which has
 * its own options, so they are checked as they print: inspect and JSON).
 */
function renderings(value: unknown, walkAll: boolean): string[] {
  const out = [inspect(value, { depth: Infinity, showHidden: true }), inspect(value, { depth: Infinity })];
  if (walkAll) out.push(JSON.stringify(walk(value)));
  try {
    out.push(JSON.stringify(value) ?? '');
  } catch (e) {
    out.push(`JSON.stringify threw ${String(e)}`);
  }
  if (value instanceof Error)
    out.push(
      String(value),
      value.stack ?? '',
      String(value.cause),
      JSON.stringify({ ...value, cause: walk(value.cause) }),
    );
  return out;
}

function expectNoPassword(label: string, value: unknown, walkAll = true): void {
  for (const text of renderings(value, walkAll))
    for (const pw of PASSWORDS) expect(text.includes(pw), `${label} shows ${pw}:\n${text.slice(0, 4000)}`).toBe(false);
}

interface Case {
  name: string;
  right: boolean;
  /** The driver, and a function that closes what the test opened. */
  make(): Promise<{ driver: RedisDriver; close(): Promise<void> | void }>;
}

const url = (user: string, pw: string) => `redis://${user}:${pw}@127.0.0.1:${port}/3`;

function ioredisApp(label: string, R: typeof Ioredis6, user: string | undefined, pw: string, right: boolean): Case {
  return {
    name: `${label} app client, ${right ? 'right' : 'wrong'} password${user ? ` (ACL user ${user})` : ''}`,
    right,
    async make() {
      const redis = new R({
        host: '127.0.0.1',
        port,
        username: user,
        password: pw,
        db: 3,
        maxRetriesPerRequest: 1,
        retryStrategy: () => 200,
      });
      redis.on('error', () => {});
      return { driver: ioredisDriver(redis), close: () => redis.disconnect() };
    },
  };
}

function nodeRedisApp(
  label: string,
  create: typeof createClient6,
  user: string | undefined,
  pw: string,
  right: boolean,
): Case {
  return {
    name: `${label} app client, ${right ? 'right' : 'wrong'} password${user ? ` (ACL user ${user})` : ''}`,
    right,
    async make() {
      const client = create({
        socket: { host: '127.0.0.1', port, reconnectStrategy: () => 200 },
        username: user,
        password: pw,
        database: 3,
      });
      client.on('error', () => {});
      const connecting = client.connect().catch(() => {});
      if (right) await connecting;
      return {
        driver: nodeRedisDriver(client as never),
        close: () => {
          try {
            client.destroy();
          } catch {
            // closed already
          }
        },
      };
    },
  };
}

const cases: Case[] = [
  {
    name: 'ioredisDriver({ url }), wrong password (default user)',
    right: false,
    make: async () => ({ driver: ioredisDriver({ url: url('', WRONG_PW) }), close: () => {} }),
  },
  {
    name: 'ioredisDriver({ url }), wrong password (ACL user)',
    right: false,
    make: async () => ({ driver: ioredisDriver({ url: url(USER, WRONG_PW) }), close: () => {} }),
  },
  {
    name: 'ioredisDriver({ url }), right password (ACL user)',
    right: true,
    make: async () => ({ driver: ioredisDriver({ url: url(USER, USER_PW) }), close: () => {} }),
  },
  {
    name: 'ioredisDriver({ url }), right password (default user)',
    right: true,
    make: async () => ({ driver: ioredisDriver({ url: url('', SERVER_PW) }), close: () => {} }),
  },
  {
    name: 'nodeRedisDriver({ url }), wrong password (ACL user)',
    right: false,
    make: async () => ({ driver: nodeRedisDriver({ url: url(USER, WRONG_PW) }), close: () => {} }),
  },
  {
    name: 'nodeRedisDriver({ url }), right password (ACL user)',
    right: true,
    make: async () => ({ driver: nodeRedisDriver({ url: url(USER, USER_PW) }), close: () => {} }),
  },
  ioredisApp('ioredis 6', Ioredis6, undefined, WRONG_PW, false),
  ioredisApp('ioredis 6', Ioredis6, USER, WRONG_PW, false),
  ioredisApp('ioredis 6', Ioredis6, USER, USER_PW, true),
  ioredisApp('ioredis 5', Ioredis5 as unknown as typeof Ioredis6, undefined, WRONG_PW, false),
  ioredisApp('ioredis 5', Ioredis5 as unknown as typeof Ioredis6, USER, WRONG_PW, false),
  ioredisApp('ioredis 5', Ioredis5 as unknown as typeof Ioredis6, USER, USER_PW, true),
  nodeRedisApp('node-redis 6', createClient6, undefined, WRONG_PW, false),
  nodeRedisApp('node-redis 6', createClient6, USER, WRONG_PW, false),
  nodeRedisApp('node-redis 6', createClient6, USER, USER_PW, true),
  nodeRedisApp('node-redis 5', createClient5 as unknown as typeof createClient6, USER, WRONG_PW, false),
  nodeRedisApp('node-redis 5', createClient5 as unknown as typeof createClient6, USER, USER_PW, true),
];

describe('no Redis password in errors, events, logs or inspected objects', () => {
  for (const c of cases)
    it(c.name, async () => {
      const { driver, close } = await c.make();
      const store = new RedisStore({ driver, keyPrefix: 'rmt-cred:', commandTimeoutMs: 500 });
      const manager = new TokenManager({ store, secret: TEST_SECRET });
      const events: unknown[] = [];
      manager.on('storeUnavailable', (e) => events.push(e));
      const errors: unknown[] = [];
      const printed: string[] = [];
      const origErr = process.stderr.write.bind(process.stderr);
      const origOut = process.stdout.write.bind(process.stdout);
      const tap = (orig: typeof origErr) =>
        ((chunk: unknown, ...rest: unknown[]) => {
          printed.push(String(chunk));
          return (orig as (...a: unknown[]) => boolean)(chunk, ...rest);
        }) as typeof origErr;
      process.stderr.write = tap(origErr);
      process.stdout.write = tap(origOut);
      try {
        // Two rounds: the first may meet a client still connecting, the second one that has failed its handshake.
        for (let round = 0; round < 2; round++) {
          try {
            await manager.create('alice');
          } catch (e) {
            errors.push(e);
          }
          try {
            await manager.checkHealth();
          } catch (e) {
            errors.push(e);
          }
          await new Promise((r) => setTimeout(r, 300));
        }
        if (c.right) expect(errors.map(String)).toEqual([]);
        else {
          expect(errors.length).toBeGreaterThan(0);
          for (const e of errors) expect(e).toBeInstanceOf(StoreUnavailableError);
          expect(events.length).toBeGreaterThan(0);
        }
        for (const [i, e] of errors.entries()) expectNoPassword(`error ${i}`, e);
        for (const [i, e] of events.entries()) expectNoPassword(`storeUnavailable event ${i}`, e);
        expectNoPassword('the store', store, false);
        expectNoPassword('the driver', driver, false);
        expectNoPassword('the manager', manager, false);
      } finally {
        process.stderr.write = origErr;
        process.stdout.write = origOut;
        await manager.close();
        await close();
      }
      expectNoPassword('console output', printed.join(''));
    });

  it('util.inspect(store) shows the driver, the endpoint and the key prefix', async () => {
    const store = new RedisStore({ driver: ioredisDriver({ url: url(USER, USER_PW) }), keyPrefix: 'rmt-cred:' });
    try {
      expect(inspect(store, { breakLength: Infinity })).toBe(
        `RedisStore { driver: 'ioredis', endpoint: '127.0.0.1:${port} db 3', keyPrefix: 'rmt-cred:' }`,
      );
      expect(JSON.parse(JSON.stringify(store))).toEqual({
        driver: 'ioredis',
        endpoint: `127.0.0.1:${port} db 3`,
        keyPrefix: 'rmt-cred:',
      });
      expect(inspect(store.driver, { breakLength: Infinity })).toBe(
        `IoredisDriver { driver: 'ioredis', endpoint: '127.0.0.1:${port} db 3', owned: true }`,
      );
      const manager = new TokenManager({ store, secret: TEST_SECRET });
      expect(inspect(manager)).toContain(`store: RedisStore {`);
    } finally {
      await store.close();
    }
  });
});
