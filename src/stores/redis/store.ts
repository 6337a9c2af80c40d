import {
  InvalidArgumentTypeError,
  InvalidArgumentValueError,
  StoreMisconfiguredError,
  StoreUnavailableError,
} from '../../core/errors.js';
import type {
  RevocationListener,
  RevocationWatch,
  RevocationWatchOptions,
  Store,
  StoreCreateInput,
  StoreCreateResult,
  StoreLookupInput,
  StoreLookupResult,
  StoreListPage,
  StoreListPageInput,
  StoreReauthenticateInput,
  StoreThrottlePolicy,
  StoreTokenRef,
  StoreVerifyInput,
  StoreVerifyResult,
} from '../../core/store.js';
import { USER_TAG_LENGTH } from '../../core/token-format.js';
import type { TokenRecord } from '../../core/types.js';
import type { TokenDigest } from '../../core/key-ring.js';
import { rejectUnknownOptions } from '../../core/options.js';
import { ONLY_PRIMARY, safeError, type RedisDriver } from './driver.js';
import { RedisKeys } from './keys.js';
import {
  CREATE,
  DIGEST_CHARS,
  LIST,
  LOOKUP,
  REAUTHENTICATE,
  REVOKE_ALL,
  REVOKE_BY_ID,
  REVOKE_TOKEN,
  verifyScript,
  type LuaScript,
} from './scripts.js';
import {
  noAdminCapability,
  pruneIndexes,
  storeStats,
  type AdminContext,
  type PruneOptions,
  type PruneResult,
  type StatsOptions,
  type StoreStats,
} from './admin.js';
import { watchRedisRevocations } from './revocations.js';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * The Redis client driver, made over the app's client (or a URL): `ioredisDriver(...)` from
   * `redis-multitokens/ioredis`, `nodeRedisDriver(...)` from `redis-multitokens/node-redis`, or your own
   * {@link RedisDriver}. One driver per store: `close()` closes it.
   */
  driver: RedisDriver;
  /** Prefix of every key, so several apps share one Redis safely; at most 64 characters, no `{` or `}`. Default `"rmt:"`. */
  keyPrefix?: string;
  /**
   * Longest wait for one Redis reply, in milliseconds (1 to 60,000; default 1,000). Past it the call
   * rejects with `StoreUnavailableError` (HTTP 503), so a black-holed connection cannot hang requests.
   */
  commandTimeoutMs?: number;
  /**
   * How often the `maxmemory-policy` check is repeated while things work, in milliseconds (100 to
   * 86,400,000; default 60,000). It is also repeated, before the next command, after every reconnect.
   * The repeat runs in the background, off the request path; when it finds an evicting policy, calls
   * fail from then on until the policy is fixed. (On a cluster, see {@link RedisStore.checkEvictionPolicy}
   * for what a primary that cannot be reached means.)
   */
  policyCheckIntervalMs?: number;
}

/** Default interval of the background `maxmemory-policy` check, in milliseconds. */
export const DEFAULT_POLICY_CHECK_INTERVAL_MS = 60_000;

/** Default command timeout of the Redis store, in milliseconds. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;

const STORE_OPTIONS = ['driver', 'keyPrefix', 'commandTimeoutMs', 'policyCheckIntervalMs'] as const;

/**
 * The Redis store: every operation is one Lua script over one user's keys (one hash slot; see
 * {@link RedisKeys} for the layout), so it is atomic and runs unchanged on Redis Cluster.
 * Times come from Redis `TIME`. Needs Redis 5 or later.
 *
 * ```ts
 * import { RedisStore } from 'redis-multitokens/redis';
 * import { nodeRedisDriver } from 'redis-multitokens/node-redis';
 * const store = new RedisStore({ driver: nodeRedisDriver(client), keyPrefix: 'myapp:tokens:' });
 * ```
 *
 * Every fault (connection down, no reply within `commandTimeoutMs`, an error reply) rejects with
 * `StoreUnavailableError` (HTTP 503): its message names the driver and the endpoint (host:port, never
 * a password) and its `cause` is a copy of the client's error with only its name, message, stack and
 * `code` (see `safeError`: never the failed command's arguments, which may hold the AUTH password).
 * After {@link RedisStore.close} every call rejects with a `StoreUnavailableError` of code `ERR_STORE_CLOSED`.
 * `util.inspect(store)` and `JSON.stringify(store)` show the driver, the endpoint and the key prefix only.
 */
export class RedisStore implements Store {
  /** The key names of this store (its `keyPrefix`): see `RedisKeys`. */
  readonly keys: RedisKeys;
  /** The driver in use (closed by {@link RedisStore.close}). */
  readonly driver: RedisDriver;
  private readonly timeoutMs: number;
  private readonly policyCheckIntervalMs: number;
  /** What is known of each primary's `maxmemory-policy` since the last (re)connect, by primary id. */
  private policies = new Map<string, PrimaryPolicy>();
  /** `driver.connections()` that `policies` belongs to (a new count: a reconnect, everything is checked again). */
  private policyConnection = -1;
  /** When the last background repeat of the check started (Date.now()). */
  private policyCheckedAtMs = 0;
  private closed = false;
  /** Verify scripts by configuration (see {@link RedisStore.verifyScriptOf}). */
  private readonly verifyScripts = new Map<string, LuaScript>();
  /** The last verify script asked for, per kind (0 bearer, 1 DPoP), by the identity of its settings: the hot path skips the config key. */
  private readonly lastVerify: [
    { renewal: unknown; throttle: unknown; script: LuaScript | undefined },
    { renewal: unknown; throttle: unknown; script: LuaScript | undefined },
  ] = [
    { renewal: null, throttle: undefined, script: undefined },
    { renewal: null, throttle: undefined, script: undefined },
  ];
  /**
   * True while the eviction-policy gate has nothing to do for a call whose primary is in `goodPrimaries`
   * (same connection, every known primary read as \`noeviction\` by the last check, no repeat due): the
   * calls then skip it (see {@link RedisStore.policyGateOpen}). Any new answer or reconnect clears it.
   */
  private policyFastOk = false;
  private goodPrimaries = new Set<string>();
  /** Calls under way, oldest first, each with its deadline (see {@link RedisStore.withDeadline}). */
  private deadlines: Deadline[] = [];
  private deadlineHead = 0;
  private deadlineTimer: NodeJS.Timeout | undefined;

