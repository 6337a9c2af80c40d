import { createClient } from 'redis';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../core/errors.js';
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
  looksLikeIoredis,
  sharedWaiter,
  subscriptionState,
  withSafeInspect,
  type Emitter,
  type RedisDriver,
  type RedisSubscriptionHandlers,
  type RedisDriverState,
} from './driver.js';
import type { LuaScript } from './scripts.js';

/**
 * The parts of a node-redis client (`createClient`) the driver uses; typed structurally so that clients of
 * node-redis 5 and 6 (whose generic types differ) are both accepted.
 */
export interface NodeRedisClientLike extends Emitter {
  /** node-redis: the socket is open (or opening). */
  readonly isOpen: boolean;
  /** node-redis: connected and ready for commands. */
  readonly isReady: boolean;
  /** node-redis: sends one command, e.g. `['EVALSHA', sha, ...]`. */
  sendCommand(args: string[]): Promise<unknown>;
  /** node-redis: opens the connection (used only for a client the driver opened from `url`). */
  connect(): Promise<unknown>;
  /** node-redis 5+: closes the connection after pending replies (for an owned client). */
  close?(): Promise<void>;
  /** node-redis 5+: closes the connection at once (for an owned client). */
  destroy?(): void;
  /** Node's `EventEmitter.listenerCount`, to keep one shared listener per event. */
  listenerCount(event: string): number;
  /** node-redis: the client's options (read for the endpoint and the database; never shown). */
  readonly options?: unknown;
}

/** The parts of a duplicated node-redis client or cluster that {@link RedisDriver.subscribe} uses. */
interface PubSubClientLike extends Emitter {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  destroy?(): void;
}

/** The parts of a node-redis cluster (`createCluster`) the driver uses. */
export interface NodeRedisClusterLike extends Emitter {
  /** node-redis: the cluster connection is open (or opening). */
  readonly isOpen: boolean;
  /** node-redis: the primaries of the slot map. */
  readonly masters: readonly ClusterNodeLike[];
  /** The slot map: per hash slot, its shard (node-redis 5 and 6). */
  readonly slots?: readonly (
    | {
        /** The primary serving the slot. */
        master?: ClusterNodeLike;
      }
    | undefined
  )[];
  /** node-redis: the client of one node (for PING and `CONFIG GET` on every primary). */
  nodeClient(node: never): unknown;
  /** node-redis: sends one command to the node serving `firstKey`. */
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  /** Node's `EventEmitter.listenerCount`. */
  listenerCount(event: string): number;
}

/** A node of a node-redis cluster's slot map (`cluster.masters`, `cluster.slots[i].master`). */
export interface ClusterNodeLike {
  /** The node's host. */
  readonly host?: string;
  /** The node's port. */
  readonly port?: number;
  /** Its client, once made (undefined before, and after a failed connect). */
  readonly client?: {
    /** node-redis: connected and ready. */
    readonly isReady?: boolean;
    /** node-redis: the socket is open (or opening). */
    readonly isOpen?: boolean;
  };
}

