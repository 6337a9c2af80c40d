/**
 * `redis-multitokens/fastify` as a user gets it from the built package (dist/, made by `npm run build`
 * before the tests): it loads as ESM and as CommonJS with the same names, and an app that mixes copies
 * (the ESM core's TokenManager, the CommonJS plugin: the dual-package hazard) still answers a Redis
 * outage with 503 and Retry-After, from the plugin's hook and from tokenErrorHandler, never a 500.
 */
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

const require = createRequire(import.meta.url);

describe('redis-multitokens/fastify from dist', () => {
  it('loads as ESM and as CommonJS with the same export names', async () => {
    const esm = (await import('redis-multitokens/fastify')) as Record<string, unknown>;
    const cjs = require('redis-multitokens/fastify') as Record<string, unknown>;
    expect(Object.keys(esm).sort()).toEqual([
      'deviceFromRequest',
      'dpopKeyFromRequest',
      'sendAuthError',
      'tokenAuthPlugin',
      'tokenErrorHandler',
    ]);
    expect(
      Object.keys(cjs)
        .filter((k) => k !== 'default')
        .sort(),
    ).toEqual(Object.keys(esm).sort());
  });

  it('an ESM TokenManager with the CommonJS plugin: a Redis outage is 503 + Retry-After, not 500', async () => {
    const core = (await import('redis-multitokens')) as typeof import('../../src/index.js');
    const { IoredisStore } = (await import('redis-multitokens/ioredis')) as typeof import('../../src/ioredis.js');
    const plugin = require('redis-multitokens/fastify') as typeof import('../../src/fastify.js');
    const store = new IoredisStore({
      url: `redis://127.0.0.1:${await freePort()}`,
      keyPrefix: 'rmt-test:fastify-dual:',
      commandTimeoutMs: 300,
    });
    const manager = new core.TokenManager({ secret: TEST_SECRET, store });
    const app = Fastify();
    try {
      app.setErrorHandler(plugin.tokenErrorHandler());
      await app.register(plugin.tokenAuthPlugin, { manager, global: false });
      app.get('/me', { onRequest: app.tokenAuth() }, async () => ({ ok: true }));
      app.post('/login', async () => manager.create('u1'));
      const token = 'rmt_6b86b273kind5FntlMJiNnZWLEv8upYpB2FxXselUtFdeFWkrT2snjUJBt2VrKe6Fnb1ShqlY';
      for (const r of [
        await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } }),
        await app.inject({ method: 'POST', url: '/login' }),
      ]) {
        expect(r.statusCode, r.body).toBe(503);
        expect(r.headers['retry-after']).toBe('1');
        expect(r.json()).toMatchObject({ reason: 'store_unavailable' });
      }
    } finally {
      await app.close();
      await manager.close();
    }
  });
});
