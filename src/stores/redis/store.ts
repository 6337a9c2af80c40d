import { InvalidArgumentTypeError, InvalidArgumentValueError, StoreMisconfiguredError, StoreUnavailableError } from '../../core/errors.js';
import type {
  Store,
  StoreCreateInput,
  StoreCreateResult,
  StoreThrottlePolicy,
  StoreTokenRef,
  StoreVerifyInput,
  StoreVerifyResult,
} from '../../core/store.js';
import type { TokenRecord } from '../../core/types.js';
import type { TokenDigest } from '../../core/key-ring.js';
import { RedisKeys } from './keys.js';
import { CREATE, LIST, REVOKE_ALL, REVOKE_BY_ID, REVOKE_TOKEN, VERIFY, type LuaScript } from './scripts.js';

/**
 * What the Redis store needs from a Redis client: run a Lua script whose keys share one hash slot,
 * and say whether commands can be sent now. One small driver per client (ioredis now; node-redis
 * later) implements it, so the store and its scripts are written once.
 */
export interface RedisScriptClient {
  /** Runs `script` by SHA (EVALSHA), falling back to EVAL when the server answers NOSCRIPT. */
  runScript(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /**
   * Connection state: `'ready'` (commands go out at once), `'starting'` (first connection under way:
   * worth waiting for, up to the command timeout) or `'down'` (lost or closed: fail at once).
   */
  state(): 'ready' | 'starting' | 'down';
  /** Resolves when the start-up wait is over: the state became `'ready'`, or `'down'` (the first attempt failed). */
  whenReady(): Promise<void>;
  /**
   * The `maxmemory-policy` of every server holding keys (each master of a cluster). Resolves to `[]`
   * when the server does not let this client read its configuration (CONFIG renamed or denied, as on
   * some managed services); rejects on connection faults.
   */
  evictionPolicies(): Promise<string[]>;
  /** How many times the connection has become ready so far (a new count means a reconnect happened). */
  connections(): number;
    /** PING (every master of a cluster); rejects on connection faults. */
  ping(): Promise<void>;
  /** Closes the connection if the driver opened it itself. */
  close?(): Promise<void>;
}

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** The Redis client driver (see `redis-multitokens/ioredis` for ioredis). */
  client: RedisScriptClient;
  /** Prefix of every key, so several apps share one Redis safely; no `{` or `}`. Default `"rmt:"`. */
  keyPrefix?: string;
  /**
   * Longest wait for one Redis reply, in milliseconds (1 to 60,000; default 1,000). Past it the call
   * rejects with `StoreUnavailableError` (HTTP 503), so a black-holed connection cannot hang requests.
   */
  commandTimeoutMs?: number;
  /**
   * How often the `maxmemory-policy` check is repeated while things work, in milliseconds (100 to
   * 86,400,000; default 60,000). It is also repeated, before the next command, after every reconnect. The repeat runs in the background, off the request path; when it finds
   * an evicting policy, calls fail from then on until the policy is fixed.
   */
  policyCheckIntervalMs?: number;
}

/** Default interval of the background `maxmemory-policy` check, in milliseconds. */
export const DEFAULT_POLICY_CHECK_INTERVAL_MS = 60_000;

/** Default command timeout of the Redis store, in milliseconds. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;

/**
 * The Redis store: every operation is one Lua script over one user's keys (one hash slot; see
 * {@link RedisKeys} for the layout), so it is atomic and runs unchanged on Redis Cluster.
 * Times come from Redis `TIME`. Needs Redis 5 or later.
 */
export class RedisStore implements Store {
  readonly keys: RedisKeys;
  private readonly client: RedisScriptClient;
  private readonly timeoutMs: number;
  private readonly policyCheckIntervalMs: number;
  private evictionPolicyOk = false;
  private policyCheckedAtMs = 0;
  private policyCheckedConnection = -1;

  /** @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a bad option, named in the message. */
  constructor(options: RedisStoreOptions) {
    if (!options?.client || typeof options.client.runScript !== 'function')
      throw new InvalidArgumentTypeError('RedisStore needs `client`: a Redis client driver (use IoredisStore from redis-multitokens/ioredis)');
    this.client = options.client;
    this.keys = new RedisKeys(options.keyPrefix);
    const t = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (typeof t !== 'number') throw new InvalidArgumentTypeError(`commandTimeoutMs must be a number of milliseconds; got ${typeof t}`);
    if (!Number.isInteger(t) || t < 1 || t > 60_000)
      throw new InvalidArgumentValueError(`commandTimeoutMs must be a whole number of milliseconds from 1 to 60000; got ${String(t)}`);
    this.timeoutMs = t;
    const p = options.policyCheckIntervalMs ?? DEFAULT_POLICY_CHECK_INTERVAL_MS;
    if (typeof p !== 'number') throw new InvalidArgumentTypeError(`policyCheckIntervalMs must be a number of milliseconds; got ${typeof p}`);
    if (!Number.isInteger(p) || p < 100 || p > 86_400_000)
      throw new InvalidArgumentValueError(`policyCheckIntervalMs must be a whole number of milliseconds from 100 to 86400000; got ${String(p)}`);
    this.policyCheckIntervalMs = p;
  }

