/**
 * The demo API on Koa 3: @koa/router routes to the framework-free handlers of demo/api.ts,
 * authentication by `redis-multitokens/koa` (`ctx.state.auth`), the devices page by a small route over
 * `publicFile` (no koa-static), and the small JSON bodies read here (no body parser).
 */
import { createServer } from 'node:http';
import Router from '@koa/router';
import Koa, { type ParameterizedContext } from 'koa';
import { deviceFromRequest, dpopKeyFromRequest, requireStepUp, tokenAuth } from 'redis-multitokens/koa';
import {
  API_HEADERS,
  BODY_LIMIT_BYTES,
  SECURITY_HEADERS,
  demoStepUp,
  nodeServer,
  createDemoApi,
  invalidJson,
  PAGE_PATHS,
  tooLarge,
  publicFile,
  type DemoAppOptions,
  type DemoFactory,
  type DemoResponse,
  type User,
} from '../api.js';

/** Sends a handler's answer: status, headers, and the body as JSON (none when undefined). */
function send(ctx: ParameterizedContext, answer: DemoResponse): void {
  ctx.status = answer.status;
  if (answer.headers) ctx.set(answer.headers);
  if (answer.body !== undefined) {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(answer.body);
  }
}

/** A body refusal: status and the demo's JSON answer. */
class BodyError extends Error {
  constructor(readonly answer: DemoResponse) {
    super(String((answer.body as { message?: string } | undefined)?.message));
  }
}

/**
 * The request's JSON body, as a body parser gives it: undefined when the request is not JSON (a form
 * post reaches the handlers as "no JSON body"), 413 over {@link BODY_LIMIT_BYTES}, 400 for bad JSON.
 */
async function jsonBody(ctx: ParameterizedContext): Promise<unknown> {
  if (!ctx.is('application/json', '+json')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT_BYTES) throw new BodyError(tooLarge());
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BodyError(invalidJson());
  }
}

/** Builds the demo app (Koa 3). It opens nothing itself: the caller owns `tokens` and `db`. */
export function createApp(options: DemoAppOptions): Koa {
  const api = createDemoApi(options);
  // Koa's `app.proxy` trusts X-Forwarded-For; a number is the count of proxies (`maxIpsCount`), as Express's.
  const { trustProxy = false } = options;
  const app = new Koa({
    proxy: trustProxy !== false,
    ...(typeof trustProxy === 'number' ? { maxIpsCount: trustProxy } : {}),
  });

  // Security headers on every answer, `no-store` on the API's; every error as the demo's JSON answer.
  app.use(async (ctx, next) => {
    ctx.set(SECURITY_HEADERS);
    ctx.set(API_HEADERS);
    try {
      await next();
    } catch (error) {
      // Errors thrown by the middleware's loadUser, and body refusals (the handlers themselves never throw).
      send(ctx, error instanceof BodyError ? error.answer : api.error(error));
    }
  });

  const router = new Router();
  // The devices page (cacheable: no `no-store`).
  router.get([...PAGE_PATHS], async (ctx) => {
    const file = await publicFile(ctx.path);
    if (!file) return send(ctx, api.notFound());
    ctx.remove('Cache-Control');
    ctx.type = file.contentType;
    ctx.body = file.content;
  });

  const auth = tokenAuth<User>(options.tokens, { loadUser: (userId, token) => api.loadUser(userId, token) });

  router.get('/health', async (ctx) => send(ctx, await api.health()));
  router.post('/register', async (ctx) => send(ctx, await api.register(await jsonBody(ctx))));
  router.post('/login', async (ctx) =>
    send(ctx, await api.login(await jsonBody(ctx), deviceFromRequest(ctx), () => dpopKeyFromRequest(ctx))),
  );
  router.get('/me', auth, async (ctx) => send(ctx, await api.me(ctx.state.auth)));
  router.post('/logout', auth, async (ctx) => send(ctx, await api.logout(ctx.state.auth)));
  router.post('/reauthenticate', auth, async (ctx) =>
    send(ctx, await api.reauthenticate(ctx.state.auth, await jsonBody(ctx))),
  );
  // Step-up (RFC 9470): the sensitive routes need a password check within the last stepUpMaxAgeSeconds.
  const stepUp = requireStepUp(options.tokens, demoStepUp(options));
  router.post('/logout-others', auth, stepUp, async (ctx) => send(ctx, await api.logoutOthers(ctx.state.auth)));
  router.post('/logout-all', auth, stepUp, async (ctx) => send(ctx, await api.logoutAll(ctx.state.auth)));
  router.post('/change-password', auth, stepUp, async (ctx) =>
    send(ctx, await api.changePassword(ctx.state.auth, await jsonBody(ctx))),
  );
  router.get('/devices', auth, async (ctx) => send(ctx, await api.devices(ctx.state.auth, ctx.query)));
  // The id as it was in the URL: the router would keep a malformed %-escape as is, the handler answers it 400.
  router.delete('/devices/:id', auth, async (ctx) =>
    send(ctx, await api.deleteDevice(ctx.state.auth, ctx.path.slice('/devices/'.length), { encoded: true })),
  );

  app.use(router.routes());
  // Anything no route answered (router.allowedMethods() would answer 405 where the demo answers 404).
  app.use((ctx) => send(ctx, api.notFound()));
  return app;
}

/** The demo on Koa (`DEMO_FRAMEWORK=koa`). */
export const createDemoServer: DemoFactory = async (options) => nodeServer(createServer(createApp(options).callback()));
