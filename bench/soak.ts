/**
 * A bounded soak over loopback: an Express app with the Redis store, authenticated requests with
 * logins and logouts mixed in, for DURATION_S seconds (default 60). Samples the Node heap (after a GC
 * when --expose-gc is on) and Redis used_memory every 5 s; counts statuses; fails on any 5xx, any
 * unexpected status, or any unhandled rejection. Writes bench/results/soak.md.
 *
 * Run: `npm run soak`, or `REDIS_URL=redis://127.0.0.1:6391 DURATION_S=60 node --expose-gc --import tsx bench/soak.ts`
 * (a Redis of its own gives clean memory figures: `redis-server --port 6391 --save '' --daemonize yes`).
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { deletePrefix } from '../test/support/redis.js';
import { TokenManager } from 'redis-multitokens';
import { IoredisStore } from 'redis-multitokens/ioredis';
import { deviceFromRequest, tokenAuth } from 'redis-multitokens/express';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const durationS = Number(process.env.DURATION_S ?? 60);
const concurrency = Number(process.env.CONCURRENCY ?? 16);
const users = 200;
const keyPrefix = `rmt-soak:${process.pid}:`;
let unhandled = 0;
process.on('unhandledRejection', () => unhandled++);

const redis = new Redis(url);
const tokens = new TokenManager({
  store: new IoredisStore({ client: redis, keyPrefix }),
  secret: 'soak-secret-soak-secret-soak-secret-0123',
  ttlSeconds: 600,
  maxTokensPerUser: 5,
});
const app = express();
app.use(express.json());
app.post('/login', async (req, res) => {
  const { token } = await tokens.create(String(req.body.user), { deviceName: 'soak', ...deviceFromRequest(req) });
  res.json({ token });
});
const auth = tokenAuth(tokens);
app.get('/me', auth, (req, res) => res.json({ userId: req.auth!.userId }));
app.post('/logout', auth, async (req, res) => {
  await tokens.revokeById(req.auth!.userId, req.auth!.token.tokenId, { reason: 'logout' });
  res.status(204).end();
});
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const statuses = new Map<string, number>();
const count = (k: string) => statuses.set(k, (statuses.get(k) ?? 0) + 1);
const samples: { t: number; heapMB: number; redisMB: number; keys: number; requests: number }[] = [];
let requests = 0;
const deadline = Date.now() + durationS * 1000;

async function sample() {
  (globalThis as { gc?: () => void }).gc?.();
  const info = await redis.info('memory');
  const used = Number(/used_memory:(\d+)/.exec(info)![1]);
  let keys = 0;
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    keys += batch.length;
  } while (cursor !== '0');
  samples.push({
    t: Math.round((durationS * 1000 - (deadline - Date.now())) / 1000),
    heapMB: process.memoryUsage().heapUsed / 2 ** 20,
    redisMB: used / 2 ** 20,
    keys,
    requests,
  });
}

async function worker(id: number) {
  let token: string | null = null;
  let i = 0;
  while (Date.now() < deadline) {
    i++;
    const user = (id * 7919 + i) % users;
    if (!token || i % 50 === 0) {
      const r = await fetch(`${base}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user }),
      });
      count(`login ${r.status}`);
      token = ((await r.json()) as { token: string }).token;
    } else if (i % 97 === 0) {
      const r = await fetch(`${base}/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      count(`logout ${r.status}`);
      await r.arrayBuffer();
      token = null;
    } else {
      const r = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${token}` } });
      // 401 is expected when another login evicted this token (maxTokensPerUser 5): log in again.
      count(`me ${r.status}`);
      await r.arrayBuffer();
      if (r.status === 401) token = null;
    }
    requests++;
  }
}

await sample();
const timer = setInterval(() => void sample(), 5000);
await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
clearInterval(timer);
await sample();

const bad = [...statuses].filter(([k]) => !/^(login 200|logout 204|me 200|me 401)$/.test(k));
const warm = samples.filter((s) => s.t >= 10);
const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
const lines = [
  `# soak`,
  ``,
  `Run: \`DURATION_S=${durationS} CONCURRENCY=${concurrency} npm run soak\` (a Redis of its own) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, Redis store, loopback.`,
  ``,
  `- requests: ${requests} in ${durationS} s (${Math.round(requests / durationS)}/s), statuses: ${[...statuses].map(([k, v]) => `${k}: ${v}`).join(', ')}`,
  `- unexpected statuses: ${bad.length ? bad.map(([k, v]) => `${k}: ${v}`).join(', ') : 'none'}; unhandled rejections: ${unhandled}`,
  `- heap after warm-up (≥10 s): ${Math.min(...warm.map((s) => s.heapMB)).toFixed(1)}–${Math.max(...warm.map((s) => s.heapMB)).toFixed(1)} MB (spread ${spread(warm.map((s) => s.heapMB)).toFixed(1)} MB)`,
  `- Redis used_memory after warm-up: ${Math.min(...warm.map((s) => s.redisMB)).toFixed(2)}–${Math.max(...warm.map((s) => s.redisMB)).toFixed(2)} MB (spread ${spread(warm.map((s) => s.redisMB)).toFixed(2)} MB)`,
  ``,
  `Bounded by design: ${users} users × at most 5 live tokens (maxTokensPerUser) + their indexes, so at most ${users * 6} keys under the prefix.`,
  ``,
  `| t (s) | heap (MB) | Redis used_memory (MB) | keys under the prefix | requests so far |`,
  `| ---: | ---: | ---: | ---: | ---: |`,
  ...samples.map((s) => `| ${s.t} | ${s.heapMB.toFixed(1)} | ${s.redisMB.toFixed(2)} | ${s.keys} | ${s.requests} |`),
];
console.log(lines.join('\n'));
if (process.env.SOAK_WRITE !== '0')
  writeFileSync(new URL('./results/soak.md', import.meta.url), `${lines.join('\n')}\n`);

await deletePrefix(redis, keyPrefix);
server.close();
await redis.quit();
process.exit(bad.length === 0 && unhandled === 0 ? 0 : 1);
