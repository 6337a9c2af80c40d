/** Variant: Express with no authentication (the ceiling). */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { HTTP_USER, type HttpVariant } from './variant.js';

const variant: HttpVariant = {
  name: 'express-none',
  title: 'Express, no auth',
  async start() {
    const app = express();
    app.get('/me', (_req, res) => {
      res.json({ userId: HTTP_USER });
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      port: (server.address() as AddressInfo).port,
      headers: {},
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
};
export default variant;
