/**
 * Expiry rules shared by every store (the Redis store runs the same rules in Lua: keep both in step;
 * the conformance suite checks they agree).
 */

/**
 * The TTL, in milliseconds, that renewal applies to a token: its own override if it was created with
 * one, else the configured TTL (null = immortal).
 */
export function renewalTtlMs(tokenOverrideMs: number | null, configuredMs: number | null): number | null {
  return tokenOverrideMs ?? configuredMs;
}

/**
 * New expiry of a token renewed at `nowMs` (epoch milliseconds), following the Python plugin
 * (RESET_TOKEN_TTL_ON_USER_LOG_IN + OVERWRITE_NONE_TTL) and capped by the absolute lifetime:
 *
 * | token now    | renewal TTL | result                                            |
 * | ------------ | ----------- | ------------------------------------------------- |
 * | has a TTL    | number      | now + TTL                                         |
 * | has a TTL    | null        | immortal                                          |
 * | immortal     | number      | now + TTL if overwriteNoneTtl, else stays immortal |
 * | immortal     | null        | stays immortal                                    |
 *
 * Then, when `absoluteExpiresAtMs` is set, the result is at most that (immortal becomes that).
 * @returns epoch milliseconds, or null for immortal.
 */
export function renewedExpiresAtMs(
  currentExpiresAtMs: number | null,
  ttlMs: number | null,
  overwriteNoneTtl: boolean,
  absoluteExpiresAtMs: number | null,
  nowMs: number,
): number | null {
  let next: number | null;
  if (ttlMs === null) next = null;
  else if (currentExpiresAtMs === null && !overwriteNoneTtl) next = null;
  else next = nowMs + ttlMs;
  if (absoluteExpiresAtMs !== null) next = next === null ? absoluteExpiresAtMs : Math.min(next, absoluteExpiresAtMs);
  return next;
}

/** Expiry of a new token created at `nowMs`: `now + ttl`, capped by the absolute lifetime; null = immortal. */
export function initialExpiresAtMs(
  ttlMs: number | null,
  absoluteExpiresAtMs: number | null,
  nowMs: number,
): number | null {
  const idle = ttlMs === null ? null : nowMs + ttlMs;
  if (absoluteExpiresAtMs === null) return idle;
  return idle === null ? absoluteExpiresAtMs : Math.min(idle, absoluteExpiresAtMs);
}

/**
 * True when a verify at `nowMs` should write last-used (and renew): at least the touch interval has
 * passed since the last write. The interval is clamped to half the token's renewal TTL, so a short
 * TTL still gets renewed before it runs out.
 */
export function isTouchDue(
  lastUsedAtMs: number,
  nowMs: number,
  touchIntervalMs: number,
  ttlMs: number | null,
): boolean {
  const interval = ttlMs === null ? touchIntervalMs : Math.min(touchIntervalMs, Math.floor(ttlMs / 2));
  return nowMs - lastUsedAtMs >= interval;
}
