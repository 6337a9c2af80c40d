/**
 * redis-multitokens: one opaque bearer token per device for each user, stored as HMAC digests in
 * Redis (or, by default, in this process's memory).
 *
 * ```ts
 * import { TokenManager } from 'redis-multitokens';
 * const tokens = new TokenManager({ secret: process.env.TOKEN_SECRET! });
 * const { token } = await tokens.create(user.id, { deviceName: 'laptop' });
 * ```
 * @packageDocumentation
 */
import { TokenManager as CoreTokenManager, type TokenManagerOptions as CoreOptions } from './core/manager.js';
import type { Store } from './core/store.js';
import { MemoryStore } from './stores/memory.js';

/** Options of {@link TokenManager}; as the core's, but `store` defaults to a new {@link MemoryStore}. */
export interface TokenManagerOptions extends Omit<CoreOptions, 'store'> {
  /** Where tokens live: a `RedisStore` (from `redis-multitokens/redis`, with a driver from `/ioredis` or `/node-redis`) or any {@link Store}. Default: a new `MemoryStore` (one process only). */
  store?: Store;
}

/**
 * The token manager: create, verify, revoke, revokeById, revokeAll, revokeOthers, list, reauthenticate.
 * See the core class for every method's shapes, units and errors.
 */
export class TokenManager extends CoreTokenManager {
  /** @throws {InvalidArgumentTypeError | InvalidArgumentValueError} a bad option, named in the message (no secret, a secret under 32 bytes, a negative TTL...). */
  constructor(options: TokenManagerOptions) {
    super({ ...options, store: options?.store ?? new MemoryStore() } as CoreOptions);
  }
}

export {
  DEFAULT_TTL_SECONDS,
  DEFAULT_TOUCH_INTERVAL_SECONDS,
  DEFAULT_MAX_METADATA_BYTES,
  DEFAULT_MAX_TOKENS_PER_USER,
  MAX_TOKENS_PER_USER_LIMIT,
  type CreateTokenOptions,
  type ReauthenticateOptions,
  type CreatedToken,
  type VerifyResult,
  type InspectResult,
  type VerifyOptions,
  type DpopRefusal,
  type TokenEvents,
} from './core/manager.js';
export {
  DEFAULT_VERIFY_CACHE_MAX_ENTRIES,
  DEFAULT_VERIFY_CACHE_MAX_STALENESS_MS,
  type VerifyCacheOptions,
  type VerifyCacheStats,
} from './core/verify-cache.js';
export * from './core/errors.js';
export { logTokenEvents, type TokenLogger, type TokenLogFn } from './core/logging.js';
export {
  TOKEN_TRACING_CHANNELS,
  subscribeTokenTracing,
  type TokenTraceContext,
  type TokenTracingHandlers,
  type TracedOperation,
  type TraceOutcome,
} from './core/tracing.js';
export * from './core/types.js';
export type { Register, RegisteredUser } from './core/register.js';
export type * from './core/store.js';
export {
  KeyRing,
  digestsEqual,
  MIN_SECRET_BYTES,
  type SecretKey,
  type SecretOption,
  type TokenDigest,
} from './core/key-ring.js';
export {
  parseToken,
  isTokenId,
  TOKEN_PREFIX,
  TOKEN_LENGTH,
  TOKEN_ID_LENGTH,
  type ParsedToken,
} from './core/token-format.js';
export { normalizeUserId, MAX_USER_ID_LENGTH, type UserIdInput } from './core/user-id.js';
export { MAX_DURATION_SECONDS } from './core/options.js';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory.js';
/**
 * @deprecated since 0.2: import `RedisStore` from `redis-multitokens/redis` (the Redis store, its
 * `RedisDriver` interface and its key layout moved there; see CHANGELOG.md). Removed in 1.0.
 */
export { RedisStore } from './stores/redis/store.js';
/** @deprecated since 0.2: import `RedisKeys` from `redis-multitokens/redis`. Removed in 1.0. */
export { RedisKeys } from './stores/redis/keys.js';
