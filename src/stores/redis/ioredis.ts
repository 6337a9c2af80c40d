import { Redis, ReplyError, type Cluster, type RedisOptions } from 'ioredis';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../core/errors.js';
import { rejectUnknownOptions } from '../../core/options.js';
import type { LuaScript } from './scripts.js';
import { RedisStore, type RedisScriptClient } from './store.js';

/** Options of {@link IoredisStore}. Give `client` or `url`, not both. */
export interface IoredisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster` client of the app's. The store never closes it. Its own `keyPrefix`
   * option must be unset (use this store's `keyPrefix`): the Lua scripts build keys themselves.
   */
  client?: Redis | Cluster;
  /**
   * A Redis URL (`redis://[:password@]host:port[/db]`, `rediss://` for TLS). The store then opens its own
   * client (offline queue off, so calls fail at once while Redis is down; reconnects by itself with a
   * back-off capped at 2,000 ms) and closes it on `close()`.
   */
  url?: string;
  /** Prefix of every key (default `"rmt:"`); no `{` or `}`. */
  keyPrefix?: string;
  /** Longest wait for one Redis reply, in milliseconds (default 1,000). */
  commandTimeoutMs?: number;
  /** How often the `maxmemory-policy` check is repeated in the background, in milliseconds (default 60,000). */
  policyCheckIntervalMs?: number;
}

/**
 * The Redis store on ioredis (a `Redis` or `Cluster` client). Why ioredis first: one API for
 * standalone, Sentinel and Cluster, a `status` that says when it is ready (so calls fail at once
 * instead of queueing), and wide use in job queues (BullMQ) that rely on its Lua support.
 *
 * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} neither or both of `client` and `url`; a client with `keyPrefix` set.
 */
export class IoredisStore extends RedisStore {
  /** The ioredis client in use (the app's, or the one opened from `url`). */
  readonly redis: Redis | Cluster;

  constructor(options: IoredisStoreOptions) {
    const driver = ioredisDriver(options);
    super({ client: driver, keyPrefix: options.keyPrefix, commandTimeoutMs: options.commandTimeoutMs, policyCheckIntervalMs: options.policyCheckIntervalMs });
    this.redis = driver.redis;
  }
}

/** Events that end a start-up wait: connected, or the first attempt failed (ioredis then reconnects). */
const SETTLING_EVENTS = ['ready', 'reconnecting', 'end'] as const;

function ioredisDriver(options: IoredisStoreOptions): RedisScriptClient & { redis: Redis | Cluster } {
  if (!options || typeof options !== 'object') throw new InvalidArgumentTypeError('IoredisStore options must be an object with `client` or `url`');
  rejectUnknownOptions('IoredisStore', options, ['client', 'url', 'keyPrefix', 'commandTimeoutMs', 'policyCheckIntervalMs']);
  if (options.client && options.url) throw new InvalidArgumentValueError('IoredisStore: give `client` or `url`, not both');
  let redis: Redis | Cluster;
  const owned = !options.client;
  if (options.client) {
    redis = options.client;
    if (typeof redis !== 'object' || typeof (redis as Redis).evalsha !== 'function' || typeof (redis as Redis).status !== 'string')
      throw new InvalidArgumentTypeError('IoredisStore: `client` must be an ioredis Redis or Cluster instance (for a URL string use `url`)');
    const o = redis.options as RedisOptions & { redisOptions?: RedisOptions };
    if (o?.keyPrefix || o?.redisOptions?.keyPrefix)
      throw new InvalidArgumentValueError("IoredisStore: the client's ioredis `keyPrefix` option must be unset; use the store's `keyPrefix` option instead");
  } else {
    if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url))
      throw new InvalidArgumentValueError('IoredisStore: `url` must be a redis:// or rediss:// URL (or pass `client`)');
    redis = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(times * 100, 2000),
    });
    // Connection errors surface as StoreUnavailableError on calls; keep ioredis from printing them.
    redis.on('error', () => {});
  }
  /** The servers that hold keys: every master of a cluster, or the one server. */
  const masters = (): Redis[] => (redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis]);
  let pending: Promise<void> | null = null;
  let connections = redis.status === 'ready' ? 1 : 0;
  redis.on('ready', () => connections++);
  return {
    redis,
    state() {
      const status = redis.status;
      if (status === 'ready') return 'ready';
      if (status === 'wait') {
        redis.connect().catch(() => {});
        return 'starting';
      }
      return status === 'connecting' || status === 'connect' ? 'starting' : 'down';
    },
    // One shared waiter, so a burst of calls during start-up adds one listener, not one each.
    whenReady: () =>
      (pending ??= new Promise<void>((resolve) => {
        const settle = () => {
          pending = null;
          for (const e of SETTLING_EVENTS) redis.off(e, settle);
          resolve();
        };
        for (const e of SETTLING_EVENTS) redis.once(e, settle);
      })),
    connections: () => connections,
    async ping() {
      await Promise.all(masters().map((n) => n.ping()));
    },
    async evictionPolicies() {
      const policies: string[] = [];
      for (const node of masters()) {
        try {
          const reply = (await node.config('GET', 'maxmemory-policy')) as string[];
          if (reply[1] !== undefined) policies.push(String(reply[1]));
        } catch (error) {
          if (error instanceof ReplyError) return []; // CONFIG renamed or denied: the check cannot be made
          throw error;
        }
      }
      return policies;
    },
    async runScript(script: LuaScript, keys: readonly string[], args: readonly string[]) {
      try {
        return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return await redis.eval(script.source, keys.length, ...keys, ...args);
      }
    },
    async close() {
      if (!owned || redis.status === 'end') return;
      if (redis.status === 'reconnecting') return redis.disconnect(); // between attempts: no socket to close
      // Waits for the client's 'end' (QUIT first when connected, so pending replies arrive), at most
      // 1,000 ms: a client between reconnect attempts has no socket and may never emit 'end'.
      let timer: NodeJS.Timeout | undefined;
      const ended = new Promise<void>((resolve) => {
        redis.once('end', () => resolve());
        timer = setTimeout(resolve, 1000);
      });
      if (redis.status === 'ready') redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
      await ended;
      clearTimeout(timer);
      if ((redis.status as string) !== 'end') redis.disconnect();
    },
  };
}
