import { Redis, ReplyError, type Cluster, type RedisOptions } from 'ioredis';
import { InvalidArgumentTypeError, InvalidArgumentValueError, StoreMisconfiguredError } from '../../core/errors.js';
import { rejectUnknownOptions } from '../../core/options.js';
import {
  ONLY_PRIMARY,
  SharedWatches,
  checkRedisUrl,
  describeUrl,
  driverFacts,
  hashSlot,
  hostPort,
  isNoScript,
  looksLikeNodeRedis,
  sharedWaiter,
  subscriptionState,
  withSafeInspect,
  type RedisDriver,
  type RedisSubscriptionHandlers,
} from './driver.js';
import type { LuaScript } from './scripts.js';
import { RedisStore } from './store.js';

/** The argument of {@link ioredisDriver}: the app's ioredis client, or `{ url }` to let the driver open (and own) one. */
export type IoredisDriverInput =
  | Redis
  | Cluster
  | {
      /** A Redis URL (`redis://` or `rediss://`; the database as its path, e.g. `redis://host:6379/2`): the driver opens its own client and closes it with the store. */
      url: string;
    };

/** A {@link RedisDriver} over ioredis, with the client it uses. */
export interface IoredisDriver extends RedisDriver {
  /** The ioredis client in use (the app's, or the one opened from `url`). */
  readonly redis: Redis | Cluster;
  /** True when the driver opened the client itself (from `url`) and closes it on `close()`. */
  readonly owned: boolean;
  /** What `JSON.stringify` shows (and `util.inspect`): the client library, the endpoint, `owned`; never the client or its options. */
  toJSON(): {
    /** The client library, e.g. `'ioredis'`. */
    driver: string;
    /** `host:port` (or the cluster's or Sentinel's nodes), never a password. */
    endpoint: string;
    /** True when the driver opened the client itself. */
    owned: boolean;
  };
}

/** Events that end a start-up wait: connected, or the first attempt failed (ioredis then reconnects). */
const SETTLING_EVENTS = ['ready', 'reconnecting', 'end'] as const;

/** Clients opened by a driver from a URL (their errors are reported through calls, never printed). */
const ownedClients = new WeakSet<object>();

/** What the drivers over one ioredis client share: one `ready` and one `error` listener in all. */
interface IoredisWatch {
  connections: number;
  lastError: Error | null;
  whenReady: () => Promise<void>;
}

const watches = new SharedWatches<IoredisWatch>((client, listeners) => {
  const redis = client as Redis | Cluster;
  const w: IoredisWatch = {
    connections: redis.status === 'ready' ? 1 : 0,
    lastError: null,
    whenReady: sharedWaiter(listeners, redis, SETTLING_EVENTS),
  };
  listeners.on(redis, 'ready', () => {
    w.connections++;
    w.lastError = null;
  });
  // A server that closes the connection (a restart, a kill) may leave no error event: record the close.
  listeners.on(redis, 'close', () => {
    w.lastError ??= new Error('ioredis: the connection was closed (by the server or the network)');
  });
  listeners.on(redis, 'error', (error: Error) => {
    w.lastError = error;
    // Keep ioredis's own report for an app's client that has no error listener of its own: the stack
    // only, as ioredis prints it (the error object carries the failed command, AUTH password included).
    if (!ownedClients.has(redis) && redis.listenerCount('error') === 1)
      console.error('[ioredis] Unhandled error event:', error?.stack ?? String(error));
  });
  return w;
});

/**
 * A Redis driver over ioredis 5 or 6, for `new RedisStore({ driver })`.
 *
 * - Give the app's `Redis` (standalone, or Sentinel-managed via ioredis's `sentinels` option) or
 *   `Cluster` client: the driver never closes it. The drivers over one client share one `ready` and one
 *   `error` listener (so any number of stores on one client add two listeners, plus one per settling
 *   event during a start-up wait), removed when the last of those stores is closed. Its ioredis `keyPrefix` option must be unset
 *   (use the store's `keyPrefix`): the Lua scripts build key names themselves.
 * - Or give `{ url }` (`redis://[:password@]host:port[/db]`, `rediss://` for TLS): the driver opens its
 *   own client on first use (offline queue off, one attempt per command, reconnecting with a back-off capped at
 *   2,000 ms) and closes it on `store.close()`.
 *
 * Relies on: EVALSHA, then EVAL on a `NOSCRIPT` reply; `status === 'ready'` for readiness (a lazy
 * client in `wait` is connected on first use); `CONFIG GET maxmemory-policy` and PING on every
 * `nodes('master')` of a cluster (in parallel; a master whose connection has ended or is reconnecting
 * fails at once), and the slot map (`cluster.slots`) to tell which primary serves a key, so that the
 * store's policy check for one user waits for that user's primary only.
 *
 * @throws {InvalidArgumentTypeError} not an ioredis client nor `{ url }`.
 * @throws {InvalidArgumentValueError} a URL that is not `redis://` or `rediss://`; a client with ioredis's `keyPrefix` set.
 */
