/**
 * `logTokenEvents` with a real pino logger (its JSON lines captured from its destination stream) over a
 * real Redis store, and behind the Express middleware: failures at warn with reason and token id, a
 * missing header at debug, outages at error once, creations and revocations at info; no line holds a
 * token; the returned function removes every listener.
 */
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { outageStore } from '../support/contract.js';
import { logTokenEvents, type TokenLogger } from '../../src/index.js';
import { TokenManager } from '../../src/core/manager.js';
import { tokenAuth } from '../../src/frameworks/express.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { forgeSecret } from '../../src/testing/index.js';
import { TEST_SECRET, deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const redis = testRedis();
const keyPrefix = uniquePrefix('log');
const store = new IoredisStore({ client: redis, keyPrefix });
afterAll(async () => {
  await deletePrefix(redis, keyPrefix);
  await redis.quit();
});

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A pino logger at debug writing JSON lines to memory (pino's own destination-stream argument). */
function capture() {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      raw.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'debug', base: null, timestamp: false }, stream);
  return {
    logger,
    raw,
    lines: () =>
      raw
        .join('')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Line),
  };
}
const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

describe('logTokenEvents with pino', () => {
  it('a pino Logger (and a child) is a TokenLogger as it is', () => {
    const { logger } = capture();
    const asIs: TokenLogger = logger;
    const child: TokenLogger = logger.child({ component: 'tokens' });
    expect([asIs, child].every((l) => typeof l.warn === 'function')).toBe(true);
  });

  it('created and revoked at info; invalid, malformed and throttled at warn with reason and token id; never the token', async () => {
    const { logger, raw, lines } = capture();
    const m = new TokenManager({ store, secret: TEST_SECRET, maxFailedVerifications: 1 });
    const stop = logTokenEvents(m, logger.child({ component: 'tokens' }));
    const a = await m.create('log-user-1', { deviceName: 'phone' });
    const b = await m.create('log-user-1');
    expect((await m.verify(a.token)).valid).toBe(true);
    const forged = forgeSecret(a.token);
    await m.verify(forged);
    await m.verify(forged);
    await m.verify('rmt_short');
    await m.revokeOthers('log-user-1', b.tokenId);
    stop();
    await m.revokeAll('log-user-1'); // after stop: not logged

    expect(lines()).toEqual([
      {
        level: LEVEL.info,
        component: 'tokens',
        msg: 'token created',
        userId: 'log-user-1',
        tokenId: a.tokenId,
        first: true,
        evictedTokenIds: [],
      },
      {
        level: LEVEL.info,
        component: 'tokens',
        msg: 'token created',
        userId: 'log-user-1',
        tokenId: b.tokenId,
        first: false,
        evictedTokenIds: [],
      },
      {
        level: LEVEL.warn,
        component: 'tokens',
        msg: 'token authentication failed',
        reason: 'invalid',
        tokenId: a.tokenId,
      },
      {
        level: LEVEL.warn,
        component: 'tokens',
        msg: 'token authentication failed',
        reason: 'throttled',
        tokenId: a.tokenId,
      },
      {
        level: LEVEL.warn,
        component: 'tokens',
        msg: 'token authentication failed',
        reason: 'malformed',
        tokenId: null,
      },
      {
        level: LEVEL.info,
        component: 'tokens',
        msg: 'tokens revoked',
        userId: 'log-user-1',
        tokenIds: [a.tokenId],
        reason: 'logout-others',
      },
    ]);
    const text = raw.join('');
    for (const t of [a.token, b.token, forged]) expect(text).not.toContain(t);
    expect(text).not.toContain(TEST_SECRET);
    expect(
      m.listenerCount('authFailed') +
        m.listenerCount('created') +
        m.listenerCount('revoked') +
        m.listenerCount('storeUnavailable') +
        m.listenerCount('storeRecovered'),
    ).toBe(0);
  });

  it('a store outage is one error line with the error (code, no stack trace in the message) per outage', async () => {
    const { logger, lines } = capture();
    const down = await outageStore();
    const m = new TokenManager({ store: down, secret: TEST_SECRET });
    const stop = logTokenEvents(m, logger);
    try {
      for (let i = 0; i < 3; i++)
        await expect(m.list('log-user-2')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    } finally {
      stop();
      await down.close();
    }
    const got = lines();
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      level: LEVEL.error,
      msg: 'token store unavailable',
      operation: 'list',
      err: { type: 'StoreUnavailableError', code: 'ERR_STORE_UNAVAILABLE' },
    });
  });

  it('behind the Express middleware: a missing header at debug, a bad token at warn', async () => {
    const { logger, raw, lines } = capture();
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const stop = logTokenEvents(m, logger);
    const app = express();
    app.get('/me', tokenAuth(m), (_req, res) => void res.json({ ok: true }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const { token, tokenId } = await m.create('log-user-3');
      expect((await fetch(`${base}/me`)).status).toBe(401);
      expect((await fetch(`${base}/me`, { headers: { Authorization: `Bearer ${forgeSecret(token)}` } })).status).toBe(
        401,
      );
      expect((await fetch(`${base}/me`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
      expect(lines().slice(1)).toEqual([
        { level: LEVEL.debug, msg: 'token authentication failed', reason: 'missing', tokenId: null },
        { level: LEVEL.warn, msg: 'token authentication failed', reason: 'invalid', tokenId },
      ]);
      expect(raw.join('')).not.toContain(token.slice(-49));
    } finally {
      stop();
      await new Promise((r) => server.close(r));
    }
  });
});
