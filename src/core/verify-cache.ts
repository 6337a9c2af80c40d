import * as nodeCrypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from './errors.js';
import { countOption, rejectUnknownOptions } from './options.js';
import type { RevocationWatch, Store, StoreRenewalPolicy } from './store.js';
import type { TokenRecord } from './types.js';

/** Default most tokens held by the local verify cache of one manager: 10,000 (a few MB at most). */
export const DEFAULT_VERIFY_CACHE_MAX_ENTRIES = 10_000;
/** Default worst-case staleness of the local verify cache: 1,000 milliseconds. */
export const DEFAULT_VERIFY_CACHE_MAX_STALENESS_MS = 1_000;

/**
 * The `verifyCache` option of `TokenManager`: an optional local cache, per process, of tokens that
 * verified, so a hot token verifies without a round trip. Off by default.
 *
 * The bound (`maxStalenessMs`, in milliseconds): a token revoked (or evicted) at time `r` by any process
 * is refused by every process from `r + maxStalenessMs` at the latest, the store's own clock and network
 * delays included, because of two rules that each hold alone:
 * 1. an entry is served only within `maxStalenessMs` of the moment its store verify was sent (the store
 *    answered after that moment, so the entry was true then);
 * 2. entries are served only while the revocation channel is in sync: a heartbeat sent at most
 *    `maxStalenessMs` ago has come back on it (see `RevocationWatch.syncedAtMs`); otherwise the cache
 *    turns itself off (serves nothing, keeps nothing) until one does, and starts again empty.
 * With the channel healthy a revocation reaches every process in one pub/sub delivery (about a
 * millisecond on a LAN): rule 1 is the bound when it is not.
 */
export interface VerifyCacheOptions {
  /** Most tokens held (least recently used dropped first), 1 to 1,000,000. Default 10,000. */
  maxEntries?: number;
  /**
   * Worst-case staleness, in milliseconds (10 to 60,000; default 1,000): how long after a revocation a
   * process may still accept the token from its cache, at most (see {@link VerifyCacheOptions}). Also
   * the heartbeat period: every `maxStalenessMs / 4` milliseconds.
   */
  maxStalenessMs?: number;
}

/** Counters of the local verify cache (`TokenManager.verifyCacheStats`), since the manager was made. */
export interface VerifyCacheStats {
  /** Verifies answered from the cache (no store round trip). */
  hits: number;
  /** Verifies of a well-formed token that went to the store (not cached, stale, off, or a digest that did not match). */
  misses: number;
  /** Tokens held now. */
  entries: number;
  /** True while the revocation channel is in sync, so the cache serves (see {@link VerifyCacheOptions}). */
  active: boolean;
  /** How many times the cache emptied itself because the channel dropped, came back or lagged. */
  resets: number;
}

interface Entry {
  /**
   * SHA-256 of the token that verified, in base64 (44 characters, compared in constant time on a hit):
   * one hash per hit, cheaper than the HMAC under the ring's keys that a store call needs; in memory
   * only, and no more use than a digest to whoever reads it (the token's secret is 256 random bits,
   * beyond any search, so the digest cannot be turned back into the token).
   */
  fingerprint: string;
  record: TokenRecord;
  /** Last moment it may be served, on the monotonic clock (`performance.now()`, milliseconds). */
  usableUntilMs: number;
}

/** Checks the `verifyCache` option. @returns null when off. @throws {InvalidArgumentTypeError | InvalidArgumentValueError} naming the field. */
export function verifyCacheOption(value: unknown): Required<VerifyCacheOptions> | null {
  if (value === undefined || value === null || value === false) return null;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new InvalidArgumentTypeError(
      'verifyCache must be an object ({ maxEntries, maxStalenessMs }), or null/false for none',
    );
  rejectUnknownOptions('verifyCache', value, ['maxEntries', 'maxStalenessMs']);
  const v = value as VerifyCacheOptions;
  return {
    maxEntries: countOption('verifyCache.maxEntries', v.maxEntries, {
      allowNull: false,
      min: 1,
      max: 1_000_000,
      fallback: DEFAULT_VERIFY_CACHE_MAX_ENTRIES,
    })!,
    maxStalenessMs: countOption('verifyCache.maxStalenessMs', v.maxStalenessMs, {
      allowNull: false,
      min: 10,
      max: 60_000,
      fallback: DEFAULT_VERIFY_CACHE_MAX_STALENESS_MS,
    })!,
  };
}

/**
 * SHA-256 of a token (ASCII), in base64 (see `Entry.fingerprint`). Node's one-shot `crypto.hash` (Node
 * 20.12 and later) makes no Hash object and, with a string output, no Buffer: about a fifth of the CPU
 * of `createHash(...).update(...).digest()` per hit; older Nodes use the latter.
 */
const fingerprint: (token: string) => string =
  typeof nodeCrypto.hash === 'function'
    ? (token) => nodeCrypto.hash('sha256', token, 'base64')
    : (token) => nodeCrypto.createHash('sha256').update(token, 'latin1').digest('base64');

/**
 * Whether two fingerprints are equal, in time independent of where they differ (every character is
 * looked at; both are 44 characters). A digest's bytes are not the attacker's to choose, but the cache
 * keeps the rule the store follows for its HMACs.
 */
