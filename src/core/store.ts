import type { LimitPolicy, RenewMode, TokenRecord } from './types.js';
import type { TokenDigest } from './key-ring.js';

/**
 * The Store interface: everything the core needs from a token store. It is owned by the core; the
 * Redis store and the in-memory store implement it, and `redis-multitokens/testing` holds the one
 * conformance suite every store must pass.
 *
 * Rules every implementation keeps:
 * - **Atomic per user.** Each method is one atomic step over one user's tokens (a Lua script in Redis).
 *   Concurrent `create`s never lose a token; a `create` and a `revokeAll` of one user are serialised.
 * - **One partition per user.** All keys of a user live in one hash slot, found from `userTag` (which the
 *   token carries), so the same code runs on Redis Cluster.
 * - **One round trip.** `verify`, renewal included, costs at most one round trip to the server.
 * - **Store's clock.** Times are taken from the store's own clock (Redis `TIME`), so processes with
 *   skewed clocks agree. All times are epoch milliseconds; all durations here are milliseconds.
 * - **Nothing stale.** Every write for a user drops the user's expired or vanished tokens from its index.
 * - **Digests only.** A store never sees a token string, only HMAC digests ({@link TokenDigest}).
 * - **Faults as errors.** When unreachable or not ready, methods reject with `StoreUnavailableError`
 *   at once or within the store's command timeout; "not found" is a value, never an error.
 */
export interface Store {
  /** Creates a token record and adds it to the user's index. */
  create(input: StoreCreateInput): Promise<StoreCreateResult>;
  /** Looks a token up by id, checks its digest, and renews it when due (one round trip). */
  verify(input: StoreVerifyInput): Promise<StoreVerifyResult>;
  /** Revokes the token with this id if the digest matches (revocation by the token itself; wrong secrets count towards the throttle). Returns its record, or null. */
  revokeToken(input: StoreTokenRef): Promise<TokenRecord | null>;
  /** Revokes the token with this id if it belongs to `userId`. Returns true when one was revoked. */
  revokeById(userId: string, userTag: string, tokenId: string): Promise<boolean>;
  /** Revokes every token of the user, but `exceptTokenId` if given. Returns the revoked token ids. */
  revokeAll(userId: string, userTag: string, exceptTokenId?: string): Promise<string[]>;
  /**
   * The user's live tokens, in no particular order: tokens signed by a key id outside `keyIds` (a key
   * dropped from the ring) can never verify again and are left out.
   */
  list(userId: string, userTag: string, keyIds: readonly string[]): Promise<TokenRecord[]>;
  /**
   * One page of the user's live tokens (same rules as {@link Store.list}), for users with many devices.
   * Optional: without it, `TokenManager.list` with a `limit` returns {@link Store.list} as one page.
   * Pages come in no particular order; a token created or revoked while paging may be missed or seen
   * twice (as Redis SCAN), every token live from start to end is seen at least once.
   */
  listPage?(input: StoreListPageInput): Promise<StoreListPage>;
  /**
   * Looks a live token up by its id alone, for operators (the CLI's `inspect`): no renewal, no
   * last-used write, no wrong-secret counting, nothing changed. With `digests`, also tells whether one
   * of them matches the stored digest (under the key id stored with it). Returns null when no live
   * record has that id (unknown, expired or revoked).
   */
  lookup(input: StoreLookupInput): Promise<StoreLookupResult | null>;
  /**
   * Step-up (RFC 9470): sets the token's `authenticatedAtMs` to now (the store's clock) and its `acr`
   * to `input.acr` (null clears it), when `tokenId` is a live token of `userId`; one atomic step, one
   * round trip, touching the token's own record only (no expiry, no index change). A revoked,
   * expired or unknown token stays gone (never resurrected). Returns the updated record, or null.
   */
  reauthenticate(input: StoreReauthenticateInput): Promise<TokenRecord | null>;
  /**
   * Resolves when the store can serve requests now (for health checks); rejects with
   * `StoreUnavailableError` otherwise. One round trip at most. Optional: a store without it is always healthy.
   */
  ping?(): Promise<void>;
  /** Releases what the store itself opened (never a client the app handed in). */
  close?(): Promise<void>;
  /**
   * Optional: tells `listener` about every token removed from now on, by any process (revoke, revoke by
   * id, revoke all or others, the device-limit eviction at create), for a local verify cache. A store
   * without it cannot back `TokenManager`'s `verifyCache` option. See {@link RevocationWatch} for the
   * guarantee `syncedAtMs` gives. The Redis store subscribes to a channel (a connection of its own);
   * the memory store calls the listener in-process, synchronously, before the removing call resolves.
   */
  watchRevocations?(listener: RevocationListener, options: RevocationWatchOptions): RevocationWatch;
}

/** Receives removals from {@link Store.watchRevocations}. Called synchronously; must not throw. */
export interface RevocationListener {
  /** These token ids were removed (by this process or another). */
  revoked(tokenIds: readonly string[]): void;
  /** Announcements may have been missed (the channel dropped, or came back): forget everything cached. */
  reset(): void;
}

