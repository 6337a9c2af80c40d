/**
 * The diagnostics_channel tracing channels (src/core/tracing.ts), subscribed to as an app would, by
 * name, through `node:diagnostics_channel`, against a real Redis store: every operation publishes
 * start / end / asyncStart / asyncEnd (and error) with its outcome, reason, user id and token id, and no
 * message ever holds a token string or the secret.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { outageStore } from '../support/contract.js';
import { TokenManager } from '../../src/core/manager.js';
import {
  TOKEN_TRACING_CHANNELS,
  isTraced,
  subscribeTokenTracing,
  tokenChannels,
  type TokenTraceContext,
  type TracedOperation,
} from '../../src/core/tracing.js';
import { forgeSecret } from '../../src/testing/index.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { TEST_SECRET, deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const redis = testRedis();
const keyPrefix = uniquePrefix('trace');
const store = new IoredisStore({ client: redis, keyPrefix });
afterAll(async () => {
  await deletePrefix(redis, keyPrefix);
  await redis.quit();
});

interface Seen {
  event: 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';
  operation: TracedOperation;
  copy: Record<string, unknown>;
  context: TokenTraceContext;
}

/** Subscribes to every channel by its documented name; the copies are taken at each event. */
function record(): { seen: Seen[]; stop(): void } {
  const seen: Seen[] = [];
  const stops: (() => void)[] = [];
  for (const [operation, name] of Object.entries(TOKEN_TRACING_CHANNELS) as [TracedOperation, string][]) {
    const channel = tracingChannel<unknown, TokenTraceContext>(name);
    const on = (event: Seen['event']) => (context: TokenTraceContext) =>
      seen.push({ event, operation, context, copy: { ...context } });
    const handlers = {
      start: on('start'),
      end: on('end'),
      asyncStart: on('asyncStart'),
      asyncEnd: on('asyncEnd'),
      error: on('error'),
    };
    channel.subscribe(handlers);
    stops.push(() => channel.unsubscribe(handlers));
  }
  return {
    seen,
    stop: () => {
      for (const s of stops) s();
    },
  };
}

let active: ReturnType<typeof record> | null = null;
afterEach(() => {
  active?.stop();
  active = null;
});
function subscribe() {
  active = record();
  return active.seen;
}
const ends = (seen: Seen[], operation: TracedOperation) =>
  seen.filter((s) => s.operation === operation && s.event === 'asyncEnd').map((s) => s.copy);

