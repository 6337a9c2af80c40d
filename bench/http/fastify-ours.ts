/** Variant: Fastify with our plugin (`tokenAuthPlugin`, global hook), RedisStore over ioredis, default options; {@link fastifyOurs} also makes the variant with the local verify cache on. */
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { TokenManager, type TokenManagerOptions } from 'redis-multitokens';
import { tokenAuthPlugin } from 'redis-multitokens/fastify';
import { ioredisDriver } from 'redis-multitokens/ioredis';
import { RedisStore } from 'redis-multitokens/redis';
import { HTTP_SECRET, HTTP_USER, cacheActive, type HttpVariant } from './variant.js';

/** The Fastify variant with our plugin, with `options` added to the manager's (e.g. `verifyCache`). */
export const fastifyOurs = (name: string, title: string, options: Partial<TokenManagerOptions> = {}): HttpVariant => ({
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
    const app = Fastify();
    await app.register(tokenAuthPlugin, { manager: tokens });
    app.get('/me', async (request) => ({ userId: request.auth!.userId }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      port: (app.server.address() as { port: number }).port,
      headers: { authorization: `Bearer ${token}` },
      cacheStats: () => tokens.verifyCacheStats,
      close: async () => {
        await app.close();
        await tokens.close();
        await redis.quit();
      },
    };
  },
});
export default fastifyOurs('fastify-ours', 'Fastify, our tokenAuthPlugin');