  /** @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a bad option, named in the message. */
  constructor(options: RedisStoreOptions) {
    if (!options || typeof options !== 'object')
      throw new InvalidArgumentTypeError('RedisStore options must be an object with `driver`');
    if ('client' in options && !('driver' in options))
      throw new InvalidArgumentTypeError(
        'RedisStore takes `driver` now, not `client`: new RedisStore({ driver: ioredisDriver(client) }) (or nodeRedisDriver)',
      );
    rejectUnknownOptions('RedisStore', options, STORE_OPTIONS);
    if (!options.driver || typeof options.driver.runScript !== 'function' || typeof options.driver.state !== 'function')
      throw new InvalidArgumentTypeError(
        'RedisStore needs `driver`: ioredisDriver(client) from redis-multitokens/ioredis, nodeRedisDriver(client) from redis-multitokens/node-redis, or a RedisDriver',
      );
    this.driver = options.driver;
    this.keys = new RedisKeys(options.keyPrefix);
    const t = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (typeof t !== 'number')
      throw new InvalidArgumentTypeError(`commandTimeoutMs must be a number of milliseconds; got ${typeof t}`);
    if (!Number.isInteger(t) || t < 1 || t > 60_000)
      throw new InvalidArgumentValueError(
        `commandTimeoutMs must be a whole number of milliseconds from 1 to 60000; got ${String(t)}`,
      );
    this.timeoutMs = t;
    const p = options.policyCheckIntervalMs ?? DEFAULT_POLICY_CHECK_INTERVAL_MS;
    if (typeof p !== 'number')
      throw new InvalidArgumentTypeError(`policyCheckIntervalMs must be a number of milliseconds; got ${typeof p}`);
    if (!Number.isInteger(p) || p < 100 || p > 86_400_000)
      throw new InvalidArgumentValueError(
        `policyCheckIntervalMs must be a whole number of milliseconds from 100 to 86400000; got ${String(p)}`,
      );
    this.policyCheckIntervalMs = p;
  }

  async create(input: StoreCreateInput): Promise<StoreCreateResult> {
    const { userTag: tag, userId } = input;
    const tail = [
      encodeText(input.deviceName),
      encodeText(input.userAgent),
      encodeText(input.ip),
      input.scopes.length > 0 ? JSON.stringify(input.scopes) : '',
      input.metadataJson ?? '',
      encodeText(input.acr ?? null),
    ].join(US);
    const reply = (await this.run(
      CREATE,
      [this.keys.hashKey(tag), this.keys.indexKey(userId, tag)],
      [
        this.keys.field(input.tokenId),
        userId,
        input.maxTokens === null ? '' : String(input.maxTokens),
        input.limitPolicy,
        input.ttlMs === null ? '' : String(input.ttlMs),
        input.ttlIsOverride ? '1' : '0',
        input.absoluteLifetimeMs === null ? '' : String(input.absoluteLifetimeMs),
        input.digest.keyId,
        input.digest.digest.slice(0, DIGEST_CHARS),
        tail,
        input.keyIds.join(','),
        input.jkt ?? '',
      ],
    )) as unknown[];
    if (Number(reply[0]) === 0) return { status: 'limit', limit: Number(reply[1]) };
    return {
      status: 'created',
      record: parseRecord(input.tokenId, reply[2]),
      first: Number(reply[1]) === 1,
      evictedTokenIds: reply.slice(3).map((id) => tag + String(id)),
    };
  }

  async verify(input: StoreVerifyInput): Promise<StoreVerifyResult> {
    const { tokenId, userTag: tag, digests } = input;
    const dpop = input.dpop ?? null;
    const script = this.verifyScriptOf(input.renewal, input.throttle, dpop !== null);
    const field = this.keys.field(tokenId);
    const args = pushDigestArgs(dpop ? [field, dpop.jkt, String(dpop.replayWindowMs)] : [field], digests);
    const keys = [this.keys.hashKey(tag)];
    if (dpop) keys.push(this.keys.dpopJtiKey(dpop.jtiHash, tag));
    const r = await this.run(script, keys, args);
    // A refusal is an integer; a valid token one string: renewed 0/1, now ms, ',', the record (see verifyScript).
    if (typeof r !== 'string') {
      const status = Number(r);
      if (status === 1) return { status: 'mismatch' };
      if (status === 3) return { status: 'throttled' };
      if (status >= 4 && status <= 7) return { status: DPOP_STATUSES[status - 4]! };
      if (status === 0) return { status: 'not_found' };
    }
    // Anything else is not a reply of the script: parseRecord fails closed (503).
    const text = String(r);
    const comma = text.indexOf(',');
    return {
      status: 'valid',
      renewed: text.charCodeAt(0) === 0x31,
      record: parseRecord(tokenId, comma < 0 ? '' : text.slice(comma + 1)),
      nowMs: Number(text.slice(1, comma)),
    };
  }

