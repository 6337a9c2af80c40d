import { EventEmitter } from 'node:events';
import {
  InvalidArgumentTypeError,
  InvalidArgumentValueError,
  InvalidDpopProofError,
  StoreUnavailableError,
  TokenLimitError,
} from './errors.js';
import { KeyRing, type SecretOption } from './key-ring.js';
import {
  booleanOption,
  rejectUnknownOptions,
  countOption,
  enumOption,
  acrOption,
  metadataOption,
  optionalText,
  scopesOption,
  secondsOption,
} from './options.js';
import type { Store, StoreDpopCheck, StoreRenewalPolicy, StoreThrottlePolicy } from './store.js';
import { generateToken, isTokenId, parseToken } from './token-format.js';
import { isTraced, settleRevoked, tokenChannels, traced, userIdOrNull, type TokenTraceContext } from './tracing.js';
import type {
  AuthFailureReason,
  LimitPolicy,
  ListPageOptions,
  RenewMode,
  RevokeReason,
  TokenInfo,
  TokenPage,
  TokenRecord,
} from './types.js';
import { normalizeUserId, type UserIdInput } from './user-id.js';
import { VerifyCache, verifyCacheOption, type VerifyCacheOptions, type VerifyCacheStats } from './verify-cache.js';

/** Default idle TTL of a token: 14 days, in seconds (1,209,600). */
export const DEFAULT_TTL_SECONDS = 14 * 24 * 3600;
/** Default least time between two last-used/renewal writes of one token: 60 seconds (knox's MIN_REFRESH_INTERVAL). */
export const DEFAULT_TOUCH_INTERVAL_SECONDS = 60;
/** Default largest metadata object, in bytes of JSON text. */
export const DEFAULT_MAX_METADATA_BYTES = 1024;
/** Default wrong secrets tolerated per token id within the failure window. */
export const DEFAULT_MAX_FAILED_VERIFICATIONS = 10;
/** Default failure window, in seconds (5 minutes). */
export const DEFAULT_FAILED_VERIFICATION_WINDOW_SECONDS = 300;
/**
 * Default most live tokens (devices) per user: 20. Past it a login evicts the user's least recently used
 * token (`limitPolicy: 'evict-lru'`), so a script looping on a login route cannot fill Redis: one user
 * holds at most 20 records (about 10 KB with device details) however often it logs in.
 */
export const DEFAULT_MAX_TOKENS_PER_USER = 20;
/**
 * Largest accepted `maxTokensPerUser`. A login under a limit walks the user's whole index in one Lua
 * script (Redis serves nothing else meanwhile), so the cap keeps that walk short.
 */
export const MAX_TOKENS_PER_USER_LIMIT = 1_000;

/** Options of {@link TokenManager}. Durations are whole SECONDS; `null` means "none" where allowed. */
export interface TokenManagerOptions {
  /** Where tokens live. Required here; the package's main entry defaults it to a `MemoryStore`. */
  store: Store;
  /**
   * Server secret for HMAC-SHA-256 (at least 32 bytes), or a key ring `[{ id, secret }, ...]` whose first
   * key signs new tokens and all keys verify. Required: the library refuses to start without one.
   */
  secret: SecretOption;
  /**
   * Key of the user tag that every token carries (8 hex digits of an HMAC of the user id, which places
   * all of a user's keys in one Redis hash slot), at least 32 bytes. It must NEVER change while tokens
   * live: tokens with another tag would escape "log out everywhere". Optional with a single `secret`
   * (then derived from it); required with a key ring — when you move from one secret to a ring, set it
   * to that first secret.
   */
  userTagSecret?: string | Uint8Array;
  /**
   * Idle TTL of tokens, in seconds (1 to 315,360,000); `null` = immortal tokens (the plugin's cache
   * `TIMEOUT: None`), only when asked for by name. Default: 1,209,600 (14 days).
   */
  ttlSeconds?: number | null;
  /**
   * Sliding expiry on use (the plugin's `RESET_TOKEN_TTL_ON_USER_LOG_IN`):
   * `'token'` (default) renews the verified token; `'user'` renews every token of that user, as the
   * plugin did; `'off'` never renews (tokens die `ttlSeconds` after creation).
   */
  renew?: RenewMode;
  /**
   * The plugin's `OVERWRITE_NONE_TTL` (default true): on renewal an immortal token gets `ttlSeconds`;
   * false keeps it immortal. When `ttlSeconds` is null, renewal makes a token immortal either way.
   */
  overwriteNoneTtl?: boolean;
  /**
   * Least time between two writes of one token's last-used time and renewed expiry, in seconds
   * (0 to 315,360,000; default 60). Verifying a hot token 1,000 times in a second costs one write.
   * Clamped per token to half its TTL so short TTLs still renew in time.
   */
  touchIntervalSeconds?: number;
  /**
   * Absolute lifetime, in seconds from creation (1 to 315,360,000), that renewal never extends;
   * `null` (default) = none.
   */
  absoluteLifetimeSeconds?: number | null;
  /**
   * Most live tokens (devices) per user, 1 to 1,000. Default: 20 ({@link DEFAULT_MAX_TOKENS_PER_USER}),
   * so a user (or a script looping on /login) cannot fill the store. `null` = no limit, only when asked
   * for by name (every login then adds a token until they expire).
   */
  maxTokensPerUser?: number | null;
  /**
   * When a user at `maxTokensPerUser` logs in again: `'evict-lru'` (default) revokes the least recently
   * used token (ranked by last use; see docs/options.md, "Device limit", for how a use within
   * `touchIntervalSeconds` counts), `'reject'` throws `TokenLimitError`.
   */
  limitPolicy?: LimitPolicy;
  /** Largest `metadata` object, in bytes of its JSON text (default 1,024; 0 to 65,536). */
  maxMetadataBytes?: number;
  /**
   * Wrong secrets tolerated per token id within `failedVerificationWindowSeconds` (1 to 10,000;
   * default 10; `null` = no throttling). Past it, every verification of that token id is refused (the
   * right secret too: a lockout) until the window ends, so a token id seen in a log cannot be
   * brute-forced at full speed. The counter lives in the store, in the user's hash slot.
   */
  maxFailedVerifications?: number | null;
  /** The window of `maxFailedVerifications`, in seconds from the first failure (1 to 86,400; default 300). */
  failedVerificationWindowSeconds?: number;
  /**
   * An optional local cache, per process, of tokens that verified: `{ maxEntries, maxStalenessMs }`
   * (see {@link VerifyCacheOptions}; `{}` for the defaults: 10,000 tokens, 1,000 milliseconds). Off by
   * default (`undefined`, `null` or `false`). A hot token then verifies without a round trip; renewal and
   * last-used writes keep their throttled rate. Revocations by any process empty it through the store
   * (`Store.watchRevocations`: Redis pub/sub, or in-process for the memory store); a token revoked by
   * any process is refused by every process within `maxStalenessMs` milliseconds at the latest.
   * Records returned by `verify` are then frozen (shared between requests).
   */
  verifyCache?: VerifyCacheOptions | null | false;