/** Options of {@link Store.watchRevocations}. */
export interface RevocationWatchOptions {
  /** How often, in milliseconds, the store checks that its channel still delivers (e.g. a heartbeat it publishes to itself). */
  heartbeatIntervalMs: number;
}

/** A running {@link Store.watchRevocations}. */
export interface RevocationWatch {
  /**
   * A time on the monotonic clock (`performance.now()`, milliseconds) before which every removal made by
   * any process has been delivered to the listener: the send time of the latest heartbeat seen back (a
   * removal that ran before it is announced on the same ordered channel, so it arrived first).
   * `-Infinity` while not subscribed or before the first heartbeat returns; `Infinity` for an in-process
   * store (every removal is delivered before it resolves).
   */
  syncedAtMs(): number;
  /** Stops watching (closes the subscriber connection, the heartbeat timer). Idempotent. */
  close(): Promise<void>;
}

/** A token located by id with the digests to check it: one per key of the ring. */
export interface StoreTokenRef {
  /** The token's public id (24 characters, starting with the user tag). */
  tokenId: string;
  /** The user tag (8 hex digits) carried by the token: the hash slot of the user's keys. */
  userTag: string;
  /** HMAC digests of the token under every key of the ring; the store uses the one whose key id it stored. */
  digests: readonly TokenDigest[];
  /** Throttling of wrong secrets for this token id; null = none. */
  throttle: StoreThrottlePolicy | null;
}

/** Input of {@link Store.lookup}. */
export interface StoreLookupInput {
  /** The token's public id (24 characters, starting with the user tag). */
  tokenId: string;
  /** The user tag, the first 8 characters of the token id (it places the token in its user's partition). */
  userTag: string;
  /** HMAC digests of the whole token under every key of the ring, to check it; omitted: no check. */
  digests?: readonly TokenDigest[];
}

/** Result of {@link Store.lookup}: the record, and whether a digest given matched (null: none given). */
export interface StoreLookupResult {
  /** The live token's record, as stored (not renewed, no last-used write). */
  record: TokenRecord;
  /** True when one of `digests` matches the stored one under the stored key id; false when none does (or the key id is not in the ring); null without `digests`. */
  digestMatches: boolean | null;
}

/** Input of {@link Store.create}. */
export interface StoreCreateInput {
  /** The user's id, normalised to a string by the core. */
  userId: string;
  /** The user's tag (8 hex digits): all of the user's keys share its hash slot. */
  userTag: string;
  /** The new token's public id (random, starting with the user tag). */
  tokenId: string;
  /** Digest under the current key (the only thing stored about the secret). */
  digest: TokenDigest;
  /** Device name, already cut to 200 characters; null when none. */
  deviceName: string | null;
  /** User-Agent, already cut to 512 characters; null when none. */
  userAgent: string | null;
  /** Client IP, already cut to 64 characters; null when none. */
  ip: string | null;
  /** Scopes granted to the token (checked RFC 6749 scope-tokens). */
  scopes: readonly string[];
  /** JSON text of the metadata object, or null (already size-checked by the core). */
  metadataJson: string | null;
  /** The authentication level of the login (RFC 9470 `acr`, checked by the core), or null; absent = null. */
  acr?: string | null;
  /** Idle TTL in milliseconds, or null for immortal. */
  ttlMs: number | null;
  /** True when `ttlMs` was given for this token (it then overrides the configured TTL on renewal). */
  ttlIsOverride: boolean;
  /** Absolute lifetime in milliseconds from creation, or null for none. */
  absoluteLifetimeMs: number | null;
  /** The ring's key ids: only tokens signed by one of them count as live (for `first` and the limit). */
  keyIds: readonly string[];
  /** Most live tokens the user may hold after this create; null = no limit. */
  maxTokens: number | null;
  /** At `maxTokens`: evict the least recently used token, or refuse (`status: 'limit'`). */
  limitPolicy: LimitPolicy;
  /** DPoP binding: the device key's JWK thumbprint (RFC 7638, base64url SHA-256), stored in the record; absent or null = a bearer token. */
  jkt?: string | null;
}

/** Result of {@link Store.create}. */
export type StoreCreateResult =
  | {
      /** The token was stored. */
      status: 'created';
      /** The stored record. */
      record: TokenRecord;
      /** True when the user had no live token before. */
      first: boolean;
      /** Tokens revoked to make room (`'evict-lru'`). */
      evictedTokenIds: string[];
    }
  | {
      /** Refused: the user is at the limit (`limitPolicy: 'reject'`). */
      status: 'limit';
      /** The limit (live tokens per user). */
      limit: number;
    };

