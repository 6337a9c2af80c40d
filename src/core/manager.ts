import { EventEmitter } from 'node:events';
import { InvalidArgumentTypeError, InvalidArgumentValueError, StoreUnavailableError, TokenLimitError } from './errors.js';
import { KeyRing, type SecretOption } from './key-ring.js';
import {
  booleanOption,
  rejectUnknownOptions,
  countOption,
  enumOption,
  metadataOption,
  optionalText,
  scopesOption,
  secondsOption,
} from './options.js';
import type { Store, StoreRenewalPolicy, StoreThrottlePolicy } from './store.js';
import { generateToken, isTokenId, parseToken } from './token-format.js';
import type { AuthFailureReason, LimitPolicy, RenewMode, RevokeReason, TokenInfo, TokenRecord } from './types.js';
import { normalizeUserId, type UserIdInput } from './user-id.js';

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
   * used token (ranked by last use; see the README, "Device limit", for how a use within
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
}

const MANAGER_OPTIONS = [
  'store', 'secret', 'userTagSecret', 'ttlSeconds', 'renew', 'overwriteNoneTtl', 'touchIntervalSeconds', 'absoluteLifetimeSeconds',
  'maxTokensPerUser', 'limitPolicy', 'maxMetadataBytes', 'maxFailedVerifications', 'failedVerificationWindowSeconds',
] as const;
const CREATE_OPTIONS = ['deviceName', 'userAgent', 'ip', 'scopes', 'metadata', 'ttlSeconds'] as const;
const REVOKE_REASONS: readonly RevokeReason[] = ['logout', 'logout-all', 'logout-others', 'evicted', 'admin'];

/** An options argument must be an object (or omitted) with known keys only. */
function checkOptionsObject(where: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentTypeError(`${where}: options must be an object`);
  rejectUnknownOptions(where, options, known);
}

