/**
 * What the token manager publishes on Node's `diagnostics_channel`: one tracing channel per operation
 * (Node's `tracingChannel`, stable since Node 20; https://nodejs.org/api/diagnostics_channel.html#class-tracingchannel).
 *
 * Channel `redis-multitokens:<operation>` gives the five channels `tracing:redis-multitokens:<operation>:start`,
 * `:end`, `:asyncStart`, `:asyncEnd` and `:error`, all carrying one {@link TokenTraceContext} object per
 * call. When nobody subscribes, a call builds nothing (the manager checks {@link isTraced} first).
 *
 * The context never holds a token string or a secret: the `result` that `tracePromise` stores is the
 * operation's result with the token left out (see {@link TokenTraceContext.result}).
 *
 * @packageDocumentation
 */
import { tracingChannel, type TracingChannel } from 'node:diagnostics_channel';
import { normalizeUserId, type UserIdInput } from './user-id.js';

/** The traced operations, one tracing channel each. The four revoke variants are four channels. */
export type TracedOperation = 'create' | 'verify' | 'revoke' | 'revokeById' | 'revokeAll' | 'revokeOthers' | 'list';

/**
 * How a traced call ended, set just before `asyncEnd`:
 * - `'ok'`: create, list and the revokes that succeeded (a revoke that found nothing is `'ok'` too:
 *   see `revokedCount`);
 * - `'valid'` / `'invalid'`: verify (with `reason`);
 * - `'error'`: the call threw (`reason` is the error's `code`, e.g. `ERR_STORE_UNAVAILABLE`).
 */
export type TraceOutcome = 'ok' | 'valid' | 'invalid' | 'error';

/**
 * The message of every channel of {@link TOKEN_TRACING_CHANNELS}: one object per call, the same object
 * at `start`, `end`, `asyncStart`, `asyncEnd` and `error` (subscribers may attach their own state to it,
 * e.g. a span, in a WeakMap).
 */
export interface TokenTraceContext {
  /** The operation (also the channel's name after `redis-multitokens:`). */
  readonly operation: TracedOperation;
  /**
   * The normalised user id, where known: at `start` for every operation taking one, at `asyncEnd` for a
   * valid verify and for `revoke` (from the record). `null` otherwise.
   */
  userId: string | null;
  /**
   * The public token id (24 characters, safe to log), where known: at `start` for revokeById (and for
   * revokeOthers: the token KEPT) when it is a token id; after the token is parsed for verify and revoke
   * (so by `asyncEnd`); at `asyncEnd` for create (the new token). `null` otherwise (e.g. a malformed token).
   */
  tokenId: string | null;
  /** How the call ended; `null` until `asyncEnd` / `error`. */
  outcome: TraceOutcome | null;
  /**
   * Why: for verify `'invalid'`, one of `'malformed'` (no store access happened), `'invalid'` (unknown,
   * expired, revoked or wrong secret) or `'throttled'` (too many wrong secrets for this token id); for
   * `'error'`, the error's `code` (`ERR_STORE_UNAVAILABLE`, `ERR_TOKEN_LIMIT`, `ERR_INVALID_ARG_TYPE`...);
   * else `null`.
   */
  reason: string | null;
  /** Tokens revoked by the call (revokes: 0 when nothing was found; create: the evicted ones), else 0. */
  revokedCount: number;
  /**
   * Set by `tracePromise` at `asyncStart`: the operation's result, except create's, which is given
   * without its `token` (`{ tokenId, first, record, evictedTokenIds }`).
   */
  result?: unknown;
  /** Set by `tracePromise` at `error`: what the call threw. */
  error?: unknown;
}

/** Channel names, per operation: pass one to `diagnostics_channel.tracingChannel(name)`. */
export const TOKEN_TRACING_CHANNELS: Readonly<Record<TracedOperation, string>> = Object.freeze({
  create: 'redis-multitokens:create',
  verify: 'redis-multitokens:verify',
  revoke: 'redis-multitokens:revoke',
  revokeById: 'redis-multitokens:revokeById',
  revokeAll: 'redis-multitokens:revokeAll',
  revokeOthers: 'redis-multitokens:revokeOthers',
  list: 'redis-multitokens:list',
});

