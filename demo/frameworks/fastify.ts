/**
 * The demo API on Fastify 5: routes to the framework-free handlers of demo/api.ts, authentication by
 * `redis-multitokens/fastify` (the plugin registered globally inside one encapsulated context that holds
 * every authenticated route), the devices page by a small route over `publicFile` (no @fastify/static).
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { deviceFromRequest, dpopKeyFromRequest, tokenAuthPlugin } from 'redis-multitokens/fastify';
import {
  API_HEADERS,
  BODY_LIMIT_BYTES,
  SECURITY_HEADERS,
  createDemoApi,
  demoStepUp,
  invalidJson,
  PAGE_PATHS,
  publicFile,
  type DemoAppOptions,
  type DemoAuth,
  type DemoFactory,
  type DemoResponse,
} from '../api.js';

/** Sends a handler's answer: status, headers, and the body as JSON (none when undefined). */
function send(reply: FastifyReply, answer: DemoResponse): FastifyReply {
  reply.code(answer.status);
  if (answer.headers) reply.headers(answer.headers);
  return answer.body === undefined
    ? reply.send()
    : reply.type('application/json; charset=utf-8').send(JSON.stringify(answer.body));
}

/** The authentication the plugin put on the request (every route of the authenticated context has one). */
const authOf = (request: FastifyRequest): DemoAuth => request.auth as DemoAuth;

/** Builds the demo app (Fastify 5). It opens nothing itself: the caller owns `tokens` and `db`. */
export async function createApp(options: DemoAppOptions): Promise<FastifyInstance> {
  const api = createDemoApi(options);
  const app = Fastify({
    trustProxy: options.trustProxy ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Errors Fastify answers before any route (a malformed %-escape in the path): the demo's JSON 400.
    frameworkErrors: (error, _request, reply) =>
      send(reply.headers(SECURITY_HEADERS).headers(API_HEADERS), api.error(error)),
  });

  app.addHook('onRequest', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS).headers(API_HEADERS);
  });
  // A body that is not JSON (a form post, text) reaches the handlers as "no JSON body" (400 invalid_request).
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));
  app.setErrorHandler((error: Error & { code?: string }, _request, reply) => {
    if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      return send(reply, invalidJson());
    return send(reply, api.error(error));
  });
  app.setNotFoundHandler((_request, reply) => send(reply, api.notFound()));

  // The devices page (cacheable: no `no-store`).
  for (const path of PAGE_PATHS)
    app.get(path, async (request, reply) => {
      const file = await publicFile(request.routeOptions.url!);
      if (!file) return send(reply, api.notFound());
      return reply.removeHeader('Cache-Control').type(file.contentType).send(file.content);
    });

  app.get('/health', async (_request, reply) => send(reply, await api.health()));
  app.post('/register', async (request, reply) => send(reply, await api.register(request.body)));
  app.post('/login', async (request, reply) =>
    send(reply, await api.login(request.body, deviceFromRequest(request), () => dpopKeyFromRequest(request))),
  );

  // fastify-plugin lifts the plugin into this context only: every route here needs a token, the others above do not.
  await app.register(async (authenticated) => {
    await authenticated.register(tokenAuthPlugin, {
      manager: options.tokens,
      loadUser: (userId, token) => api.loadUser(userId, token),
    });
    authenticated.get('/me', async (request, reply) => send(reply, await api.me(authOf(request))));
    authenticated.post('/logout', async (request, reply) => send(reply, await api.logout(authOf(request))));
    authenticated.post('/reauthenticate', async (request, reply) =>
      send(reply, await api.reauthenticate(authOf(request), request.body)),
    );
    // Step-up (RFC 9470): the sensitive routes need a password check within the last stepUpMaxAgeSeconds.
    const stepUp = { preHandler: authenticated.requireStepUp(demoStepUp(options)) };
    authenticated.post('/logout-others', stepUp, async (request, reply) =>
      send(reply, await api.logoutOthers(authOf(request))),
    );
    authenticated.post('/logout-all', stepUp, async (request, reply) =>
      send(reply, await api.logoutAll(authOf(request))),
    );
    authenticated.post('/change-password', stepUp, async (request, reply) =>
      send(reply, await api.changePassword(authOf(request), request.body)),
    );
    authenticated.get('/devices', async (request, reply) =>
      send(reply, await api.devices(authOf(request), request.query as Record<string, unknown>)),
    );
    authenticated.delete<{ Params: { id: string } }>('/devices/:id', async (request, reply) =>
      send(reply, await api.deleteDevice(authOf(request), request.params.id)),
    );
  });
  return app;
}

/** The demo on Fastify (`DEMO_FRAMEWORK=fastify`). */
export const createDemoServer: DemoFactory = async (options) => {
  const app = await createApp(options);
  return {
    async listen(port, host) {
      await app.listen({ port, host });
      return (app.server.address() as AddressInfo).port;
    },
    close: () => app.close(),
  };
};
