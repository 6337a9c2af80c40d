/**
 * The HTTP contract suite (src/testing/http-suite.ts) on Hono 4 served by @hono/node-server, over the
 * memory store and Redis. The client IP comes from @hono/node-server's `getConnInfo`.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import { describe, it } from 'vitest';
import {
  deviceFromRequest,
  dpopKeyFromRequest,
  optionalTokenAuth,
  requireScopes,
  requireStepUp,
  tokenAuth,
  tokenErrorHandler,
} from '../../src/hono.js';
import { httpContractCases, type HttpAdapterHarness, type HttpContractApp } from '../../src/testing/index.js';
import { contractStores } from '../support/contract.js';

/** The contract app on Hono. */
export function honoContractApp({ manager, auth }: HttpContractApp): Hono {
  const app = new Hono();
  // Hono's default logs unexpected errors with console.error: the /crash case would print its stack.
  app.onError(tokenErrorHandler({ fallback: (_error, c) => c.text('Internal Server Error', 500) }));
  app.get('/me', tokenAuth(manager, auth), (c) => {
    const { userId, user, token } = c.get('auth');
    return c.json({ userId, user, tokenId: token.tokenId, scopes: token.scopes });
  });
  app.get('/optional', optionalTokenAuth(manager, auth), (c) =>
    c.json({ authenticated: c.get('auth') !== undefined, userId: c.get('auth')?.userId ?? null }),
  );
  app.get(
    '/scoped',
    tokenAuth(manager, auth),
    requireScopes(manager, ['admin'], { realm: auth?.realm, errorBody: auth?.errorBody }),
    (c) => c.json({ ok: true }),
  );
  const given = { realm: auth?.realm, errorBody: auth?.errorBody };
  app.get('/step-up', tokenAuth(manager, auth), requireStepUp(manager, { maxAgeSeconds: 1, ...given }), (c) =>
    c.json({ ok: true }),
  );
  app.get(
    '/step-up-acr',
    tokenAuth(manager, auth),
    requireStepUp(manager, { maxAgeSeconds: 600, acr: ['mfa', 'hwk'], ...given }),
    (c) => c.json({ ok: true }),
  );
  app.post('/login', async (c) => {
    const body = ((await c.req.json()) ?? {}) as { userId?: never; deviceName?: never };
    const { token, tokenId, first, record } = await manager.create(body.userId as never, {
      deviceName: body.deviceName,
      ...deviceFromRequest(c, { getConnInfo }),
      jkt: await dpopKeyFromRequest(c),
    });
    return c.json({ token, tokenId, first, userAgent: record.userAgent, ip: record.ip }, 201);
  });
  app.get('/devices', tokenAuth(manager, auth), async (c) =>
    c.json(await manager.list(c.get('auth').userId, { currentTokenId: c.get('auth').token.tokenId })),
  );
  app.get('/crash', () => {
    throw new Error('boom');
  });
  return app;
}

const harness: HttpAdapterHarness = {
  name: 'hono 4',
  async start(app) {
    let server!: ServerType;
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: honoContractApp(app).fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
        resolve(info.port),
      );
    });
    return {
      url: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          if ('closeAllConnections' in server) server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  },
};

for (const [storeName, stores] of contractStores())
  describe.concurrent(`${harness.name} / ${storeName}`, () => {
    for (const c of httpContractCases(harness, stores)) it(c.name, c.run, c.timeoutMs);
  });