  /**
   * Require DPoP binding (RFC 9449) for every new token: `create` without a `jkt` throws
   * `InvalidDpopProofError` (a 400 `invalid_dpop_proof`), so a login without a valid `DPoP` proof gets
   * no token. Default false: tokens are bound only when the login carried a proof.
   */
  requireDpop?: boolean;
}

const MANAGER_OPTIONS = [
  'store',
  'secret',
  'userTagSecret',
  'ttlSeconds',
  'renew',
  'overwriteNoneTtl',
  'touchIntervalSeconds',
  'absoluteLifetimeSeconds',
  'maxTokensPerUser',
  'limitPolicy',
  'maxMetadataBytes',
  'maxFailedVerifications',
  'failedVerificationWindowSeconds',
  'verifyCache',
  'requireDpop',
] as const;
const CREATE_OPTIONS = ['deviceName', 'userAgent', 'ip', 'scopes', 'metadata', 'ttlSeconds', 'jkt', 'acr'] as const;
/** A JWK SHA-256 thumbprint (RFC 7638) in base64url: 43 characters. */
const JKT_RE = /^[A-Za-z0-9_-]{43}$/;
const REVOKE_REASONS: readonly RevokeReason[] = ['logout', 'logout-all', 'logout-others', 'evicted', 'admin'];

/** An options argument must be an object (or omitted) with known keys only. */
function checkOptionsObject(where: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentTypeError(`${where}: options must be an object`);
  rejectUnknownOptions(where, options, known);
}

/** What to do instead, for each method that takes a token id where a whole token was given. */
const WHOLE_TOKEN_HINTS = {
  revokeById: 'to revoke by the token use revoke(token)',
  revokeOthers: "pass the id of the token to keep (the request's auth.token.tokenId)",
  list: "pass the id of the calling token as currentTokenId (the request's auth.token.tokenId)",
  reauthenticate:
    "pass the id of the token whose user just proved who they are (the request's auth.token.tokenId, or record.tokenId from verify(token))",
} as const;

/** A whole token where its public id is expected is a programming error worth a loud one, with the right hint for each caller. */
function notAWholeToken(where: keyof typeof WHOLE_TOKEN_HINTS, value: unknown): void {
  if (parseToken(value))
    throw new InvalidArgumentValueError(
      `${where} takes a token id (record.tokenId, 24 characters), not the token itself; ${WHOLE_TOKEN_HINTS[where]}`,
    );
}

/** Options of {@link TokenManager.create}: details of the device the token is for. */
export interface CreateTokenOptions {
  /** A name for the device ("Alice's iPhone"); cut to 200 characters. */
  deviceName?: string | null;
  /** The client's User-Agent; cut to 512 characters. Framework adapters fill it from the request. */
  userAgent?: string | null;
  /** The client's IP address; cut to 64 characters. Framework adapters fill it from the request. */
  ip?: string | null;
  /** Scopes granted to this token (RFC 6749 §3.3 scope-tokens, at most 64). Default: none. */
  scopes?: readonly string[];
  /** App-defined plain JSON object stored with the token, at most `maxMetadataBytes` as JSON. */
  metadata?: Record<string, unknown> | null;
  /**
   * This token's idle TTL in seconds, overriding the configured `ttlSeconds` at creation AND on renewal;
   * `null` asks for an immortal token (subject to `overwriteNoneTtl` on renewal, as in the plugin).
   */
  ttlSeconds?: number | null;
  /**
   * The authentication level of this login as the app names it (RFC 9470 `acr`, e.g. `"pwd"`, `"mfa"`):
   * 1-64 printable ASCII characters without spaces, `"` or `\`; default none (null). Routes with a
   * step-up requirement naming an `acr` accept only tokens with one of theirs.
   */
  acr?: string | null;
  /**
   * Binds the token to a device key (DPoP, RFC 9449): the key's JWK SHA-256 thumbprint (RFC 7638,
   * base64url, 43 characters), as `dpopKeyOf...(req)` of the framework adapters gives it from the
   * login's checked `DPoP` proof. Absent or null: a bearer token (refused under `requireDpop`).
   */
  jkt?: string | null;
}

