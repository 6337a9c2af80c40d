/**
 * The Redis driver conformance suite: the cases every {@link RedisDriver} must pass (ioredis, node-redis,
 * and any third one, valkey-glide say), through a real `RedisStore` on a throwaway Redis the factory
 * starts, stops and restarts. It uses only `node:assert`, so any test runner can register the cases:
 *
 * ```ts
 * for (const c of driverConformanceCases(factory)) it(c.name, c.run, c.timeoutMs);
 * ```
 *
 * What it checks: scripts by SHA with EVAL on NOSCRIPT (after `SCRIPT FLUSH` and after a restart of the
 * server); readiness (a first connection under way is waited for) and failing at once while the
 * connection is down (nothing queues); the store's command timeout (`CLIENT PAUSE`); the endpoint in
 * errors, never the password; close (a client the driver opened is closed, an app's client is left
 * open); and listener hygiene (after every store is closed the app's client has exactly the listeners
 * it had before; while many stores share it, they add no listener per store).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { TokenManager } from '../core/manager.js';
import { StoreUnavailableError } from '../core/errors.js';
import type { RedisDriver } from '../stores/redis/driver.js';
import { RedisStore } from '../stores/redis/store.js';
import type { ConformanceCase } from './store-suite.js';

/** A throwaway Redis for one case, which the case may flush, pause, stop and start again. */
export interface DriverTestServer {
  /** `redis://127.0.0.1:<port>` (a password, when the server has one, in the URL). */
  readonly url: string;
  /** Sends one command on a connection of the harness's own (e.g. `['SCRIPT', 'FLUSH']`, `['CLIENT', 'PAUSE', '600', 'ALL']`). */
  command(args: string[]): Promise<unknown>;
  /** Stops the server (a crash, not a graceful shutdown); resolves once it is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (no keys, no script cache); resolves once it answers. */
  start(): Promise<void>;
  /** Stops it for good, after the case. */
  destroy(): Promise<void>;
}

/** The app's client of one case, made by the harness the way an app would (reconnecting by itself). */
export interface DriverTestClient {
  /** A new driver over this client (the one under test: e.g. `() => ioredisDriver(client)`). */
  driver(): RedisDriver;
  /** The client's listener counts per event name (e.g. from `eventNames()` and `listenerCount()`). */
  listenerCounts(): Record<string, number>;
  /** True while the client is open (not closed by anyone). */
  isOpen(): boolean;
  /** Closes it, after the case. */
  close(): Promise<void>;
}

/** What the suite needs to exercise one driver. */
export interface DriverFactory {
  /** A new throwaway Redis for one case. */
  server(): Promise<DriverTestServer>;
  /** The app's client on `url`, connected and ready. */
  client(url: string): Promise<DriverTestClient>;
  /** A driver that opens its own client from `url` (e.g. `ioredisDriver({ url })`), with a way to tell whether that client is open. */
  ownedDriver(url: string): {
    /** The driver, which opens its own client. */
    driver: RedisDriver;
    /** Whether the client it opened is still open (false after `close()`). */
    isOpen(): boolean;
  };
}

const SECRET = 'driver-suite-secret-0123456789-abcdefghijklmnop';

/** Polls `fn` every 50 ms until it resolves truthy, for at most `ms` milliseconds. */
async function eventually(
  what: string,
  ms: number,
  fn: () => boolean | Promise<boolean>,
  detail?: () => string,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms${detail ? ` (${detail()})` : ''}`);
    await sleep(50);
  }
}

/** The driver's state, connection count and last error, for failure messages. */
function describeDriver(driver: RedisDriver): string {
  return `state ${driver.state()}, ${driver.connections()} connections, last error ${driver.lastError()?.message ?? 'none'}`;
}

/**
 * Waits until `driver` reports its stopped server's connection down (10 s at most). When it does not,
 * the failure also says what answers on the server's port now: a client that is `ready` again has
 * reached some Redis there (another process's server on a reused port would show another process_id).
 */
async function seesDown(server: DriverTestServer, driver: RedisDriver): Promise<void> {
  try {
    await eventually(
      'the driver sees the connection down',
      10_000,
      () => driver.state() === 'down',
      () => describeDriver(driver),
    );
  } catch (error) {
    const info = await server.command(['INFO', 'server']).then(
      (reply) =>
        String(reply)
          .split('\r\n')
          .filter((l) => /^(process_id|tcp_port|uptime_in_seconds|executable|config_file):/.test(l))
          .join(', '),
      (e: unknown) => `nothing (${(e as Error).message})`,
    );
    throw new Error(`${(error as Error).message}; on the stopped server's port answers: ${info}`);
  }
}

