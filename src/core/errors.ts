/**
 * Error classes with stable `code` strings (after panva/jose `util/errors.ts`), each carrying its HTTP
 * meaning in the Node ecosystem's convention (`status`, `statusCode`, `headers`, `expose`: the fields
 * http-errors defines and Express's finalhandler, Fastify's default error handler and Koa's
 * `ctx.onerror` read), so no framework turns a Redis outage into a 500.
 *
 * Rule of the library: an invalid, expired or revoked token is a *result*
 * (`{ valid: false }`), never an exception; exceptions are for faults
 * (store unreachable, bad configuration, bad arguments, policy refusals).
 *
 * `instanceof` works across copies of the package: an app that loads the ESM build and a CommonJS
 * adapter (the dual-package hazard) has two copies of each class. Every error carries a brand under
 * `Symbol.for('redis-multitokens.error')` listing its kinds, and each class's `Symbol.hasInstance`
 * accepts any error whose brand names it, so `error instanceof StoreUnavailableError` holds whichever
 * copy threw it.
 *
 * @packageDocumentation
 */

/** Seconds a client is told to wait (`Retry-After`, RFC 9110 §10.2.3) when the token store is down. */
export const RETRY_AFTER_SECONDS = 1;

/** The registry key of the brand (shared by every copy of the package in one process). */
const BRAND: unique symbol = Symbol.for('redis-multitokens.error') as never;

type Kind =
  | 'RedisMultitokensError'
  | 'StoreUnavailableError'
  | 'StoreMisconfiguredError'
  | 'TokenLimitError'
  | 'InvalidArgumentTypeError'
  | 'InvalidArgumentValueError'
  | 'InvalidDpopProofError';

/** Header names and values an error asks the HTTP answer to carry. */
export type ErrorHeaders = Readonly<Record<string, string>>;

/** The kinds an error of this library declares (from any copy of the package), or null for other values. */
export function errorKinds(value: unknown): readonly string[] | null {
  if (typeof value !== 'object' || value === null) return null;
  const kinds = (value as { [BRAND]?: unknown })[BRAND];
  return Array.isArray(kinds) ? (kinds as string[]) : null;
}

/** True when `value` is an error thrown by this library (any copy of it: ESM or CommonJS, any entry). */
export function isRedisMultitokensError(
  value: unknown,
): value is RedisMultitokensError | InvalidArgumentTypeError | InvalidArgumentValueError {
  return errorKinds(value) !== null;
}

/** Brands `error` with the kinds of `ctor` and of every library class it extends. */
function brand(error: object, ctor: unknown): void {
  const kinds: string[] = [];
  for (
    let c = ctor as { kind?: unknown } | null;
    c && c !== Function.prototype;
    c = Object.getPrototypeOf(c) as { kind?: unknown } | null
  )
    if (Object.hasOwn(c, 'kind') && typeof c.kind === 'string') kinds.push(c.kind);
  Object.defineProperty(error, BRAND, { value: Object.freeze(kinds), enumerable: false });
}

/** `instanceof` for the classes below: this copy's prototype chain, or the brand of any copy. */
function hasInstance(ctor: { kind?: unknown; prototype: unknown }, value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(ctor, value)) return true;
  const kinds = errorKinds(value);
  return kinds !== null && Object.hasOwn(ctor, 'kind') && kinds.includes(ctor.kind as string);
}

const NO_STORE: ErrorHeaders = Object.freeze({ 'Cache-Control': 'no-store' });

/**
 * Base class of every error this library throws on purpose (except argument errors, which are a
 * `TypeError` / `RangeError`: see {@link InvalidArgumentTypeError}). `code` is stable across versions.
 * Its own HTTP meaning is 500 with `expose: false`; the subclasses below set theirs.
 */
export class RedisMultitokensError extends Error {
  /** @internal Brand name of this class (stable; used by `instanceof` across package copies). */
  static readonly kind: Kind = 'RedisMultitokensError';
  /** `instanceof` that also accepts this class's errors thrown by another copy of the package (ESM or CommonJS), by their brand. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass `instanceof` asks about (they inherit this method).
    return hasInstance(this, value);
  }
  /** Stable machine-readable code, e.g. `ERR_STORE_UNAVAILABLE`. */
  readonly code: string;
  /** HTTP status code of the answer this error calls for (RFC 9110 §15). */
  readonly status: number = 500;
  /** Same as `status` (Fastify and Node's `res.statusCode` use this name). */
  get statusCode(): number {
    return this.status;
  }
  /** Response headers the answer must carry (e.g. `Retry-After`), as http-errors' `headers`. */
  readonly headers: ErrorHeaders = NO_STORE;
  /** Whether the message may be shown to the client (http-errors convention: true for 4xx, false for 5xx). */
  readonly expose: boolean = false;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    brand(this, new.target);
  }
}

/**
 * The token store (Redis) could not be reached, timed out, or is not ready.
 * HTTP meaning: `503 Service Unavailable` (RFC 9110 §15.6.4) with `Retry-After:` {@link RETRY_AFTER_SECONDS}
 * and `Cache-Control: no-store`, `expose: false` (fail closed: an outage never looks like bad
 * credentials, and never like a 500). `cause` holds a copy of the client's error (name, message, stack,
 * code; never the command's arguments); the message names the Redis client and endpoint (`host:port`)
 * but never a password, a token or a key. Code `ERR_STORE_UNAVAILABLE`, or `ERR_STORE_CLOSED` for a
 * store used after its `close()`.
 */
