/**
 * Variants: our `TokenManager.verify` over the Redis store, on the same connection as the bare ones.
 * `ours`: no write due (touchIntervalSeconds 3600, the common case within the touch interval);
 * `ours-renewal`: renewal due on every call (touchIntervalSeconds 0: the script writes every time).
 */
import { TokenManager } from 'redis-multitokens';
import type { VerifyVariant } from './variant.js';

export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret-0123';

function ours(renewal: boolean): VerifyVariant {
  return {
    name: renewal ? 'ours-renewal' : 'ours',
    title: renewal ? 'our verify, renewal due every call' : 'our verify, no write due',
    commands: ['evalsha', 'eval'],
    async prepare(conn, users) {
      const manager = new TokenManager({
        store: conn.store,
        secret: BENCH_SECRET,
        touchIntervalSeconds: renewal ? 0 : 3600,
      });
      const tokens: string[] = [];
      for (let u = 0; u < users; u++) tokens.push((await manager.create(`verify-${renewal ? 'r' : 'n'}-${u}`)).token);
      let i = 0;
      return async () => {
        if (!(await manager.verify(tokens[i++ % tokens.length]!)).valid) throw new Error('our verify: token invalid');
      };
    },
  };
}

export const oursNoWrite = ours(false);
export const oursRenewal = ours(true);

/** Variant `ours-renew-user`: `renew: 'user'` (the Python plugin's behaviour), 5 devices per user, renewal due every call: every device's TTL is rewritten. */
export const oursRenewUser: VerifyVariant = {
  name: 'ours-renew-user',
  title: "our verify, renew: 'user' with 5 devices, renewal due every call",
  commands: ['evalsha', 'eval'],
  async prepare(conn, users) {
    const manager = new TokenManager({
      store: conn.store,
      secret: BENCH_SECRET,
      touchIntervalSeconds: 0,
      renew: 'user',
    });
    const tokens: string[] = [];
    for (let u = 0; u < users; u++)
      for (let d = 0; d < 5; d++) tokens.push((await manager.create(`verify-u-${u}`)).token);
    let i = 0;
    return async () => {
      if (!(await manager.verify(tokens[i++ % tokens.length]!)).valid) throw new Error('our verify: token invalid');
    };
  },
};
