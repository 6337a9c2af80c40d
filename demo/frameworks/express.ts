/**
 * The demo API on Express 5: routes to the framework-free handlers of demo/api.ts, authentication by
 * `redis-multitokens/express`, the devices page by `express.static`.
 */
import { createServer } from 'node:http';
import express, { type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import { deviceFromRequest, dpopKeyFromRequest, getAuth, requireStepUp, tokenAuth } from 'redis-multitokens/express';
import {
  API_HEADERS,
  BODY_LIMIT_BYTES,
  PUBLIC_DIR,
  SECURITY_HEADERS,
  demoStepUp,
  nodeServer,
  createDemoApi,
  type DemoAppOptions,
  type DemoFactory,
  type DemoResponse,
  type User,
} from '../api.js';

/** Sends a handler's answer: status, headers, and the body as JSON (none when undefined). */
function send(res: Response, answer: DemoResponse): void {
  res.status(answer.status);
  if (answer.headers) res.set(answer.headers);
  if (answer.body === undefined) res.end();
  else res.json(answer.body);
}

/** Builds the demo app (Express 5). It opens nothing itself: the caller owns `tokens` and `db`. */
export function createApp(options: DemoAppOptions): express.Express {
  const api = createDemoApi(options);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  app.set('json spaces', 0);

  app.use((_req, res, next) => {
    res.set(SECURITY_HEADERS);
    next();
  });

  // The devices page: index.html, app.js, format.js, dpop.js, style.css.
  app.use(express.static(PUBLIC_DIR, { index: 'index.html', redirect: false, dotfiles: 'ignore' }));

  // Everything below is the JSON API; its answers may carry tokens, so no cache keeps them.
  app.use((_req, res, next) => {
    res.set(API_HEADERS);
    next();
  });
  // strict: false: any JSON value (null, a string) reaches the handlers' validation, as on every framework.
  app.use(express.json({ limit: BODY_LIMIT_BYTES, strict: false }));

  const auth = tokenAuth<User>(options.tokens, { loadUser: (userId, token) => api.loadUser(userId, token) });
  const authed = (handler: (req: Request) => Promise<DemoResponse>) => [
    auth,
    async (req: Request, res: Response) => send(res, await handler(req)),
  ];

  app.get('/health', async (_req, res) => send(res, await api.health()));
  app.post('/register', async (req, res) => send(res, await api.register(req.body)));
  app.post('/login', async (req, res) =>
    send(res, await api.login(req.body, deviceFromRequest(req), () => dpopKeyFromRequest(req))),
  );
  app.get('/me', ...authed((req) => api.me(getAuth<User>(req))));
  app.post('/logout', ...authed((req) => api.logout(getAuth<User>(req))));
  // Step-up (RFC 9470): the sensitive routes need a password check within the last stepUpMaxAgeSeconds.
  const stepUp = requireStepUp(options.tokens, demoStepUp(options));
  const sensitive = (handler: (req: Request) => Promise<DemoResponse>) => [
    auth,
    stepUp,
    async (req: Request, res: Response) => send(res, await handler(req)),
  ];
  app.post('/reauthenticate', ...authed((req) => api.reauthenticate(getAuth<User>(req), req.body)));
  app.post('/logout-others', ...sensitive((req) => api.logoutOthers(getAuth<User>(req))));
  app.post('/logout-all', ...sensitive((req) => api.logoutAll(getAuth<User>(req))));
  app.post('/change-password', ...sensitive((req) => api.changePassword(getAuth<User>(req), req.body)));
  app.get('/devices', ...authed((req) => api.devices(getAuth<User>(req), req.query as Record<string, unknown>)));
  app.delete('/devices/:id', ...authed((req) => api.deleteDevice(getAuth<User>(req), String(req.params.id))));

  app.use((_req: Request, res: Response) => send(res, api.notFound()));

  const onError: ErrorRequestHandler = (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    // Static files also send 'no-store' from here on; an error answer is never worth caching.
    res.set(API_HEADERS);
    send(res, api.error(error));
  };
  app.use(onError);
  return app;
}

/** The demo on Express (the default of `DEMO_FRAMEWORK`). */
export const createDemoServer: DemoFactory = async (options) => nodeServer(createServer(createApp(options)));