  async create(input: StoreCreateInput): Promise<StoreCreateResult> {
    const { userTag: tag } = input;
    const stored: StoredJson = { u: input.userId, k: input.digest.keyId, d: input.digest.digest };
    if (input.deviceName !== null) stored.n = input.deviceName;
    if (input.userAgent !== null) stored.ua = input.userAgent;
    if (input.ip !== null) stored.ip = input.ip;
    if (input.scopes.length > 0) stored.s = JSON.stringify(input.scopes);
    if (input.metadataJson !== null) stored.m = input.metadataJson;
    const reply = (await this.run(
      CREATE,
      [this.keys.userKey(input.userId, tag), this.keys.tokenKey(input.tokenId, tag)],
      [
        input.tokenId,
        this.keys.tokenKeyPrefix(tag),
        input.maxTokens === null ? '' : String(input.maxTokens),
        input.limitPolicy,
        input.ttlMs === null ? '' : String(input.ttlMs),
        input.ttlIsOverride ? '1' : '0',
        input.absoluteLifetimeMs === null ? '' : String(input.absoluteLifetimeMs),
        JSON.stringify(stored),
        input.keyIds.join(','),
      ],
    )) as unknown[];
    if (Number(reply[0]) === 0) return { status: 'limit', limit: Number(reply[1]) };
    return {
      status: 'created',
      record: parseRecord(input.tokenId, reply[2]),
      first: Number(reply[1]) === 1,
      evictedTokenIds: reply.slice(3).map(String),
    };
  }

  async verify(input: StoreVerifyInput): Promise<StoreVerifyResult> {
    const { userTag: tag, renewal } = input;
    const reply = (await this.run(
      VERIFY,
      [this.keys.tokenKey(input.tokenId, tag), this.keys.failureKey(input.tokenId, tag)],
      [
        input.tokenId,
        this.keys.userKeyPrefix(tag),
        this.keys.tokenKeyPrefix(tag),
        renewal.mode,
        renewal.ttlMs === null ? '' : String(renewal.ttlMs),
        renewal.overwriteNoneTtl ? '1' : '0',
        String(renewal.touchIntervalMs),
        ...throttleArgs(input.throttle),
        ...digestArgs(input.digests),
      ],
    )) as unknown[];
    const status = Number(reply[0]);
    if (status === 0) return { status: 'not_found' };
    if (status === 1) return { status: 'mismatch' };
    if (status === 3) return { status: 'throttled' };
    return { status: 'valid', renewed: Number(reply[1]) === 1, record: parseRecord(input.tokenId, reply[2]) };
  }

  async revokeToken(input: StoreTokenRef): Promise<TokenRecord | null> {
    const tag = input.userTag;
    const reply = await this.run(
      REVOKE_TOKEN,
      [this.keys.tokenKey(input.tokenId, tag), this.keys.failureKey(input.tokenId, tag)],
      [input.tokenId, this.keys.userKeyPrefix(tag), this.keys.tokenKeyPrefix(tag), ...throttleArgs(input.throttle), ...digestArgs(input.digests)],
    );
    return reply === '' || reply === null ? null : parseRecord(input.tokenId, reply);
  }

  async revokeById(userId: string, userTag: string, tokenId: string): Promise<boolean> {
    const reply = await this.run(
      REVOKE_BY_ID,
      [this.keys.userKey(userId, userTag), this.keys.tokenKey(tokenId, userTag)],
      [tokenId, userId, this.keys.tokenKeyPrefix(userTag)],
    );
    return Number(reply) === 1;
  }

  async revokeAll(userId: string, userTag: string, exceptTokenId?: string): Promise<string[]> {
    const reply = (await this.run(REVOKE_ALL, [this.keys.userKey(userId, userTag)], [this.keys.tokenKeyPrefix(userTag), exceptTokenId ?? ''])) as unknown[];
    return reply.map(String);
  }

  async list(userId: string, userTag: string, keyIds: readonly string[]): Promise<TokenRecord[]> {
    const reply = (await this.run(LIST, [this.keys.userKey(userId, userTag)], [this.keys.tokenKeyPrefix(userTag), keyIds.join(',')])) as [string, string][];
    return reply.map(([id, json]) => parseRecord(id, json));
  }

  async close(): Promise<void> {
    await this.client.close?.();
  }

  /** PINGs Redis (every master of a cluster) and checks the eviction policy, under the command timeout. */
  async ping(): Promise<void> {
    await this.guarded('ping', async () => {
      this.assertNoEviction(await this.client.evictionPolicies());
      await this.client.ping();
    });
  }

