export * from './frameworks/fastify.js';
