/**
 * A logging hook that fits pino (and any logger with pino's `(object, message)` methods: bunyan,
 * a pino child, a console adapter): `logTokenEvents(tokens, logger)`.
 *
 * @packageDocumentation
 */
import type { TokenEvents, TokenManager } from './manager.js';

type Logged = 'authFailed' | 'storeUnavailable' | 'storeRecovered' | 'created' | 'revoked';

/** One log method as pino's: a merging object first, then the message. */
export type TokenLogFn = (object: Record<string, unknown>, message: string) => void;

/** The logger {@link logTokenEvents} writes to: a pino `Logger` (or a child) fits as it is. */
export interface TokenLogger {
  /** Called (with the logger as `this`, as pino needs) for `storeUnavailable`: once per store outage. */
  error: TokenLogFn;
  /** Called for `authFailed`, every reason but `missing`: a refused token (never the token itself). */
  warn: TokenLogFn;
  /** Called for `storeRecovered`, `created` and `revoked`. */
  info: TokenLogFn;
  /** Called for `authFailed` with reason `missing`: a request without an `Authorization` header. */
  debug: TokenLogFn;
}

/**
 * Logs what `manager` does, from its events, and returns the function that stops (removes the
 * listeners; nothing else is left behind). No line ever holds a token or a secret: only token ids
 * (public, 24 characters), user ids and reasons.
 *
 * | event | level | message | fields |
 * | --- | --- | --- | --- |
 * | `authFailed` (missing header) | debug | `token authentication failed` | `reason: 'missing'`, `tokenId: null` |
 * | `authFailed` (every other reason) | warn | `token authentication failed` | `reason` (`malformed`, `invalid`, `throttled`, `user_not_found`, `insufficient_scope`), `tokenId` (null when the token was malformed) |
 * | `storeUnavailable` | error | `token store unavailable` | `operation`, `err` (pino's error key: type, message, stack, code) |
 * | `storeRecovered` | info | `token store recovered` | `operation` |
 * | `created` | info | `token created` | `userId`, `tokenId`, `first`, `evictedTokenIds` |
 * | `revoked` | info | `tokens revoked` | `userId`, `tokenIds`, `reason` |
 *
 * A request without any `Authorization` header is at debug: on protected routes it is routine (a
 * client that has not logged in yet), and at warn it would drown the failures worth reading.
 * Successful verifications are not logged (one per request).
 */
export function logTokenEvents(manager: TokenManager, logger: TokenLogger): () => void {
  const listeners: { [E in Logged]: (...args: TokenEvents[E]) => void } = {
    authFailed: ({ reason, tokenId }) =>
      (reason === 'missing' ? logger.debug : logger.warn).call(
        logger,
        { reason, tokenId },
        'token authentication failed',
      ),
    storeUnavailable: ({ operation, error }) =>
      logger.error.call(logger, { operation, err: error }, 'token store unavailable'),
    storeRecovered: ({ operation }) => logger.info.call(logger, { operation }, 'token store recovered'),
    created: ({ record, first, evictedTokenIds }) =>
      logger.info.call(
        logger,
        { userId: record.userId, tokenId: record.tokenId, first, evictedTokenIds },
        'token created',
      ),
    revoked: ({ userId, tokenIds, reason }) => logger.info.call(logger, { userId, tokenIds, reason }, 'tokens revoked'),
  };
  const events = Object.keys(listeners) as Logged[];
  for (const event of events) manager.on(event, listeners[event] as never);
  return () => {
    for (const event of events) manager.off(event, listeners[event] as never);
  };
}
