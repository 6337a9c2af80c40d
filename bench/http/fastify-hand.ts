/** Variant: Fastify with a hand-written "SHA-256 + one GET" onRequest hook over ioredis. */
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { handAuthenticate, issueHandToken } from './hand-written.js';
import type { HttpVariant } from './variant.js';

const variant: HttpVariant = {
  name: 'fastify-hand',
  title: 'Fastify, hand-written SHA-256 + GET hook',
  async start(redisUrl) {
    const redis = new Redis(redisUrl);
    const token = await issueHandToken(redis);
    const app = Fastify();
    app.decorateRequest('user', null);
    app.addHook('onRequest', async (request, reply) => {
      const user = await handAuthenticate(redis, request.headers.authorization);
      if (!user) return reply.code(401).send({ error: 'invalid_token' });
      (request as unknown as { user: unknown }).user = user;
    });
    app.get('/me', async (request) => ({ userId: (request as unknown as { user: { userId: string } }).user.userId }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      port: (app.server.address() as { port: number }).port,
      headers: { authorization: `Bearer ${token}` },
      close: async () => {
        await app.close();
        await redis.quit();
      },
    };
  },
};
export default variant;