/** Options of {@link TokenManager.verify}. */
export interface VerifyOptions {
  /**
   * The request's DPoP proof, already checked (the HTTP layer's `checkDpopProof` does it): its key's
   * thumbprint and `jti` hash, checked against the token in the same store call. Absent or null: no
   * proof (a bound token is then refused).
   */
  dpop?: StoreDpopCheck | null;
}

/** Options of {@link TokenManager.reauthenticate}. */
export interface ReauthenticateOptions {
  /**
   * The level of this new proof (RFC 9470 `acr`); default null. It REPLACES the token's acr (a
   * password re-check after an MFA login leaves `"pwd"`, not `"mfa"`): the time and the level always
   * describe the same proof.
   */
  acr?: string | null;
}

/** Result of {@link TokenManager.create}. */
export interface CreatedToken {
  /** The token string to hand to the client, once. It is never stored or logged by this library. */
  token: string;
  /** The public token id (safe to show and log). */
  tokenId: string;
  /** True when the user had no live token before this one (the plugin's `first`). */
  first: boolean;
  /** The stored public record. */
  record: TokenRecord;
  /** Ids of tokens revoked to stay within `maxTokensPerUser` (policy `'evict-lru'`). */
  evictedTokenIds: string[];
}

/** Result of {@link TokenManager.verify}: invalid is a value, not an exception. */
export type VerifyResult =
  | {
      /** The token is live and its secret matches. */
      valid: true;
      /** The user the token belongs to (as stored: a string). */
      userId: string;
      /** The token's record (device, times, scopes), after any renewal. */
      record: TokenRecord;
      /** True when this verify renewed the token's expiry (and wrote its last-used time). */
      renewed: boolean;
      /** The store's clock at this verification, epoch milliseconds (`Date.now()` when the store gives none): step-up ages are measured with it. */
      verifiedAtMs: number;
    }
  | {
      /** The token is not accepted; `reason` says how far it got. */
      valid: false;
      /**
       * `'malformed'`: not a token of this format (no store access happened). `'invalid'`: unknown,
       * expired, revoked, wrong secret, or refused for too many wrong secrets (`authFailed` tells which).
       */
      reason: 'malformed' | 'invalid' | DpopRefusal;
    };

/**
 * Result of {@link TokenManager.inspect}: what an operator may learn of a token, never the token.
 * `found`: a live record has the token's id; `valid`: and the token's secret matches it (it would verify).
 */
export type InspectResult =
  | {
      /** Not a token of this format: nothing was looked up (no store access happened). */
      wellFormed: false;
    }
  | {
      /** A token of this format. */
      wellFormed: true;
      /** The token's public id (24 characters, safe to show and log). */
      tokenId: string;
      /** No live token has this id (unknown, expired or revoked). */
      found: false;
    }
  | {
      /** A token of this format. */
      wellFormed: true;
      /** The token's public id (24 characters, safe to show and log). */
      tokenId: string;
      /** A live token has this id. */
      found: true;
      /**
       * True when the token's secret matches the stored digest under the key id stored with it (the token
       * would verify, unless DPoP-bound or locked out by wrong secrets); false for a wrong secret, or a
       * token signed by a key dropped from the ring.
       */
      valid: boolean;
      /** The live token's record, as stored: not renewed, no last-used write. */
      record: TokenRecord;
    };
/** A verify refused by the DPoP check (see {@link StoreDpopCheck}): the token's secret was right. */
export type DpopRefusal = 'dpop_required' | 'dpop_mismatch' | 'dpop_replay' | 'dpop_unbound';

/**
 * Events of {@link TokenManager}, with their payloads. None ever carries a token string.
 * Typed listeners (`manager.on('verified', (e) => ...)`) need `@types/node` 20.11.21 or later, the first
 * with the generic `EventEmitter<T>` (DefinitelyTyped PR 68313); with an older one `TokenManager` does not
 * type-check (or, under `skipLibCheck`, its listeners are untyped).
 */
export interface TokenEvents {
  /** A token was created (a login). */
  created: [
    event: {
      /** The new token's record (never the token string). */
      record: TokenRecord;
      /** True when the user had no live token before. */
      first: boolean;
      /** Tokens revoked to stay within `maxTokensPerUser` (`limitPolicy: 'evict-lru'`). */
      evictedTokenIds: string[];
    },
  ];
  /** A token was verified and accepted. */
  verified: [
    event: {
      /** The token's record, after any renewal. */
      record: TokenRecord;
      /** True when this verify renewed the token. */
      renewed: boolean;
    },
  ];
  /** Tokens were revoked (a logout, "log out everywhere", an eviction or an admin action). */
  revoked: [
    event: {
      /** The user whose tokens were revoked. */
      userId: string;
      /** The public ids of the revoked tokens (never the tokens). */
      tokenIds: string[];
      /** Why: `'logout'`, `'logout-all'`, `'logout-others'`, `'evicted'` or `'admin'`. */
      reason: RevokeReason;
    },
  ];
  /** A request or a verify was refused (not emitted for store outages: see `storeUnavailable`). */
  authFailed: [
    event: {
      /** Why it was refused. */
      reason: AuthFailureReason;
      /** The public id of the token when it was well-formed, else null. */
      tokenId: string | null;
    },
  ];
  /** `reauthenticate` renewed a token's authentication time (step-up, RFC 9470). */
  reauthenticated: [
    event: {
      /** The token's updated record: `authenticatedAtMs` (epoch milliseconds, the store's clock) and `acr` of the new proof. */
      record: TokenRecord;
    },
  ];
  /** The store failed after working (or at its first call): once per outage, not once per failed call. */
  storeUnavailable: [
    event: {
      /** The TokenManager method that failed, e.g. `'verify'`. */
      operation: string;
      /** The store's error (a `StoreUnavailableError`; never holds a token). */
      error: Error;
    },
  ];
  /** The first success after `storeUnavailable`. */
  storeRecovered: [
    event: {
      /** The TokenManager method that succeeded. */
      operation: string;
    },
  ];
}

