import type { LuaScript } from './scripts.js';
import { InvalidArgumentValueError } from '../../core/errors.js';

/**
 * Connection state of a {@link RedisDriver}:
 * - `'ready'`: commands go out at once;
 * - `'starting'`: the first connection is under way (worth waiting for, up to the store's `commandTimeoutMs`);
 * - `'down'`: lost, refused, not opened or closed (the store fails at once: nothing queues behind an outage).
 */
export type RedisDriverState = 'ready' | 'starting' | 'down';

/**
 * What the Redis store needs from a Redis client: the seam between `RedisStore` and one client library
 * (ioredis: {@link https://github.com/redis/ioredis}, node-redis: {@link https://github.com/redis/node-redis},
 * or a third one). A driver wraps ONE client for ONE store; the store calls {@link RedisDriver.close}
 * when it is closed. `redis-multitokens/testing` exports `driverConformanceCases`, which any driver
 * must pass.
 *
 * Division of work: the driver says what the connection is doing and sends commands; the store owns
 * the policy (the command timeout, failing at once while `'down'`, waiting while `'starting'`, the
 * eviction-policy check and its repeats, and turning every fault into `StoreUnavailableError`).
 * A driver therefore never queues a command for later on its own account and never retries.
 */
export interface RedisDriver {
  /** The client library, for logs and error messages, e.g. `'ioredis'` or `'node-redis'`. */
  readonly name: string;
  /**
   * The Redis endpoint for logs and error messages, never with a password or user name:
   * `'127.0.0.1:6379'`, `'cluster 10.0.0.1:7000,10.0.0.2:7000'`, `'sentinel mymaster via 10.0.0.5:26379'`.
   */
  endpoint(): string;
  /** The connection state now (see {@link RedisDriverState}); cheap, called before every command. */
  state(): RedisDriverState;
  /**
   * Resolves when a start-up wait is over: the state left `'starting'` (ready, or the first attempt
   * failed). Never rejects. Concurrent calls share one wait (a burst adds one set of listeners).
   */
  whenReady(): Promise<void>;
  /** How many times the connection has become ready so far; a new count means a reconnect (the store then checks the eviction policy again). */
  connections(): number;
  /**
   * The last connection error the client reported (its `error` event), or null; the store uses it as
   * the `cause` of `StoreUnavailableError` while the state is `'down'`.
   */
  lastError(): Error | null;
  /**
   * Runs `script` with EVALSHA, and with EVAL when the server answers `NOSCRIPT` (a script cache
   * flushed by `SCRIPT FLUSH`, a restart or a failover). Every key in `keys` shares one hash slot; on a
   * cluster the command goes to the primary of that slot. Resolves to the raw reply (Lua tables as
   * arrays, integers as numbers, strings as strings, nil as null); rejects with the client's error.
   */
  runScript(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /**
   * `CONFIG GET maxmemory-policy` on every primary (each primary of a cluster, asked in parallel): the
   * policies read. A server that does not let this client read its configuration (CONFIG renamed or
   * denied, as on some managed services) adds nothing; rejects on a connection fault of any primary, and
   * with a `StoreMisconfiguredError` when the connection cannot serve the store (the ioredis driver: the
   * configured database does not exist).
   */
  evictionPolicies(): Promise<string[]>;
  /**
   * Optional, with {@link RedisDriver.primaryOf} and {@link RedisDriver.evictionPolicyOf} (the three
   * together, or none): the primaries this client sends to now, each named by an id such as
   * `host:port` (a cluster's masters; one id for a standalone or Sentinel primary). With them the store
   * checks the eviction policy per primary, so a primary that cannot be reached holds up only the calls
   * for its own keys; without them it checks every primary at once through `evictionPolicies()`.
   */
  primaries?(): string[];
  /** Optional (see {@link RedisDriver.primaries}): the id of the primary that serves `key` now, or `undefined` when not known (no slot map yet). */
  primaryOf?(key: string): string | undefined;
  /**
   * Optional (see {@link RedisDriver.primaries}): `CONFIG GET maxmemory-policy` on that one primary.
   * Resolves to its policy, or `null` when the server does not let this client read its configuration;
   * rejects at once when the client has no live connection to it (or does not know it), and otherwise
   * on a connection fault. Never waits for another primary. The store bounds it by `commandTimeoutMs`.
   */
  evictionPolicyOf?(primary: string): Promise<string | null>;
  /**
   * Optional, with {@link RedisDriver.publish} (both or neither; `RedisStore.watchRevocations`, and so
   * the manager's `verifyCache`, needs them): subscribes to one classic pub/sub `channel` on a connection
   * of its own (ioredis `duplicate()`, node-redis `duplicate()`; on a cluster the client's own classic
   * SUBSCRIBE, which any node serves since a cluster broadcasts classic PUBLISH to every node). Calls
   * `handlers.message` with each message's text, `handlers.state(true)` once the subscription is
   * confirmed (again after each reconnect), `handlers.state(false)` when its connection is lost (as far
   * as the client reports it; a silent loss is caught by the caller's heartbeats). Returns the way to
   * stop: unsubscribes and closes that connection (idempotent). Leaves the app's client as it is.
   */
  subscribe?(channel: string, handlers: RedisSubscriptionHandlers): () => Promise<void>;
  /**
   * Optional (see {@link RedisDriver.subscribe}): classic PUBLISH of `message` on `channel` on every
   * primary (each master of a cluster, in parallel: a subscriber then receives one copy per primary, each
   * after everything that primary published before it). Resolves to the number of primaries published
   * on; rejects on a connection fault.
   */
  publish?(channel: string, message: string): Promise<number>;
  /** PING on every primary (each primary of a cluster, in parallel); rejects on connection faults. */
  ping(): Promise<void>;
  /**
   * Optional, for the admin methods of the store (`RedisStore.stats`, `RedisStore.prune`; the CLI):
   * sends one command (`args`, e.g. `['SCAN', '0', 'MATCH', 'p*', 'COUNT', '1000']`) to the primary
   * `primary` (an id from {@link RedisDriver.primaries}) and resolves to its raw reply; rejects with the
   * client's error, at once when the client has no live connection to that primary. Never used on the
   * request path.
   */
  commandOn?(primary: string, args: readonly string[]): Promise<unknown>;
  /**
   * Removes every listener the driver added to the client (and any timer it set). Idempotent;
   * the driver must not be used afterwards. Leaves the client itself as it is.
   */
  detach(): void;
  /**
   * Detaches (see {@link RedisDriver.detach}) and closes the client when the driver opened it itself
   * (from a URL); a client the app handed in is left open. Idempotent.
   */
  close(): Promise<void>;
}

/** Callbacks of {@link RedisDriver.subscribe}; called synchronously by the driver, they must not throw. */
export interface RedisSubscriptionHandlers {
  /** A message published on the channel (its text). */
  message(text: string): void;
  /** `true`: the subscription is in place (now or again); `false`: its connection was lost. */
  state(subscribed: boolean): void;
}

/**
 * The bookkeeping every {@link RedisDriver.subscribe} shares: `set(up)` passes a change of state on to
 * `handlers.state` (once per change, never after `stop`), `message(text)` a message (never after
 * `stop`); `stop()` returns true the first time only (the driver then closes its connection).
 */
export function subscriptionState(handlers: RedisSubscriptionHandlers): {
  set(up: boolean): void;
  message(text: string): void;
  stop(): boolean;
} {
  let stopped = false;
  let up = false;
  return {
    set(v) {
      if (stopped || v === up) return;
      up = v;
      handlers.state(v);
    },
    message(text) {
      if (!stopped) handlers.message(text);
    },
    stop() {
      if (stopped) return false;
      stopped = true;
      return true;
    },
  };
}

/** Redis URL without its credentials, as `host:port` (for logs and error messages). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const db = u.pathname && u.pathname !== '/' ? ` db ${u.pathname.slice(1)}` : '';
    return `${u.hostname || '127.0.0.1'}:${u.port || '6379'}${db}`;
  } catch {
    return '(unparsable Redis URL)';
  }
}

/** `host:port` of a `{ host, port }` pair (defaults 127.0.0.1 and 6379). */
export function hostPort(node: { host?: unknown; port?: unknown } | undefined): string {
  return `${typeof node?.host === 'string' && node.host ? node.host : '127.0.0.1'}:${node?.port ?? 6379}`;
}

/** Tracks the listeners a driver adds to an event emitter, so {@link RedisDriver.detach} can remove them all. */
export class ListenerSet {
  private readonly added: [Emitter, string, Listener][] = [];
  /** Adds `fn` for `event` on `target` and remembers it. */
  on(target: Emitter, event: string, fn: Listener): void {
    target.on(event, fn);
    this.added.push([target, event, fn]);
  }
  /** Removes one remembered listener. */
  off(target: Emitter, event: string, fn: Listener): void {
    target.off(event, fn);
    const i = this.added.findIndex(([t, e, f]) => t === target && e === event && f === fn);
    if (i >= 0) this.added.splice(i, 1);
  }
  /** Removes every remembered listener. */
  removeAll(): void {
    for (const [target, event, fn] of this.added.splice(0)) target.off(event, fn);
  }
}

/** A listener as the clients type it: ioredis and node-redis declare `on(event, (...args: any[]) => void)`. */
// biome-ignore lint/suspicious/noExplicitAny: the clients' own listener type (neither `unknown[]` nor `never[]` matches both sides).
type Listener = (...args: any[]) => void;

/**
 * The part of `EventEmitter` a driver uses. Its listener type is spelled out, not `Listener`: the
 * interface is public (the `...ClientLike` types extend it) and the alias is not.
 */
export interface Emitter {
  /** Adds a listener (Node's `EventEmitter.on`). */
  // biome-ignore lint/suspicious/noExplicitAny: the clients' own listener type (see Listener).
  on(event: string, fn: (...args: any[]) => void): unknown;
  /** Removes a listener (Node's `EventEmitter.off`): the driver removes all it added on `close()`. */
  // biome-ignore lint/suspicious/noExplicitAny: the clients' own listener type (see Listener).
  off(event: string, fn: (...args: any[]) => void): unknown;
}

/**
 * One shared start-up waiter over a set of settling events (see {@link RedisDriver.whenReady}):
 * resolves on the first of them, then removes its listeners.
 */
export function sharedWaiter(listeners: ListenerSet, target: Emitter, events: readonly string[]): () => Promise<void> {
  let pending: Promise<void> | null = null;
  return () =>
    (pending ??= new Promise<void>((resolve) => {
      const settle = () => {
        pending = null;
        for (const e of events) listeners.off(target, e, settle);
        resolve();
      };
      for (const e of events) listeners.on(target, e, settle);
    }));
}

/**
 * Per-client state shared by every driver over one client (a WeakMap entry): its listeners are added
 * once, however many stores share the client (so 100 stores on one client add one `ready` listener,
 * not 100), and removed when the last driver over it detaches.
 */
export class SharedWatches<W> {
  private readonly entries = new WeakMap<object, { watch: W; listeners: ListenerSet; refs: number }>();
  constructor(private readonly create: (client: object, listeners: ListenerSet) => W) {}
  /** The watch of `client` (made on first use); call the returned `release` once, on detach. */
  acquire(client: object): { watch: W; release: () => void } {
    let entry = this.entries.get(client);
    if (!entry) {
      const listeners = new ListenerSet();
      entry = { watch: this.create(client, listeners), listeners, refs: 0 };
      this.entries.set(client, entry);
    }
    entry.refs++;
    const e = entry;
    let released = false;
    return {
      watch: e.watch,
      release: () => {
        if (released) return;
        released = true;
        if (--e.refs === 0) {
          e.listeners.removeAll();
          if (this.entries.get(client) === e) this.entries.delete(client);
        }
      },
    };
  }
}

/** True when a Redis error reply is NOSCRIPT (the script cache lacks the script). */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Own properties of a client error that are copied by {@link safeError} when they are primitives (never `command`, `args`, `options`). */
const SAFE_ERROR_FIELDS = ['code', 'errno', 'syscall', 'address', 'port'] as const;

/**
 * A copy of a client's error that is safe to log: its `name`, `message`, `stack` and the primitive
 * fields `code`, `errno`, `syscall`, `address` and `port`, with its `cause` (and an `AggregateError`'s
 * `errors`, ioredis's `lastNodeError`) copied the same way. Nothing else: ioredis attaches the command
 * that failed (`command: { name: 'hello', args: ['3', 'AUTH', user, password] }`) to its errors, and
 * other clients keep their options, which hold passwords. The store passes only such copies on, as the
 * `cause` of its errors.
 */
export function safeError(error: unknown, depth = 0): Error {
  if (!(error instanceof Error))
    return new Error(typeof error === 'string' ? error : `non-error value thrown (${typeof error})`);
  const copy = new Error(String(error.message));
  const name = typeof error.name === 'string' ? error.name : 'Error';
  Object.defineProperty(copy, 'name', { value: name, enumerable: false, writable: true, configurable: true });
  Object.defineProperty(copy, 'stack', {
    value: typeof error.stack === 'string' ? error.stack : `${name}: ${copy.message}`,
    enumerable: false,
    writable: true,
    configurable: true,
  });
  const fields = copy as unknown as Record<string, unknown>;
  for (const field of SAFE_ERROR_FIELDS) {
    const v = (error as unknown as Record<string, unknown>)[field];
    if (typeof v === 'string' || typeof v === 'number') fields[field] = v;
  }
  if (depth < 3) {
    if (error.cause !== undefined)
      Object.defineProperty(copy, 'cause', {
        value: safeError(error.cause, depth + 1),
        enumerable: false,
        writable: true,
        configurable: true,
      });
    const errors = (error as { errors?: unknown }).errors;
    if (Array.isArray(errors)) fields.errors = errors.slice(0, 10).map((e) => safeError(e, depth + 1));
    const lastNodeError = (error as { lastNodeError?: unknown }).lastNodeError;
    if (lastNodeError instanceof Error) fields.lastNodeError = safeError(lastNodeError, depth + 1);
  }
  return copy;
}

/**
 * A Redis URL with its user name, password and every query value replaced by `***`, for error messages
 * (ioredis also reads `?password=` from the query).
 */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.username) u.username = '***';
    for (const key of [...new Set(u.searchParams.keys())]) u.searchParams.set(key, '***');
    return u.toString().replaceAll('%2A%2A%2A', '***');
  } catch {
    return '(an unparsable URL)';
  }
}

