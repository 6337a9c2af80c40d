import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../core/errors.js';
import { digestsEqual } from '../core/key-ring.js';
import { countOption, rejectUnknownOptions } from '../core/options.js';
import { isTokenId } from '../core/token-format.js';
import { initialExpiresAtMs, isTouchDue, renewalTtlMs, renewedExpiresAtMs } from '../core/policy.js';
import type {
  RevocationListener,
  RevocationWatch,
  RevocationWatchOptions,
  Store,
  StoreCreateInput,
  StoreCreateResult,
  StoreListPage,
  StoreListPageInput,
  StoreLookupInput,
  StoreLookupResult,
  StoreDpopCheck,
  StoreReauthenticateInput,
  StoreRenewalPolicy,
  StoreTokenRef,
  StoreVerifyInput,
  StoreVerifyResult,
} from '../core/store.js';
import type { TokenRecord } from '../core/types.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Clock, in epoch milliseconds (default `Date.now`). */
  now?: () => number;
  /** How often expired tokens of all users are swept, in milliseconds (default 60,000; 0 = never, sweep on each user's writes only). The timer is unref'd. */
  sweepIntervalMs?: number;
}

interface Entry {
  record: TokenRecord;
  keyId: string;
  digest: string;
  /** Per-token renewal TTL override in ms, or null. */
  ttlOverrideMs: number | null;
  /** Last successful verification, epoch ms (kept in memory on every verify: no write to spare here). */
  lastSeenMs: number;
}

/**
 * The embedded default store: tokens in this process's memory. Same semantics as the Redis store
 * (TTL, immortal tokens, renewal, limits, atomic per user within this process) and the same
 * conformance suite. Tokens are lost on restart and not shared between processes: use the Redis
 * store for anything beyond one process. Memory stays bounded: expired tokens are dropped on every
 * write of their user, on access, and by a periodic sweep.
 */
export class MemoryStore implements Store {
  private readonly tokens = new Map<string, Entry>();
  private readonly users = new Map<string, Set<string>>();
  /** Wrong-secret counters per token id: count and end of window (epoch ms). */
  private readonly failures = new Map<string, { count: number; untilMs: number }>();
  /** DPoP proof `jti` hashes seen, per user (`<userId> <jtiHash>`), with the end of their window (epoch ms). */
  private readonly jtis = new Map<string, number>();
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | null;

  /**
   * @throws {InvalidArgumentTypeError} options not an object, an unknown option, `now` not a function,
   *   `sweepIntervalMs` not a number.
   * @throws {InvalidArgumentValueError} `sweepIntervalMs` not a whole number of milliseconds from 0 to 86,400,000 (one day).
   */
  constructor(options: MemoryStoreOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentTypeError('MemoryStore options must be an object');
    rejectUnknownOptions('MemoryStore', options, ['now', 'sweepIntervalMs']);
    if (options.now !== undefined && typeof options.now !== 'function')
      throw new InvalidArgumentTypeError('MemoryStore: now must be a function returning epoch milliseconds');
    this.now = options.now ?? Date.now;
    const every = countOption('sweepIntervalMs', options.sweepIntervalMs, {
      allowNull: false,
      min: 0,
      max: 86_400_000,
      fallback: 60_000,
    })!;
    this.timer = every > 0 ? setInterval(() => this.sweep(), every) : null;
    this.timer?.unref();
  }

  /** Number of token records held, expired ones not yet swept included (for tests and metrics). */
  get size(): number {
    return this.tokens.size;
  }

  /** Drops every expired token of every user. Runs by itself every `sweepIntervalMs`. */
  sweep(): void {
    const now = this.now();
    for (const [id, e] of this.tokens) if (isExpired(e, now)) this.remove(id, e.record.userId);
    for (const [id, f] of this.failures) if (f.untilMs <= now) this.failures.delete(id);
    for (const [k, untilMs] of this.jtis) if (untilMs <= now) this.jtis.delete(k);
  }

