/** Variant: Express with our `tokenAuth`, RedisStore over ioredis, default options (renewal within the touch interval: no write); {@link expressOurs} also makes the variant with the local verify cache on. */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { TokenManager, type TokenManagerOptions } from 'redis-multitokens';
import { tokenAuth } from 'redis-multitokens/express';
import { ioredisDriver } from 'redis-multitokens/ioredis';
import { RedisStore } from 'redis-multitokens/redis';
import { HTTP_SECRET, HTTP_USER, cacheActive, type HttpVariant } from './variant.js';

/** The Express variant with our middleware, with `options` added to the manager's (e.g. `verifyCache`). */
export const expressOurs = (name: string, title: string, options: Partial<TokenManagerOptions> = {}): HttpVariant => ({
  name,
  title,
  async start(redisUrl) {
    const redis = new Redis(redisUrl);
    const tokens = new TokenManager({
      store: new RedisStore({ driver: ioredisDriver(redis), keyPrefix: `http-${name}:` }),
      secret: HTTP_SECRET,
      ...options,
    });
    await cacheActive(tokens, name);
    const { token } = await tokens.create(HTTP_USER);
    const app = express();
    app.get('/me', tokenAuth(tokens), (req, res) => {
      res.json({ userId: req.auth!.userId });
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      port: (server.address() as AddressInfo).port,
      headers: { authorization: `Bearer ${token}` },
      cacheStats: () => tokens.verifyCacheStats,
      close: async () => {
        await new Promise<void>((r) => server.close(() => r()));
        await tokens.close();
        await redis.quit();
      },
    };
  },
});
export default expressOurs('express-ours', 'Express, our tokenAuth');
