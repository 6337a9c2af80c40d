/**
 * Variant: Express with express-session + connect-redis 9 over a node-redis client (what many apps use
 * today): a session cookie, `resave: false`, `saveUninitialized: false`. Per request express-session
 * reads the session (GET) and, since connect-redis implements `touch`, refreshes its TTL (EXPIRE).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { HTTP_SECRET, HTTP_USER, type HttpVariant } from './variant.js';

declare module 'express-session' {
  interface SessionData {
    userId: string;
  }
}

const variant: HttpVariant = {
  name: 'express-session',
  title: 'Express, express-session + connect-redis (node-redis)',
  async start(redisUrl) {
    const client = createClient({ url: redisUrl });
    client.on('error', () => {});
    await client.connect();
    const app = express();
    app.use(
      session({
        store: new RedisStore({ client, prefix: 'sess:' }),
        secret: HTTP_SECRET,
        resave: false,
        saveUninitialized: false,
        name: 'sid',
      }),
    );
    app.post('/login', (req, res) => {
      req.session.userId = HTTP_USER;
      res.json({ ok: true });
    });
    app.get('/me', (req, res) => {
      if (!req.session.userId) return void res.status(401).json({ error: 'not_authenticated' });
      res.json({ userId: req.session.userId });
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const login = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST' });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    if (!cookie.startsWith('sid=')) throw new Error('express-session: no session cookie after /login');
    return {
      port,
      headers: { cookie },
      close: async () => {
        await new Promise<void>((r) => server.close(() => r()));
        await client.close();
      },
    };
  },
};
export default variant;