  async create(input: StoreCreateInput): Promise<StoreCreateResult> {
    const now = this.now();
    const ids = new Set(
      [...this.prune(input.userId, now)].filter((id) => input.keyIds.includes(this.tokens.get(id)!.keyId)),
    );
    const first = ids.size === 0;
    const evictedTokenIds: string[] = [];
    if (input.maxTokens !== null && ids.size >= input.maxTokens) {
      if (input.limitPolicy === 'reject') return { status: 'limit', limit: input.maxTokens };
      // Ranked by true last use: the stored last-used time lags it by up to touchIntervalSeconds.
      const byLastUse = [...ids]
        .map((id) => this.tokens.get(id)!)
        .sort(
          (a, b) =>
            a.lastSeenMs - b.lastSeenMs ||
            a.record.lastUsedAtMs - b.record.lastUsedAtMs ||
            a.record.createdAtMs - b.record.createdAtMs,
        );
      for (const e of byLastUse.slice(0, ids.size - input.maxTokens + 1)) {
        this.remove(e.record.tokenId, input.userId);
        evictedTokenIds.push(e.record.tokenId);
      }
    }
    const absoluteExpiresAtMs = input.absoluteLifetimeMs === null ? null : now + input.absoluteLifetimeMs;
    const record: TokenRecord = {
      tokenId: input.tokenId,
      userId: input.userId,
      deviceName: input.deviceName,
      userAgent: input.userAgent,
      ip: input.ip,
      createdAtMs: now,
      lastUsedAtMs: now,
      expiresAtMs: initialExpiresAtMs(input.ttlMs, absoluteExpiresAtMs, now),
      absoluteExpiresAtMs,
      scopes: [...input.scopes],
      metadata: input.metadataJson === null ? null : (JSON.parse(input.metadataJson) as Record<string, unknown>),
      jkt: input.jkt ?? null,
      authenticatedAtMs: now,
      acr: input.acr ?? null,
    };
    this.tokens.set(input.tokenId, {
      record,
      keyId: input.digest.keyId,
      digest: input.digest.digest,
      ttlOverrideMs: input.ttlIsOverride ? input.ttlMs : null,
      lastSeenMs: now,
    });
    let set = this.users.get(input.userId);
    if (!set) {
      set = new Set();
      this.users.set(input.userId, set);
    }
    set.add(input.tokenId);
    return { status: 'created', record: copy(record), first, evictedTokenIds };
  }

  async verify(input: StoreVerifyInput): Promise<StoreVerifyResult> {
    const now = this.now();
    const found = this.find(input, now);
    if (typeof found === 'string') return { status: found };
    const dpop = this.dpopRefusal(found, input.dpop ?? null, now);
    if (dpop) return { status: dpop };
    found.lastSeenMs = now;
    const renewed = this.touch(found, input.renewal, now);
    return { status: 'valid', record: copy(found.record), renewed, nowMs: now };
  }

  async reauthenticate(input: StoreReauthenticateInput): Promise<TokenRecord | null> {
    const now = this.now();
    const e = this.tokens.get(input.tokenId);
    if (e === undefined || e.record.userId !== input.userId || isExpired(e, now)) return null;
    e.record.authenticatedAtMs = now;
    e.record.acr = input.acr;
    return copy(e.record);
  }

  async revokeToken(input: StoreTokenRef): Promise<TokenRecord | null> {
    const now = this.now();
    const found = this.find(input, now);
    if (typeof found === 'string') return null;
    this.remove(found.record.tokenId, found.record.userId);
    this.prune(found.record.userId, now);
    return copy(found.record);
  }

  async revokeById(userId: string, _userTag: string, tokenId: string): Promise<boolean> {
    const now = this.now();
    const e = this.tokens.get(tokenId);
    const live = e !== undefined && e.record.userId === userId && !isExpired(e, now);
    if (live) this.remove(tokenId, userId);
    this.prune(userId, now);
    return live;
  }

  async revokeAll(userId: string, _userTag: string, exceptTokenId?: string): Promise<string[]> {
    const ids = this.prune(userId, this.now());
    const revoked: string[] = [];
    for (const id of [...ids]) {
      if (id === exceptTokenId) continue;
      this.remove(id, userId);
      revoked.push(id);
    }
    return revoked;
  }

  async list(userId: string, _userTag: string, keyIds: readonly string[]): Promise<TokenRecord[]> {
    const now = this.now();
    const ids = this.users.get(userId);
    if (!ids) return [];
    const out: TokenRecord[] = [];
    for (const id of ids) {
      const e = this.tokens.get(id);
      if (e && !isExpired(e, now) && keyIds.includes(e.keyId)) out.push(copy(e.record));
    }
    return out;
  }