/** A whole token where its public id is expected is a programming error worth a loud one. */
function notAWholeToken(where: string, value: unknown): void {
  if (parseToken(value))
    throw new InvalidArgumentValueError(`${where} takes a token id (record.tokenId, 24 characters), not the token itself; to revoke by the token use revoke(token)`);
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
  | { valid: true; userId: string; record: TokenRecord; renewed: boolean }
  | {
      valid: false;
      /**
       * `'malformed'`: not a token of this format (no store access happened). `'invalid'`: unknown,
       * expired, revoked, wrong secret, or refused for too many wrong secrets (`authFailed` tells which).
       */
      reason: 'malformed' | 'invalid';
    };

/**
 * Events of {@link TokenManager}, with their payloads. None ever carries a token string.
 * Typed listeners (`manager.on('verified', (e) => ...)`) need `@types/node` 20.11.21 or later, the first
 * with the generic `EventEmitter<T>` (DefinitelyTyped PR 68313); with an older one `TokenManager` does not
 * type-check (or, under `skipLibCheck`, its listeners are untyped).
 */
export interface TokenEvents {
  created: [event: { record: TokenRecord; first: boolean; evictedTokenIds: string[] }];
  verified: [event: { record: TokenRecord; renewed: boolean }];
  revoked: [event: { userId: string; tokenIds: string[]; reason: RevokeReason }];
  authFailed: [event: { reason: AuthFailureReason; tokenId: string | null }];
  /** The store failed after working (or at its first call): once per outage, not once per failed call. */
  storeUnavailable: [event: { operation: string; error: Error }];
  /** The first success after `storeUnavailable`. */
  storeRecovered: [event: { operation: string }];
}

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
  private storeDown = false;

  /**
   * @throws {InvalidArgumentTypeError} an option of the wrong type, or no `store` / `secret`.
   * @throws {InvalidArgumentValueError} an option out of range (the message names the option).
   */
  constructor(options: TokenManagerOptions) {
    super();
    if (!options || typeof options !== 'object') throw new InvalidArgumentTypeError('TokenManager options must be an object with at least `secret`');
    rejectUnknownOptions('TokenManager', options, MANAGER_OPTIONS);
    const store = options.store;
    if (!store || typeof store.verify !== 'function' || typeof store.create !== 'function')
      throw new InvalidArgumentTypeError('store must implement the Store interface (create, verify, revokeToken, revokeById, revokeAll, list)');
    if (options.secret === undefined || options.secret === null || options.secret === '')
      throw new InvalidArgumentTypeError('secret is required: pass at least 32 random bytes (the `secret` option)');
    this.store = store;
    this.keyRing = new KeyRing(options.secret, options.userTagSecret);
    this.ttlMs = secondsOption('ttlSeconds', options.ttlSeconds, { allowNull: true, min: 1, fallback: DEFAULT_TTL_SECONDS });
    this.absoluteLifetimeMs = secondsOption('absoluteLifetimeSeconds', options.absoluteLifetimeSeconds, { allowNull: true, min: 1, fallback: null });
    this.maxTokens = countOption('maxTokensPerUser', options.maxTokensPerUser, { allowNull: true, min: 1, max: MAX_TOKENS_PER_USER_LIMIT, fallback: DEFAULT_MAX_TOKENS_PER_USER });
    this.limitPolicy = enumOption('limitPolicy', options.limitPolicy, ['evict-lru', 'reject'] as const, 'evict-lru');
    this.maxMetadataBytes = countOption('maxMetadataBytes', options.maxMetadataBytes, { allowNull: false, min: 0, max: 65536, fallback: DEFAULT_MAX_METADATA_BYTES })!;
    this.renewal = {
      mode: enumOption('renew', options.renew, ['off', 'token', 'user'] as const, 'token'),
      ttlMs: this.ttlMs,
      overwriteNoneTtl: booleanOption('overwriteNoneTtl', options.overwriteNoneTtl, true),
      touchIntervalMs: secondsOption('touchIntervalSeconds', options.touchIntervalSeconds, { allowNull: false, min: 0, fallback: DEFAULT_TOUCH_INTERVAL_SECONDS })!,
    };
    const maxFailures = countOption('maxFailedVerifications', options.maxFailedVerifications, { allowNull: true, min: 1, max: 10_000, fallback: DEFAULT_MAX_FAILED_VERIFICATIONS });
    const windowSeconds = countOption('failedVerificationWindowSeconds', options.failedVerificationWindowSeconds, { allowNull: false, min: 1, max: 86_400, fallback: DEFAULT_FAILED_VERIFICATION_WINDOW_SECONDS })!;
    this.throttle = maxFailures === null ? null : { maxFailures, windowMs: windowSeconds * 1000 };
  }

  /**
   * Creates a token for a new device of `userId` (one atomic step in the store).
   * @param userId the user: a string, safe integer or bigint (`42` and `"42"` are one user).
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id or option.
   * @throws {TokenLimitError} the user is at `maxTokensPerUser` and `limitPolicy` is `'reject'`.
   * @throws {StoreUnavailableError} the store cannot be reached.
   */
  async create(userId: UserIdInput, options: CreateTokenOptions = {}): Promise<CreatedToken> {
    const uid = normalizeUserId(userId);
    if (!options || typeof options !== 'object') throw new InvalidArgumentTypeError('create options must be an object');
    rejectUnknownOptions('create', options, CREATE_OPTIONS);
    let ttlMs = this.ttlMs;
    const ttlIsOverride = options.ttlSeconds !== undefined;
    if (ttlIsOverride) ttlMs = secondsOption('ttlSeconds', options.ttlSeconds, { allowNull: true, min: 1, fallback: null });
    const input = {
      userId: uid,
      deviceName: optionalText('deviceName', options.deviceName, 200),
      userAgent: optionalText('userAgent', options.userAgent, 512),
      ip: optionalText('ip', options.ip, 64),
      scopes: scopesOption(options.scopes),
      metadataJson: metadataOption(options.metadata, this.maxMetadataBytes),
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
    if (evictedTokenIds.length > 0) this.emit('revoked', { userId: uid, tokenIds: evictedTokenIds, reason: 'evicted' });
    this.emit('created', { record, first, evictedTokenIds });
    return { token: generated.token, tokenId: generated.tokenId, first, record, evictedTokenIds };
  }

  /**
   * Verifies a token: one store round trip, renewal included; a malformed value costs no I/O.
   * @param token any value (non-strings are `malformed`).
   * @returns `{ valid: true, userId, record, renewed }` or `{ valid: false, reason }`.
   * @throws {StoreUnavailableError} the store cannot be reached (never reported as invalid).
   */
  async verify(token: unknown): Promise<VerifyResult> {
    const parsed = parseToken(token);
    if (!parsed) {
      this.emit('authFailed', { reason: 'malformed', tokenId: null });
      return { valid: false, reason: 'malformed' };
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
      });
    } catch (error) {
      throw this.failed('verify', error);
    }
    if (this.storeDown) this.recovered('verify');
    if (res.status !== 'valid') {
      this.emit('authFailed', { reason: res.status === 'throttled' ? 'throttled' : 'invalid', tokenId: parsed.tokenId });
      return { valid: false, reason: 'invalid' };
    }
    this.emit('verified', { record: res.record, renewed: res.renewed });
    return { valid: true, userId: res.record.userId, record: res.record, renewed: res.renewed };
  }

  /**
   * Revokes one token given as its string (log out this device; the plugin's `expire_token`).
   * @returns true when a live token was revoked; false when it was malformed, unknown, or already gone.
   * @throws {StoreUnavailableError}
   */
  async revoke(token: unknown): Promise<boolean> {
    const parsed = parseToken(token);
    if (!parsed) return false;
    const record = await this.run('revoke', () =>
      this.store.revokeToken({ tokenId: parsed.tokenId, userTag: parsed.userTag, digests: this.keyRing.digestsOf(parsed.token), throttle: this.throttle }),
    );
    if (!record) return false;
    this.emit('revoked', { userId: record.userId, tokenIds: [record.tokenId], reason: 'logout' });
    return true;
  }

  /**
   * Revokes the token `tokenId` of `userId` (log out another device, or an admin acting on a user).
   * A token id of another user, or a string that is not a token id, is left alone (returns false).
   * @param reason carried by the `revoked` event; default `'admin'`.
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id or reason; a whole token
   *   given where its id is expected (use `revoke(token)`).
   * @throws {StoreUnavailableError}
   */
  async revokeById(userId: UserIdInput, tokenId: string, options: { reason?: RevokeReason } = {}): Promise<boolean> {
    const uid = normalizeUserId(userId);
    checkOptionsObject('revokeById', options, ['reason']);
    if (typeof tokenId !== 'string') throw new InvalidArgumentTypeError(`revokeById: tokenId must be a string; got ${typeof tokenId}`);
    const reason = options.reason ?? 'admin';
    if (!REVOKE_REASONS.includes(reason)) throw new InvalidArgumentValueError(`reason must be one of ${REVOKE_REASONS.join(', ')}`);
    notAWholeToken('revokeById', tokenId);
    if (!isTokenId(tokenId)) return false;
    const done = await this.run('revokeById', () => this.store.revokeById(uid, this.keyRing.userTag(uid), tokenId));
    if (done) this.emit('revoked', { userId: uid, tokenIds: [tokenId], reason });
    return done;
  }

  /**
   * Revokes every token of the user (log out everywhere; the plugin's `expire_all_tokens`). A user with
   * no tokens is fine. Atomic: a login racing it either ends before (and is revoked) or after (and lives).
   * @returns the revoked token ids.
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id.
   * @throws {StoreUnavailableError}
   */
  async revokeAll(userId: UserIdInput): Promise<string[]> {
    const uid = normalizeUserId(userId);
    const ids = await this.run('revokeAll', () => this.store.revokeAll(uid, this.keyRing.userTag(uid)));
    if (ids.length > 0) this.emit('revoked', { userId: uid, tokenIds: ids, reason: 'logout-all' });
    return ids;
  }

  /**
   * Revokes every token of the user but `currentTokenId` (log out other devices).
   * @returns the revoked token ids.
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id; `currentTokenId` not a token id.
   * @throws {StoreUnavailableError}
   */
  async revokeOthers(userId: UserIdInput, currentTokenId: string): Promise<string[]> {
    const uid = normalizeUserId(userId);
    notAWholeToken('revokeOthers', currentTokenId);
    if (!isTokenId(currentTokenId)) throw new InvalidArgumentValueError('currentTokenId must be a token id (24 characters)');
    const ids = await this.run('revokeOthers', () => this.store.revokeAll(uid, this.keyRing.userTag(uid), currentTokenId));
    if (ids.length > 0) this.emit('revoked', { userId: uid, tokenIds: ids, reason: 'logout-others' });
    return ids;
  }

  /**
   * The user's live tokens, newest first, without secrets; `currentTokenId` is marked `current`.
   * Tokens signed by a key no longer in the ring are left out (they can never verify again).
   * @throws {InvalidArgumentTypeError | InvalidArgumentValueError} bad user id; a whole token given as `currentTokenId`.
   * @throws {StoreUnavailableError}
   */
  async list(userId: UserIdInput, options: { currentTokenId?: string | null } = {}): Promise<TokenInfo[]> {
    const uid = normalizeUserId(userId);
    checkOptionsObject('list', options, ['currentTokenId']);
    notAWholeToken('list', options.currentTokenId);
    const records = await this.run('list', () => this.store.list(uid, this.keyRing.userTag(uid), this.keyRing.keyIds));
    return records
      .sort((a, b) => b.createdAtMs - a.createdAtMs || (a.tokenId < b.tokenId ? -1 : 1))
      .map((r) => ({ ...r, current: r.tokenId === options.currentTokenId }));
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

  /** Closes the store if the store opened its own connection (a client the app handed in is left open). */
  async close(): Promise<void> {
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