export class StoreUnavailableError extends RedisMultitokensError {
  /** @internal */
  static override readonly kind: Kind = 'StoreUnavailableError';
  override readonly status: number = 503;
  override readonly headers: ErrorHeaders = Object.freeze({
    'Retry-After': String(RETRY_AFTER_SECONDS),
    'Cache-Control': 'no-store',
  });
  constructor(message = 'token store unavailable', options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'ERR_STORE_UNAVAILABLE', message, options);
  }
}

/**
 * The store refuses to work because its server is configured in a way the library cannot use safely.
 * A kind of {@link StoreUnavailableError} (HTTP 503 with `Retry-After` and `Cache-Control: no-store`:
 * fail closed). Codes:
 * - `ERR_STORE_EVICTION_POLICY` (the default): a Redis `maxmemory-policy` other than `noeviction` could
 *   evict a user's index while the tokens stay, and "log out everywhere" would then miss them;
 * - `ERR_STORE_DATABASE`: the Redis database the client is configured for does not exist on the server
 *   (ioredis would silently use database 0 instead).
 */
export class StoreMisconfiguredError extends StoreUnavailableError {
  /** @internal */
  static override readonly kind: Kind = 'StoreMisconfiguredError';
  constructor(message: string, options?: { code?: 'ERR_STORE_EVICTION_POLICY' | 'ERR_STORE_DATABASE' }) {
    super(message, { code: options?.code ?? 'ERR_STORE_EVICTION_POLICY' });
  }
}

/**
 * Creating a token would exceed `maxTokensPerUser` and `limitPolicy` is `'reject'`.
 * `limit` is the configured maximum number of live tokens per user.
 *
 * HTTP meaning: `403 Forbidden` (RFC 9110 §15.5.4), reason `token_limit`, `expose: true`. Not
 * `429 Too Many Requests`: 429 (RFC 6585 §4) says the client sent too many requests in a span of time
 * and may retry later, and clients and proxies retry it on their own, while this refusal does not
 * clear with time; it lasts until the user logs out a device (or one expires), so retrying is useless.
 */
export class TokenLimitError extends RedisMultitokensError {
  /** @internal */
  static override readonly kind: Kind = 'TokenLimitError';
  override readonly status: number = 403;
  override readonly expose: boolean = true;
  /** The `maxTokensPerUser` the user is at (live tokens per user). */
  readonly limit: number;
  constructor(limit: number) {
    super(
      'ERR_TOKEN_LIMIT',
      `the user is at the limit of ${limit} live tokens (maxTokensPerUser = ${limit}, limitPolicy = 'reject'): revoke one first`,
    );
    this.limit = limit;
  }
}

/**
 * Options or arguments of the wrong type (a `TypeError` with a stable `code`).
 * HTTP meaning: `400 Bad Request` (RFC 9110 §15.5.1), `expose: true` (the message names the argument
 * and never holds a token). Thrown at start-up for bad options, or by `create`/`list`/... for bad input.
 */
export class InvalidArgumentTypeError extends TypeError {
  /** @internal */
  static readonly kind: Kind = 'InvalidArgumentTypeError';
  /** `instanceof` that also accepts this class's errors thrown by another copy of the package (ESM or CommonJS), by their brand. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass `instanceof` asks about (they inherit this method).
    return hasInstance(this, value);
  }
  /** Stable error code, as Node's own `ERR_INVALID_ARG_TYPE`. */
  readonly code = 'ERR_INVALID_ARG_TYPE';
  /** HTTP status code: 400. */
  readonly status: number = 400;
  /** Same as `status`. */
  get statusCode(): number {
    return this.status;
  }
  /** `Cache-Control: no-store`. */
  readonly headers: ErrorHeaders = NO_STORE;
  /** True: the message is safe to show to the client. */
  readonly expose: boolean = true;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentTypeError';
    brand(this, new.target);
  }
}

/**
 * Options or arguments out of range (a `RangeError` with a stable `code`).
 * HTTP meaning: `400 Bad Request` (RFC 9110 §15.5.1), `expose: true`.
 */
export class InvalidArgumentValueError extends RangeError {
  /** @internal */
  static readonly kind: Kind = 'InvalidArgumentValueError';
  /** `instanceof` that also accepts this class's errors thrown by another copy of the package (ESM or CommonJS), by their brand. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass `instanceof` asks about (they inherit this method).
    return hasInstance(this, value);
  }
  /** Stable error code, as Node's own `ERR_INVALID_ARG_VALUE`. */
  readonly code = 'ERR_INVALID_ARG_VALUE';
  /** HTTP status code: 400. */
  readonly status: number = 400;
  /** Same as `status`. */
  get statusCode(): number {
    return this.status;
  }
  /** `Cache-Control: no-store`. */
  readonly headers: ErrorHeaders = NO_STORE;
  /** True: the message is safe to show to the client. */
  readonly expose: boolean = true;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentValueError';
    brand(this, new.target);
  }
}

/**
 * A login request's DPoP proof (RFC 9449) is missing where binding is required (`requireDpop`), or is
 * present but not valid (does not parse, too big, an algorithm not accepted, a bad signature, not for
 * this request, not fresh). Code `ERR_INVALID_DPOP_PROOF`.
 *
 * HTTP meaning: `400 Bad Request` with the body's `error` `invalid_dpop_proof`, as RFC 9449 §5 has the
 * token endpoint answer (a login route is this library's token endpoint); `expose: true` (the message
 * says which check failed, never a token). Requests to protected routes never throw it: they get a 401
 * `WWW-Authenticate: DPoP error="invalid_dpop_proof"` answer instead (RFC 9449 §7.1).
 */
export class InvalidDpopProofError extends RedisMultitokensError {
  static override readonly kind: Kind = 'InvalidDpopProofError';
  override readonly status: number = 400;
  override readonly expose: boolean = true;
  constructor(message: string) {
    super('ERR_INVALID_DPOP_PROOF', message);
  }
}