/** The renewal policy, passed on every verify (so a configuration change applies to old tokens too). */
export interface StoreRenewalPolicy {
  /** `'token'`, `'user'` (all of the user's tokens) or `'off'`. */
  mode: RenewMode;
  /** The configured idle TTL in milliseconds, or null for immortal (the plugin's cache TIMEOUT). */
  ttlMs: number | null;
  /** The plugin's OVERWRITE_NONE_TTL: on renewal, does an immortal token get `ttlMs`? */
  overwriteNoneTtl: boolean;
  /** Least time between two writes of one token's last-used time and expiry, in milliseconds. */
  touchIntervalMs: number;
}

/**
 * Throttling of wrong secrets per token id: after `maxFailures` failed verifications of one token id
 * within `windowMs` milliseconds (counted from the first failure), every verification of that id is
 * refused, the right secret included, until the window ends.
 */
export interface StoreThrottlePolicy {
  /** Failed verifications tolerated per token id within the window. */
  maxFailures: number;
  /** The window, in milliseconds from the first failure. */
  windowMs: number;
}

/** Input of {@link Store.verify}. */
export interface StoreVerifyInput extends StoreTokenRef {
  /** How to renew the token when it verifies. */
  renewal: StoreRenewalPolicy;
  /**
   * The request's DPoP proof (RFC 9449), already checked by the caller (signature, `htm`, `htu`, `iat`,
   * `ath`); absent or null = no proof. See {@link StoreDpopCheck} for what the store does with it.
   */
  dpop?: StoreDpopCheck | null;
}

/**
 * The store's part of a DPoP check (RFC 9449 §4.3 steps 11-12, and the `jti` replay check of §11.1),
 * in the same atomic step and round trip as the token check, after the digest matched:
 * - a bound token (record `jkt` set) without `dpop` is `dpop_required`;
 * - a bound token whose `jkt` differs from this one is `dpop_mismatch`;
 * - an unbound token with `dpop` is `dpop_unbound`;
 * - else the proof's `jtiHash` is recorded for `replayWindowMs` milliseconds in the user's partition
 *   (Redis: `SET NX PX` on a key with the user's hash tag), and a `jtiHash` already recorded for this
 *   user is `dpop_replay`.
 * None of these counts as a wrong secret; none renews the token.
 */
export interface StoreDpopCheck {
  /** JWK SHA-256 thumbprint (RFC 7638, base64url) of the proof's key. */
  jkt: string;
  /** base64url SHA-256 of the proof's `jti` (fixed size whatever the client sent). */
  jtiHash: string;
  /** How long the `jti` is remembered, in milliseconds (at least the proofs' acceptance window). */
  replayWindowMs: number;
}

/**
 * Result of {@link Store.verify}. `mismatch`: a token with that id exists but the digest differs (the
 * failure was counted); `throttled`: too many recent failures for this id, nothing was checked; `dpop_...`:
 * the right secret, refused by the DPoP check ({@link StoreDpopCheck}).
 */
export type StoreVerifyResult =
  | {
      /** The digest matched a live token. */
      status: 'valid';
      /** The token's record, after any renewal. */
      record: TokenRecord;
      /** True when this call renewed the token. */
      renewed: boolean;
      /** The store's clock at this verification, epoch milliseconds (step-up ages are measured with it); absent: the manager uses `Date.now()`. */
      nowMs?: number;
    }
  | {
      /** No live token with that id (unknown, expired or revoked). */
      status: 'not_found';
    }
  | {
      /** A token with that id exists, the digest differs; the failure was counted. */
      status: 'mismatch';
    }
  | {
      /** Too many recent failures for this id; nothing was checked. */
      status: 'throttled';
    }
  | {
      /** Refused by the DPoP check (see {@link StoreDpopCheck}); the secret was right. */
      status: 'dpop_required' | 'dpop_mismatch' | 'dpop_replay' | 'dpop_unbound';
    };

/** Input of {@link Store.listPage}. */
export interface StoreListPageInput {
  /** The normalised user id. */
  userId: string;
  /** The user's tag (8 hex digits): the user's partition (Redis hash slot). */
  userTag: string;
  /** The ring's key ids: tokens signed by another key are left out. */
  keyIds: readonly string[];
  /** Where to resume: null for the first page, else the `cursor` of the previous page (opaque text). */
  cursor: string | null;
  /** About how many tokens a page holds, 1 to 1,000 (a hint: the Redis store passes it to HSCAN's COUNT, and a small hash comes whole). */
  limit: number;
}

/** One page of {@link Store.listPage}: `cursor` is null after the last page. */
export interface StoreListPage {
  /** The user's live tokens in this page, in no particular order. */
  records: TokenRecord[];
  /** Where the next page starts (pass it back as `cursor`), or null after the last page. */
  cursor: string | null;
}

/** Input of {@link Store.reauthenticate}. */
export interface StoreReauthenticateInput {
  /** The user's id, normalised to a string by the core: a token of another user is left alone. */
  userId: string;
  /** The user's tag (8 hex digits): the hash slot of the user's keys. */
  userTag: string;
  /** The public id of the token to update (24 characters, starting with the user tag). */
  tokenId: string;
  /** The new authentication level (RFC 9470 `acr`), or null for none. */
  acr: string | null;
}