/** The options `TokenManager.list` takes, paged or not. */
type ListOptions = { currentTokenId?: string | null; limit?: number; cursor?: string | null };

/**
 * The token manager: create, verify, revoke, revoke all, list. One instance per app (it is cheap).
 *
 * Parity with djforge-redis-multitokens: `create` = `MultiToken.create_token`, `revoke` =
 * `expire_token`, `revokeAll` = `expire_all_tokens`, `verify` = `get_user_from_token`.
 *
 * Errors: store faults reject with `StoreUnavailableError` (and emit `storeUnavailable`); bad
 * arguments throw `InvalidArgumentTypeError` / `InvalidArgumentValueError`; an invalid token is
 * `{ valid: false }`, never an exception.
 */
export class TokenManager extends EventEmitter<TokenEvents> {
  /** The store in use. */
  readonly store: Store;
  private readonly keyRing: KeyRing;
  private readonly ttlMs: number | null;
  private readonly absoluteLifetimeMs: number | null;
  private readonly maxTokens: number | null;
  private readonly limitPolicy: LimitPolicy;
  private readonly maxMetadataBytes: number;
  private readonly renewal: StoreRenewalPolicy;
  private readonly throttle: StoreThrottlePolicy | null;
  private readonly requireDpop: boolean;
  private storeDown = false;
  private readonly cache: VerifyCache | null;

  /**
   * @throws {InvalidArgumentTypeError} an option of the wrong type, or no `store` / `secret`.
   * @throws {InvalidArgumentValueError} an option out of range (the message names the option).
   */
  constructor(options: TokenManagerOptions) {
    super();
    if (!options || typeof options !== 'object')
      throw new InvalidArgumentTypeError('TokenManager options must be an object with at least `secret`');
    rejectUnknownOptions('TokenManager', options, MANAGER_OPTIONS);
    const store = options.store;
    if (!store || typeof store.verify !== 'function' || typeof store.create !== 'function')
      throw new InvalidArgumentTypeError(
        'store must implement the Store interface (create, verify, revokeToken, revokeById, revokeAll, list)',
      );
    if (options.secret === undefined || options.secret === null || options.secret === '')
      throw new InvalidArgumentTypeError('secret is required: pass at least 32 random bytes (the `secret` option)');
    this.store = store;
    this.keyRing = new KeyRing(options.secret, options.userTagSecret);
    this.ttlMs = secondsOption('ttlSeconds', options.ttlSeconds, {
      allowNull: true,
      min: 1,
      fallback: DEFAULT_TTL_SECONDS,
    });
    this.absoluteLifetimeMs = secondsOption('absoluteLifetimeSeconds', options.absoluteLifetimeSeconds, {
      allowNull: true,
      min: 1,
      fallback: null,
    });
    this.maxTokens = countOption('maxTokensPerUser', options.maxTokensPerUser, {
      allowNull: true,
      min: 1,
      max: MAX_TOKENS_PER_USER_LIMIT,
      fallback: DEFAULT_MAX_TOKENS_PER_USER,
    });
    this.limitPolicy = enumOption('limitPolicy', options.limitPolicy, ['evict-lru', 'reject'] as const, 'evict-lru');
    this.maxMetadataBytes = countOption('maxMetadataBytes', options.maxMetadataBytes, {
      allowNull: false,
      min: 0,
      max: 65536,
      fallback: DEFAULT_MAX_METADATA_BYTES,
    })!;
    this.renewal = {
      mode: enumOption('renew', options.renew, ['off', 'token', 'user'] as const, 'token'),
      ttlMs: this.ttlMs,
      overwriteNoneTtl: booleanOption('overwriteNoneTtl', options.overwriteNoneTtl, true),
      touchIntervalMs: secondsOption('touchIntervalSeconds', options.touchIntervalSeconds, {
        allowNull: false,
        min: 0,
        fallback: DEFAULT_TOUCH_INTERVAL_SECONDS,
      })!,
    };
    const maxFailures = countOption('maxFailedVerifications', options.maxFailedVerifications, {
      allowNull: true,
      min: 1,
      max: 10_000,
      fallback: DEFAULT_MAX_FAILED_VERIFICATIONS,
    });
    const windowSeconds = countOption('failedVerificationWindowSeconds', options.failedVerificationWindowSeconds, {
      allowNull: false,
      min: 1,
      max: 86_400,
      fallback: DEFAULT_FAILED_VERIFICATION_WINDOW_SECONDS,
    })!;
    this.throttle = maxFailures === null ? null : { maxFailures, windowMs: windowSeconds * 1000 };
    this.requireDpop = booleanOption('requireDpop', options.requireDpop, false);
    const cacheOptions = verifyCacheOption(options.verifyCache);
    this.cache = cacheOptions === null ? null : new VerifyCache(store, cacheOptions, this.renewal);
  }

