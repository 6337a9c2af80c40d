/**
 * Runs the demo: `npm start` (builds the library, then runs this file with tsx).
 *
 * Environment:
 * - PORT: port to listen on (default 3000).
 * - HOST: address to listen on (default 127.0.0.1: the demo has a seeded user with a known password;
 *   set HOST=0.0.0.0 to reach it from other machines).
 * - REDIS_URL: keep tokens in Redis (`redis://[:password@]host:6379[/db]`); unset = in this process's memory.
 * - REDIS_KEY_PREFIX: prefix of the demo's Redis keys (default `rmt-demo:`).
 * - REDIS_CLIENT: the Redis client with REDIS_URL, `ioredis` (default) or `node-redis`.
 * - TOKEN_SECRET: the HMAC secret (at least 32 bytes); unset = a random one for this run only.
 * - SQLITE_PATH: the users database (default `demo.sqlite` in the current directory; `:memory:` allowed).
 * - TRUST_PROXY: the framework's trust-proxy setting when behind a reverse proxy (e.g. `1` or `loopback`).
 * - DEMO_FRAMEWORK: `express` (default), `fastify`, `koa`, `hono` or `nestjs`: the same API and
 *   devices page on that framework (demo/frameworks/<name>.ts).
 */
import { randomBytes } from 'node:crypto';
import { TokenManager, type Store } from 'redis-multitokens';
import { RedisStore } from 'redis-multitokens/redis';
import { ioredisDriver } from 'redis-multitokens/ioredis';
import { nodeRedisDriver } from 'redis-multitokens/node-redis';
import { DEMO_FRAMEWORKS, type DemoFactory, type DemoFramework } from './api.js';
import { DEMO_USER, UserDb } from './db.js';

const REDIS_CLIENTS = { ioredis: ioredisDriver, 'node-redis': nodeRedisDriver } as const;

function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** The framework named by DEMO_FRAMEWORK (default express); an unknown name exits with one line. */
function chosenFramework(): DemoFramework {
  const value = (process.env.DEMO_FRAMEWORK ?? '').trim().toLowerCase() || 'express';
  if ((DEMO_FRAMEWORKS as readonly string[]).includes(value)) return value as DemoFramework;
  console.error(
    `DEMO_FRAMEWORK must be one of ${DEMO_FRAMEWORKS.join(', ')}; got ${JSON.stringify(process.env.DEMO_FRAMEWORK)}`,
  );
  process.exit(2);
}

async function main(): Promise<void> {
  const framework = chosenFramework();
  const { createDemoServer } = (await import(`./frameworks/${framework}.js`)) as { createDemoServer: DemoFactory };
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST || '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`PORT must be a port number; got ${process.env.PORT}`);
  const sqlitePath = process.env.SQLITE_PATH || 'demo.sqlite';
  const redisUrl = process.env.REDIS_URL || undefined;

  let secret = process.env.TOKEN_SECRET;
  if (!secret) {
    secret = randomBytes(32).toString('base64url');
    console.log('TOKEN_SECRET is not set: using an ephemeral random secret, so tokens will not survive a restart');
  }

  const clientName = process.env.REDIS_CLIENT || 'ioredis';
  if (!Object.hasOwn(REDIS_CLIENTS, clientName))
    throw new Error(
      `REDIS_CLIENT must be ${Object.keys(REDIS_CLIENTS).join(' or ')}; got ${JSON.stringify(clientName)}`,
    );
  let store: Store | undefined;
  if (redisUrl) {
    const driver = REDIS_CLIENTS[clientName as keyof typeof REDIS_CLIENTS]({ url: redisUrl });
    const redisStore = new RedisStore({ driver, keyPrefix: process.env.REDIS_KEY_PREFIX || 'rmt-demo:' });
    store = redisStore;
    console.log(
      `token store: redis via ${driver.name} at ${driver.endpoint()}, key prefix ${JSON.stringify(redisStore.keys.prefix)}`,
    );
  } else {
    console.log('token store: memory (this process only; set REDIS_URL to use Redis)');
  }
  const tokens = new TokenManager({ secret, store });

  // Log store outages once per outage, not once per request.
  let storeDown = false;
  tokens.on('storeUnavailable', ({ operation, error }) => {
    if (storeDown) return;
    storeDown = true;
    console.error(`token store unavailable (${operation}): ${error.message}; answering 503 until it is back`);
  });
  tokens.on('storeRecovered', () => {
    storeDown = false;
    console.log('token store is back');
  });

  const db = new UserDb(sqlitePath);
  if (await db.ensureUser(DEMO_USER.username, DEMO_USER.password))
    console.log(`created the demo user ${DEMO_USER.username} / ${DEMO_USER.password}`);
  console.log(`users database: ${sqlitePath === ':memory:' ? 'in memory' : sqlitePath}`);

  const server = await createDemoServer({ tokens, db, trustProxy: parseTrustProxy(process.env.TRUST_PROXY) });
  const actualPort = await server.listen(port, host);
  console.log(`demo (${framework}) listening on http://localhost:${actualPort}/`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      console.log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: shutting down`);
    // Give in-flight requests a few seconds, then go anyway.
    setTimeout(() => {
      console.error('shutdown took over 5 s; exiting');
      process.exit(1);
    }, 5000).unref();
    void server
      .close()
      .then(() => tokens.close())
      .catch(() => {})
      .finally(() => {
        db.close();
        process.exit(0);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`demo failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