/** The parts of a node-redis Sentinel client (`createSentinel`) the driver uses. */
export interface NodeRedisSentinelLike extends Emitter {
  /** node-redis: the Sentinel client is open (or opening). */
  readonly isOpen: boolean;
  /** node-redis: connected to the current primary and ready. */
  readonly isReady: boolean;
  /** node-redis: the current primary's address (for messages). */
  getMasterNode(): unknown;
  /** node-redis: sends one command to the primary. */
  sendCommand(isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  /** Node's `EventEmitter.listenerCount`. */
  listenerCount(event: string): number;
}

/** The argument of {@link nodeRedisDriver}: the app's node-redis client, cluster or Sentinel client, or `{ url }`. */
export type NodeRedisDriverInput =
  | NodeRedisClientLike
  | NodeRedisClusterLike
  | NodeRedisSentinelLike
  | {
      /** A Redis URL (`redis://` or `rediss://`; the database as its path, e.g. `redis://host:6379/2`): the driver opens its own client and closes it with the store. */
      url: string;
    };

/** A {@link RedisDriver} over node-redis, with the client it uses. */
export interface NodeRedisDriver extends RedisDriver {
  /** The node-redis client in use (the app's, or the one opened from `url`). */
  readonly client: NodeRedisClientLike | NodeRedisClusterLike | NodeRedisSentinelLike;
  /** `'client'`, `'cluster'` or `'sentinel'`. */
  readonly kind: 'client' | 'cluster' | 'sentinel';
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

/**
 * A Redis driver over node-redis (the `redis` package, majors 5 and 6), for `new RedisStore({ driver })`.
 *
 * - Give the app's client from `createClient`, `createCluster` or `createSentinel`, connected by the app
 *   (`await client.connect()`): the driver never connects nor closes it. The drivers over one client
 *   share one listener per event (`ready`, `error`, `reconnecting`; `connect` and `node-ready` on a
 *   cluster; plus a start-up waiter's), removed when the last of their stores is closed. While attached, the driver's `error` listener counts as one, so node-redis no longer
 *   throws an `error` event the app does not listen to (node-redis asks every app to listen anyway).
 *   Its node-redis `keyPrefix` option (node-redis 6) must be unset: the Lua scripts build key names.
 * - Or give `{ url }` (`redis://[[user]:password@]host:port[/db]`, `rediss://` for TLS): the driver
 *   opens its own client on first use (offline queue off, reconnecting with a back-off capped at
 *   2,000 ms) and closes it on `store.close()`.
 *
 * Relies on: `sendCommand` with raw arguments (`EVALSHA`, then `EVAL` on a `NOSCRIPT` reply; on a
 * cluster `sendCommand(firstKey, false, args)`, routed to the primary of the key's slot; on Sentinel
 * `sendCommand(false, args)`, sent to the primary); `isReady` for readiness (a cluster of node-redis 5,
 * which has none, counts as ready once open and its slots are known); `CONFIG GET maxmemory-policy`
 * and PING on every primary (`cluster.masters` through `nodeClient`, in parallel; a master whose
 * connection is down fails at once), and the slot map (`cluster.slots`) to tell which primary serves a
 * key, so that the store's policy check for one user waits for that user's primary only. Replies in
 * RESP2 and RESP3 both work.
 *
 * A client pool (`createClientPool`) is refused: one client pipelines every command the store sends.
 *
 * @throws {InvalidArgumentTypeError} not a node-redis client nor `{ url }`; an ioredis client; a client pool.
 * @throws {InvalidArgumentValueError} a URL that is not `redis://` or `rediss://`, or whose database is not a whole number; a client with node-redis's `keyPrefix` set.
 */
export function nodeRedisDriver(input: NodeRedisDriverInput): NodeRedisDriver {
  if (
    !input ||
    typeof input !== 'object' ||
    (typeof (input as { on?: unknown }).on !== 'function' && !('url' in input))
  )
    throw new InvalidArgumentTypeError(
      'nodeRedisDriver takes a node-redis client (createClient, createCluster or createSentinel), or { url }',
    );
  if (looksLikeIoredis(input))
    throw new InvalidArgumentTypeError(
      'nodeRedisDriver was given an ioredis client: use ioredisDriver from redis-multitokens/ioredis for it',
    );
  if (isClientPool(input))
    throw new InvalidArgumentTypeError(
      'nodeRedisDriver does not take a node-redis client pool (createClientPool): pass one client from createClient (the store pipelines its commands on one connection)',
    );
  let client: NodeRedisClientLike | NodeRedisClusterLike | NodeRedisSentinelLike;
  let owned = false;
  if ('url' in input && typeof (input as { sendCommand?: unknown }).sendCommand !== 'function') {
    rejectUnknownOptions('nodeRedisDriver', input, ['url']);
    const url = checkRedisUrl('nodeRedisDriver', (input as { url: unknown }).url, 'a node-redis client', {
      queryDb: false,
    });
    client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: (retries: number) => Math.min((retries + 1) * 100, 2000) },
    }) as unknown as NodeRedisClientLike;
    owned = true;
  } else {
    client = input as NodeRedisClientLike;
    if (typeof client.sendCommand !== 'function' || typeof client.isOpen !== 'boolean')
      throw new InvalidArgumentTypeError(
        'nodeRedisDriver: not a node-redis client (createClient, createCluster or createSentinel), nor { url }',
      );
  }
  const kind = kindOf(client);
  const opts = optionsOf(client);
  if (opts?.keyPrefix || (client as { _keyPrefix?: unknown })._keyPrefix)
    throw new InvalidArgumentValueError(
      "nodeRedisDriver: the client's node-redis `keyPrefix` option must be unset; use the store's `keyPrefix` option instead",
    );
  // node-redis reads the database from the URL's path only: an app client made with `?db=5` is in database 0.
  if (!owned && typeof opts?.url === 'string')
    checkRedisUrl('nodeRedisDriver', opts.url, 'a node-redis client', { queryDb: false });

  const { watch, release } = watches.acquire(client);
  let detached = false;
  let connectStarted = false;
  const isReadyNow = () => readyNow(client, kind, watch);
  const send = (firstKey: string | undefined, args: string[]): Promise<unknown> =>
    kind === 'cluster'
      ? (client as unknown as NodeRedisClusterLike).sendCommand(firstKey, false, args)
      : kind === 'sentinel'
        ? (client as unknown as NodeRedisSentinelLike).sendCommand(false, args)
        : (client as unknown as NodeRedisClientLike).sendCommand(args);

  const cluster = client as unknown as NodeRedisClusterLike;
  const primaries = (): string[] => (kind === 'cluster' ? cluster.masters.map(nodeId) : [ONLY_PRIMARY]);

  /** Runs `args` on one primary (by id); a cluster master whose connection is down fails at once. */
  async function onPrimary(id: string, args: string[]): Promise<unknown> {
    if (kind !== 'cluster') return send(undefined, args);
    const master = cluster.masters.find((m) => nodeId(m) === id);
    if (!master) throw new Error(`node-redis: ${id} is not a primary of the cluster now`);
    if (master.client?.isOpen && master.client.isReady === false)
      throw new Error(`node-redis: the connection to primary ${id} is down`);
    const node = (await cluster.nodeClient(master as never)) as NodeRedisClientLike;
    return node.sendCommand(args);
  }

  /** Runs `args` on every primary in parallel: each master of a cluster, else the one client. */
  const onEveryPrimary = (args: string[]): Promise<unknown[]> =>
    Promise.all(primaries().map((id) => onPrimary(id, args)));

  /** One primary's policy; null when CONFIG is renamed or denied (the check cannot be made). */
  async function evictionPolicyOf(id: string): Promise<string | null> {
    try {
      return policyOf(await onPrimary(id, ['CONFIG', 'GET', 'maxmemory-policy'])) ?? null;
    } catch (error) {
      if (isReplyError(error)) return null;
      throw error;
    }
  }

  return withSafeInspect('NodeRedisDriver', {
    name: 'node-redis',
    client,
    kind,
    owned,
    toJSON() {
      return driverFacts(this, owned);
    },
    endpoint() {
      if (kind === 'cluster') {
        const roots = (opts?.rootNodes ?? []) as { url?: string; socket?: { host?: string; port?: number } }[];
        return `cluster ${roots.map((n) => (n.url ? describeUrl(n.url) : hostPort(n.socket))).join(',')}`;
      }
      if (kind === 'sentinel') {
        // A RedisSentinel (node-redis 6) has no public options: name the primary it uses now.
        const roots = (opts?.sentinelRootNodes ?? []) as { host?: string; port?: number }[];
        const via = roots.length > 0 ? ` via ${roots.map((n) => hostPort(n)).join(',')}` : '';
        let primary: { host?: string; port?: number } | undefined;
        try {
          primary = (client as unknown as NodeRedisSentinelLike).getMasterNode() as typeof primary;
        } catch {
          primary = undefined;
        }
        const name = typeof opts?.name === 'string' ? ` ${opts.name}` : '';
        return `sentinel${name} primary ${primary ? hostPort(primary) : '(not known yet)'}${via}`;
      }
      if (typeof opts?.url === 'string') return describeUrl(opts.url);
      const socket = opts?.socket as { host?: string; port?: number; path?: string } | undefined;
      if (socket?.path) return socket.path;
      return `${hostPort(socket)}${opts?.database ? ` db ${String(opts.database)}` : ''}`;
    },
    state(): RedisDriverState {
      if (detached) return 'down';
      if (isReadyNow()) return 'ready';
      if (!client.isOpen) {
        if (!owned || connectStarted) return 'down';
        connectStarted = true; // an owned client connects on first use
        (client as unknown as NodeRedisClientLike).connect().catch(() => {});
        return 'starting';
      }
      return watch.everReady || watch.failedSinceOpen ? 'down' : 'starting';
    },
    whenReady: () => watch.whenReady(),
    connections: () => watch.connections,
    lastError: () => {
      if (detached) return new Error('the store was closed (store.close())');
      // An app's client that is not open: say what to do rather than "down" with no reason.
      if (!owned && !client.isOpen)
        return new Error(
          watch.ended
            ? 'the node-redis client was closed (client.close(), quit() or destroy()); the store cannot use it any more'
            : 'the node-redis client is not connected (call client.connect() before using the store)',
        );
      // Errors the client met before this driver watched it were not seen: say where to look.
      if (!watch.lastError && !isReadyNow())
        return new Error(
          "the node-redis client is open but not ready (a refused AUTH, a database the server lacks and other start-up errors go to the client's 'error' listeners)",
        );
      return watch.lastError;
    },
    async ping() {
      await onEveryPrimary(['PING']);
    },
    async evictionPolicies() {
      return (await Promise.all(primaries().map(evictionPolicyOf))).filter((p): p is string => p !== null);
    },
    primaries,
    primaryOf(key: string) {
      if (kind !== 'cluster') return ONLY_PRIMARY;
      const master = cluster.slots?.[hashSlot(key)]?.master;
      return master ? nodeId(master) : undefined;
    },
    evictionPolicyOf,
    commandOn: (id: string, args: readonly string[]) => onPrimary(id, [...args]),
    runScript(script: LuaScript, keys: readonly string[], args: readonly string[]) {
      const rest = [String(keys.length), ...keys, ...args];
      // One promise on the common path (no async wrapper): EVALSHA, and EVAL only after NOSCRIPT.
      return send(keys[0], ['EVALSHA', script.sha, ...rest]).catch((error: unknown) => {
        if (!isNoScript(error)) throw error;
        return send(keys[0], ['EVAL', script.source, ...rest]);
      });
    },
    subscribe(channel: string, handlers: RedisSubscriptionHandlers) {
      // A connection of its own (`duplicate()`; a cluster's copy subscribes through one node of its
      // choosing). node-redis resubscribes on reconnect before it emits 'ready'.
      const sub = (client as unknown as { duplicate(): PubSubClientLike }).duplicate();
      const st = subscriptionState(handlers);
      sub.on('error', () => {}); // a lost connection is reported as state(false)
      sub.on('reconnecting', () => st.set(false));
      sub.on('end', () => st.set(false));
      let subscribed = false;
      sub.on('ready', () => {
        if (subscribed) st.set(true);
      });
      void (async () => {
        try {
          await sub.connect();
          await sub.subscribe(channel, (text: string) => st.message(String(text)));
          subscribed = true;
          st.set(true);
        } catch {
          // not subscribed: the caller's heartbeats never come back, so it keeps its cache off
        }
      })();
      return async () => {
        if (!st.stop()) return;
        try {
          sub.destroy?.();
        } catch {
          // already closed
        }
      };
    },
    async publish(channel: string, message: string) {
      const replies = await onEveryPrimary(['PUBLISH', channel, message]);
      return replies.length;
    },
    detach() {
      detached = true;
      release();
    },
    async close() {
      this.detach();
      if (!owned) return;
      const c = client as unknown as NodeRedisClientLike;
      c.on('error', () => {}); // late connection errors of our own client are nobody's business now
      const destroy = () => {
        try {
          c.destroy?.(); // also ends a socket that a graceful close() keeps open to drain (node-redis 6)
        } catch {
          // already closed (node-redis 5 throws ClientClosedError)
        }
      };
      if (!c.isOpen) return destroy();
      if (!c.isReady) return destroy();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([c.close?.().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
      destroy();
    },
  });
}

/** A node-redis client pool (`createClientPool`, node-redis 5 and 6). */
function isClientPool(value: object): boolean {
  const v = value as Record<string, unknown>;
  return typeof v.execute === 'function' && typeof v.totalClients === 'number';
}

/** What the drivers over one node-redis client share: one listener per event in all. */
interface NodeRedisWatch {
  connections: number;
  lastError: Error | null;
  /** The client has been ready at least once since the watch began. */
  everReady: boolean;
  /** A connection attempt failed since the client was opened (so it is no longer "starting"). */
  failedSinceOpen: boolean;
  /** A cluster of node-redis 5 (no isReady) has discovered its slots. */
  clusterDiscovered: boolean;
  /** The client emitted `end` (closed) since the watch began. */
  ended: boolean;
  whenReady: () => Promise<void>;
}

function kindOf(client: object): NodeRedisDriver['kind'] {
  if (typeof (client as { nodeClient?: unknown }).nodeClient === 'function') return 'cluster';
  if (typeof (client as { getMasterNode?: unknown }).getMasterNode === 'function') return 'sentinel';
  return 'client';
}

/** `host:port` of a cluster node. */
function nodeId(node: ClusterNodeLike): string {
  return hostPort(node);
}

function readyNow(client: object, kind: NodeRedisDriver['kind'], w: NodeRedisWatch): boolean {
  const r = (client as { isReady?: unknown }).isReady;
  if (typeof r === 'boolean') return r;
  return kind === 'cluster' && (client as { isOpen: boolean }).isOpen && w.clusterDiscovered;
}

const watches = new SharedWatches<NodeRedisWatch>((client, listeners) => {
  const c = client as NodeRedisClientLike;
  const kind = kindOf(client);
  const w: NodeRedisWatch = {
    connections: 0,
    lastError: null,
    everReady: false,
    failedSinceOpen: false,
    ended: false,
    clusterDiscovered: kind === 'cluster' && c.isOpen && (client as unknown as NodeRedisClusterLike).masters.length > 0,
    whenReady: sharedWaiter(
      listeners,
      c,
      kind === 'cluster' ? ['connect', 'error', 'disconnect', 'end'] : ['ready', 'error', 'reconnecting', 'end'],
    ),
  };
  if (readyNow(client, kind, w)) {
    w.everReady = true;
    w.connections = 1;
  }
  const onReady = () => {
    w.connections++;
    w.everReady = true;
    w.ended = false;
    w.failedSinceOpen = false;
    w.lastError = null;
  };
  if (kind === 'cluster') {
    listeners.on(c, 'connect', () => {
      w.clusterDiscovered = true;
      onReady();
    });
    listeners.on(c, 'node-ready', () => w.connections++);
  } else listeners.on(c, 'ready', onReady);
  listeners.on(c, 'error', (error: unknown) => {
    w.lastError = error instanceof Error ? error : new Error(String(error));
    w.failedSinceOpen = true;
  });
  listeners.on(c, 'reconnecting', () => {
    w.failedSinceOpen = true;
  });
  listeners.on(c, 'end', () => {
    w.ended = true;
  });
  return w;
});

/** The options a node-redis client was made with (`options` getter; public in both majors). */
function optionsOf(client: object): Record<string, unknown> | undefined {
  const o = (client as { options?: unknown }).options;
  if (o && typeof o === 'object') return o as Record<string, unknown>;
  const internal = (client as { _options?: unknown })._options;
  return internal && typeof internal === 'object' ? (internal as Record<string, unknown>) : undefined;
}

/** The policy from a `CONFIG GET maxmemory-policy` reply: an array in RESP2, a map (object or Map) in RESP3. */
function policyOf(reply: unknown): string | undefined {
  if (Array.isArray(reply)) return reply[1] === undefined ? undefined : String(reply[1]);
  if (reply instanceof Map) return reply.has('maxmemory-policy') ? String(reply.get('maxmemory-policy')) : undefined;
  if (reply && typeof reply === 'object' && 'maxmemory-policy' in reply)
    return String((reply as Record<string, unknown>)['maxmemory-policy']);
  return undefined;
}

/** node-redis error replies (`ErrorReply`, `SimpleError`, `BlobError`) as opposed to connection faults. */
function isReplyError(error: unknown): boolean {
  const name = (error as { constructor?: { name?: string } })?.constructor?.name;
  return name === 'ErrorReply' || name === 'SimpleError' || name === 'BlobError';
}
