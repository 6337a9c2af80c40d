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
}

/** A token located by id with the digests to check it: one per key of the ring. */
export interface StoreTokenRef {
  tokenId: string;
  userTag: string;
  /** HMAC digests of the token under every key of the ring; the store uses the one whose key id it stored. */
  digests: readonly TokenDigest[];
  /** Throttling of wrong secrets for this token id; null = none. */
  throttle: StoreThrottlePolicy | null;
}

/** Input of {@link Store.create}. */
export interface StoreCreateInput {
  userId: string;
  userTag: string;
  tokenId: string;
  /** Digest under the current key (the only thing stored about the secret). */
  digest: TokenDigest;
  deviceName: string | null;
  userAgent: string | null;
  ip: string | null;
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
  limitPolicy: LimitPolicy;
}

/** Result of {@link Store.create}. */
export type StoreCreateResult =
  | { status: 'created'; record: TokenRecord; first: boolean; evictedTokenIds: string[] }
  | { status: 'limit'; limit: number };

/** The renewal policy, passed on every verify (so a configuration change applies to old tokens too). */
export interface StoreRenewalPolicy {
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
  maxFailures: number;
  windowMs: number;
}

/** Input of {@link Store.verify}. */
export interface StoreVerifyInput extends StoreTokenRef {
  renewal: StoreRenewalPolicy;
}

/**
 * Result of {@link Store.verify}. `mismatch`: a token with that id exists but the digest differs (the
 * failure was counted); `throttled`: too many recent failures for this id, nothing was checked.
 */
export type StoreVerifyResult =
  | {
      status: 'valid';
      record: TokenRecord;
      renewed: boolean;
      /** The store's clock at this verification, epoch milliseconds (step-up ages are measured with it); absent: the manager uses `Date.now()`. */
      nowMs?: number;
    }
  | { status: 'not_found' }
  | { status: 'mismatch' }
  | { status: 'throttled' };

/** Input of {@link Store.reauthenticate}. */
export interface StoreReauthenticateInput {
  userId: string;
  userTag: string;
  tokenId: string;
  /** The new authentication level (RFC 9470 `acr`), or null for none. */
  acr: string | null;
}