/**
 * Checks the `url` of a driver's `{ url }` form: `redis://` or `rediss://`, parsable, and a database
 * that is absent or a whole number: in the path (`/0`, `/15`), or, where the client reads it
 * (`queryDb: true`, ioredis), in a `?db=` query parameter, which must then agree with the path. A client
 * that ignores `?db=` (node-redis) is refused one, so that it cannot use database 0 unnoticed. Messages
 * show the URL without its password.
 * @throws {InvalidArgumentValueError}
 */
export function checkRedisUrl(fn: string, url: unknown, clientWord: string, options: { queryDb: boolean }): string {
  if (typeof url !== 'string' || !/^rediss?:\/\//i.test(url))
    throw new InvalidArgumentValueError(`${fn}: \`url\` must be a redis:// or rediss:// URL (or pass ${clientWord})`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidArgumentValueError(
      `${fn}: \`url\` is not a parsable URL (redis://[[user]:password@]host:port[/db])`,
    );
  }
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,9}$/.test(path))
    throw new InvalidArgumentValueError(
      `${fn}: the database in \`url\` must be a whole number (redis://host:port/0 to /15 on a default Redis); got "/${path}" in ${redactUrl(url)}`,
    );
  const queryDbs = u.searchParams.getAll('db');
  if (queryDbs.length > 0) {
    if (!options.queryDb)
      throw new InvalidArgumentValueError(
        `${fn}: the client ignores \`?db=\` in a URL (it would use database 0): give the database in the path (redis://host:port/3); got ${redactUrl(url)}`,
      );
    if (queryDbs.length > 1 || !/^\d{1,9}$/.test(queryDbs[0]!) || (path !== '' && Number(path) !== Number(queryDbs[0])))
      throw new InvalidArgumentValueError(
        `${fn}: \`?db=\` in \`url\` must be one whole number that agrees with the path's database (or give the database in the path only); got ${redactUrl(url)}`,
      );
  }
  return url;
}

