/**
 * The prom-client program of docs/operations.md runs as pasted (test/docs/code-blocks.test.ts
 * type-checks it): against the test Redis (database 9, so the doc's fixed key prefix cannot meet
 * another test's keys), its /metrics shows each verification by outcome and reason, the verify
 * histogram and the middleware's refusals; against a Redis that is down, the store-unavailable counter.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { forgeSecret } from '../../src/testing/index.js';
import { docProgram } from '../support/doc-program.js';
import { freePort } from '../support/redis-server.js';
import { REDIS_URL, deletePrefix } from '../support/redis.js';

const program = docProgram('operations-prom', 'listening on', { doc: 'operations.md', marker: "from 'prom-client'" });
const redisUrl = (() => {
  const u = new URL(REDIS_URL);
  u.pathname = '/9';
  return u.toString();
})();

/** The value of one sample of the Prometheus text format, e.g. `name{a="b"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('docs/operations.md: the prom-client program', () => {
  it('counts verifications by outcome and reason, times them, and counts the refusals that never reach verify', async () => {
    const redis = new Redis(redisUrl);
    try {
      await program.run(redisUrl, async (base) => {
        const { token } = (await (await fetch(`${base}/login`, { method: 'POST' })).json()) as { token: string };
        const me = (authorization?: string) =>
          fetch(`${base}/me`, { headers: authorization ? { Authorization: authorization } : {} });
        expect((await me(`Bearer ${token}`)).status).toBe(200);
        expect((await me(`Bearer ${token}`)).status).toBe(200);
        expect((await me(`Bearer ${forgeSecret(token)}`)).status).toBe(401);
        expect(
          (await me('Bearer rmt_0000000000000000000000000000000000000000000000000000000000000000000000000')).status,
        ).toBe(401);
        expect((await me()).status).toBe(401);
        const metrics = await fetch(`${base}/metrics`);
        expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
        const text = await metrics.text();
        expect(sample(text, 'redis_multitokens_verifications_total{outcome="valid",reason=""}')).toBe(2);
        expect(sample(text, 'redis_multitokens_verifications_total{outcome="invalid",reason="malformed"}')).toBe(1);
        expect(sample(text, 'redis_multitokens_verifications_total{outcome="invalid",reason="invalid"}')).toBe(1);
        expect(sample(text, 'redis_multitokens_verify_duration_seconds_count{outcome="valid"}')).toBe(2);
        expect(sample(text, 'redis_multitokens_verify_duration_seconds_sum{outcome="valid"}')).toBeGreaterThan(0);
        expect(sample(text, 'redis_multitokens_auth_failures_total{reason="malformed"}')).toBe(1);
        expect(sample(text, 'redis_multitokens_auth_failures_total{reason="invalid"}')).toBe(1);
        expect(sample(text, 'redis_multitokens_auth_failures_total{reason="missing"}')).toBe(1);
        expect(sample(text, 'redis_multitokens_store_unavailable_total{operation="verify"}')).toBeUndefined();
        expect(text).not.toContain(token);
      });
    } finally {
      await deletePrefix(redis, 'myapp:tokens:');
      await redis.quit();
    }
  }, 60_000);

  it('with Redis down, /login answers 503 and the store-unavailable counter says which operation', async () => {
    await program.run(`redis://127.0.0.1:${await freePort()}`, async (base) => {
      expect((await fetch(`${base}/login`, { method: 'POST' })).status).toBe(503);
      expect((await fetch(`${base}/login`, { method: 'POST' })).status).toBe(503);
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(sample(text, 'redis_multitokens_store_unavailable_total{operation="create"}')).toBe(2);
    });
  }, 60_000);
});
