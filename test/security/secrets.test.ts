/**
 * Promise 1 (no raw token at rest or in any output): run create, verify (good, bad, malformed),
 * revoke, revoke-all and a Redis outage through the manager and the Express middleware, capturing
 * every event payload (inspected in full depth, errors and causes included), everything written to
 * stdout/stderr, and every HTTP answer; then scan every key and value in Redis. No token string and no
 * Authorization header value may appear anywhere.
 */
import { inspect } from 'node:util';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenManager, type TokenEvents } from '../../src/core/manager.js';
import { tokenAuth } from '../../src/frameworks/express.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { forgeSecret } from '../../src/testing/index.js';
import { startRedisServer } from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

describe('no secret when the manager is inspected or logged', () => {
  it('util.inspect shows key ids, never the secrets', async () => {
    const secret = 'S3cr3t-'.repeat(6);
    const m = new TokenManager({
      store: new (await import('../../src/stores/memory.js')).MemoryStore(),
      secret,
      userTagSecret: 'T4g-'.repeat(10),
    });
    const shown = inspect(m, { depth: 20, showHidden: true });
    expect(shown).toContain("keyIds: ['k1']");
    for (const needle of [
      secret,
      'T4g-T4g-',
      Buffer.from(secret).toString('hex').slice(0, 32),
      Buffer.from(secret).toString('base64').slice(0, 20),
    ])
      expect(shown).not.toContain(needle);
  });
});

describe('no token string in events, output, HTTP answers or Redis', () => {
  const closers: (() => unknown)[] = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('holds through the whole lifecycle and an outage', async () => {
    const server = await startRedisServer();
    closers.push(() => server.stop());
    const redis = new Redis(server.url, { maxRetriesPerRequest: 0 });
    redis.on('error', () => {});
    closers.push(() => redis.disconnect());
    const manager = new TokenManager({
      store: new IoredisStore({ client: redis, commandTimeoutMs: 300 }),
      secret: TEST_SECRET,
      touchIntervalSeconds: 0,
      maxFailedVerifications: 3,
    });

    const captured: string[] = [];
    const names: (keyof TokenEvents)[] = [
      'created',
      'verified',
      'revoked',
      'authFailed',
      'storeUnavailable',
      'storeRecovered',
    ];
    for (const n of names)
      manager.on(n, (e: unknown) => captured.push(`${n} ${inspect(e, { depth: 10, showHidden: true })}`));
    const origOut = process.stdout.write.bind(process.stdout);
    const origErr = process.stderr.write.bind(process.stderr);
    const tap = (orig: typeof origOut) =>
      ((chunk: unknown, ...rest: unknown[]) => {
        captured.push(String(chunk));
        return (orig as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof origOut;
    process.stdout.write = tap(origOut);
    process.stderr.write = tap(origErr);
    closers.push(() => {
      process.stdout.write = origOut;
      process.stderr.write = origErr;
    });

    const app = express();
    app.get('/me', tokenAuth(manager), (req, res) => res.json({ auth: req.auth }));
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      captured.push(`app error ${inspect(err, { depth: 10 })}`);
      res.status(500).json({ error: 'internal' });
    });
    const http = app.listen(0, '127.0.0.1');
    await once(http, 'listening');
    closers.push(() => new Promise((r) => http.close(r)));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const call = async (authorization: string) => {
      const res = await fetch(`${base}/me`, { headers: { authorization } });
      captured.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
      return res.status;
    };

    const secrets: string[] = [];
    const a = await manager.create('alice', { deviceName: 'laptop' });
    const b = await manager.create('alice', { deviceName: 'phone' });
    const c = await manager.create('bob');
    secrets.push(a.token, b.token, c.token);
    expect(await call(`Bearer ${a.token}`)).toBe(200);
    expect(await call(`Token ${b.token}`)).toBe(200);
    const forged = forgeSecret(a.token);
    secrets.push(forged);
    for (let i = 0; i < 4; i++) expect(await call(`Bearer ${forged}`)).toBe(401); // the last one is throttled
    const malformed = `${a.token}x`;
    secrets.push(malformed);
    expect(await call(`Bearer ${malformed}`)).toBe(401);
    expect(await call(`Bearer ${a.token} ${b.token}`)).toBe(401);
    expect(await call(`Basic ${c.token}`)).toBe(401);
    await manager.verify(malformed);
    expect(await manager.revoke(c.token)).toBe(true);
    expect(await call(`Bearer ${c.token}`)).toBe(401);

    // A scan of Redis while tokens are alive (records with their wrong-secret counts).
    let dump = '';
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        dump += `${key} ${type} `;
        if (type === 'hash')
          dump += Object.entries(await redis.hgetall(key))
            .flat()
            .join(' ');
        else if (type === 'zset') dump += (await redis.zrange(key, '0', '-1', 'WITHSCORES')).join(' ');
        else dump += `(unexpected ${type})`;
      }
    } while (cursor !== '0');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: 0x1f is the record's field separator (layout 0.2)
    expect(dump).toMatch(/,[1-9a-z][0-9a-z]*,[0-9a-z]+,[^,\x1f]*,[^,\x1f]*\x1f/); // a record with a wrong-secret count and its window: the scan covered it
    expect(dump).not.toContain('unexpected');

    // Outage, then recovery.
    redis.disconnect();
    expect(await call(`Bearer ${b.token}`)).toBe(503);
    await expect(manager.create('alice')).rejects.toThrow();
    await expect(manager.revokeAll('alice')).rejects.toThrow();
    await redis.connect();
    expect(await call(`Bearer ${b.token}`)).toBe(200);
    expect((await manager.revokeAll('alice')).length).toBe(2);
    expect(await call(`Bearer ${b.token}`)).toBe(401);

    const everything = captured.join('\n') + dump;
    expect(captured.some((l) => l.startsWith('storeUnavailable'))).toBe(true);
    expect(captured.some((l) => l.startsWith('storeRecovered'))).toBe(true);
    expect(captured.some((l) => l.startsWith('authFailed') && l.includes('throttled'))).toBe(true);
    for (const s of secrets) {
      expect(everything).not.toContain(s);
      expect(everything).not.toContain(s.slice(28, 71)); // the secret part alone
    }
    expect(everything.toLowerCase()).not.toContain('authorization":');
  });
});
