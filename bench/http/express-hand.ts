/** Variant: Express with a hand-written "SHA-256 + one GET" middleware over ioredis. */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { handAuthenticate, issueHandToken } from './hand-written.js';
import type { HttpVariant } from './variant.js';

const variant: HttpVariant = {
  name: 'express-hand',
  title: 'Express, hand-written SHA-256 + GET middleware',
  async start(redisUrl) {
    const redis = new Redis(redisUrl);
    const token = await issueHandToken(redis);
    const app = express();
    app.get(
      '/me',
      (req, res, next) => {
        handAuthenticate(redis, req.headers.authorization).then(
          (user) => {
            if (!user) return void res.status(401).json({ error: 'invalid_token' });
            (req as { user?: unknown }).user = user;
            next();
          },
          (e: unknown) => next(e),
        );
      },
      (req, res) => {
        res.json({ userId: (req as unknown as { user: { userId: string } }).user.userId });
      },
    );
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      port: (server.address() as AddressInfo).port,
      headers: { authorization: `Bearer ${token}` },
      close: async () => {
        await new Promise<void>((r) => server.close(() => r()));
        await redis.quit();
      },
    };
  },
};
export default variant;