  /**
   * Checks that Redis will not evict keys behind the library's back: `maxmemory-policy` must be
   * `noeviction` on every server (an evicted user index would let tokens escape "log out everywhere";
   * see SECURITY.md). Runs by itself before the store's first command, again in the background every
   * `policyCheckIntervalMs`, and on every call while it fails, so fixing the configuration recovers
   * without a restart. Call it (or `TokenManager.checkHealth`) at start-up to fail early.
   * When the server does not let this client read CONFIG, the check passes (it cannot be made).
   * @throws {StoreMisconfiguredError} (code `ERR_STORE_EVICTION_POLICY`, a `StoreUnavailableError`: HTTP 503).
   * @throws {StoreUnavailableError} Redis cannot be reached.
   */
  async checkEvictionPolicy(): Promise<void> {
    await this.guarded('checkEvictionPolicy', () => this.client.evictionPolicies().then((p) => this.assertNoEviction(p)));
  }

  private assertNoEviction(policies: string[]): void {
    this.policyCheckedAtMs = Date.now();
    this.policyCheckedConnection = this.client.connections();
    const bad = policies.find((p) => p !== 'noeviction');
    this.evictionPolicyOk = bad === undefined;
    if (bad !== undefined)
      throw new StoreMisconfiguredError(
        `Redis maxmemory-policy is "${bad}": Redis could evict a user's token index while the tokens live on, and "log out everywhere" would miss them; set maxmemory-policy to noeviction on the Redis that holds tokens`,
      );
    this.evictionPolicyOk = true;
  }

  /**
   * Runs one script: fails at once when the connection is down (no queueing behind an outage), waits
   * for a first connection that is under way, and gives up after `commandTimeoutMs` in all. Every client fault becomes `StoreUnavailableError`, with the
   * client's error as `cause` and a message that names no host, key or token.
   */
  private async run(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return this.guarded(script.name, async () => {
      if (!this.evictionPolicyOk) this.assertNoEviction(await this.client.evictionPolicies());
      else if (Date.now() - this.policyCheckedAtMs >= this.policyCheckIntervalMs) this.recheckPolicyInBackground();
      return this.client.runScript(script, keys, args);
    });
  }

  /** Repeats the eviction-policy check off the request path; a bad policy fails the calls after it. */
  private recheckPolicyInBackground(): void {
    this.policyCheckedAtMs = Date.now();
    this.client.evictionPolicies().then(
      (policies) => {
        try {
          this.assertNoEviction(policies);
        } catch {
          // evictionPolicyOk is now false: the next call repeats the check and fails with it.
        }
      },
      () => {}, // a connection fault: the calls themselves report it
    );
  }

  /** Runs `fn` under the store's readiness and timeout rules (see {@link RedisStore.run}). */
  private async guarded<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const state = this.client.state();
    // A reconnect may have reached a restarted Redis with another policy: check again before using it.
    if (this.client.connections() !== this.policyCheckedConnection) this.evictionPolicyOk = false;
    if (state === 'down') throw new StoreUnavailableError('token store unavailable: the Redis connection is down');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`token store unavailable: no reply from Redis within commandTimeoutMs = ${this.timeoutMs}`)),
        this.timeoutMs,
      );
    });
    try {
      if (state === 'starting') {
        await Promise.race([this.client.whenReady(), timeout]);
        if (this.client.state() !== 'ready') throw new StoreUnavailableError('token store unavailable: the Redis connection is down');
      }
      return await Promise.race([fn(), timeout]);
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw new StoreUnavailableError(`token store unavailable: Redis ${operation} failed`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}

function throttleArgs(t: StoreThrottlePolicy | null | undefined): [string, string] {
  return t == null ? ['', '0'] : [String(t.maxFailures), String(t.windowMs)];
}

function digestArgs(digests: readonly TokenDigest[]): string[] {
  return digests.flatMap((d) => [d.keyId, d.digest]);
}

/** The JSON object stored per token (see the header of scripts.ts for the field names). */
interface StoredJson {
  u: string;
  k?: string;
  d?: string;
  c?: number;
  l?: number;
  e?: number;
  a?: number;
  t?: number;
  n?: string;
  ua?: string;
  ip?: string;
  s?: string;
  m?: string;
}

/** Turns a script's record JSON into a {@link TokenRecord}. */
function parseRecord(tokenId: string, json: unknown): TokenRecord {
  const r = JSON.parse(String(json)) as StoredJson;
  const createdAtMs = Number(r.c);
  return {
    tokenId,
    userId: String(r.u),
    deviceName: r.n ?? null,
    userAgent: r.ua ?? null,
    ip: r.ip ?? null,
    createdAtMs,
    lastUsedAtMs: r.l === undefined ? createdAtMs : Number(r.l),
    expiresAtMs: r.e === undefined ? null : Number(r.e),
    absoluteExpiresAtMs: r.a === undefined ? null : Number(r.a),
    scopes: r.s === undefined ? [] : (JSON.parse(r.s) as string[]),
    metadata: r.m === undefined ? null : (JSON.parse(r.m) as Record<string, unknown>),
  };
}
