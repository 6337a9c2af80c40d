/**
 * The HTTP contract suite (src/testing/http-suite.ts) on Fastify 5, over the memory store and Redis, in
 * the plugin's two ways of use: per route (`global: false` and `fastify.tokenAuth()` hooks on some
 * routes) and global (the plugin registered in encapsulated contexts, one per kind of route).
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { describe, it } from 'vitest';
import { deviceFromRequest, dpopKeyFromRequest, tokenAuthPlugin, tokenErrorHandler } from '../../src/fastify.js';
import { httpContractCases, type HttpAdapterHarness, type HttpContractApp } from '../../src/testing/index.js';
import { contractStores } from '../support/contract.js';

type Mode = 'per route' | 'global';

/** The routes that only read `request.auth` (the same in both modes). */
const me = async (request: FastifyRequest) => {
  const { userId, user, token } = request.auth!;
  return { userId, user, tokenId: token.tokenId, scopes: token.scopes };
};
const optional = async (request: FastifyRequest) => ({
  authenticated: request.auth !== null,
  userId: request.auth?.userId ?? null,
});

/** The contract app on Fastify 5. */
export async function fastifyContractApp(mode: Mode, { manager, auth }: HttpContractApp): Promise<FastifyInstance> {
  const app = Fastify();
  // The app's own routes' errors (create, list) get the library's answers; any other error goes on to Fastify's default handler.
  app.setErrorHandler(tokenErrorHandler());
  app.post('/login', async (request, reply) => {
    const body = (request.body ?? {}) as { userId?: never; deviceName?: never };
    const { token, tokenId, first, record } = await manager.create(body.userId as never, {
      deviceName: body.deviceName,
      ...deviceFromRequest(request),
      jkt: await dpopKeyFromRequest(request),
    });
    return reply.code(201).send({ token, tokenId, first, userAgent: record.userAgent, ip: record.ip });
  });
  app.get('/crash', async () => {
    throw new Error('boom');
  });
  const devices = async (request: FastifyRequest) =>
    manager.list(request.auth!.userId, { currentTokenId: request.auth!.token.tokenId });

  if (mode === 'per route') {
    await app.register(tokenAuthPlugin, { manager, ...auth, global: false });
    app.get('/me', { onRequest: app.tokenAuth() }, me);
    app.get('/optional', { onRequest: app.tokenAuth({ optional: true }) }, optional);
    app.get('/scoped', { onRequest: [app.tokenAuth(), app.requireScopes('admin')] }, async () => ({ ok: true }));
    app.get('/devices', { onRequest: app.tokenAuth() }, devices);
    app.get('/step-up', { onRequest: [app.tokenAuth(), app.requireStepUp({ maxAgeSeconds: 1 })] }, async () => ({
      ok: true,
    }));
    app.get(
      '/step-up-acr',
      { onRequest: [app.tokenAuth(), app.requireStepUp({ maxAgeSeconds: 600, acr: ['mfa', 'hwk'] })] },
      async () => ({ ok: true }),
    );
  } else {
    // fastify-plugin lifts the plugin into each context that registers it, and no further.
    await app.register(async (authenticated) => {
      await authenticated.register(tokenAuthPlugin, { manager, ...auth });
      authenticated.get('/me', me);
      authenticated.get('/scoped', { preHandler: authenticated.requireScopes('admin') }, async () => ({ ok: true }));
      authenticated.get('/devices', devices);
      authenticated.get('/step-up', { preHandler: authenticated.requireStepUp({ maxAgeSeconds: 1 }) }, async () => ({
        ok: true,
      }));
      authenticated.get(
        '/step-up-acr',
        { preHandler: authenticated.requireStepUp({ maxAgeSeconds: 600, acr: ['mfa', 'hwk'] }) },
        async () => ({ ok: true }),
      );
    });
    await app.register(async (anonymousAllowed) => {
      await anonymousAllowed.register(tokenAuthPlugin, { manager, ...auth, optional: true });
      anonymousAllowed.get('/optional', optional);
    });
  }
  return app;
}

function harness(mode: Mode): HttpAdapterHarness {
  return {
    name: `fastify 5 (${mode})`,
    async start(contractApp) {
      const app = await fastifyContractApp(mode, contractApp);
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url, close: () => app.close() };
    },
  };
}

const stores = contractStores();
for (const h of [harness('per route'), harness('global')])
  for (const [storeName, s] of stores)
    describe.concurrent(`${h.name} / ${storeName}`, () => {
      for (const c of httpContractCases(h, s)) it(c.name, c.run, c.timeoutMs);
    });