export function ioredisDriver(input: IoredisDriverInput): IoredisDriver {
  if (!input || typeof input !== 'object')
    throw new InvalidArgumentTypeError('ioredisDriver takes an ioredis Redis or Cluster client, or { url }');
  if (!isIoredisClient(input) && looksLikeNodeRedis(input))
    throw new InvalidArgumentTypeError(
      'ioredisDriver was given a node-redis client (createClient, createCluster or createSentinel): use nodeRedisDriver from redis-multitokens/node-redis for it',
    );
  let redis: Redis | Cluster;
  const owned = !isIoredisClient(input);
  // (an owned client's errors are recorded by the shared watch and reported through calls, never printed)
  if (!owned) {
    redis = input as Redis | Cluster;
    const o = redis.options as RedisOptions & { redisOptions?: RedisOptions };
    if (o?.keyPrefix || o?.redisOptions?.keyPrefix)
      throw new InvalidArgumentValueError(
        "ioredisDriver: the client's ioredis `keyPrefix` option must be unset; use the store's `keyPrefix` option instead",
      );
    if (o?.db !== undefined && o.db !== null && !/^\d{1,9}$/.test(String(o.db)))
      throw new InvalidArgumentValueError(
        `ioredisDriver: the client's \`db\` option must be a whole number (0 to 15 on a default Redis); got ${JSON.stringify(String(o.db))}`,
      );
  } else {
    rejectUnknownOptions('ioredisDriver', input, ['url']);
    const url = checkRedisUrl('ioredisDriver', (input as { url?: unknown }).url, 'an ioredis client', {
      queryDb: true,
    });
    redis = new Redis(url, {
      lazyConnect: true, // connects on first use: a store refused for a bad option leaves no socket open
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(times * 100, 2000),
    });
  }
  if (owned) ownedClients.add(redis);
  /** The servers that hold keys: every master of a cluster, or the one server. */
  const masters = (): Redis[] => (redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis]);
  /** A master's id: `host:port`, as in ioredis's slot map (`cluster.slots`). */
  const idOf = (node: Redis): string => (redis.isCluster ? `${node.options.host}:${node.options.port}` : ONLY_PRIMARY);
  /**
   * One primary's policy; null when CONFIG is renamed or denied (the check cannot be made). A standalone
   * or Sentinel client first checks that its database exists ({@link checkDatabase}).
   */
  async function evictionPolicyOf(id: string): Promise<string | null> {
    let node = masters().find((n) => idOf(n) === id);
    if (!node && redis.isCluster) {
      // ioredis drops a master it lost from nodes('master') and connects to it again only when a command
      // is routed to one of its slots: route one (EXISTS of a key in its slot) so that a restarted
      // primary is used again, without the app's own traffic, which the store holds back meanwhile.
      const key = keyServedBy(redis as Cluster, id);
      if (key !== undefined) await (redis as Cluster).exists(key);
      node = masters().find((n) => idOf(n) === id);
    }
    if (!node) throw new Error(`ioredis: no connection to primary ${id} (not among the cluster's masters now)`);
    if (redis.isCluster && (node.status === 'end' || node.status === 'close' || node.status === 'reconnecting'))
      throw new Error(`ioredis: the connection to primary ${id} is down`);
    await checkDatabase();
    try {
      const reply = (await node.config('GET', 'maxmemory-policy')) as string[];
      return reply[1] === undefined ? null : String(reply[1]);
    } catch (error) {
      if (error instanceof ReplyError) return null;
      throw error;
    }
  }
  const { watch, release } = watches.acquire(redis);
  /**
   * ioredis sends SELECT on connect but only emits its failure and carries on in database 0: check
   * that the configured database exists (`CONFIG GET databases`), or the tokens would land in db 0.
   * Skipped when CONFIG is hidden from the client (the check cannot be made) and for database 0.
   */
  async function checkDatabase(): Promise<void> {
    if (redis.isCluster) return;
    const db = Number((redis as Redis).options.db ?? 0);
    if (db === 0) return;
    let count: number;
    try {
      const reply = (await (redis as Redis).config('GET', 'databases')) as string[];
      count = Number(reply[1]);
    } catch (error) {
      if (error instanceof ReplyError) return;
      throw error;
    }
    if (!Number.isInteger(db) || db < 0 || (Number.isInteger(count) && db >= count))
      throw new StoreMisconfiguredError(
        `database ${String((redis as Redis).options.db)} does not exist on ${serverOf()} (databases ${Number.isInteger(count) ? count : 'unknown'}): ioredis stays in database 0 when SELECT fails; use a database from 0 to ${Number.isInteger(count) ? count - 1 : 15} in the URL or the client's \`db\` option (or raise \`databases\` in redis.conf)`,
        { code: 'ERR_STORE_DATABASE' },
      );
  }
  /** The server of a standalone or Sentinel-managed client, without its database: `host:port`. */
  function serverOf(): string {
    const o = (redis as Redis).options;
    if (o.sentinels?.length)
      return `sentinel ${o.name ?? 'mymaster'} via ${o.sentinels.map((s) => hostPort(s)).join(',')}`;
    if (o.path) return o.path;
    return hostPort(o);
  }
  let closed = false;
  return withSafeInspect('IoredisDriver', {
    name: 'ioredis',
    redis,
    owned,
    toJSON() {
      return driverFacts(this, owned);
    },
    endpoint() {
      if (redis.isCluster) {
        const nodes = ((redis as unknown as { startupNodes?: unknown[] }).startupNodes ?? []) as unknown[];
        return `cluster ${nodes.map((n) => (typeof n === 'string' ? describeUrl(n.includes('//') ? n : `redis://${n}`) : hostPort(n as { host?: string; port?: number }))).join(',')}`;
      }
      const o = (redis as Redis).options;
      if (o.sentinels?.length || o.path) return serverOf();
      return `${hostPort(o)}${o.db ? ` db ${o.db}` : ''}`;
    },
    state() {
      if (closed) return 'down';
      const status = redis.status;
      if (status === 'ready') return 'ready';
      if (status === 'wait') {
        redis.connect().catch(() => {});
        return 'starting';
      }
      return status === 'connecting' || status === 'connect' ? 'starting' : 'down';
    },
    whenReady: () => watch.whenReady(),
    connections: () => watch.connections,
    lastError: () => (closed ? new Error('the store was closed (store.close())') : watch.lastError),
    async ping() {
      await Promise.all(masters().map((n) => n.ping()));
    },
    async evictionPolicies() {
      return (await Promise.all(masters().map((n) => evictionPolicyOf(idOf(n))))).filter(
        (p): p is string => p !== null,
      );
    },
    primaries: () => masters().map(idOf),
    primaryOf(key: string) {
      if (!redis.isCluster) return ONLY_PRIMARY;
      return (redis as Cluster).slots[hashSlot(key)]?.[0];
    },
    evictionPolicyOf,
    async commandOn(id: string, args: readonly string[]) {
      const node = masters().find((n) => idOf(n) === id);
      if (!node) throw new Error(`ioredis: no connection to primary ${id} (not among the cluster's masters now)`);
      if (redis.isCluster && node.status !== 'ready')
        throw new Error(`ioredis: the connection to primary ${id} is down`);
      return node.call(args[0]!, ...args.slice(1));
    },
    runScript(script: LuaScript, keys: readonly string[], args: readonly string[]) {
      // One promise on the common path (no async wrapper): EVALSHA, and EVAL only after NOSCRIPT.
      return redis.evalsha(script.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
        if (!isNoScript(error)) throw error;
        return redis.eval(script.source, keys.length, ...keys, ...args);
      });
    },
    subscribe(channel: string, handlers: RedisSubscriptionHandlers) {
      // A connection of its own (a subscribed connection serves nothing else), with the client's options.
      const sub = (redis.duplicate as () => Redis | Cluster)();
      const st = subscriptionState(handlers);
      // On every ready (the first and after each reconnect): SUBSCRIBE, and say so once Redis confirms.
      // ioredis's own autoResubscribe sends it too; a second SUBSCRIBE of one channel is a no-op.
      sub.on('ready', () =>
        sub.subscribe(channel).then(
          () => st.set(true),
          () => {},
        ),
      );
      sub.on('close', () => st.set(false));
      sub.on('error', () => {}); // a lost connection is reported as state(false) by 'close'
      sub.on('message', (ch: string, text: string) => {
        if (ch === channel) st.message(text);
      });
      if (sub.status === 'wait') sub.connect().catch(() => {});
      return async () => {
        if (st.stop()) sub.disconnect();
      };
    },
    async publish(channel: string, message: string) {
      const nodes = masters();
      await Promise.all(nodes.map((n) => n.publish(channel, message)));
      return nodes.length;
    },
    detach() {
      closed = true;
      release();
    },
    async close() {
      this.detach();
      if (!owned || redis.status === 'end') return;
      if (redis.status === 'reconnecting') return redis.disconnect(); // between attempts: no socket to close
      // Waits for the client's 'end' (QUIT first when connected, so pending replies arrive), at most
      // 1,000 ms: a client between reconnect attempts has no socket and may never emit 'end'.
      let timer: NodeJS.Timeout | undefined;
      const ended = new Promise<void>((resolve) => {
        redis.once('end', () => resolve());
        timer = setTimeout(resolve, 1000);
      });
      redis.on('error', () => {}); // an owned client's late connection errors are nobody's business now
      if (redis.status === 'ready') redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
      await ended;
      clearTimeout(timer);
      if ((redis.status as string) !== 'end') redis.disconnect();
    },
  });
}

