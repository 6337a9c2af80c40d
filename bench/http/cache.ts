/**
 * Variants "Express/Fastify, ours with the local verify cache" (`verifyCache: {}`: 10,000 entries, 1,000 ms
 * worst-case staleness). One hot token per run: it is served from the cache except once per second
 * (the staleness bound) and once per touch interval (60 s), when the store is asked again.
 */
import { expressOurs } from './express-ours.js';
import { fastifyOurs } from './fastify-ours.js';

export const expressOursCache = expressOurs(
  'express-ours-cache',
  'Express, our tokenAuth with the local verify cache',
  { verifyCache: {} },
);
export const fastifyOursCache = fastifyOurs(
  'fastify-ours-cache',
  'Fastify, our tokenAuthPlugin with the local verify cache',
  { verifyCache: {} },
);