  /**
   * The verify script of one configuration (its settings are part of the script's text, so a call
   * sends the token id and digests only). The manager passes the same two objects on every call: the
   * last pair is kept by identity, other configurations by value.
   */
  private verifyScriptOf(
    renewal: StoreVerifyInput['renewal'],
    throttle: StoreThrottlePolicy | null,
    dpop = false,
  ): LuaScript {
    const last = this.lastVerify[dpop ? 1 : 0];
    if (renewal === last.renewal && throttle === last.throttle && last.script) return last.script;
    const config = {
      mode: renewal.mode,
      ttlMs: renewal.ttlMs,
      overwriteNoneTtl: renewal.overwriteNoneTtl,
      touchIntervalMs: renewal.touchIntervalMs,
      maxFailures: throttle == null ? null : throttle.maxFailures,
      failureWindowMs: throttle == null ? 0 : throttle.windowMs,
      dpop,
    };
    const id = JSON.stringify(config);
    let script = this.verifyScripts.get(id);
    if (!script) {
      if (this.verifyScripts.size >= 64) this.verifyScripts.clear(); // a bound, for callers that vary the settings per call
      try {
        script = verifyScript(config);
      } catch (error) {
        throw new InvalidArgumentValueError(`RedisStore.verify: ${(error as Error).message}`);
      }
      this.verifyScripts.set(id, script);
    }
    last.renewal = renewal;
    last.throttle = throttle;
    last.script = script;
    return script;
  }

  async revokeToken(input: StoreTokenRef): Promise<TokenRecord | null> {
    const tag = input.userTag;
    const reply = await this.run(
      REVOKE_TOKEN,
      [this.keys.hashKey(tag)],
      [this.keys.field(input.tokenId), ...throttleArgs(input.throttle), ...pushDigestArgs([], input.digests)],
    );
    return reply === '' || reply === null ? null : parseRecord(input.tokenId, reply);
  }

  async revokeById(userId: string, userTag: string, tokenId: string): Promise<boolean> {
    if (tokenId.slice(0, USER_TAG_LENGTH) !== userTag) return false;
    const reply = await this.run(
      REVOKE_BY_ID,
      [this.keys.hashKey(userTag), this.keys.indexKey(userId, userTag)],
      [this.keys.field(tokenId), userId],
    );
    return Number(reply) === 1;
  }

  async revokeAll(userId: string, userTag: string, exceptTokenId?: string): Promise<string[]> {
    const keep =
      exceptTokenId !== undefined && exceptTokenId.slice(0, USER_TAG_LENGTH) === userTag
        ? this.keys.field(exceptTokenId)
        : '';
    const reply = String(
      await this.run(REVOKE_ALL, [this.keys.hashKey(userTag), this.keys.indexKey(userId, userTag)], [userId, keep]),
    );
    return reply === '' ? [] : reply.split(' ');
  }

  /** Step-up: one script over the token's own record (see `REAUTHENTICATE` in scripts.ts). */
  async reauthenticate(input: StoreReauthenticateInput): Promise<TokenRecord | null> {
    if (input.tokenId.slice(0, USER_TAG_LENGTH) !== input.userTag) return null;
    const reply = await this.run(
      REAUTHENTICATE,
      [this.keys.hashKey(input.userTag), this.keys.indexKey(input.userId, input.userTag)],
      [this.keys.field(input.tokenId), input.userId, input.acr ?? ''],
    );
    return reply === '' || reply === null ? null : parseRecord(input.tokenId, reply);
  }

  async list(userId: string, userTag: string, keyIds: readonly string[]): Promise<TokenRecord[]> {
    return (await this.listRun(userId, userTag, keyIds, '', 0)).records;
  }

  /**
   * One page of the user's tokens: an HSCAN of the user's hash with `limit` as its COUNT (a hint: a
   * small hash, in Redis's listpack encoding, comes whole in one page). The cursor is HSCAN's.
   * @throws {InvalidArgumentValueError} a cursor that is not one this method returned, a limit outside 1-1,000.
   */
  async listPage(input: StoreListPageInput): Promise<StoreListPage> {
    const { cursor, limit } = input;
    if (cursor !== null && (typeof cursor !== 'string' || !/^[1-9][0-9]{0,19}$/.test(cursor)))
      throw new InvalidArgumentValueError('list: cursor must be null or the cursor of the previous page');
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new InvalidArgumentValueError(`list: limit must be a whole number from 1 to 1000; got ${String(limit)}`);
    return this.listRun(input.userId, input.userTag, input.keyIds, cursor ?? '0', limit);
  }

