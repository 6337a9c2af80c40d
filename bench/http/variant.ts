import type { TokenManager, VerifyCacheStats } from 'redis-multitokens';

/** An HTTP variant: an app serving `GET /me` (JSON `{ userId }`) behind one kind of authentication, started in a child process. */
export interface StartedApp {
  port: number;
  /** Headers every benchmark request carries (the credential). */
  headers: Record<string, string>;
  /** The local verify cache's counters, for the variants that turn it on (the runner checks that it served the burst). */
  cacheStats?(): VerifyCacheStats | null;
  close(): Promise<void>;
}

export interface HttpVariant {
  name: string;
  title: string;
  start(redisUrl: string): Promise<StartedApp>;
}

/** The user every variant authenticates. */
export const HTTP_USER = 'http-bench-user';
export const HTTP_SECRET = 'http-bench-secret-http-bench-secret-0123456';

/** Most time a variant waits for its verify cache to turn on (its revocation channel in sync), in milliseconds. */
const CACHE_ACTIVE_WAIT_MS = 10_000;

/**
 * Waits until the manager's local verify cache serves (`verifyCacheStats.active`: its first heartbeat came
 * back), so a burst measures the cache and not the store. No-op when the cache is off.
 * @throws {Error} it did not turn on within 10 s.
 */
export async function cacheActive(tokens: TokenManager, variant: string): Promise<void> {
  const deadline = Date.now() + CACHE_ACTIVE_WAIT_MS;
  while (tokens.verifyCacheStats?.active === false) {
    if (Date.now() > deadline)
      throw new Error(
        `http variant ${variant}: the verify cache did not turn on (revocation channel not in sync) within 10 s`,
      );
    await new Promise((r) => setTimeout(r, 5));
  }
}