type Channel = TracingChannel<unknown, TokenTraceContext>;

/** The tracing channels, per operation (Node keeps one per name: these are the ones subscribers get). */
export const tokenChannels: Readonly<Record<TracedOperation, Channel>> = Object.freeze(
  Object.fromEntries(Object.entries(TOKEN_TRACING_CHANNELS).map(([op, name]) => [op, tracingChannel(name)])) as Record<
    TracedOperation,
    Channel
  >,
);

/**
 * Whether anyone listens on `channel`. `TracingChannel.hasSubscribers` came in Node 20.13 / 22.0; on
 * older Node 20 releases it is undefined, and the five channels are asked one by one.
 */
export function isTraced(channel: Channel): boolean {
  const all = (channel as { hasSubscribers?: boolean }).hasSubscribers;
  if (all !== undefined) return all;
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  );
}

/** What a call's result tells its context: outcome, reason and ids it learnt; returns what `result` shows. */
export type TraceSettle<T> = (context: TokenTraceContext, value: T) => unknown;

/**
 * Runs `fn` under the tracing channel of `operation` (`tracePromise`: start, end, asyncStart, asyncEnd,
 * error), after `settle` has filled the context from the result (`fn` may fill it too, e.g. verify's
 * `reason`). Call it only when {@link isTraced}.
 */
export function traced<T>(
  operation: TracedOperation,
  ids: { userId?: string | null; tokenId?: string | null },
  fn: (context: TokenTraceContext) => Promise<T>,
  settle: TraceSettle<T>,
): Promise<T> {
  const context: TokenTraceContext = {
    operation,
    userId: ids.userId ?? null,
    tokenId: ids.tokenId ?? null,
    outcome: null,
    reason: null,
    revokedCount: 0,
  };
  let value!: T;
  const settled = (v: T): unknown => {
    value = v;
    const shown = settle(context, v);
    context.outcome ??= 'ok';
    return shown;
  };
  const failed = (error: unknown): never => {
    context.outcome = 'error';
    context.reason =
      typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'ERR_UNEXPECTED';
    throw error;
  };
  // tracePromise stores what the inner promise resolves to as `result`: `settle`'s safe view, not `value`.
  return tokenChannels[operation].tracePromise(() => fn(context).then(settled, failed), context).then(() => value);
}

/** Settles a revoke: `'ok'`, with the number of tokens revoked (a boolean result counts as 1 or 0). */
export function settleRevoked(context: TokenTraceContext, value: boolean | readonly string[]): unknown {
  context.revokedCount = typeof value === 'boolean' ? Number(value) : value.length;
  return value;
}

/** The normalised user id for a context's `start`, or null when it is refused (the call will throw). */
export function userIdOrNull(input: UserIdInput): string | null {
  try {
    return normalizeUserId(input);
  } catch {
    return null;
  }
}

/** Handlers of {@link subscribeTokenTracing}: any of the five events of a tracing channel, each given the call's context. */
export type TokenTracingHandlers = Partial<
  Record<'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error', (context: TokenTraceContext) => void>
>;

/**
 * Subscribes `handlers` to the tracing channels of `operations` (default: all seven), as
 * `diagnostics_channel.tracingChannel(name).subscribe` would, with the context typed. Returns the
 * function that unsubscribes them. Every call's `asyncEnd` comes after its `start`, error or not.
 */
export function subscribeTokenTracing(
  handlers: TokenTracingHandlers,
  operations: readonly TracedOperation[] = Object.keys(tokenChannels) as TracedOperation[],
): () => void {
  const subscribed = operations.map((op) => tokenChannels[op]);
  for (const channel of subscribed) channel.subscribe(handlers as never);
  return () => {
    for (const channel of subscribed.splice(0)) channel.unsubscribe(handlers as never);
  };
}