  /**
   * Counters of the local verify cache (hits, misses, entries, whether it serves now, resets), or null
   * when `verifyCache` is off. Cheap: read it per scrape or per benchmark run.
   */
  get verifyCacheStats(): VerifyCacheStats | null {
    return this.cache === null ? null : this.cache.stats();
  }

  /**
   * Store clock minus local clock, in milliseconds, as seen by the last store verify (kept only with the
   * verify cache on): a cache hit has no store reply, so its `verifiedAtMs` (which step-up requirements
   * compare with `authenticatedAtMs`, a store time) is the local clock moved by this offset.
   */
  private storeClockOffsetMs = 0;

  /** Drops revoked tokens from this process's verify cache at once (other processes hear of it from the store). */
  private forget(tokenIds: readonly string[]): void {
    if (this.cache !== null && tokenIds.length > 0) this.cache.drop(tokenIds);
  }

  /**
   * Creates a token for a new device of `userId` (one atomic step in the store).
   * @param userId the user: a string, safe integer or bigint (`42` and `"42"` are one user).
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id or option.
   * @throws {TokenLimitError} the user is at `maxTokensPerUser` and `limitPolicy` is `'reject'`.
   * @throws {InvalidDpopProofError} `requireDpop` is set and no `jkt` was given.
   * @throws {StoreUnavailableError} the store cannot be reached.
   */
  create(userId: UserIdInput, options: CreateTokenOptions = {}): Promise<CreatedToken> {
    if (!isTraced(tokenChannels.create)) return this.createToken(userId, options);
    return traced(
      'create',
      { userId: userIdOrNull(userId) },
      () => this.createToken(userId, options),
      (c, { token: _, ...shown }) => {
        c.tokenId = shown.tokenId;
        c.revokedCount = shown.evictedTokenIds.length;
        return shown;
      },
    );
  }

  private async createToken(userId: UserIdInput, options: CreateTokenOptions): Promise<CreatedToken> {
    const uid = normalizeUserId(userId);
    if (!options || typeof options !== 'object') throw new InvalidArgumentTypeError('create options must be an object');
    rejectUnknownOptions('create', options, CREATE_OPTIONS);
    let ttlMs = this.ttlMs;
    const ttlIsOverride = options.ttlSeconds !== undefined;
    if (ttlIsOverride)
      ttlMs = secondsOption('ttlSeconds', options.ttlSeconds, { allowNull: true, min: 1, fallback: null });
    const input = {
      userId: uid,
      deviceName: optionalText('deviceName', options.deviceName, 200),
      userAgent: optionalText('userAgent', options.userAgent, 512),
      ip: optionalText('ip', options.ip, 64),
      scopes: scopesOption(options.scopes),
      metadataJson: metadataOption(options.metadata, this.maxMetadataBytes),
      jkt: this.jktOption(options.jkt),
      acr: acrOption(options.acr),
    };
    const generated = generateToken(this.keyRing.userTag(uid));
    const result = await this.run('create', () =>
      this.store.create({
        ...input,
        userTag: generated.userTag,
        tokenId: generated.tokenId,
        digest: this.keyRing.sign(generated.token),
        ttlMs,
        ttlIsOverride: ttlIsOverride && ttlMs !== null,
        absoluteLifetimeMs: this.absoluteLifetimeMs,
        keyIds: this.keyRing.keyIds,
        maxTokens: this.maxTokens,
        limitPolicy: this.limitPolicy,
      }),
    );
    if (result.status === 'limit') throw new TokenLimitError(result.limit);
    const { record, first, evictedTokenIds } = result;
    this.forget(evictedTokenIds);
    if (evictedTokenIds.length > 0) this.emit('revoked', { userId: uid, tokenIds: evictedTokenIds, reason: 'evicted' });
    this.emit('created', { record, first, evictedTokenIds });
    return { token: generated.token, tokenId: generated.tokenId, first, record, evictedTokenIds };
  }

  /**
   * Verifies a token: one store round trip, renewal included; a malformed value costs no I/O.
   * @param token any value (non-strings are `malformed`).
   * @param options `dpop`: the request's checked DPoP proof (RFC 9449), checked against the token's bound
   *   key, and its `jti` against replays, in the same store call; without it a bound token is refused
   *   (`dpop_required`). The HTTP layer fills it in for `Authorization: DPoP` requests.
   * @returns `{ valid: true, userId, record, renewed }` or `{ valid: false, reason }` (`dpop_...` reasons:
   *   the right secret, refused by the DPoP check; see {@link StoreDpopCheck}).
   * @throws {StoreUnavailableError} the store cannot be reached (never reported as invalid).
   */
  verify(token: unknown, options?: VerifyOptions): Promise<VerifyResult> {
    if (!isTraced(tokenChannels.verify)) return this.verifyToken(token, options, null);
    return traced(
      'verify',
      {},
      (c) => this.verifyToken(token, options, c),
      (c, r) => {
        if (r.valid) c.userId = r.userId;
        c.outcome = r.valid ? 'valid' : 'invalid';
        return r;
      },
    );
  }

