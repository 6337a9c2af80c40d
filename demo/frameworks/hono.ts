/**
 * The demo API on Hono 4, served by @hono/node-server: routes to the framework-free handlers of
 * demo/api.ts, authentication by `redis-multitokens/hono` (`c.get('auth')`), its `tokenErrorHandler`
 * in `app.onError` with the demo's own answer as the fallback, the devices page by a small route over
 * `publicFile`, and the client IP by @hono/node-server's `getConnInfo` (X-Forwarded-For only with
 * `trustProxy`).
 */
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import {
  deviceFromRequest,
  dpopKeyFromRequest,
  requireStepUp,
  tokenAuth,
  tokenErrorHandler,
} from 'redis-multitokens/hono';
import {
  API_HEADERS,
  BODY_LIMIT_BYTES,
  SECURITY_HEADERS,
  demoStepUp,
  type DemoAuth,
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

/** A handler's answer as a Response: status, headers, and the body as JSON (none when undefined). */
function send(c: Context, answer: DemoResponse): Response {
  const headers = { ...answer.headers };
  if (answer.body === undefined) return c.body(null, answer.status as 204, headers);
  return c.body(JSON.stringify(answer.body), answer.status as 200, { ...headers, 'Content-Type': 'application/json' });
}

/** The request's JSON body: undefined when it is not JSON (a form post reaches the handlers as "no JSON body"), null for bad JSON. */
async function jsonBody(c: Context): Promise<{ value: unknown } | null> {
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(c.req.header('Content-Type') ?? ''))
    return { value: undefined };
  const text = await c.req.text();
  if (text.length === 0) return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch {
    return null;
  }
}

/**
 * How many proxies append to X-Forwarded-For, from the demo's `trustProxy` (Express's values): a number
 * is that many; `true` trusts every hop (the leftmost address); a string (an Express address list)
 * counts as one proxy here; false/undefined ignores the header.
 */
function proxyHopsOf(trustProxy: DemoAppOptions['trustProxy']): number {
  if (typeof trustProxy === 'number') return trustProxy;
  if (trustProxy === true) return Number.MAX_SAFE_INTEGER;
  return typeof trustProxy === 'string' && trustProxy !== '' ? 1 : 0;
}

/** Builds the demo app (Hono 4). It opens nothing itself: the caller owns `tokens` and `db`. */
export function createApp(options: DemoAppOptions): Hono {
  const api = createDemoApi(options);
  const proxyHops = proxyHopsOf(options.trustProxy);
  const app = new Hono();

  // Security headers on every answer, `no-store` on the API's (refusals and errors included).
  app.use(async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
    if (!(PAGE_PATHS.includes(c.req.path) && c.res.status === 200))
      for (const [name, value] of Object.entries(API_HEADERS)) c.res.headers.set(name, value);
  });
  // The adapter's refusals as they are; the library's errors as JSON 400/403/503; anything else the demo's answer.
  app.onError(tokenErrorHandler({ fallback: (error, c) => send(c, api.error(error)) }));
  app.notFound((c) => send(c, api.notFound()));

  // The devices page (PAGE_PATHS).
  for (const path of PAGE_PATHS)
    app.get(path, async (c) => {
      const file = await publicFile(path);
      if (!file) return send(c, api.notFound());
      return c.body(new Uint8Array(file.content), 200, { 'Content-Type': file.contentType });
    });

  const limit = bodyLimit({
    maxSize: BODY_LIMIT_BYTES,
    onError: (c) => send(c, tooLarge()),
  });
  const withBody = (handler: (body: unknown, c: Context) => Promise<DemoResponse>) => async (c: Context) => {
    const body = await jsonBody(c);
    return send(c, body ? await handler(body.value, c) : invalidJson());
  };
  const auth = tokenAuth<User>(options.tokens, { loadUser: (userId, token) => api.loadUser(userId, token) });

  app.get('/health', async (c) => send(c, await api.health()));
  app.post(
    '/register',
    limit,
    withBody((body) => api.register(body)),
  );
  app.post(
    '/login',
    limit,
    withBody((body, c) =>
      api.login(body, deviceFromRequest(c, { getConnInfo, proxyHops }), () => dpopKeyFromRequest(c)),
    ),
  );
  app.get('/me', auth, async (c) => send(c, await api.me(c.get('auth'))));
  app.post('/logout', auth, async (c) => send(c, await api.logout(c.get('auth'))));
  app.post(
    '/reauthenticate',
    limit,
    auth,
    withBody((body, c) => api.reauthenticate(c.get('auth') as DemoAuth, body)),
  );
  // Step-up (RFC 9470): the sensitive routes need a password check within the last stepUpMaxAgeSeconds.
  const stepUp = requireStepUp(options.tokens, demoStepUp(options));
  app.post('/logout-others', auth, stepUp, async (c) => send(c, await api.logoutOthers(c.get('auth'))));
  app.post('/logout-all', auth, stepUp, async (c) => send(c, await api.logoutAll(c.get('auth'))));
  app.post(
    '/change-password',
    limit,
    auth,
    stepUp,
    withBody((body, c) => api.changePassword(c.get('auth') as DemoAuth, body)),
  );
  app.get('/devices', auth, async (c) => send(c, await api.devices(c.get('auth'), c.req.query())));
  // The id as it was in the URL: Hono would keep a malformed %-escape as is, the handler answers it 400.
  app.delete('/devices/:id', auth, async (c) => {
    const encoded = new URL(c.req.url).pathname.slice('/devices/'.length);
    return send(c, await api.deleteDevice(c.get('auth'), encoded, { encoded: true }));
  });
  return app;
}

/** The demo on Hono (`DEMO_FRAMEWORK=hono`), served by @hono/node-server. */
export const createDemoServer: DemoFactory = async (options) =>
  nodeServer(createAdaptorServer({ fetch: createApp(options).fetch }) as Server);