describe('diagnostics_channel tracing', () => {
  it('names one tracing channel per operation, revoke variants apart', () => {
    expect(TOKEN_TRACING_CHANNELS).toEqual({
      create: 'redis-multitokens:create',
      verify: 'redis-multitokens:verify',
      revoke: 'redis-multitokens:revoke',
      revokeById: 'redis-multitokens:revokeById',
      revokeAll: 'redis-multitokens:revokeAll',
      revokeOthers: 'redis-multitokens:revokeOthers',
      list: 'redis-multitokens:list',
    });
  });

  it('isTraced is false with no subscriber, true with any one of the five channels subscribed', () => {
    expect(isTraced(tokenChannels.verify)).toBe(false);
    const onError = () => {};
    tokenChannels.verify.error.subscribe(onError);
    try {
      expect(isTraced(tokenChannels.verify)).toBe(true);
      expect(isTraced(tokenChannels.create)).toBe(false);
    } finally {
      tokenChannels.verify.error.unsubscribe(onError);
    }
    expect(isTraced(tokenChannels.verify)).toBe(false);
  });

  it('create, verify (valid, invalid, malformed), list, revoke, revokeById, revokeOthers, revokeAll: outcome, reason and ids', async () => {
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const seen = subscribe();
    const a = await m.create(42, { deviceName: 'phone' });
    const b = await m.create('42');
    const c = await m.create('42');
    const d = await m.create('42');
    expect(ends(seen, 'create')[0]).toMatchObject({
      operation: 'create',
      userId: '42',
      tokenId: a.tokenId,
      outcome: 'ok',
      reason: null,
      revokedCount: 0,
    });
    expect(ends(seen, 'create')[0]!.result).toMatchObject({
      tokenId: a.tokenId,
      first: true,
      record: { deviceName: 'phone' },
    });

    expect((await m.verify(a.token)).valid).toBe(true);
    expect((await m.verify(forgeSecret(a.token))).valid).toBe(false);
    expect((await m.verify('nonsense')).valid).toBe(false);
    expect(ends(seen, 'verify')).toMatchObject([
      { userId: '42', tokenId: a.tokenId, outcome: 'valid', reason: null },
      { userId: null, tokenId: a.tokenId, outcome: 'invalid', reason: 'invalid' },
      { userId: null, tokenId: null, outcome: 'invalid', reason: 'malformed' },
    ]);

    expect(await m.list(42)).toHaveLength(4);
    expect(ends(seen, 'list')).toMatchObject([{ userId: '42', tokenId: null, outcome: 'ok' }]);

    expect(await m.revoke(a.token)).toBe(true);
    expect(await m.revoke(a.token)).toBe(false);
    expect(ends(seen, 'revoke')).toMatchObject([
      { userId: '42', tokenId: a.tokenId, outcome: 'ok', revokedCount: 1 },
      { userId: null, tokenId: a.tokenId, outcome: 'ok', revokedCount: 0 },
    ]);
    expect(await m.revokeById(42, b.tokenId)).toBe(true);
    expect(ends(seen, 'revokeById')).toMatchObject([
      { userId: '42', tokenId: b.tokenId, outcome: 'ok', revokedCount: 1 },
    ]);
    expect(await m.revokeOthers(42, d.tokenId)).toEqual([c.tokenId]);
    expect(ends(seen, 'revokeOthers')).toMatchObject([
      { userId: '42', tokenId: d.tokenId, outcome: 'ok', revokedCount: 1, result: [c.tokenId] },
    ]);
    expect(await m.revokeAll(42)).toEqual([d.tokenId]);
    expect(ends(seen, 'revokeAll')).toMatchObject([{ userId: '42', outcome: 'ok', revokedCount: 1 }]);

    // Every call published start, end, asyncStart, asyncEnd on one context object, in that order.
    const verifyEvents = seen
      .filter((s) => s.operation === 'verify' && s.context === seen.find((x) => x.operation === 'verify')!.context)
      .map((s) => s.event);
    expect(verifyEvents).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(seen.filter((s) => s.event === 'start')).toHaveLength(4 + 3 + 1 + 2 + 1 + 1 + 1);

    // No message holds a token or the secret, at any event (the result of create included).
    const text = JSON.stringify(seen.map((s) => s.copy));
    for (const t of [a, b, c, d]) expect(text).not.toContain(t.token);
    expect(text).not.toContain(TEST_SECRET);
  });

  it('a throttled token id is refused with reason "throttled", a wrong secret with "invalid"', async () => {
    const m = new TokenManager({ store, secret: TEST_SECRET, maxFailedVerifications: 1 });
    const { token, tokenId } = await m.create('throttled-user');
    const forged = forgeSecret(token);
    const seen = subscribe();
    await m.verify(forged);
    await m.verify(forged);
    expect(ends(seen, 'verify')).toMatchObject([
      { tokenId, userId: null, outcome: 'invalid', reason: 'invalid' },
      { tokenId, userId: null, outcome: 'invalid', reason: 'throttled' },
    ]);
    expect(JSON.stringify(seen.map((s) => s.copy))).not.toContain(forged);
  });

  it('a store outage: outcome "error", reason ERR_STORE_UNAVAILABLE, on the error channel too', async () => {
    const down = await outageStore();
    const m = new TokenManager({ store: down, secret: TEST_SECRET });
    const seen = subscribe();
    try {
      await expect(m.create('u1')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      await expect(m.revokeAll('u1')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    } finally {
      await down.close();
    }
    expect(seen.filter((s) => s.event === 'error').map((s) => s.operation)).toEqual(['create', 'revokeAll']);
    expect(ends(seen, 'create')).toMatchObject([{ userId: 'u1', outcome: 'error', reason: 'ERR_STORE_UNAVAILABLE' }]);
    expect(ends(seen, 'create')[0]!.error).toMatchObject({ name: 'StoreUnavailableError' });
  });

  it('a bad argument is traced as an error with its code, and still thrown', async () => {
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const seen = subscribe();
    await expect(m.revokeOthers('u', 'not-a-token-id')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(ends(seen, 'revokeOthers')).toMatchObject([
      { userId: 'u', tokenId: null, outcome: 'error', reason: 'ERR_INVALID_ARG_VALUE' },
    ]);
  });

  it('subscribeTokenTracing: typed handlers on the chosen operations only, removed by the function it returns', async () => {
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const got: string[] = [];
    const stop = subscribeTokenTracing(
      { start: (c) => got.push(`start ${c.operation}`), asyncEnd: (c) => got.push(`end ${c.operation} ${c.outcome}`) },
      ['create', 'verify'],
    );
    const { token } = await m.create('sub-user');
    await m.list('sub-user');
    await m.verify(token);
    stop();
    await m.verify(token);
    expect(got).toEqual(['start create', 'end create ok', 'start verify', 'end verify valid']);
    expect(Object.values(tokenChannels).some(isTraced)).toBe(false);
  });
});