function sameFingerprint(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Freezes a record served to many requests, so no caller can change what the next one gets. */
function freezeRecord(r: TokenRecord): TokenRecord {
  Object.freeze(r.scopes);
  if (r.metadata !== null) deepFreeze(r.metadata);
  return Object.freeze(r);
}
function deepFreeze(o: object): void {
  for (const v of Object.values(o)) if (v !== null && typeof v === 'object') deepFreeze(v);
  Object.freeze(o);
}

/**
 * The local verify cache of one `TokenManager` (see {@link VerifyCacheOptions}): an LRU of token id ->
 * digest, stored record and serving deadline, emptied by the store's revocation watch.
 *
 * An entry is served until the first of: its token's next last-used/renewal write is due (so writes keep
 * their throttled rate: the next verify after that goes to the store, which writes), its expiry, its
 * absolute expiry, and `maxStalenessMs` after its store verify was sent. Store times are compared with
 * this process's clock (`Date.now()`): a clock behind Redis's by `d` milliseconds may serve a token up to
 * `min(d, maxStalenessMs)` past its expiry, never longer.
 */
export class VerifyCache {
  hits = 0;
  misses = 0;
  resets = 0;
  private readonly lru: LRUCache<string, Entry>;
  private readonly watch: RevocationWatch;
  private readonly maxStalenessMs: number;
  /** Bumped by every invalidation: a store answer that started before one is not cached (it may predate it). */
  private generation = 0;

  /** @throws {InvalidArgumentValueError} the store cannot watch revocations (see `Store.watchRevocations`). */
  constructor(
    store: Store,
    options: Required<VerifyCacheOptions>,
    private readonly renewal: StoreRenewalPolicy,
  ) {
    if (typeof store.watchRevocations !== 'function')
      throw new InvalidArgumentValueError(
        'verifyCache needs a store that can tell every process of revocations (Store.watchRevocations): MemoryStore and RedisStore can; this store cannot',
      );
    this.maxStalenessMs = options.maxStalenessMs;
    this.lru = new LRUCache<string, Entry>({ max: options.maxEntries });
    this.watch = store.watchRevocations(
      {
        revoked: (ids) => this.drop(ids),
        reset: () => this.clear(),
      },
      { heartbeatIntervalMs: Math.max(5, Math.floor(options.maxStalenessMs / 4)) },
    );
  }

  /** True while the revocation channel is in sync at `nowMs` (monotonic milliseconds). */
  private inSync(nowMs: number): boolean {
    return nowMs - this.watch.syncedAtMs() <= this.maxStalenessMs;
  }

  /**
   * The record of `tokenId` when the cache may answer for it now and the presented `token` is the one
   * that verified (its SHA-256 matches); else undefined, counted as a miss (a token that does not match
   * also drops the entry, so the store counts the wrong secret and applies its throttle from then on).
   */
  lookup(tokenId: string, token: string): TokenRecord | undefined {
    const now = performance.now();
    if (!this.inSync(now)) {
      if (this.lru.size > 0) this.clear();
      this.misses++;
      return undefined;
    }
    const e = this.lru.get(tokenId);
    if (e !== undefined) {
      if (e.usableUntilMs > now && sameFingerprint(e.fingerprint, fingerprint(token))) {
        this.hits++;
        return e.record;
      }
      this.lru.delete(tokenId);
    }
    this.misses++;
    return undefined;
  }

  /** What to pass to {@link VerifyCache.store} about a store verify about to be sent. */
  begin(): { generation: number; sentAtMs: number; wallMs: number } {
    return { generation: this.generation, sentAtMs: performance.now(), wallMs: Date.now() };
  }

  /**
   * Keeps a record the store just verified (frozen: it is shared by later requests), unless an
   * invalidation came in since `at` (from {@link VerifyCache.begin}), the channel is out of sync, or it
   * would not be usable at all. Returns the record to hand out.
   */
  store(
    tokenId: string,
    token: string,
    record: TokenRecord,
    at: { generation: number; sentAtMs: number; wallMs: number },
  ): TokenRecord {
    const frozen = freezeRecord(record);
    if (at.generation !== this.generation || !this.inSync(at.sentAtMs)) return frozen;
    let untilWallMs = record.lastUsedAtMs + this.touchIntervalMs(record);
    if (record.expiresAtMs !== null) untilWallMs = Math.min(untilWallMs, record.expiresAtMs);
    if (record.absoluteExpiresAtMs !== null) untilWallMs = Math.min(untilWallMs, record.absoluteExpiresAtMs);
    const forMs = Math.min(this.maxStalenessMs, untilWallMs - at.wallMs);
    if (forMs > 0)
      this.lru.set(tokenId, { fingerprint: fingerprint(token), record: frozen, usableUntilMs: at.sentAtMs + forMs });
    return frozen;
  }

  /**
   * The least time between two writes of this token as the store computes it (policy.ts `isTouchDue`:
   * the touch interval clamped to half the renewal TTL), taken conservatively since the record does not
   * say whether the token has a TTL of its own: half of what remained of its life at the last write
   * also clamps it, so a renewing token always goes back to the store before it expires.
   */
  private touchIntervalMs(r: TokenRecord): number {
    const p = this.renewal;
    let interval = p.touchIntervalMs;
    if (p.ttlMs !== null) interval = Math.min(interval, Math.floor(p.ttlMs / 2));
    if (p.mode !== 'off' && r.expiresAtMs !== null)
      interval = Math.min(interval, Math.floor((r.expiresAtMs - r.lastUsedAtMs) / 2));
    return interval;
  }

  /** Forgets these tokens (revoked here or announced by another process). */
  drop(tokenIds: readonly string[]): void {
    this.generation++;
    for (const id of tokenIds) this.lru.delete(id);
  }

  /** Forgets everything (the channel dropped, came back or lagged). */
  private clear(): void {
    this.generation++;
    this.resets++;
    this.lru.clear();
  }

  /** Counters and state now. */
  stats(): VerifyCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      entries: this.lru.size,
      active: this.inSync(performance.now()),
      resets: this.resets,
    };
  }

  /** Stops the revocation watch and empties the cache. */
  async close(): Promise<void> {
    this.lru.clear();
    await this.watch.close();
  }
}