function isIoredisClient(value: object): value is Redis | Cluster {
  const v = value as Partial<Redis>;
  return typeof v.evalsha === 'function' && typeof v.status === 'string';
}

/** Options of {@link IoredisStore}. Give `client` or `url`, not both. */
export interface IoredisStoreOptions {
  /** An ioredis `Redis` or `Cluster` client of the app's; never closed by the store. Its ioredis `keyPrefix` must be unset. */
  client?: Redis | Cluster;
  /** A Redis URL: the store opens its own client and closes it on `close()` (see {@link ioredisDriver}). */
  url?: string;
  /** Prefix of every key (default `"rmt:"`); no `{` or `}`. */
  keyPrefix?: string;
  /** Longest wait for one Redis reply, in milliseconds (default 1,000). */
  commandTimeoutMs?: number;
  /** How often the `maxmemory-policy` check is repeated in the background, in milliseconds (default 60,000). */
  policyCheckIntervalMs?: number;
}

/**
 * The Redis store on ioredis, in one call.
 *
 * @deprecated since 0.2: use `new RedisStore({ driver: ioredisDriver(client), keyPrefix })` from
 * `redis-multitokens/redis` and `redis-multitokens/ioredis` (the same behaviour; see CHANGELOG.md).
 * Kept as a thin convenience until 1.0.
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} neither or both of `client` and `url`; a client with `keyPrefix` set; a bad store option.
 */