/** `host:port` of a redis:// URL. */
function hostPortOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '6379'}`;
}

/** Calls of `command` from the server's INFO commandstats. */
async function calls(server: DriverTestServer, command: string): Promise<number> {
  const info = String(await server.command(['INFO', 'commandstats']));
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return m ? Number(m[1]) : 0;
}

/** The driver conformance cases, each on a server of its own (see {@link DriverFactory}). */
export function driverConformanceCases(factory: DriverFactory): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const add = (
    name: string,
    timeoutMs: number,
    body: (server: DriverTestServer, cleanup: (fn: () => unknown) => void) => Promise<void>,
  ) =>
    cases.push({
      name,
      timeoutMs,
      run: async () => {
        const server = await factory.server();
        const cleanups: (() => unknown)[] = [];
        try {
          await body(server, (fn) => cleanups.push(fn));
        } finally {
          for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {});
          await server.destroy();
        }
      },
    });

  const managerOn = (store: RedisStore) => new TokenManager({ store, secret: SECRET, touchIntervalSeconds: 0 });

  add(
    'runs scripts by SHA, and by EVAL when the server answers NOSCRIPT after SCRIPT FLUSH',
    20_000,
    async (server, cleanup) => {
      const client = await factory.client(server.url);
      cleanup(() => client.close());
      const store = new RedisStore({ driver: client.driver(), commandTimeoutMs: 10_000 });
      cleanup(() => store.close());
      const m = managerOn(store);
      const c = await m.create('u');
      assert.equal((await m.verify(c.token)).valid, true);
      const evalshaBefore = await calls(server, 'evalsha');
      assert.ok(evalshaBefore >= 2, `scripts go by EVALSHA (saw ${evalshaBefore})`);
      await server.command(['SCRIPT', 'FLUSH']);
      const evalBefore = await calls(server, 'eval');
      assert.equal((await m.verify(c.token)).valid, true, 'verify after SCRIPT FLUSH');
      assert.ok((await calls(server, 'eval')) > evalBefore, 'the NOSCRIPT reply was answered with EVAL');
      assert.equal((await m.verify(c.token)).valid, true, 'and by SHA again once loaded');
      assert.equal(await m.revoke(c.token), true);
    },
  );

  add(
    'after a restart of the server (empty script cache), calls fail while it is down and work again once it is back',
    30_000,
    async (server, cleanup) => {
      const client = await factory.client(server.url);
      cleanup(() => client.close());
      const driver = client.driver();
      const store = new RedisStore({ driver, commandTimeoutMs: 10_000 });
      cleanup(() => store.close());
      const m = managerOn(store);
      await m.create('u');
      await server.stop();
      await seesDown(server, driver);
      await assert.rejects(m.create('u'), StoreUnavailableError);
      await server.start();
      await eventually('the store recovers by itself', 15_000, async () => {
        await m.checkHealth();
        return true;
      });
      const c = await m.create('u');
      assert.equal((await m.verify(c.token)).valid, true, 'scripts load again on the restarted server');
    },
  );

  add(
    'while the connection is down, every call fails at once with StoreUnavailableError (endpoint, cause; nothing queues)',
    30_000,
    async (server, cleanup) => {
      const client = await factory.client(server.url);
      cleanup(() => client.close());
      const driver = client.driver();
      const store = new RedisStore({ driver, commandTimeoutMs: 10_000 });
      cleanup(() => store.close());
      const m = managerOn(store);
      const c = await m.create('u');
      await server.stop();
      await seesDown(server, driver);
      const started = Date.now();
      const results = await Promise.allSettled(Array.from({ length: 200 }, () => m.verify(c.token)));
      // A bound, not a speed measurement: failing at once rather than after the 10 s command timeout.
      assert.ok(Date.now() - started < 5000, 'calls did not wait for the command timeout');
      for (const r of results) assert.equal(r.status, 'rejected');
      const error = (results[0] as PromiseRejectedResult).reason as StoreUnavailableError & { cause?: unknown };
      assert.ok(error instanceof StoreUnavailableError, 'StoreUnavailableError');
      assert.equal(error.code, 'ERR_STORE_UNAVAILABLE');
      assert.ok(error.message.includes(hostPortOf(server.url)), `the message names the endpoint: ${error.message}`);
      assert.ok(error.message.includes(driver.name), `the message names the client: ${error.message}`);
      assert.ok(error.cause instanceof Error, 'the client error is the cause');
      await server.start();
      await eventually('the store recovers by itself', 15_000, async () => {
        await m.checkHealth();
        return true;
      });
    },
  );

  add(
    'readiness: a first connection under way is waited for; one that cannot be made fails within commandTimeoutMs',
    20_000,
    async (server, cleanup) => {
      const owned = factory.ownedDriver(server.url);
      const store = new RedisStore({ driver: owned.driver, commandTimeoutMs: 10_000 });
      cleanup(() => store.close());
      const m = managerOn(store);
      const c = await m.create('u'); // the very first call: the connection is not up yet
      assert.equal((await m.verify(c.token)).valid, true);
      assert.equal(owned.driver.state(), 'ready');
      await server.stop();
      const dead = factory.ownedDriver(server.url);
      const deadStore = new RedisStore({ driver: dead.driver, commandTimeoutMs: 3000 });
      cleanup(() => deadStore.close());
      const error = await managerOn(deadStore)
        .create('u')
        .then(
          () => assert.fail('create on a dead server resolved'),
          (e: unknown) => e,
        );
      assert.ok(error instanceof StoreUnavailableError, 'StoreUnavailableError');
      assert.ok(error.message.includes(hostPortOf(server.url)), `the message names the endpoint: ${error.message}`);
      await server.start();
    },
  );

  add(
    'command timeout: a server held by CLIENT PAUSE answers StoreUnavailableError after commandTimeoutMs, then works',
    30_000,
    async (server, cleanup) => {
      const client = await factory.client(server.url);
      cleanup(() => client.close());
      const patient = new RedisStore({ driver: client.driver(), commandTimeoutMs: 10_000 });
      cleanup(() => patient.close());
      const c = await managerOn(patient).create('u');
      const quick = new RedisStore({ driver: client.driver(), commandTimeoutMs: 300 });
      cleanup(() => quick.close());
      await server.command(['CLIENT', 'PAUSE', '3000', 'ALL']);
      const started = Date.now();
      const error = await managerOn(quick)
        .verify(c.token)
        .then(
          () => assert.fail('verify resolved during CLIENT PAUSE'),
          (e: unknown) => e,
        );
      assert.ok(Date.now() - started >= 280, 'not before commandTimeoutMs');
      assert.ok(error instanceof StoreUnavailableError, 'StoreUnavailableError');
      assert.match(error.message, /commandTimeoutMs = 300/);
      assert.ok(error.message.includes(hostPortOf(server.url)), `the message names the endpoint: ${error.message}`);
      assert.equal((await managerOn(patient).verify(c.token)).valid, true, 'works once the pause ends');
    },
  );

  add(
    'commandOn (optional, for RedisStore.stats and prune): the raw reply of one primary; the admin calls fail fast while the server is down',
    30_000,
    async (server, cleanup) => {
      const client = await factory.client(server.url);
      cleanup(() => client.close());
      const store = new RedisStore({ driver: client.driver(), commandTimeoutMs: 2000 });
      cleanup(() => store.close());
      const d = store.driver;
      if (typeof d.commandOn !== 'function') return; // a driver without it: stats and prune refuse (ERR_STORE_NO_ADMIN)
      assert.equal(typeof d.primaries, 'function', 'commandOn comes with primaries()');
      await server.command(['SET', 'driver-suite:k', 'v']);
      const [primary] = d.primaries!();
      assert.ok(primary !== undefined);
      assert.equal(await d.commandOn(primary, ['GET', 'driver-suite:k']), 'v');
      assert.equal(Number(await d.commandOn(primary, ['DBSIZE'])), 1);
      const [cursor, keys] = (await d.commandOn(primary, ['SCAN', '0', 'MATCH', 'driver-suite:*', 'COUNT', '100'])) as [
        unknown,
        unknown[],
      ];
      assert.equal(String(cursor), '0');
      assert.deepEqual(keys.map(String), ['driver-suite:k']);
      const m = managerOn(store);
      await m.create('admin-user');
      assert.equal((await store.stats()).liveTokens, 1);
      await server.stop();
      const started = performance.now();
      await assert.rejects(store.stats(), StoreUnavailableError);
      await assert.rejects(store.prune({ dryRun: true }), StoreUnavailableError);
      assert.ok(performance.now() - started < 4500, 'within commandTimeoutMs each, nothing queued');
    },
  );

  add(
    'close: a client the driver opened is closed; an app client is left open and working',
    20_000,
    async (server, cleanup) => {
      const owned = factory.ownedDriver(server.url);
      const ownStore = new RedisStore({ driver: owned.driver, commandTimeoutMs: 10_000 });
      await managerOn(ownStore).create('u');
      assert.equal(owned.isOpen(), true);
      await ownStore.close();
      assert.equal(owned.isOpen(), false, 'the owned client is closed');
      await ownStore.close(); // idempotent
      assert.equal(owned.driver.state(), 'down');

      const client = await factory.client(server.url);
      cleanup(() => client.close());
      const store = new RedisStore({ driver: client.driver(), commandTimeoutMs: 10_000 });
      await managerOn(store).create('u');
      await store.close();
      assert.equal(client.isOpen(), true, "the app's client is left open");
      const again = new RedisStore({ driver: client.driver(), commandTimeoutMs: 10_000 });
      cleanup(() => again.close());
      await again.ping();
    },
  );

  add(
    'listener hygiene: 11 stores on one client add no listener per store, and after close() the client has exactly the listeners it had',
    20_000,
    async (server, cleanup) => {
      const client = await factory.client(server.url);
      cleanup(() => client.close());
      const before = client.listenerCounts();
      const stores = Array.from(
        { length: 11 },
        (_, i) => new RedisStore({ driver: client.driver(), keyPrefix: `hyg${i}:`, commandTimeoutMs: 10_000 }),
      );
      await Promise.all(stores.map((s) => managerOn(s).create('u')));
      const during = client.listenerCounts();
      for (const [event, n] of Object.entries(during))
        assert.ok(
          n - (before[event] ?? 0) <= 1,
          `11 stores added ${n - (before[event] ?? 0)} '${event}' listeners (expected at most one, shared)`,
        );
      await Promise.all(stores.slice(0, 5).map((s) => s.close()));
      await managerOn(stores[5]!).create('still-works');
      await Promise.all(stores.slice(5).map((s) => s.close()));
      assert.deepEqual(client.listenerCounts(), before, 'every listener the stores added is gone');
      assert.equal(client.isOpen(), true);
    },
  );

  /** Subscribers on the server now (`CLIENT LIST TYPE pubsub`). */
  const pubsubClients = async (server: DriverTestServer) =>
    String(await server.command(['CLIENT', 'LIST', 'TYPE', 'pubsub']))
      .split('\n')
      .filter((l) => l.trim()).length;

  add(
    'subscribe/publish (optional, both or neither): messages arrive in order, publish names 1 primary, the stop closes the subscriber connection and leaves the client as it was',
    20_000,
    async (server, cleanup) => {
      const client = await factory.client(server.url);
      cleanup(() => client.close());
      const driver = client.driver();
      cleanup(() => driver.detach());
      assert.equal(typeof driver.subscribe, typeof driver.publish, 'subscribe and publish come together');
      if (typeof driver.subscribe !== 'function') return;
      const listenersBefore = client.listenerCounts();
      const got: string[] = [];
      const states: boolean[] = [];
      const stop = driver.subscribe('suite:chan', { message: (t) => got.push(t), state: (up) => states.push(up) });
      await eventually('the subscription is confirmed', 10_000, () => states.at(-1) === true);
      assert.equal(await pubsubClients(server), 1, 'one subscriber connection of its own');
      assert.equal(await driver.publish!('suite:other', 'x'), 1);
      for (let i = 0; i < 20; i++) assert.equal(await driver.publish!('suite:chan', `m${i}`), 1, 'one primary');
      await eventually('20 messages arrive', 5_000, () => got.length === 20);
      assert.deepEqual(
        got,
        Array.from({ length: 20 }, (_, i) => `m${i}`),
        'in order, this channel only',
      );
      await stop();
      await stop();
      await eventually('the subscriber connection is closed', 5_000, async () => (await pubsubClients(server)) === 0);
      assert.deepEqual(client.listenerCounts(), listenersBefore, 'no listener added to the app client');
      assert.ok(client.isOpen());
    },
  );

  add(
    'subscribe: a subscriber connection killed (CLIENT KILL TYPE pubsub) reports state(false), then state(true) once resubscribed, and messages flow again',
    30_000,
    async (server, cleanup) => {
      const client = await factory.client(server.url);
      cleanup(() => client.close());
      const driver = client.driver();
      cleanup(() => driver.detach());
      if (typeof driver.subscribe !== 'function') return;
      const got: string[] = [];
      const states: boolean[] = [];
      const stop = driver.subscribe('suite:chan', { message: (t) => got.push(t), state: (up) => states.push(up) });
      cleanup(stop);
      await eventually('the subscription is confirmed', 10_000, () => states.at(-1) === true);
      await server.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      await eventually(
        'the loss is reported, then the new subscription',
        15_000,
        () => states.length >= 3 && states.at(-1) === true,
        () => JSON.stringify(states),
      );
      assert.deepEqual(states.slice(0, 3), [true, false, true]);
      await driver.publish!('suite:chan', 'after');
      await eventually('a message after the resubscription arrives', 5_000, () => got.includes('after'));
    },
  );

  add('the endpoint in messages never holds a password', 20_000, async (server, cleanup) => {
    await server.command(['CONFIG', 'SET', 'requirepass', 'pw-Sup3rSecret']);
    const u = new URL(server.url);
    u.password = 'pw-Sup3rSecret';
    const owned = factory.ownedDriver(u.toString());
    const store = new RedisStore({ driver: owned.driver, commandTimeoutMs: 10_000 });
    cleanup(() => store.close());
    const m = managerOn(store);
    const c = await m.create('u');
    assert.ok(!owned.driver.endpoint().includes('pw-Sup3rSecret'), 'endpoint()');
    assert.ok(
      owned.driver.endpoint().includes(hostPortOf(server.url)),
      `endpoint() names host:port: ${owned.driver.endpoint()}`,
    );
    await server.stop();
    await seesDown(server, owned.driver);
    const error = await m.verify(c.token).then(
      () => assert.fail('verify resolved with the server down'),
      (e: unknown) => e as Error,
    );
    assert.ok(error instanceof StoreUnavailableError);
    assert.ok(!error.message.includes('pw-Sup3rSecret'), `no password in: ${error.message}`);
    await server.start();
  });

  return cases;
}
