export * from './frameworks/hono.js';