  /** Runs LIST, puts records together from their pieces, and keeps the user's live ones signed by a key of the ring (the script returns the hash as stored). */
  private async listRun(
    userId: string,
    tag: string,
    keyIds: readonly string[],
    cursor: string,
    limit: number,
  ): Promise<StoreListPage> {
    const [now, next, joined, more, old] = (await this.run(
      LIST,
      [this.keys.hashKey(tag)],
      [userId, cursor, String(limit)],
    )) as [unknown, unknown, unknown, unknown[], unknown[]];
    const flat = joined === '' ? [] : String(joined).split('\0');
    const nowMs = Number(now);
    const records: TokenRecord[] = [];
    const keep = (id: string, rec: string) => {
      if (!keyIds.includes(rec.slice(0, rec.indexOf(',')))) return;
      let r: TokenRecord;
      try {
        r = parseRecord(id, rec);
      } catch {
        return; // an unreadable record (edited by hand) is absent: dropped at the user's next write, or by prune
      }
      if (r.userId === userId && (r.expiresAtMs === null || r.expiresAtMs > nowMs)) records.push(r);
    };
    let fields: Map<string, string> | undefined;
    const piece = (name: string): string | undefined => {
      if (!fields) {
        fields = new Map();
        for (const list of [flat, more])
          for (let i = 0; i < list.length; i += 2) fields.set(String(list[i]), String(list[i + 1]));
      }
      return fields.get(name) || undefined;
    };
    for (let i = 0; i < flat.length; i += 2) {
      const field = String(flat[i]);
      if (field.length !== 16) continue;
      const rec = storedRecordText(field, String(flat[i + 1]), piece);
      if (rec !== null) keep(tag + field, rec); // null: a piece missing, not a record (as the scripts see it)
    }
    for (let i = 0; i < old.length; i += 2) keep(String(old[i]), String(old[i + 1]));
    return { records, cursor: String(next) === '0' ? null : String(next) };
  }

  async lookup(input: StoreLookupInput): Promise<StoreLookupResult | null> {
    if (input.tokenId.slice(0, USER_TAG_LENGTH) !== input.userTag) return null;
    const args = pushDigestArgs([this.keys.field(input.tokenId)], input.digests ?? []);
    const reply = (await this.run(LOOKUP, [this.keys.hashKey(input.userTag)], args)) as unknown[] | null;
    if (!Array.isArray(reply)) return null;
    const ok = Number(reply[1]);
    return { record: parseRecord(input.tokenId, reply[0]), digestMatches: ok === -1 ? null : ok === 1 };
  }

  /**
   * Counts what the store holds, for operators (the CLI's `stats`): live tokens, users with tokens,
   * tokens per user, bytes per token (`MEMORY USAGE` on a sample), keys that should expire but have no
   * TTL, stale records and index entries. SCANs (never KEYS) every primary, `COUNT` 1,000 at a time, each command
   * under `commandTimeoutMs`; bounded by `options.limit` keys. Read-only. Not for the request path: it
   * reads each user tag's whole hash.
   * @throws {InvalidArgumentValueError} a bad `limit` or `sampleSize`.
   * @throws {StoreUnavailableError} Redis cannot be reached; the driver cannot send commands per primary.
   * @throws {StoreMisconfiguredError} a primary evicts keys (see {@link RedisStore.checkEvictionPolicy}).
   */
  async stats(options: StatsOptions = {}): Promise<StoreStats> {
    await this.checkEvictionPolicy();
    return storeStats(this.admin(), options);
  }

