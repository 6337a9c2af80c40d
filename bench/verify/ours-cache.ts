/**
 * Variant `ours-cache`: our verify with the local verify cache on (`verifyCache: {}`: 10,000 entries,
 * 1,000 ms worst-case staleness), no write due (touchIntervalSeconds 3600). The tokens rotated over are
 * served from the cache except once per second each (the staleness bound), when the store is asked again.
 */
import { TokenManager } from 'redis-multitokens';
import { BENCH_SECRET } from './ours.js';
import type { VerifyVariant } from './variant.js';

export const oursCache: VerifyVariant = {
  name: 'ours-cache',
  title: 'our verify with the local verify cache, no write due',
  commands: ['evalsha', 'eval'],
  async prepare(conn, users) {
    const manager = new TokenManager({
      store: conn.store,
      secret: BENCH_SECRET,
      touchIntervalSeconds: 3600,
      verifyCache: {},
    });
    const deadline = Date.now() + 10_000;
    while (!manager.verifyCacheStats!.active) {
      if (Date.now() > deadline) throw new Error('ours-cache: the revocation channel did not come in sync within 10 s');
      await new Promise((r) => setTimeout(r, 5));
    }
    const tokens: string[] = [];
    for (let u = 0; u < users; u++) tokens.push((await manager.create(`verify-c-${u}`)).token);
    let i = 0;
    return async () => {
      if (!(await manager.verify(tokens[i++ % tokens.length]!)).valid)
        throw new Error('our verify with the cache: token invalid');
    };
  },
};
