/**
 * Child process of the HTTP scenario: starts one variant's app and answers the runner over IPC
 * (`{ cpu }`: its CPU so far; `{ cacheStats }`: its verify cache's counters, null when it has none;
 * `{ close }`: shut down). One process per variant, so the apps never
 * share an event loop, and autocannon (in the runner) never shares one with an app.
 *
 * argv: <variant name> <redis url>
 */
import type { HttpVariant } from './variant.js';

const [name, redisUrl] = process.argv.slice(2);
const modules: Record<string, () => Promise<{ default: HttpVariant }>> = {
  'express-none': () => import('./express-none.js'),
  'express-hand': () => import('./express-hand.js'),
  'express-ours': () => import('./express-ours.js'),
  'express-session': () => import('./express-session.js'),
  'fastify-none': () => import('./fastify-none.js'),
  'fastify-hand': () => import('./fastify-hand.js'),
  'fastify-ours': () => import('./fastify-ours.js'),
  'express-ours-cache': async () => ({ default: (await import('./cache.js')).expressOursCache }),
  'fastify-ours-cache': async () => ({ default: (await import('./cache.js')).fastifyOursCache }),
};
const load = modules[name!];
if (!load || !redisUrl || !process.send) {
  console.error('usage: forked by bench/http/index.ts with <variant> <redis url>');
  process.exit(2);
}
const app = await (await load()).default.start(redisUrl);
process.on('message', async (msg: { type: string }) => {
  if (msg.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send!({ type: 'cpu', us: user + system });
  } else if (msg.type === 'cacheStats') {
    process.send!({ type: 'cacheStats', stats: app.cacheStats?.() ?? null });
  } else if (msg.type === 'close') {
    await app.close();
    process.exit(0);
  }
});
process.send({ type: 'ready', port: app.port, headers: app.headers });
