/** Variant: Fastify with no authentication (the ceiling). */
import Fastify from 'fastify';
import { HTTP_USER, type HttpVariant } from './variant.js';

const variant: HttpVariant = {
  name: 'fastify-none',
  title: 'Fastify, no auth',
  async start() {
    const app = Fastify();
    app.get('/me', async () => ({ userId: HTTP_USER }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as { port: number }).port, headers: {}, close: () => app.close() };
  },
};
export default variant;
