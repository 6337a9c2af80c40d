/**
 * Error classes with stable `code` strings (after panva/jose `util/errors.ts`).
 *
 * Rule of the library: an invalid, expired or revoked token is a *result*
 * (`{ valid: false }`), never an exception; exceptions are for faults
 * (store unreachable, bad configuration, bad arguments, policy refusals).
 *
 * @packageDocumentation
 */

/** Base class of every error this library throws on purpose. `code` is stable across versions. */
export class RedisMultitokensError extends Error {
  /** Stable machine-readable code, e.g. `ERR_STORE_UNAVAILABLE`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The token store (Redis) could not be reached, timed out, or is not ready.
 * HTTP adapters turn it into `503 Service Unavailable` with `Retry-After` (fail closed:
 * an outage never looks like bad credentials). `cause` holds the client's error;
 * the message names the Redis client and endpoint (`host:port`) but never a password, a token or a key.
 */
export class StoreUnavailableError extends RedisMultitokensError {
  constructor(message = 'token store unavailable', options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'ERR_STORE_UNAVAILABLE', message, options);
  }
}

/**
 * The store refuses to work because its server is configured to lose data the library relies on:
 * a Redis `maxmemory-policy` other than `noeviction` could evict a user's index while the tokens stay,
 * and "log out everywhere" would then miss them. A kind of {@link StoreUnavailableError} (HTTP 503:
 * fail closed), with code `ERR_STORE_EVICTION_POLICY`.
 */
export class StoreMisconfiguredError extends StoreUnavailableError {
  constructor(message: string) {
    super(message, { code: 'ERR_STORE_EVICTION_POLICY' });
  }
}

/**
 * Creating a token would exceed `maxTokensPerUser` and `limitPolicy` is `'reject'`.
 * `limit` is the configured maximum number of live tokens per user.
 */
export class TokenLimitError extends RedisMultitokensError {
  readonly limit: number;
  constructor(limit: number) {
    super(
      'ERR_TOKEN_LIMIT',
      `the user is at the limit of ${limit} live tokens (maxTokensPerUser = ${limit}, limitPolicy = 'reject'): revoke one first`,
    );
    this.limit = limit;
  }
}

/** Options or arguments of the wrong type (a `TypeError` with a stable `code`). */
export class InvalidArgumentTypeError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_TYPE';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentTypeError';
  }
}

/** Options or arguments out of range (a `RangeError` with a stable `code`). */
export class InvalidArgumentValueError extends RangeError {
  readonly code = 'ERR_INVALID_ARG_VALUE';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentValueError';
  }
}