/**
 * Gives `driver` a `util.inspect` hook (the registered symbol, non-enumerable) that shows `label` and
 * its `toJSON()` only: never the client, whose options hold the password. Returns `driver`.
 */
export function withSafeInspect<D extends { toJSON(): unknown }>(label: string, driver: D): D {
  Object.defineProperty(driver, Symbol.for('nodejs.util.inspect.custom'), {
    value(this: D, _depth: number, options: object, inspect: (v: unknown, o: object) => string) {
      return `${label} ${inspect(this.toJSON(), options)}`;
    },
  });
  return driver;
}

/** The facts about a driver that are safe to log: its client library, endpoint and whether it owns its client. */
export function driverFacts(
  driver: Pick<RedisDriver, 'name' | 'endpoint'>,
  owned: boolean,
): { driver: string; endpoint: string; owned: boolean } {
  let endpoint: string;
  try {
    endpoint = driver.endpoint();
  } catch {
    endpoint = '(unknown endpoint)';
  }
  return { driver: driver.name, endpoint, owned };
}

/** True for a node-redis client, cluster, Sentinel client or pool (to refuse it clearly where an ioredis client is expected). */
export function looksLikeNodeRedis(value: object): boolean {
  const v = value as Record<string, unknown>;
  return typeof v.sendCommand === 'function' && typeof v.isOpen === 'boolean' && typeof v.evalsha !== 'function';
}

/** True for an ioredis `Redis` or `Cluster` client. */
export function looksLikeIoredis(value: object): boolean {
  const v = value as Record<string, unknown>;
  return typeof v.evalsha === 'function' && typeof v.status === 'string';
}

/** The id {@link RedisDriver.primaries} gives the one primary of a standalone or Sentinel client. */
export const ONLY_PRIMARY = 'primary';

/**
 * The Redis Cluster hash slot of `key` (0 to 16383): CRC16 (XMODEM) of the key, or of its hash tag (the
 * part between the first `{` and the next `}`, when not empty), modulo 16384. See
 * {@link https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags}.
 */
export function hashSlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b); // '{'
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // '}'
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
