/**
 * The HTTP contract suite (src/testing/http-suite.ts) on Express 5 and Express 4 (the `express4` alias
 * of 4.22.3), over the memory store and Redis. The contract app is the one every adapter builds.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express5, { type NextFunction, type Request, type Response } from 'express';
import express4 from 'express4';
import { describe, it } from 'vitest';
import {
  deviceFromRequest,
  dpopKeyFromRequest,
  getAuth,
  optionalTokenAuth,
  requireScopes,
  requireStepUp,
  tokenAuth,
  tokenErrorHandler,
} from '../../src/express.js';
import { httpContractCases, type HttpAdapterHarness, type HttpContractApp } from '../../src/testing/index.js';
import { contractStores } from '../support/contract.js';

/** The contract app on Express (4 or 5). Async routes hand their errors to `next` (Express 4 does not). */
export function expressContractApp(express: typeof express5, { manager, auth }: HttpContractApp): express5.Express {
  const app = express();
  app.set('env', 'production'); // the ordinary 500 of a deployed app: no stack trace in the page
  app.use(express.json());
  app.get('/me', tokenAuth(manager, auth), (req: Request, res: Response) => {
    const { userId, user, token } = getAuth(req);
    res.json({ userId, user, tokenId: token.tokenId, scopes: token.scopes });
  });
  app.get('/optional', optionalTokenAuth(manager, auth), (req: Request, res: Response) => {
    res.json({ authenticated: req.auth !== undefined, userId: req.auth?.userId ?? null });
  });
  app.get(
    '/scoped',
    tokenAuth(manager, auth),
    requireScopes(manager, ['admin'], { realm: auth?.realm, errorBody: auth?.errorBody }),
    (_req: Request, res: Response) => {
      res.json({ ok: true });
    },
  );
  const given = { realm: auth?.realm, errorBody: auth?.errorBody };
  app.get(
    '/step-up',
    tokenAuth(manager, auth),
    requireStepUp(manager, { maxAgeSeconds: 1, ...given }),
    (_req: Request, res: Response) => {
      res.json({ ok: true });
    },
  );
  app.get(
    '/step-up-acr',
    tokenAuth(manager, auth),
    requireStepUp(manager, { maxAgeSeconds: 600, acr: ['mfa', 'hwk'], ...given }),
    (_req: Request, res: Response) => {
      res.json({ ok: true });
    },
  );
  app.post('/login', (req: Request, res: Response, next: NextFunction) => {
    const body = (req.body ?? {}) as { userId?: never; deviceName?: never };
    dpopKeyFromRequest(req)
      .then((jkt) =>
        manager.create(body.userId as never, { deviceName: body.deviceName, ...deviceFromRequest(req), jkt }),
      )
      .then(
        ({ token, tokenId, first, record }) =>
          res.status(201).json({ token, tokenId, first, userAgent: record.userAgent, ip: record.ip }),
        next,
      );
  });
  app.get('/devices', tokenAuth(manager, auth), (req: Request, res: Response, next: NextFunction) => {
    const { userId, token } = getAuth(req);
    manager.list(userId, { currentTokenId: token.tokenId }).then((list) => res.json(list), next);
  });
  app.get('/crash', () => {
    throw new Error('boom');
  });
  app.use(tokenErrorHandler());
  return app;
}

function harness(name: string, express: typeof express5): HttpAdapterHarness {
  return {
    name,
    async start(app) {
      const server = createServer(expressContractApp(express, app));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
}

const stores = contractStores();
for (const h of [harness('express 5', express5), harness('express 4', express4)])
  for (const [storeName, s] of stores)
    describe.concurrent(`${h.name} / ${storeName}`, () => {
      for (const c of httpContractCases(h, s)) it(c.name, c.run, c.timeoutMs);
    });