  /**
   * Drops expired and broken records from every hash (and their index entries), index entries whose
   * record is gone, and fits each key's TTL, for data edited by hand (every write of a user already does
   * it for that user). Each key is pruned atomically by one script; SCAN, limit and timeouts as
   * {@link RedisStore.stats}. `dryRun` counts only. Keys of the 0.1 layout are left to expire.
   * @throws {InvalidArgumentValueError | StoreUnavailableError | StoreMisconfiguredError} as `stats`.
   */
  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    await this.checkEvictionPolicy();
    return pruneIndexes(this.admin(), options);
  }

  /** The store's side of the admin operations (admin.ts). */
  private admin(): AdminContext {
    const d = this.driver;
    if (typeof d.commandOn !== 'function' || typeof d.primaries !== 'function') throw noAdminCapability(d.name);
    return {
      keys: this.keys,
      primaries: () => d.primaries!(),
      command: (primary, args) => this.guarded(args[0]!, () => d.commandOn!(primary, args)),
      runScript: (script, keys, args) => this.run(script, keys, args),
    };
  }

  /**
   * Watches removals for a local verify cache (see {@link Store.watchRevocations} and
   * `watchRedisRevocations`): subscribes to `<keyPrefix>revoked` on a connection of the driver's own
   * and publishes a heartbeat there every `heartbeatIntervalMs` milliseconds. Closed by {@link RedisStore.close} too.
   * @throws {InvalidArgumentValueError} the driver cannot subscribe (no `subscribe` / `publish`).
   */
  watchRevocations(listener: RevocationListener, options: RevocationWatchOptions): RevocationWatch {
    const watch = watchRedisRevocations(this.driver, this.keys.revocationChannel(), listener, options);
    this.watches.add(watch);
    return {
      syncedAtMs: watch.syncedAtMs,
      close: async () => {
        this.watches.delete(watch);
        await watch.close();
      },
    };
  }

  private readonly watches = new Set<RevocationWatch>();

  /**
   * Releases what the store added: removes every listener its driver put on the client and closes the
   * client when the driver opened it from a URL (an app's client is left open). Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.watches].map((w) => w.close()));
    this.watches.clear();
    this.dropSettled();
    if (this.deadlines.length === 0 && this.deadlineTimer !== undefined) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
    await this.driver.close();
  }

  /** What `JSON.stringify` shows: safe facts only (never the client, its options or a password). */
  toJSON(): {
    /** The client library, e.g. `'ioredis'`. */
    driver: string;
    /** `host:port` (or the nodes), never a password. */
    endpoint: string;
    /** The store's key prefix. */
    keyPrefix: string;
  } {
    return { driver: this.driver.name, endpoint: this.endpointSafe(), keyPrefix: this.keys.prefix };
  }

  /** What `util.inspect` (and `console.log`) shows: the driver, the endpoint and the key prefix. */
  [Symbol.for('nodejs.util.inspect.custom')](
    _depth: number,
    options: object,
    inspect: (v: unknown, o: object) => string,
  ): string {
    return `${this.constructor.name} ${inspect(this.toJSON(), options)}`;
  }

  /** PINGs Redis (every primary of a cluster) and checks the eviction policy of every primary, under the command timeout. */
  async ping(): Promise<void> {
    await this.guarded('ping', async () => {
      await this.checkPolicies(undefined, true);
      await this.driver.ping();
    });
  }

  /**
   * Checks that Redis will not evict keys behind the library's back: `maxmemory-policy` must be
   * `noeviction` on every server (an evicted user index would let tokens escape "log out everywhere";
   * see SECURITY.md). Runs by itself before the store's first command, again in the background every
   * `policyCheckIntervalMs`, and on every call while it fails, so fixing the configuration recovers
   * without a restart. Call it (or `TokenManager.checkHealth`) at start-up to fail early: it asks every
   * primary (in parallel) and fails when any of them is evicting or cannot be reached.
   * When the server does not let this client read CONFIG, the check passes (it cannot be made).
   *
   * On a cluster the check is made per primary (when the driver tells which primary serves a key, as
   * `ioredisDriver` and `nodeRedisDriver` do), each primary bounded by `commandTimeoutMs`, so one
   * primary that cannot be reached does not take the others down:
   * - a call waits only for the check of the primary that serves its user (a few milliseconds), and
   *   the other primaries are checked in the background;
   * - a primary whose policy is known to evict fails EVERY call (`StoreMisconfiguredError`), whichever
   *   primary serves it, until the policy is fixed: a misconfiguration is loud, not a partial outage;
   * - a primary that cannot be reached (down, paused, partitioned: no answer within `commandTimeoutMs`)
   *   fails the calls of its own users with `StoreUnavailableError` (it cannot serve them anyway), at
   *   once for a second after a failed attempt, then with a new attempt; calls for users on the other
   *   primaries go on. Its policy is read when it answers again, before any of its users' calls runs.
   * @throws {StoreMisconfiguredError} (code `ERR_STORE_EVICTION_POLICY`, a `StoreUnavailableError`: HTTP 503).
   * @throws {StoreUnavailableError} Redis (any primary) cannot be reached.
   */
  async checkEvictionPolicy(): Promise<void> {
    await this.guarded('checkEvictionPolicy', () => this.checkPolicies(undefined, true));
  }

  /**
   * Runs one script: fails at once when the connection is down (no queueing behind an outage), waits
   * for a first connection that is under way, and gives up after `commandTimeoutMs` in all. Every
   * client fault becomes `StoreUnavailableError`, with the client's error as `cause` and a message that
   * names the endpoint (host:port) but no password, key or token.
   */
  private run(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    const state = this.driver.state();
    // Down or closed: fail at once (see guarded), without an async call.
    if (state === 'down' || this.closed) return Promise.reject(this.down());
    // The common case, without async wrappers: connected, and nothing for the policy gate to do.
    if (state === 'ready' && this.policyGateOpen(keys[0]!)) {
      let work: Promise<unknown>;
      try {
        work = this.driver.runScript(script, keys, args);
      } catch (error) {
        work = Promise.reject(error);
      }
      return this.withDeadline(script.name, work);
    }
    return this.guarded(script.name, async () => {
      await this.checkPolicies(keys[0], false);
      return this.driver.runScript(script, keys, args);
    });
  }

  /**
   * True when a call for `key` may skip {@link RedisStore.checkPolicies}: the last check on this
   * connection found every primary it knew at \`noeviction\` with nothing under way, the background
   * repeat is not due, and `key`'s primary is one of them. (A primary that appears later, without a
   * reconnect, is checked by the first call for one of its keys, or by the next repeat.)
   */
  private policyGateOpen(key: string): boolean {
    if (!this.policyFastOk || this.driver.connections() !== this.policyConnection) return false;
    if (Date.now() - this.policyCheckedAtMs >= this.policyCheckIntervalMs) return false;
    if (!this.perPrimary()) return true;
    const own = this.driver.primaryOf!(key);
    return own !== undefined && this.goodPrimaries.has(own);
  }

  /**
   * `work` bounded by `commandTimeoutMs`: one timer per store, not one per call. Calls wait in a FIFO
   * (every call gets the same timeout, so deadlines come in order); the timer fires at the oldest
   * deadline, fails the calls past theirs and re-arms for the next. Faults become `StoreUnavailableError`
   * as in {@link RedisStore.guarded}.
   */
  private withDeadline<T>(operation: string, work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const d: Deadline = { atMs: performance.now() + this.timeoutMs, operation, reject, settled: false };
      this.deadlines.push(d);
      if (this.deadlineTimer === undefined) this.armDeadlineTimer(this.timeoutMs);
      work.then(
        (value) => {
          if (!d.settled) {
            d.settled = true;
            resolve(value);
          }
          this.dropSettled();
        },
        (error: unknown) => {
          if (!d.settled) {
            d.settled = true;
            reject(this.unavailable(operation, error));
          }
          this.dropSettled();
        },
      );
    });
  }

  private armDeadlineTimer(inMs: number): void {
    // Unref'd: it never keeps a process alive by itself (a pending command holds the socket anyway).
    this.deadlineTimer = setTimeout(this.expireDeadlines, Math.max(1, inMs));
    this.deadlineTimer.unref?.();
  }

  /** Drops the settled calls at the head of the queue (the timer, when armed, finds an empty queue and stops). */
  private dropSettled(): void {
    const q = this.deadlines;
    while (this.deadlineHead < q.length && q[this.deadlineHead]!.settled) this.deadlineHead++;
    if (this.deadlineHead === q.length) {
      q.length = 0;
      this.deadlineHead = 0;
    } else if (this.deadlineHead > 1024 && this.deadlineHead * 2 > q.length) {
      this.deadlines = q.slice(this.deadlineHead);
      this.deadlineHead = 0;
    }
  }

  private readonly expireDeadlines = (): void => {
    this.deadlineTimer = undefined;
    const now = performance.now(); // monotonic: a step of the wall clock (NTP) must not move deadlines
    const q = this.deadlines;
    while (this.deadlineHead < q.length) {
      const d = q[this.deadlineHead]!;
      if (!d.settled) {
        if (d.atMs > now) break;
        d.settled = true;
        d.reject(this.timedOut(d.operation));
      }
      this.deadlineHead++;
    }
    this.dropSettled();
    if (this.deadlineHead < this.deadlines.length) this.armDeadlineTimer(this.deadlines[this.deadlineHead]!.atMs - now);
  };

  /** The error of a call that had no reply within `commandTimeoutMs`; when the connection is not ready (it never became so, or went), it says why. */
  private timedOut(operation: string): StoreUnavailableError {
    const notReady = this.driver.state() !== 'ready';
    return new StoreUnavailableError(
      `token store unavailable: no reply from Redis at ${this.where()} within commandTimeoutMs = ${this.timeoutMs} (${operation})` +
        (notReady
          ? `; the connection is not ready: ${safeError(this.driver.lastError() ?? new Error('no reason given')).message}`
          : ''),
    );
  }

  /** A fault as `StoreUnavailableError`: never the client's error itself (ioredis attaches the failed command, AUTH password included). */
  private unavailable(operation: string, error: unknown): StoreUnavailableError {
    if (error instanceof StoreUnavailableError) return error;
    return new StoreUnavailableError(`token store unavailable: Redis ${operation} failed at ${this.where()}`, {
      cause: safeError(error),
    });
  }

  /** True when the driver checks the policy per primary (see {@link RedisDriver.primaries}). */
  private perPrimary(): boolean {
    const d = this.driver;
    return (
      typeof d.primaries === 'function' && typeof d.primaryOf === 'function' && typeof d.evictionPolicyOf === 'function'
    );
  }

  /**
   * The eviction-policy gate (see {@link RedisStore.checkEvictionPolicy}). With `key`: waits for the
   * check of the primary that serves it (and of any primary known to evict), starts the others' in the
   * background; without: checks every primary (`fresh`: asks again even where the answer is known).
   * @throws {StoreMisconfiguredError} a primary is known to evict.
   * @throws {StoreUnavailableError} a primary this call needs could not be asked.
   */
  private async checkPolicies(key: string | undefined, fresh: boolean): Promise<void> {
    const connection = this.driver.connections();
    if (connection !== this.policyConnection) {
      // A reconnect may have reached a restarted Redis with another policy: check again before using it.
      this.policyConnection = connection;
      this.policies = new Map();
      this.policyCheckedAtMs = Date.now();
    }
    const perPrimary = this.perPrimary();
    const all = perPrimary ? this.driver.primaries!() : [ALL_PRIMARIES];
    const own = key === undefined ? undefined : perPrimary ? this.driver.primaryOf!(key) : ALL_PRIMARIES;
    const needed = own === undefined ? all : [own];
    const now = Date.now();
    const repeat = now - this.policyCheckedAtMs >= this.policyCheckIntervalMs;
    if (repeat) this.policyCheckedAtMs = now;
    const waits: Promise<void>[] = [];
    const ids = [...new Set([...all, ...needed])];
    for (const id of ids) {
      const known = this.policies.get(id);
      if (fresh) waits.push(this.checkPrimary(id, true));
      else if (known !== undefined && isEvicting(known.policy))
        waits.push(this.checkPrimary(id)); // known bad: ask again (recovers without a restart)
      else if (known?.policy !== undefined) {
        if (repeat) void this.checkPrimary(id); // known good: the background repeat
      } else if (needed.includes(id)) {
        const failedJustNow =
          known?.error !== undefined && !known.inFlight && now - known.attemptedAtMs < RETRY_UNREACHABLE_PRIMARY_MS;
        if (!failedJustNow) waits.push(this.checkPrimary(id));
      } else if (!known?.inFlight && (known === undefined || now - known.attemptedAtMs >= RETRY_UNREACHABLE_PRIMARY_MS))
        void this.checkPrimary(id);
    }
    await Promise.all(waits);
    for (const id of ids) {
      const policy = this.policies.get(id)?.policy;
      if (isEvicting(policy))
        throw new StoreMisconfiguredError(
          `Redis maxmemory-policy is "${policy}": Redis could evict a user's token index while the tokens live on, and "log out everywhere" would miss them; set maxmemory-policy to noeviction on the Redis that holds tokens`,
        );
    }
    for (const id of needed) {
      const known = this.policies.get(id);
      // A connection that cannot serve the store (the ioredis driver: a database the server lacks) says so.
      if (known?.error instanceof StoreMisconfiguredError) throw known.error;
      if (known?.policy === undefined || (fresh && known.error !== undefined))
        throw new StoreUnavailableError(
          `token store unavailable: could not read maxmemory-policy from ${id === ALL_PRIMARIES || id === ONLY_PRIMARY ? 'Redis' : `primary ${id}`} at ${this.where()}`,
          known?.error === undefined ? undefined : { cause: safeError(known.error) },
        );
    }
    if (
      key !== undefined &&
      !fresh &&
      connection === this.policyConnection &&
      this.driver.connections() === connection
    ) {
      const good = ids.filter((id) => {
        const k = this.policies.get(id);
        return (
          k !== undefined &&
          k.policy !== undefined &&
          !isEvicting(k.policy) &&
          k.error === undefined &&
          k.inFlight === undefined
        );
      });
      this.goodPrimaries = new Set(good);
      this.policyFastOk = good.length === ids.length;
    }
  }

  /**
   * Asks one primary its policy (one attempt in flight per primary; `fresh`: a new attempt after the
   * one in flight), bounded by `commandTimeoutMs`, and records the answer, or the fault (keeping a
   * policy read before: a fault says nothing about it). Never rejects. An answer that arrives after a
   * reconnect goes to the old record, not the new one.
   */
  private checkPrimary(id: string, fresh = false): Promise<void> {
    let known = this.policies.get(id);
    if (!known) {
      known = { attemptedAtMs: 0 };
      this.policies.set(id, known);
    }
    const record = known;
    if (fresh && record.inFlight) return record.inFlight.then(() => this.checkPrimary(id, true));
    if (record.inFlight) return record.inFlight;
    record.inFlight = (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const read = this.perPrimary()
          ? this.driver.evictionPolicyOf!(id)
          : this.driver
              .evictionPolicies()
              .then((ps) => ps.find((p) => p !== 'noeviction') ?? (ps.length > 0 ? 'noeviction' : null));
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new Error(`no reply to CONFIG GET maxmemory-policy within commandTimeoutMs = ${this.timeoutMs}`)),
            this.timeoutMs,
          );
        });
        record.policy = await Promise.race([read, timeout]);
        record.error = undefined;
      } catch (error) {
        record.error = error;
      } finally {
        clearTimeout(timer);
        record.attemptedAtMs = Date.now();
        record.inFlight = undefined;
        this.policyFastOk = false; // a new answer: the next call goes through the gate again
      }
    })();
    return record.inFlight;
  }

  /** Runs `fn` under the store's readiness and timeout rules (see {@link RedisStore.run}). */
  private async guarded<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const state = this.driver.state();
    if (state === 'down' || this.closed) throw this.down();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.timedOut(operation)), this.timeoutMs);
    });
    try {
      if (state === 'starting') {
        await Promise.race([this.driver.whenReady(), timeout]);
        if (this.driver.state() !== 'ready') throw this.down();
      }
      return await Promise.race([fn(), timeout]);
    } catch (error) {
      throw this.unavailable(operation, error);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The error for a connection that is down: its message ends with the reason the driver reports
   * (`lastError()`, e.g. "WRONGPASS ..." or "the node-redis client is not connected"), whose safe copy
   * is the `cause`. A closed store says so (code `ERR_STORE_CLOSED`): a programming error, not an outage.
   */
  private down(): StoreUnavailableError {
    if (this.closed)
      return new StoreUnavailableError(
        `token store unavailable: this store (${this.where()}) was closed by store.close() or manager.close() and cannot be used again; make a new store`,
        { code: 'ERR_STORE_CLOSED' },
      );
    const last = this.driver.lastError();
    const cause = last ? safeError(last) : undefined;
    return new StoreUnavailableError(
      `token store unavailable: the Redis connection to ${this.where()} is down${cause ? `: ${cause.message}` : ''}`,
      cause ? { cause } : undefined,
    );
  }

  /** `host:port (client)` for messages: never a password (the driver's endpoint() guarantees it). */
  private where(): string {
    return `${this.endpointSafe()} (${this.driver.name})`;
  }

  private endpointSafe(): string {
    try {
      return this.driver.endpoint();
    } catch {
      return '(unknown endpoint)';
    }
  }
}

