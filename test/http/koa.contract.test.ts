/**
 * The HTTP contract suite (src/testing/http-suite.ts) on Koa 3 with @koa/router, over the memory store
 * and Redis. No body parser is installed: the harness reads the small JSON body of /login itself.
 */
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import { describe, it } from 'vitest';
import {
  deviceFromRequest,
  dpopKeyFromRequest,
  optionalTokenAuth,
  requireScopes,
  requireStepUp,
  tokenAuth,
  tokenErrorHandler,
} from '../../src/koa.js';
import { httpContractCases, type HttpAdapterHarness, type HttpContractApp } from '../../src/testing/index.js';
import { contractStores } from '../support/contract.js';

/** The request's JSON body (at most 16 KiB; 400 for anything else), as a body parser would give it. */
async function jsonBody(ctx: Context): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 16 * 1024) ctx.throw(413, 'request body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return ctx.throw(400, 'the request body is not valid JSON');
  }
}

/** The contract app on Koa. */
export function koaContractApp({ manager, auth }: HttpContractApp): Koa {
  const app = new Koa();
  app.silent = true; // Koa logs unexpected errors with console.error: the /crash case would print its stack.
  app.use(tokenErrorHandler());
  const router = new Router();
  router.get('/me', tokenAuth(manager, auth), (ctx) => {
    const { userId, user, token } = ctx.state.auth;
    ctx.body = { userId, user, tokenId: token.tokenId, scopes: token.scopes };
  });
  router.get('/optional', optionalTokenAuth(manager, auth), (ctx) => {
    ctx.body = { authenticated: ctx.state.auth !== undefined, userId: ctx.state.auth?.userId ?? null };
  });
  router.get(
    '/scoped',
    tokenAuth(manager, auth),
    requireScopes(manager, ['admin'], { realm: auth?.realm, errorBody: auth?.errorBody }),
    (ctx) => {
      ctx.body = { ok: true };
    },
  );
  const given = { realm: auth?.realm, errorBody: auth?.errorBody };
  router.get('/step-up', tokenAuth(manager, auth), requireStepUp(manager, { maxAgeSeconds: 1, ...given }), (ctx) => {
    ctx.body = { ok: true };
  });
  router.get(
    '/step-up-acr',
    tokenAuth(manager, auth),
    requireStepUp(manager, { maxAgeSeconds: 600, acr: ['mfa', 'hwk'], ...given }),
    (ctx) => {
      ctx.body = { ok: true };
    },
  );
  router.post('/login', async (ctx) => {
    const body = ((await jsonBody(ctx)) ?? {}) as { userId?: never; deviceName?: never };
    const { token, tokenId, first, record } = await manager.create(body.userId as never, {
      deviceName: body.deviceName,
      ...deviceFromRequest(ctx),
      jkt: await dpopKeyFromRequest(ctx),
    });
    ctx.status = 201;
    ctx.body = { token, tokenId, first, userAgent: record.userAgent, ip: record.ip };
  });
  router.get('/devices', tokenAuth(manager, auth), async (ctx) => {
    ctx.body = await manager.list(ctx.state.auth.userId, { currentTokenId: ctx.state.auth.token.tokenId });
  });
  router.get('/crash', () => {
    throw new Error('boom');
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

const harness: HttpAdapterHarness = {
  name: 'koa 3',
  async start(app) {
    const server = koaContractApp(app).listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  },
};

for (const [storeName, stores] of contractStores())
  describe.concurrent(`${harness.name} / ${storeName}`, () => {
    for (const c of httpContractCases(harness, stores)) it(c.name, c.run, c.timeoutMs);
  });
