/**
 * Variants with no Redis round trip, for scale: our verify over the in-process `MemoryStore` (renewal
 * every call), and a malformed token, rejected before any I/O. Run once (under the ioredis pass).
 */
import { MemoryStore, TokenManager } from 'redis-multitokens';
import { BENCH_SECRET } from './ours.js';
import type { VerifyVariant } from './variant.js';

export const memoryStore: VerifyVariant = {
  name: 'memory-store',
  title: 'our verify over the MemoryStore (no I/O), renewal due every call',
  commands: [],
  clients: ['ioredis'],
  async prepare(_conn, users) {
    const manager = new TokenManager({ store: new MemoryStore(), secret: BENCH_SECRET, touchIntervalSeconds: 0 });
    const tokens: string[] = [];
    for (let u = 0; u < users; u++) tokens.push((await manager.create(`verify-m-${u}`)).token);
    let i = 0;
    return async () => {
      if (!(await manager.verify(tokens[i++ % tokens.length]!)).valid) throw new Error('memory verify: token invalid');
    };
  },
};

export const malformed: VerifyVariant = {
  name: 'malformed',
  title: 'a malformed token, rejected before any I/O',
  commands: [],
  clients: ['ioredis'],
  async prepare(conn) {
    const manager = new TokenManager({ store: conn.store, secret: BENCH_SECRET });
    return async () => {
      if ((await manager.verify('rmt_not-a-token')).valid) throw new Error('malformed token accepted');
    };
  },
};
