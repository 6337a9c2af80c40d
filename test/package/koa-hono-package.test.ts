/**
 * `redis-multitokens/koa` and `redis-multitokens/hono` as a user gets them from the built package
 * (dist/, made by `npm run build` before the tests): each loads as ESM and as CommonJS with the same
 * names, and an app that mixes copies (the ESM core's TokenManager with the CommonJS adapter: the
 * dual-package hazard) still answers a Redis outage with 503 and Retry-After, from the middleware and
 * from tokenErrorHandler on the app's own route, never a 500.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import Router from '@koa/router';
import { Hono } from 'hono';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

const require = createRequire(import.meta.url);
const TOKEN = 'rmt_6b86b273kind5FntlMJiNnZWLEv8upYpB2FxXselUtFdeFWkrT2snjUJBt2VrKe6Fnb1ShqlY';

/** An ESM TokenManager whose Redis cannot be reached. */
async function esmManagerInOutage() {
  const core = (await import('redis-multitokens')) as typeof import('../../src/index.js');
  const { IoredisStore } = (await import('redis-multitokens/ioredis')) as typeof import('../../src/ioredis.js');
  const store = new IoredisStore({
    url: `redis://127.0.0.1:${await freePort()}`,
    keyPrefix: 'rmt-test:dual:',
    commandTimeoutMs: 300,
  });
  const manager = new core.TokenManager({ secret: TEST_SECRET, store });
  manager.on('storeUnavailable', () => {});
  return manager;
}

async function expect503(base: string): Promise<void> {
  for (const r of [
    await fetch(`${base}/me`, { headers: { Authorization: `Bearer ${TOKEN}` } }),
    await fetch(`${base}/login`, { method: 'POST' }),
  ]) {
    const text = await r.text();
    expect(r.status, text).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(text)).toMatchObject({ reason: 'store_unavailable' });
  }
}

const NAMES = [
  'deviceFromRequest',
  'dpopKeyFromRequest',
  'optionalTokenAuth',
  'requireScopes',
  'requireStepUp',
  'sendAuthError',
  'tokenAuth',
  'tokenErrorHandler',
];

describe('redis-multitokens/koa from dist', () => {
  it('loads as ESM and as CommonJS with the same export names', async () => {
    const esm = (await import('redis-multitokens/koa')) as Record<string, unknown>;
    const cjs = require('redis-multitokens/koa') as Record<string, unknown>;
    expect(Object.keys(esm).sort()).toEqual(NAMES);
    expect(
      Object.keys(cjs)
        .filter((k) => k !== 'default')
        .sort(),
    ).toEqual(NAMES);
  });

  it('an ESM TokenManager with the CommonJS middleware: a Redis outage is 503 + Retry-After, not 500', async () => {
    const koa = require('redis-multitokens/koa') as typeof import('../../src/koa.js');
    const manager = await esmManagerInOutage();
    const app = new Koa();
    app.silent = true;
    app.use(koa.tokenErrorHandler());
    const router = new Router();
    router.get('/me', koa.tokenAuth(manager), (ctx) => {
      ctx.body = { ok: true };
    });
    router.post('/login', async (ctx) => {
      ctx.body = await manager.create('u1');
    });
    app.use(router.routes());
    const server = app.listen(0, '127.0.0.1');
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      await expect503(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await manager.close();
    }
  });
});

describe('redis-multitokens/hono from dist', () => {
  it('loads as ESM and as CommonJS with the same export names', async () => {
    const esm = (await import('redis-multitokens/hono')) as Record<string, unknown>;
    const cjs = require('redis-multitokens/hono') as Record<string, unknown>;
    const names = [...NAMES.filter((n) => n !== 'sendAuthError'), 'authErrorResponse'].sort(); // Hono returns Responses: authErrorResponse instead of sendAuthError
    expect(Object.keys(esm).sort()).toEqual(names);
    expect(
      Object.keys(cjs)
        .filter((k) => k !== 'default')
        .sort(),
    ).toEqual(names);
  });

  it('an ESM TokenManager with the CommonJS middleware: a Redis outage is 503 + Retry-After, not 500', async () => {
    const hono = require('redis-multitokens/hono') as typeof import('../../src/hono.js');
    const manager = await esmManagerInOutage();
    const app = new Hono();
    app.onError(hono.tokenErrorHandler());
    app.get('/me', hono.tokenAuth(manager), (c) => c.json({ ok: true }));
    app.post('/login', async (c) => c.json(await manager.create('u1')));
    let server!: ServerType;
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
    });
    try {
      await expect503(`http://127.0.0.1:${port}`);
    } finally {
      if ('closeAllConnections' in server) server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await manager.close();
    }
  });
});