/** The one pseudo-primary of a driver without per-primary checks (see {@link RedisDriver.primaries}). */
const ALL_PRIMARIES = '*';

/** A call under way and its deadline (`performance.now()` milliseconds: monotonic), for {@link RedisStore.withDeadline}. */
interface Deadline {
  atMs: number;
  operation: string;
  reject: (error: Error) => void;
  settled: boolean;
}

/** After a failed attempt to read a primary's policy, its users' calls fail at once for this long (milliseconds), then try again. */
const RETRY_UNREACHABLE_PRIMARY_MS = 1000;

/** What the store knows of one primary's `maxmemory-policy`. */
interface PrimaryPolicy {
  /** The policy read; `null`: the server does not let this client read it (the check passes); undefined: not read yet. */
  policy?: string | null;
  /** The fault of the last attempt, if it failed (connection fault, or no answer within `commandTimeoutMs`). */
  error?: unknown;
  /** When the last attempt ended (Date.now()), 0 before any. */
  attemptedAtMs: number;
  /** The attempt under way. */
  inFlight?: Promise<void>;
}

/** True for a policy read that lets Redis evict keys. */
function isEvicting(policy: string | null | undefined): policy is string {
  return typeof policy === 'string' && policy !== 'noeviction';
}

function throttleArgs(t: StoreThrottlePolicy | null | undefined): [string, string] {
  return t == null ? ['', '0'] : [String(t.maxFailures), String(t.windowMs)];
}

