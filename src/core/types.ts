/**
 * Public record types. Every time is in epoch MILLISECONDS (a `number`, as `Date.now()` returns),
 * named `...AtMs`; every duration option is in SECONDS, named `...Seconds`.
 *
 * @packageDocumentation
 */

/** Renewal on use (sliding expiry). See {@link TokenManagerOptions.renew}. */
export type RenewMode = 'off' | 'token' | 'user';

/** What to do when a user already holds `maxTokensPerUser` live tokens and logs in again. */
export type LimitPolicy = 'evict-lru' | 'reject';

/**
 * The public record of one token (one device). Holds no secret: it is safe to show to its user.
 */
export interface TokenRecord {
  /** Public token id (24 characters), safe to show and log; use it to revoke a device. */
  tokenId: string;
  /** The normalised user id (a string, even when a number was given). */
  userId: string;
  /** Device name given at creation (e.g. "Alice's iPhone"), or null. */
  deviceName: string | null;
  /** User-Agent of the request that created the token (or given by the app), or null. */
  userAgent: string | null;
  /** Client IP address of the request that created the token (or given by the app), or null. */
  ip: string | null;
  /** Creation time, epoch milliseconds. */
  createdAtMs: number;
  /** Last successful verify, epoch milliseconds; written at most once per `touchIntervalSeconds`. Equals `createdAtMs` until first use. */
  lastUsedAtMs: number;
  /** When the token expires unless renewed, epoch milliseconds; `null` = immortal. */
  expiresAtMs: number | null;
  /** Hard end of life that renewal never extends, epoch milliseconds; `null` = none. */
  absoluteExpiresAtMs: number | null;
  /** Scopes (Sanctum's "abilities") granted at creation; empty = none. */
  scopes: string[];
  /** App-defined JSON object given at creation, or null. */
  metadata: Record<string, unknown> | null;
  /**
   * DPoP binding (RFC 9449): the JWK SHA-256 thumbprint (RFC 7638, base64url, 43 characters) of the
   * device key the token is bound to, or `null` for a bearer token. A bound token is accepted only as
   * `Authorization: DPoP <token>` with a fresh proof signed by that key.
   */
  jkt: string | null;
  /**
   * When the user last proved who they are on this device, epoch milliseconds (store's clock): the
   * creation time (a login), then the time of the last `TokenManager.reauthenticate` (RFC 9470's
   * `auth_time`). Tokens stored before 0.2 carry `createdAtMs` here.
   */
  authenticatedAtMs: number;
  /**
   * The authentication level of that proof as the app named it (RFC 9470's `acr`, e.g. `"pwd"` or
   * `"mfa"`), or null: given to `create` and `reauthenticate`, checked by the adapters' step-up requirement.
   */
  acr: string | null;
}

/** A {@link TokenRecord} as listed for a user, with the calling token marked. */
export interface TokenInfo extends TokenRecord {
  /** True for the token that made the request (the `currentTokenId` passed to `list`). */
  current: boolean;
}

/** Options of a paged `TokenManager.list` (see there). */
export interface ListPageOptions {
  /** About how many tokens per page, 1 to 1,000 (a hint, as Redis SCAN's COUNT). */
  limit: number;
  /** Where to resume: omitted or null for the first page, else the previous page's `nextCursor`. */
  cursor?: string | null;
  /** The calling token's id, marked `current`. */
  currentTokenId?: string | null;
}

/** One page of `TokenManager.list`: `nextCursor` is null after the last page. */
export interface TokenPage {
  /** The page's tokens, newest first. */
  tokens: TokenInfo[];
  /** Pass it as `cursor` for the next page; null after the last page. */
  nextCursor: string | null;
}

/** Why tokens were revoked (carried by the `revoked` event). */
export type RevokeReason = 'logout' | 'logout-all' | 'logout-others' | 'evicted' | 'admin';

/** Why an authentication failed (carried by the `authFailed` event; never carries the token). */
export type AuthFailureReason =
  | 'missing'
  | 'malformed'
  | 'invalid'
  | 'throttled'
  | 'user_not_found'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | DpopFailureReason;

/**
 * Why a DPoP (RFC 9449) check refused a request: `dpop_proof` a proof that is missing, too big, not
 * parseable, signed with an algorithm not accepted, badly signed, or not for this request / time (no
 * store access happened); `dpop_required` a bound token sent without the DPoP scheme and proof;
 * `dpop_mismatch` a proof signed by another key than the bound one; `dpop_replay` a proof `jti` seen
 * before within the window; `dpop_unbound` a bearer (unbound) token sent with the DPoP scheme.
 */
export type DpopFailureReason = 'dpop_proof' | 'dpop_required' | 'dpop_mismatch' | 'dpop_replay' | 'dpop_unbound';
