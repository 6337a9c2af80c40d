/**
 * Races across two Redis connections (two ioredis clients, two managers: as two app servers), many
 * iterations each. The conformance suite's races run on one connection; these prove the guarantees do
 * not depend on one connection's ordering.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenManager, type TokenManagerOptions } from '../../src/core/manager.js';
import { TokenLimitError } from '../../src/core/errors.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { REDIS_URL, TEST_SECRET, deletePrefix, uniquePrefix } from '../support/redis.js';

const a = new Redis(REDIS_URL);
const b = new Redis(REDIS_URL);
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(a, p);
  await a.quit();
  await b.quit();
});

function servers(options: Partial<TokenManagerOptions> = {}) {
  const keyPrefix = uniquePrefix('race');
  prefixes.push(keyPrefix);
  const make = (client: Redis) =>
    new TokenManager({ store: new IoredisStore({ client, keyPrefix }), secret: TEST_SECRET, ...options });
  return [make(a), make(b)] as const;
}

describe('races over two connections', () => {
  it('logins on one server racing "log out everywhere" on the other: nothing escapes, nothing is lost (30 rounds)', async () => {
    const [s1, s2] = servers({ maxTokensPerUser: null });
    for (let round = 0; round < 30; round++) {
      const user = `u${round}`;
      const before = await Promise.all(Array.from({ length: 5 }, () => s1.create(user)));
      const logins = Array.from({ length: 20 }, (_, i) => (i % 2 ? s1 : s2).create(user));
      const revoked = new Set(await s2.revokeAll(user));
      const during = await Promise.all(logins);
      for (const c of before) expect(revoked.has(c.tokenId)).toBe(true);
      const results = await Promise.all([...before, ...during].map((c) => s1.verify(c.token)));
      for (const [i, c] of [...before, ...during].entries()) expect(results[i]!.valid).toBe(!revoked.has(c.tokenId));
      expect((await s2.list(user)).length).toBe(25 - revoked.size);
    }
  });

  it('renewal on one server racing revoke on the other never brings the token back (50 rounds)', async () => {
    const [s1, s2] = servers({ touchIntervalSeconds: 0, renew: 'user' });
    for (let round = 0; round < 50; round++) {
      const c = await s1.create('rr');
      const verifies = Array.from({ length: 8 }, () => s1.verify(c.token));
      const revoked = round % 2 ? s2.revoke(c.token) : s2.revokeById('rr', c.tokenId);
      await Promise.all([...verifies, revoked]);
      expect(await revoked).toBe(true);
      expect((await s1.verify(c.token)).valid).toBe(false);
      expect(await s2.list('rr')).toEqual([]);
      expect(await a.hexists(`${prefixes.at(-1)}{${c.tokenId.slice(0, 8)}}`, c.tokenId.slice(8))).toBe(0);
    }
  });

  it('a limit of 10 holds exactly under 100 logins split over two servers, both policies (10 rounds)', async () => {
    for (const limitPolicy of ['evict-lru', 'reject'] as const) {
      const [s1, s2] = servers({ maxTokensPerUser: 10, limitPolicy });
      for (let round = 0; round < 10; round++) {
        const user = `lim${round}`;
        const settled = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => (i % 2 ? s1 : s2).create(user)));
        expect((await s1.list(user)).length).toBe(10);
        const ok = settled.filter((s) => s.status === 'fulfilled');
        if (limitPolicy === 'reject') {
          expect(ok.length).toBe(10);
          for (const s of settled) if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(TokenLimitError);
        } else {
          expect(ok.length).toBe(100);
          const live = new Set((await s2.list(user)).map((r) => r.tokenId));
          const evicted = new Set(ok.flatMap((s) => s.value.evictedTokenIds));
          expect(evicted.size).toBe(90);
          for (const id of live) expect(evicted.has(id)).toBe(false);
        }
      }
    }
  });
});