  /**
   * One page of the user's live tokens, by token id: `cursor` is the last id of the previous page.
   * @throws {InvalidArgumentValueError} a limit outside 1-1,000, a cursor that is not a token id.
   */
  async listPage(input: StoreListPageInput): Promise<StoreListPage> {
    if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > 1000)
      throw new InvalidArgumentValueError(
        `list: limit must be a whole number from 1 to 1000; got ${String(input.limit)}`,
      );
    if (input.cursor !== null && !isTokenId(input.cursor))
      throw new InvalidArgumentValueError('list: cursor must be null or the cursor of the previous page');
    const all = (await this.list(input.userId, input.userTag, input.keyIds)).sort((a, b) =>
      a.tokenId < b.tokenId ? -1 : 1,
    );
    const from = input.cursor === null ? 0 : all.findIndex((r) => r.tokenId > input.cursor!);
    const records = from < 0 ? [] : all.slice(from, from + input.limit);
    const more = from >= 0 && from + input.limit < all.length;
    return { records, cursor: more ? records.at(-1)!.tokenId : null };
  }

  async lookup(input: StoreLookupInput): Promise<StoreLookupResult | null> {
    const e = this.tokens.get(input.tokenId);
    if (!e || isExpired(e, this.now())) return null;
    const d = input.digests?.find((x) => x.keyId === e.keyId);
    return {
      record: copy(e.record),
      digestMatches: input.digests === undefined ? null : d !== undefined && digestsEqual(d.digest, e.digest),
    };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Finds a live token and checks its digest against the one for its key id; counts wrong secrets
   * per token id and refuses the id while it is over the throttle (as the Redis store's Lua does).
   */
  private find(ref: StoreTokenRef, now: number): Entry | 'not_found' | 'mismatch' | 'throttled' {
    const f = this.failures.get(ref.tokenId);
    if (f && f.untilMs <= now) this.failures.delete(ref.tokenId);
    else if (f && ref.throttle && f.count >= ref.throttle.maxFailures) return 'throttled';
    const e = this.tokens.get(ref.tokenId);
    if (!e) return 'not_found';
    if (isExpired(e, now)) {
      this.remove(ref.tokenId, e.record.userId);
      return 'not_found';
    }
    const d = ref.digests.find((x) => x.keyId === e.keyId);
    if (d === undefined) return 'not_found'; // signed by a key this ring lacks: not the client's fault, not counted
    if (digestsEqual(d.digest, e.digest)) return e;
    if (ref.throttle) {
      const cur = this.failures.get(ref.tokenId);
      if (cur) cur.count++;
      else this.failures.set(ref.tokenId, { count: 1, untilMs: now + ref.throttle.windowMs });
    }
    return 'mismatch';
  }

  /** The DPoP check of a found token ({@link StoreDpopCheck}): a refusal, or null (the proof's `jti` is then recorded). */
  private dpopRefusal(
    e: Entry,
    dpop: StoreDpopCheck | null,
    now: number,
  ): 'dpop_required' | 'dpop_mismatch' | 'dpop_replay' | 'dpop_unbound' | null {
    const bound = e.record.jkt;
    if (bound === null) return dpop ? 'dpop_unbound' : null;
    if (!dpop) return 'dpop_required';
    if (dpop.jkt !== bound) return 'dpop_mismatch';
    const key = `${e.record.userId} ${dpop.jtiHash}`;
    const seen = this.jtis.get(key);
    if (seen !== undefined && seen > now) return 'dpop_replay';
    this.jtis.set(key, now + dpop.replayWindowMs);
    return null;
  }

  /** Writes last-used and renews (this token, or all the user's tokens) when the touch interval has passed. */
  private touch(e: Entry, policy: StoreRenewalPolicy, now: number): boolean {
    const ttl = renewalTtlMs(e.ttlOverrideMs, policy.ttlMs);
    if (!isTouchDue(e.record.lastUsedAtMs, now, policy.touchIntervalMs, ttl)) return false;
    e.record.lastUsedAtMs = now;
    if (policy.mode === 'off') return false;
    const targets =
      policy.mode === 'user' ? [...this.prune(e.record.userId, now)].map((id) => this.tokens.get(id)!) : [e];
    for (const t of targets) {
      const r = t.record;
      r.expiresAtMs = renewedExpiresAtMs(
        r.expiresAtMs,
        renewalTtlMs(t.ttlOverrideMs, policy.ttlMs),
        policy.overwriteNoneTtl,
        r.absoluteExpiresAtMs,
        now,
      );
    }
    return true;
  }

  /** Drops the user's expired tokens; returns the user's live token ids (the live set itself). */
  private prune(userId: string, now: number): Set<string> {
    const ids = this.users.get(userId);
    if (!ids) return new Set();
    for (const id of ids) {
      const e = this.tokens.get(id);
      if (!e || isExpired(e, now)) this.remove(id, userId);
    }
    return this.users.get(userId) ?? new Set();
  }

  /** Drops a token, its wrong-secret counter, and its id from the user's set. */
  /**
   * Watches removals for a local verify cache (see {@link Store.watchRevocations}): in-process, so the
   * listener hears of every removal (expired tokens swept included) before the removing call resolves,
   * and `syncedAtMs()` is always `Infinity`. `heartbeatIntervalMs` is not needed here.
   */
  watchRevocations(listener: RevocationListener, _options?: RevocationWatchOptions): RevocationWatch {
    this.watchers.add(listener);
    return {
      syncedAtMs: () => (this.watchers.has(listener) ? Infinity : -Infinity),
      close: async () => {
        this.watchers.delete(listener);
      },
    };
  }

  private readonly watchers = new Set<RevocationListener>();

  private remove(tokenId: string, userId: string): void {
    for (const w of this.watchers) w.revoked([tokenId]);
    this.tokens.delete(tokenId);
    this.failures.delete(tokenId);
    const ids = this.users.get(userId);
    if (ids) {
      ids.delete(tokenId);
      if (ids.size === 0) this.users.delete(userId);
    }
  }
}

function isExpired(e: Entry, now: number): boolean {
  return e.record.expiresAtMs !== null && e.record.expiresAtMs <= now;
}

function copy(r: TokenRecord): TokenRecord {
  return { ...r, scopes: [...r.scopes], metadata: r.metadata === null ? null : structuredClone(r.metadata) };
}