  /** verify's body; `trace` (when traced) learns the token id and why a token was refused. */
  private async verifyToken(
    token: unknown,
    options: VerifyOptions | undefined,
    trace: TokenTraceContext | null,
  ): Promise<VerifyResult> {
    const parsed = parseToken(token);
    if (!parsed) {
      if (trace) trace.reason = 'malformed';
      this.emit('authFailed', { reason: 'malformed', tokenId: null });
      return { valid: false, reason: 'malformed' };
    }
    if (trace) trace.tokenId = parsed.tokenId;
    // The local cache never answers a DPoP request nor keeps a bound token: the proof's jti replay check
    // and the binding check happen in the store, on every request.
    const cache = options?.dpop ? null : this.cache;
    let at: ReturnType<VerifyCache['begin']> | undefined;
    if (cache !== null) {
      const cached = cache.lookup(parsed.tokenId, parsed.token);
      if (cached !== undefined) {
        this.emit('verified', { record: cached, renewed: false });
        // No store call, so no store clock: the local clock moved by the store's offset seen last.
        return {
          valid: true,
          userId: cached.userId,
          record: cached,
          renewed: false,
          verifiedAtMs: Date.now() + this.storeClockOffsetMs,
        };
      }
      at = cache.begin();
    }
    let res: Awaited<ReturnType<Store['verify']>>;
    try {
      // The store's call directly (not through `run`'s closure): verify is the hot path.
      res = await this.store.verify({
        tokenId: parsed.tokenId,
        userTag: parsed.userTag,
        digests: this.keyRing.digestsOf(parsed.token),
        renewal: this.renewal,
        throttle: this.throttle,
        dpop: options?.dpop ?? null,
      });
    } catch (error) {
      throw this.failed('verify', error);
    }
    if (this.storeDown) this.recovered('verify');
    if (res.status !== 'valid') {
      const dpop = res.status.startsWith('dpop_') ? (res.status as DpopRefusal) : null;
      const reason = dpop ?? (res.status === 'throttled' ? 'throttled' : 'invalid');
      if (trace) trace.reason = reason;
      this.emit('authFailed', { reason, tokenId: parsed.tokenId });
      return { valid: false, reason: dpop ?? 'invalid' };
    }
    const record =
      at === undefined || res.record.jkt != null
        ? res.record
        : cache!.store(parsed.tokenId, parsed.token, res.record, at);
    let verifiedAtMs = Date.now();
    if (res.nowMs !== undefined) {
      if (cache !== null) this.storeClockOffsetMs = res.nowMs - verifiedAtMs;
      verifiedAtMs = res.nowMs;
    }
    this.emit('verified', { record, renewed: res.renewed });
    return { valid: true, userId: record.userId, record, renewed: res.renewed, verifiedAtMs };
  }

  /**
   * Revokes one token given as its string (log out this device; the plugin's `expire_token`).
   * @returns true when a live token was revoked; false when it was malformed, unknown, or already gone.
   * @throws {StoreUnavailableError}
   */
  revoke(token: unknown): Promise<boolean> {
    if (!isTraced(tokenChannels.revoke)) return this.revokeToken(token, null);
    return traced('revoke', {}, (c) => this.revokeToken(token, c), settleRevoked);
  }

  /** revoke's body; `trace` (when traced) learns the token id and, from the record, the user id. */
  private async revokeToken(token: unknown, trace: TokenTraceContext | null): Promise<boolean> {
    const parsed = parseToken(token);
    if (!parsed) return false;
    if (trace) trace.tokenId = parsed.tokenId;
    const record = await this.run('revoke', () =>
      this.store.revokeToken({
        tokenId: parsed.tokenId,
        userTag: parsed.userTag,
        digests: this.keyRing.digestsOf(parsed.token),
        throttle: this.throttle,
      }),
    );
    if (!record) return false;
    if (trace) trace.userId = record.userId;
    this.forget([record.tokenId]);
    this.emit('revoked', { userId: record.userId, tokenIds: [record.tokenId], reason: 'logout' });
    return true;
  }

  /**
   * Revokes the token `tokenId` of `userId` (log out another device, or an admin acting on a user).
   * A token id of another user, or a string that is not a token id, is left alone (returns false).
   * @param options.reason carried by the `revoked` event; default `'admin'`.
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id or reason; a whole token
   *   given where its id is expected (use `revoke(token)`).
   * @throws {StoreUnavailableError}
   */
  revokeById(userId: UserIdInput, tokenId: string, options: { reason?: RevokeReason } = {}): Promise<boolean> {
    if (!isTraced(tokenChannels.revokeById)) return this.revokeTokenById(userId, tokenId, options);
    const ids = { userId: userIdOrNull(userId), tokenId: isTokenId(tokenId) ? tokenId : null };
    return traced('revokeById', ids, () => this.revokeTokenById(userId, tokenId, options), settleRevoked);
  }

  private async revokeTokenById(
    userId: UserIdInput,
    tokenId: string,
    options: { reason?: RevokeReason },
  ): Promise<boolean> {
    const uid = normalizeUserId(userId);
    checkOptionsObject('revokeById', options, ['reason']);
    if (typeof tokenId !== 'string')
      throw new InvalidArgumentTypeError(`revokeById: tokenId must be a string; got ${typeof tokenId}`);
    const reason = options.reason ?? 'admin';
    if (!REVOKE_REASONS.includes(reason))
      throw new InvalidArgumentValueError(`reason must be one of ${REVOKE_REASONS.join(', ')}`);
    notAWholeToken('revokeById', tokenId);
    if (!isTokenId(tokenId)) return false;
    const done = await this.run('revokeById', () => this.store.revokeById(uid, this.keyRing.userTag(uid), tokenId));
    if (done) {
      this.forget([tokenId]);
      this.emit('revoked', { userId: uid, tokenIds: [tokenId], reason });
    }
    return done;
  }