/** Appends each digest as two script arguments (key id, its first 22 characters) to `args`, and returns it (no array per digest: verify's hot path). */
function pushDigestArgs(args: string[], digests: readonly TokenDigest[]): string[] {
  for (const d of digests) args.push(d.keyId, d.digest.slice(0, DIGEST_CHARS));
  return args;
}

/** The DPoP refusals of the verify script, by reply code 4-7 (see `dpopVerifyLua`). */
const DPOP_STATUSES = ['dpop_required', 'dpop_mismatch', 'dpop_replay', 'dpop_unbound'] as const;

/** The separator of a record's tail fields (0x1f, unit separator); see the header of scripts.ts. */
const US = '\x1f';
/** Marks a text field stored as JSON (0x1e). */
const JSON_MARK = '\x1e';

/** A text field of a record (twin of the Lua `enc`): null = '', else raw unless it is empty or holds NUL, 0x1e or 0x1f (then 0x1e + JSON). */
export function encodeText(v: string | null): string {
  if (v === null) return '';
  return v === '' || v.includes(JSON_MARK) || v.includes(US) || v.includes('\0') ? JSON_MARK + JSON.stringify(v) : v;
}

function decodeText(v: string | undefined): string | null {
  if (v === undefined || v === '') return null;
  return v.charCodeAt(0) === 0x1e ? (JSON.parse(v.slice(1)) as string) : v;
}

