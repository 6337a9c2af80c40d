/**
 * The Redis clients the tests run the store and driver suites through: ioredis 6 (`ioredis`), ioredis 5
 * (`ioredis5` alias), node-redis 6 (`redis`) and node-redis 5 (`redis5` alias), standalone and Cluster.
 * The newest major of each runs in every `npm test`; the older one too unless RMT_CLIENTS says otherwise
 * (`RMT_CLIENTS=newest` runs only ioredis 6 and node-redis 6).
 */
import { Redis as Ioredis6, Cluster as IoCluster6 } from 'ioredis';
import { Redis as Ioredis5, Cluster as IoCluster5 } from 'ioredis5';
import { createClient as createClient6, createCluster as createCluster6 } from 'redis';
import { createClient as createClient5, createCluster as createCluster5 } from 'redis5';
import { ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { nodeRedisDriver } from '../../src/stores/redis/node-redis.js';
import type { RedisDriver } from '../../src/stores/redis/driver.js';
import type { DriverFactory, DriverTestClient, DriverTestServer } from '../../src/testing/index.js';
import { createServer } from 'node:net';
import { startRedisServer, type RedisServer } from './redis-server.js';

/** A free loopback port from 20,000 to 32,000 (below the ephemeral range). */
async function freeLowPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** One client library at one major version. */
export interface TestClientKind {
  /** e.g. 'ioredis 6' */
  name: string;
  newest: boolean;
  /** A connected standalone client on `url`, as an app makes it; `driver()` wraps it; `close()` ends it. */
  standalone(url: string): Promise<TestClient>;
  /** A connected cluster client over `nodes`. */
  cluster(nodes: { host: string; port: number }[]): Promise<TestClient>;
  /** A driver that opens its own client from `url`. */
  owned(url: string): { driver: RedisDriver; isOpen(): boolean };
}

/** An app's client of one kind. */
export interface TestClient {
  driver(): RedisDriver;
  emitter: { eventNames(): (string | symbol)[]; listenerCount(event: string | symbol): number };
  isOpen(): boolean;
  close(): Promise<void>;
}

type IoredisLike = {
  status: string;
  eventNames(): (string | symbol)[];
  listenerCount(e: string | symbol): number;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(e: string, f: () => void): unknown;
  ping(): Promise<unknown>;
};

function ioredisKind(name: string, newest: boolean, R: typeof Ioredis6, C: typeof IoCluster6): TestClientKind {
  const wrap = (client: IoredisLike): TestClient => ({
    driver: () => ioredisDriver(client as never),
    emitter: client,
    isOpen: () => client.status !== 'end',
    close: async () => {
      if (client.status === 'end') return;
      const ended = new Promise<void>((resolve) => client.on('end', () => resolve()));
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
      await Promise.race([ended, new Promise((r) => setTimeout(r, 1000))]);
    },
  });
  return {
    name,
    newest,
    async standalone(url) {
      const client = new R(url, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 50, 500) });
      client.on('error', () => {});
      await client.ping();
      return wrap(client as unknown as IoredisLike);
    },
    async cluster(nodes) {
      const client = new C(nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
      client.on('error', () => {});
      await client.ping();
      return wrap(client as unknown as IoredisLike);
    },
    owned(url) {
      const driver = ioredisDriver({ url });
      return { driver, isOpen: () => driver.redis.status !== 'end' };
    },
  };
}

type NodeRedisLike = {
  isOpen: boolean;
  eventNames(): (string | symbol)[];
  listenerCount(e: string | symbol): number;
  on(e: string, f: (e: unknown) => void): unknown;
  connect(): Promise<unknown>;
  destroy(): void;
};

function nodeRedisKind(
  name: string,
  newest: boolean,
  create: typeof createClient6,
  createCluster: typeof createCluster6,
): TestClientKind {
  const wrap = (client: NodeRedisLike): TestClient => ({
    driver: () => nodeRedisDriver(client as never),
    emitter: client,
    isOpen: () => client.isOpen,
    close: async () => {
      try {
        client.destroy(); // ends the socket whatever state it is in (node-redis 5 throws when already closed)
      } catch {
        // closed already
      }
    },
  });
  return {
    name,
    newest,
    async standalone(url) {
      const client = create({
        url,
        socket: { reconnectStrategy: (n: number) => Math.min((n + 1) * 50, 500) },
      }) as unknown as NodeRedisLike;
      client.on('error', () => {}); // node-redis asks every app to listen for errors
      await client.connect();
      return wrap(client);
    },
    async cluster(nodes) {
      const client = createCluster({
        rootNodes: nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
      }) as unknown as NodeRedisLike;
      client.on('error', () => {});
      await client.connect();
      return wrap(client);
    },
    owned(url) {
      // `nodeRedisDriver({ url })` opens its client with the `redis` package the app installed: here node-redis 6.
      const driver = nodeRedisDriver({ url });
      return { driver, isOpen: () => (driver.client as { isOpen: boolean }).isOpen };
    },
  };
}

const ALL: TestClientKind[] = [
  ioredisKind('ioredis 6', true, Ioredis6, IoCluster6),
  ioredisKind('ioredis 5', false, Ioredis5 as unknown as typeof Ioredis6, IoCluster5 as unknown as typeof IoCluster6),
  nodeRedisKind('node-redis 6', true, createClient6, createCluster6),
  nodeRedisKind(
    'node-redis 5',
    false,
    createClient5 as unknown as typeof createClient6,
    createCluster5 as unknown as typeof createCluster6,
  ),
];

/** The client kinds of this run: all four, or only the newest majors with RMT_CLIENTS=newest (the older ones always run when CI=true). */
export function clientKinds(): TestClientKind[] {
  if (process.env.RMT_CLIENTS === 'newest' && process.env.CI !== 'true') return ALL.filter((k) => k.newest);
  return ALL;
}

/** A throwaway redis-server for the driver suite, restartable on its port (test/support/redis-server.ts). */
export async function driverTestServer(): Promise<DriverTestServer> {
  // A port below Linux's ephemeral range (32768-60999), where freePort() never looks: while this
  // server is stopped, no other test's server (nor any outgoing connection) can take its port, so a
  // reconnecting client cannot reach the wrong Redis.
  let server: RedisServer | undefined;
  while (!server) server = await startRedisServer({ port: await freeLowPort() }).catch(() => undefined); // a lost race for the port: another one
  const port = server.port;
  let current: RedisServer = server;
  const url = server.url;
  const admin = () => {
    const c = new Ioredis6(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    c.on('error', () => {});
    return c;
  };
  return {
    url,
    async command(args) {
      const c = admin();
      try {
        await c.connect();
        return await c.call(args[0]!, ...args.slice(1));
      } finally {
        c.disconnect();
      }
    },
    stop: () => current.stop(),
    async start() {
      current = await startRedisServer({ port });
    },
    destroy: () => current.stop('SIGTERM'),
  };
}

/** The driver suite's factory for one client kind. */
export function driverFactory(kind: TestClientKind): DriverFactory {
  return {
    server: driverTestServer,
    async client(url): Promise<DriverTestClient> {
      const c = await kind.standalone(url);
      return {
        driver: () => c.driver(),
        listenerCounts: () =>
          Object.fromEntries(c.emitter.eventNames().map((e) => [String(e), c.emitter.listenerCount(e)])),
        isOpen: () => c.isOpen(),
        close: () => c.close(),
      };
    },
    ownedDriver: (url) => kind.owned(url),
  };
}