  /**
   * Revokes every token of the user (log out everywhere; the plugin's `expire_all_tokens`). A user with
   * no tokens is fine. Atomic: a login racing it either ends before (and is revoked) or after (and lives).
   * @returns the revoked token ids.
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id.
   * @throws {StoreUnavailableError}
   */
  revokeAll(userId: UserIdInput): Promise<string[]> {
    if (!isTraced(tokenChannels.revokeAll)) return this.revokeAllTokens(userId);
    return traced('revokeAll', { userId: userIdOrNull(userId) }, () => this.revokeAllTokens(userId), settleRevoked);
  }

  private async revokeAllTokens(userId: UserIdInput): Promise<string[]> {
    const uid = normalizeUserId(userId);
    const ids = await this.run('revokeAll', () => this.store.revokeAll(uid, this.keyRing.userTag(uid)));
    this.forget(ids);
    if (ids.length > 0) this.emit('revoked', { userId: uid, tokenIds: ids, reason: 'logout-all' });
    return ids;
  }

  /**
   * Revokes every token of the user but `currentTokenId` (log out other devices).
   * @returns the revoked token ids.
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id; `currentTokenId` not a token id.
   * @throws {StoreUnavailableError}
   */
  revokeOthers(userId: UserIdInput, currentTokenId: string): Promise<string[]> {
    if (!isTraced(tokenChannels.revokeOthers)) return this.revokeOtherTokens(userId, currentTokenId);
    const ids = { userId: userIdOrNull(userId), tokenId: isTokenId(currentTokenId) ? currentTokenId : null };
    return traced('revokeOthers', ids, () => this.revokeOtherTokens(userId, currentTokenId), settleRevoked);
  }

  private async revokeOtherTokens(userId: UserIdInput, currentTokenId: string): Promise<string[]> {
    const uid = normalizeUserId(userId);
    notAWholeToken('revokeOthers', currentTokenId);
    if (!isTokenId(currentTokenId))
      throw new InvalidArgumentValueError('currentTokenId must be a token id (24 characters)');
    const ids = await this.run('revokeOthers', () =>
      this.store.revokeAll(uid, this.keyRing.userTag(uid), currentTokenId),
    );
    this.forget(ids);
    if (ids.length > 0) this.emit('revoked', { userId: uid, tokenIds: ids, reason: 'logout-others' });
    return ids;
  }

  /**
   * The user's live tokens, newest first, without secrets; `currentTokenId` is marked `current`.
   * Tokens signed by a key no longer in the ring are left out (they can never verify again).
   *
   * With `limit` (1 to 1,000), one page: `{ tokens, nextCursor }`; pass `nextCursor` back as `cursor`
   * for the next page, until it is null. A page holds about `limit` tokens (the Redis store passes it
   * to HSCAN's COUNT: a user with few devices comes whole in one page), newest first within the page;
   * pages come in no particular order, and a token created or revoked while paging may be missed or
   * seen twice, as with Redis SCAN. A store without paging (`Store.listPage`) gives everything as one page.
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id; a whole token given as `currentTokenId`; a limit outside 1-1,000; a cursor that is not a string from `nextCursor`.
   * @throws {StoreUnavailableError}
   */
  list(userId: UserIdInput, options?: { currentTokenId?: string | null }): Promise<TokenInfo[]>;
  list(userId: UserIdInput, options: ListPageOptions): Promise<TokenPage>;
  list(userId: UserIdInput, options: ListOptions = {}): Promise<TokenInfo[] | TokenPage> {
    if (!isTraced(tokenChannels.list)) return this.listTokens(userId, options);
    return traced(
      'list',
      { userId: userIdOrNull(userId) },
      () => this.listTokens(userId, options),
      (_, r) => r,
    );
  }

  private async listTokens(userId: UserIdInput, options: ListOptions): Promise<TokenInfo[] | TokenPage> {
    const uid = normalizeUserId(userId);
    checkOptionsObject('list', options, ['currentTokenId', 'limit', 'cursor']);
    notAWholeToken('list', options.currentTokenId);
    const mark = (records: TokenRecord[]): TokenInfo[] =>
      records
        .sort((a, b) => b.createdAtMs - a.createdAtMs || (a.tokenId < b.tokenId ? -1 : 1))
        .map((r) => ({ ...r, current: r.tokenId === options.currentTokenId }));
    if (options.limit === undefined) {
      if (options.cursor != null) throw new InvalidArgumentValueError('list: `cursor` needs `limit`');
      return mark(await this.run('list', () => this.store.list(uid, this.keyRing.userTag(uid), this.keyRing.keyIds)));
    }
    const { limit, cursor = null } = options;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new InvalidArgumentValueError(
        `list: limit must be a whole number of tokens from 1 to 1000; got ${String(limit)}`,
      );
    if (cursor !== null && typeof cursor !== 'string')
      throw new InvalidArgumentTypeError(
        `list: cursor must be a string from nextCursor, or null; got ${typeof cursor}`,
      );
    const tag = this.keyRing.userTag(uid);
    const page = await this.run('list', async () => {
      if (this.store.listPage)
        return this.store.listPage({ userId: uid, userTag: tag, keyIds: this.keyRing.keyIds, cursor, limit });
      if (cursor !== null)
        throw new InvalidArgumentValueError('list: this store lists everything in one page; there is no next cursor');
      return { records: await this.store.list(uid, tag, this.keyRing.keyIds), cursor: null };
    });
    return { tokens: mark(page.records), nextCursor: page.cursor };
  }