export class IoredisStore extends RedisStore {
  /** The ioredis client in use (the app's, or the one opened from `url`). */
  readonly redis: Redis | Cluster;

  constructor(options: IoredisStoreOptions) {
    if (!options || typeof options !== 'object')
      throw new InvalidArgumentTypeError('IoredisStore options must be an object with `client` or `url`');
    rejectUnknownOptions('IoredisStore', options, [
      'client',
      'url',
      'keyPrefix',
      'commandTimeoutMs',
      'policyCheckIntervalMs',
    ]);
    if (options.client && options.url)
      throw new InvalidArgumentValueError('IoredisStore: give `client` or `url`, not both');
    if (options.client !== undefined && (typeof options.client !== 'object' || !isIoredisClient(options.client)))
      throw new InvalidArgumentTypeError(
        'IoredisStore: `client` must be an ioredis Redis or Cluster instance (for a URL string use `url`)',
      );
    if (!options.client && options.url === undefined)
      throw new InvalidArgumentTypeError('IoredisStore needs `client` (an ioredis client) or `url`');
    const driver = ioredisDriver(options.client ?? { url: options.url as string });
    super({
      driver,
      keyPrefix: options.keyPrefix,
      commandTimeoutMs: options.commandTimeoutMs,
      policyCheckIntervalMs: options.policyCheckIntervalMs,
    });
    this.redis = driver.redis;
  }
}

/** A key whose hash slot `cluster`'s slot map gives to the master `id` (`host:port`), or undefined when it serves none. */
function keyServedBy(cluster: Cluster, id: string): string | undefined {
  for (let i = 0; i < 100_000; i++) {
    const key = `{redis-multitokens:probe:${i}}`;
    if (cluster.slots[hashSlot(key)]?.[0] === id) return key;
  }
  return undefined;
}