/**
 * The field names of the pieces that a record's stored first piece announces (twin of the Lua
 * `piece_names`; see the header of scripts.ts) and where its text starts; null when `value` is not a
 * record's first piece.
 * @param field the record's field: the token id without its tag (16 characters).
 */
export function pieceFields(field: string, value: string): { names: string[]; at: number } | null {
  const b = value.charCodeAt(0);
  const names: string[] = [];
  if (b >= 97 && b <= 104) {
    for (let i = 1; i <= b - 97; i++) {
      const n = Number.parseInt(value.slice(2 * i - 1, 2 * i + 1), 36);
      if (Number.isNaN(n)) return null;
      names.push(String(n));
    }
    return { names, at: 2 * (b - 97) + 1 };
  }
  if (!(b >= 48 && b <= 55)) return null;
  for (let i = 1; i <= b - 48; i++) names.push(field + i);
  return { names, at: 1 };
}

/**
 * A record's text from its stored first piece and its other pieces (twin of the Lua `joined`); null
 * when a piece is missing or the value is not a record.
 * @param piece the stored value of a piece field, or undefined when the hash lacks it.
 */
export function storedRecordText(
  field: string,
  value: string,
  piece: (name: string) => string | undefined,
): string | null {
  const f = pieceFields(field, value);
  if (f === null) return null;
  let s = value.slice(f.at);
  for (const name of f.names) {
    const p = piece(name);
    if (p === undefined) return null;
    s += p;
  }
  return s;
}

/** A base-36 offset from `base` (ms), or null when empty. */
function offset(base: number, v: string | undefined): number | null {
  return v === undefined || v === '' ? null : base + parseInt(v, 36);
}

/**
 * Turns a record's text (see the header of scripts.ts) into a {@link TokenRecord}.
 * @throws {StoreUnavailableError} text that is not a record (edited by hand or by another tool): fail closed (503), nothing of it quoted.
 */
export function parseRecord(tokenId: string, text: unknown): TokenRecord {
  try {
    const rec = String(text);
    const us = rec.indexOf(US);
    const core = rec.slice(0, us).split(',');
    const tail = rec.slice(us + 1).split(US);
    if (us < 0 || core.length !== 11 || tail.length !== 7) throw new Error('shape');
    const createdAtMs = parseInt(core[2]!, 36);
    if (!Number.isSafeInteger(createdAtMs)) throw new Error('time');
    return {
      tokenId,
      userId: decodeText(tail[0])!,
      deviceName: decodeText(tail[1]),
      userAgent: decodeText(tail[2]),
      ip: decodeText(tail[3]),
      createdAtMs,
      lastUsedAtMs: offset(createdAtMs, core[3]) ?? createdAtMs,
      expiresAtMs: offset(createdAtMs, core[4]),
      absoluteExpiresAtMs: offset(createdAtMs, core[5]),
      scopes: tail[4] === '' ? [] : (JSON.parse(tail[4]!) as string[]),
      metadata: tail[5] === '' ? null : (JSON.parse(tail[5]!) as Record<string, unknown>),
      jkt: core[9] === '' ? null : core[9]!,
      authenticatedAtMs: offset(createdAtMs, core[10]) ?? createdAtMs,
      acr: decodeText(tail[6]),
    };
  } catch {
    throw new StoreUnavailableError(
      `token store unavailable: the stored record of token ${tokenId} is not a valid record`,
    );
  }
}