  /**
   * Looks a token up for an operator (the CLI's `inspect`, e.g. for a token a secret scanner found):
   * whether it is well-formed, whether a live token has its id, and whether its secret matches (it
   * would verify). Unlike {@link TokenManager.verify} it changes nothing: no renewal, no last-used
   * write, no wrong-secret counting, no event. A malformed value costs no I/O.
   * @throws {StoreUnavailableError} the store cannot be reached.
   */
  async inspect(token: unknown): Promise<InspectResult> {
    const parsed = parseToken(token);
    if (!parsed) return { wellFormed: false };
    const found = await this.run('inspect', () =>
      this.store.lookup({
        tokenId: parsed.tokenId,
        userTag: parsed.userTag,
        digests: this.keyRing.digestsOf(parsed.token),
      }),
    );
    if (!found) return { wellFormed: true, tokenId: parsed.tokenId, found: false };
    return {
      wellFormed: true,
      tokenId: parsed.tokenId,
      found: true,
      valid: found.digestMatches === true,
      record: found.record,
    };
  }

  /**
   * Step-up (RFC 9470): records that the user of token `tokenId` has just proved who they are again,
   * after the app re-checked the password or a second factor. Sets the token's `authenticatedAtMs` to
   * now (the store's clock) and its `acr` to `options.acr` (null when not given), in one atomic store
   * step; routes with a step-up requirement then let the token through for their `maxAgeSeconds`.
   * The token is named by its user and id (what every adapter's `auth` holds: `auth.userId`,
   * `auth.token.tokenId`), not by the token string, so an app never has to keep the string around.
   * A revoked, expired or unknown token, or one of another user, is left alone (returns null: never
   * resurrected). Emits `reauthenticated`.
   * @returns the updated record, or null.
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id, a whole token given as
   *   `tokenId`, an `acr` that is not 1-64 printable ASCII characters without spaces, an unknown option.
   * @throws {StoreUnavailableError}
   */
  async reauthenticate(
    userId: UserIdInput,
    tokenId: string,
    options: ReauthenticateOptions = {},
  ): Promise<TokenRecord | null> {
    const uid = normalizeUserId(userId);
    checkOptionsObject('reauthenticate', options, ['acr']);
    if (typeof tokenId !== 'string')
      throw new InvalidArgumentTypeError(`reauthenticate: tokenId must be a string; got ${typeof tokenId}`);
    notAWholeToken('reauthenticate', tokenId);
    const acr = acrOption(options.acr);
    if (!isTokenId(tokenId)) return null;
    const record = await this.run('reauthenticate', () =>
      this.store.reauthenticate({ userId: uid, userTag: this.keyRing.userTag(uid), tokenId, acr }),
    );
    // This process's cache drops the old record (its older authentication time would refuse the retry);
    // other processes' entries are at most maxStalenessMs old and only err on the strict side.
    this.forget([tokenId]);
    if (record) this.emit('reauthenticated', { record });
    return record;
  }

  /**
   * Checks that the store can serve requests now, e.g. for a `/health` endpoint or at start-up: Redis
   * answers and is configured safely. Also emits `storeRecovered` after an outage.
   * @throws {StoreUnavailableError} (or its `StoreMisconfiguredError`) when it cannot.
   */
  async checkHealth(): Promise<void> {
    await this.run('checkHealth', async () => {
      await this.store.ping?.();
    });
  }

  /**
   * The user tag of `userId` (8 hex digits; see `userTagSecret`): the hash tag of the user's Redis keys,
   * e.g. for operators looking for a user's keys.
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id.
   */
  userTag(userId: UserIdInput): string {
    return this.keyRing.userTag(normalizeUserId(userId));
  }

  /** Stops the verify cache's revocation watch (its subscriber connection and heartbeat), then closes the store if the store opened its own connection (a client the app handed in is left open). */
  async close(): Promise<void> {
    await this.cache?.close();
    await this.store.close?.();
  }

  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    let value: T;
    try {
      value = await fn();
    } catch (error) {
      throw this.failed(operation, error);
    }
    if (this.storeDown) this.recovered(operation);
    return value;
  }

  /** Checks `create`'s `jkt` option; null for a bearer token. @throws {InvalidDpopProofError} none under `requireDpop`. */
  private jktOption(jkt: unknown): string | null {
    if (jkt === undefined || jkt === null) {
      if (this.requireDpop)
        throw new InvalidDpopProofError(
          'a DPoP proof is required to log in (requireDpop): send a `DPoP` header with the login request',
        );
      return null;
    }
    if (typeof jkt !== 'string')
      throw new InvalidArgumentTypeError(`create: jkt must be a string (a JWK thumbprint); got ${typeof jkt}`);
    if (!JKT_RE.test(jkt))
      throw new InvalidArgumentValueError(
        'create: jkt must be a JWK SHA-256 thumbprint (RFC 7638): 43 base64url characters',
      );
    return jkt;
  }

  /** Emits `storeRecovered` (the first success after `storeUnavailable`). */
  private recovered(operation: string): void {
    this.storeDown = false;
    this.emit('storeRecovered', { operation });
  }

  /** Emits `storeUnavailable` once per outage; returns `error` to rethrow. */
  private failed(operation: string, error: unknown): unknown {
    if (error instanceof StoreUnavailableError && !this.storeDown) {
      this.storeDown = true;
      this.emit('storeUnavailable', { operation, error });
    }
    return error;
  }
}
