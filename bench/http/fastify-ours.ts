/** Variant: Fastify with our plugin (`tokenAuthPlugin`, global hook), RedisStore over ioredis, default options. */
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { TokenManager } from 'redis-multitokens';
import { tokenAuthPlugin } from 'redis-multitokens/fastify';
import { ioredisDriver } from 'redis-multitokens/ioredis';
import { RedisStore } from 'redis-multitokens/redis';
import { HTTP_SECRET, HTTP_USER, type HttpVariant } from './variant.js';

const variant: HttpVariant = {
  name: 'fastify-ours',
  title: 'Fastify, our tokenAuthPlugin',
  async start(redisUrl) {
    const redis = new Redis(redisUrl);
    const tokens = new TokenManager({ store: new RedisStore({ driver: ioredisDriver(redis), keyPrefix: 'http-fastify:' }), secret: HTTP_SECRET });
    const { token } = await tokens.create(HTTP_USER);
    const app = Fastify();
    await app.register(tokenAuthPlugin, { manager: tokens });
    app.get('/me', async (request) => ({ userId: request.auth!.userId }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      port: (app.server.address() as { port: number }).port,
      headers: { authorization: `Bearer ${token}` },
      close: async () => {
        await app.close();
        await tokens.store.close?.();
        await redis.quit();
      },
    };
  },
};
export default variant;
