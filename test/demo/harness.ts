/** Starts the demo app on 127.0.0.1 (a free port) against the memory or the Redis store, for tests. */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenManager, type TokenManagerOptions } from 'redis-multitokens';
import { IoredisStore } from 'redis-multitokens/ioredis';
import { createApp } from '../../demo/app.js';
import { UserDb } from '../../demo/db.js';
import { deletePrefix, TEST_SECRET, testRedis, uniquePrefix } from '../support/redis.js';

export type StoreKind = 'memory' | 'redis';

export interface RunningDemo {
  baseUrl: string;
  tokens: TokenManager;
  db: UserDb;
  /** What the app logged as unexpected errors. */
  errors: unknown[][];
  stop(): Promise<void>;
}

export interface DemoOptions {
  store: StoreKind;
  /** Extra TokenManager options (e.g. maxTokensPerUser). */
  tokenOptions?: Omit<TokenManagerOptions, 'secret' | 'store'>;
  /** A Redis URL other than the test Redis (e.g. one that does not answer). */
  redisUrl?: string;
}

export async function startDemo({ store, tokenOptions = {}, redisUrl }: DemoOptions): Promise<RunningDemo> {
  const prefix = uniquePrefix('demo');
  const url = redisUrl ?? process.env.REDIS_URL;
  if (store === 'redis' && !url) throw new Error('REDIS_URL is not set (test/global-setup.ts sets it)');
  const tokens = new TokenManager({
    ...tokenOptions,
    secret: TEST_SECRET,
    store: store === 'redis' ? new IoredisStore({ url: url!, keyPrefix: prefix, commandTimeoutMs: 500 }) : undefined,
  });
  const db = new UserDb(':memory:');
  const errors: unknown[][] = [];
  const app = createApp({ tokens, db, logger: { error: (...args: unknown[]) => errors.push(args) } });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    tokens,
    db,
    errors,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tokens.close();
      db.close();
      if (store === 'redis' && !redisUrl) {
        const redis = testRedis();
        try {
          await deletePrefix(redis, prefix);
        } finally {
          await redis.quit();
        }
      }
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or null when there is none. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The raw body text. */
  text: string;
}

export interface CallOptions {
  token?: string;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is (with Content-Type: application/json unless `headers` says otherwise). */
  raw?: string;
  headers?: Record<string, string>;
}

/** A fetch against the demo that reads the whole answer. */
export async function call(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined || options.raw !== undefined) {
    body = options.raw ?? JSON.stringify(options.json);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = null;
  if (text && (res.headers.get('content-type') ?? '').includes('application/json')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
}
