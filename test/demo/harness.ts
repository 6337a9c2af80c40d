/**
 * Starts the demo app on 127.0.0.1 (a free port) against the memory or the Redis store, on one of the
 * frameworks of demo/frameworks/ (Express by default), for tests.
 */
import { existsSync } from 'node:fs';
import { TokenManager, type TokenManagerOptions } from 'redis-multitokens';
import { IoredisStore } from 'redis-multitokens/ioredis';
import { DEMO_FRAMEWORKS, type DemoFactory, type DemoFramework } from '../../demo/api.js';
import { UserDb } from '../../demo/db.js';
import { deletePrefix, TEST_SECRET, testRedis, uniquePrefix } from '../support/redis.js';

export type StoreKind = 'memory' | 'redis';

/** The frameworks whose demo/frameworks/<fw>.ts exists (the demo tests run on each). */
export const demoFrameworks: DemoFramework[] = DEMO_FRAMEWORKS.filter((fw) =>
  existsSync(new URL(`../../demo/frameworks/${fw}.ts`, import.meta.url)),
);

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
  /** Default `express`. */
  framework?: DemoFramework;
  /**
   * A delay hook: awaited before each of these TokenManager calls the demo makes (the real call runs
   * after it resolves; if it throws, the demo answers that error as it would the store's). Tests slow
   * the server down with it deterministically, by holding a promise, never with a sleep.
   */
  beforeTokenCall?: (operation: HookedOperation) => Promise<void>;
  /** The demo's step-up window in seconds (default: the demo's 300). */
  stepUpMaxAgeSeconds?: number;
}

/** The TokenManager calls {@link DemoOptions.beforeTokenCall} can hold. */
export const HOOKED_OPERATIONS = [
  'create',
  'verify',
  'list',
  'revokeById',
  'revokeOthers',
  'revokeAll',
  'revoke',
] as const;
export type HookedOperation = (typeof HOOKED_OPERATIONS)[number];

/** Makes every {@link HOOKED_OPERATIONS} call of `tokens` await `hook(operation)` first (on this instance only). */
function hookTokenCalls(tokens: TokenManager, hook: (operation: HookedOperation) => Promise<void>): void {
  for (const operation of HOOKED_OPERATIONS) {
    const call = (tokens[operation] as (...args: unknown[]) => Promise<unknown>).bind(tokens);
    Object.defineProperty(tokens, operation, {
      configurable: true,
      value: async (...args: unknown[]) => {
        await hook(operation);
        return call(...args);
      },
    });
  }
}

export async function startDemo({
  store,
  tokenOptions = {},
  redisUrl,
  framework = 'express',
  stepUpMaxAgeSeconds,
  beforeTokenCall,
}: DemoOptions): Promise<RunningDemo> {
  const prefix = uniquePrefix('demo');
  const url = redisUrl ?? process.env.REDIS_URL;
  if (store === 'redis' && !url) throw new Error('REDIS_URL is not set (test/global-setup.ts sets it)');
  const tokens = new TokenManager({
    ...tokenOptions,
    secret: TEST_SECRET,
    store: store === 'redis' ? new IoredisStore({ url: url!, keyPrefix: prefix, commandTimeoutMs: 500 }) : undefined,
  });
  if (beforeTokenCall) hookTokenCalls(tokens, beforeTokenCall);
  const db = new UserDb(':memory:');
  const errors: unknown[][] = [];
  const { createDemoServer } = (await import(`../../demo/frameworks/${framework}.ts`)) as {
    createDemoServer: DemoFactory;
  };
  const server = await createDemoServer({
    tokens,
    db,
    stepUpMaxAgeSeconds,
    logger: { error: (...args: unknown[]) => errors.push(args) },
  });
  const port = await server.listen(0, '127.0.0.1');
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    tokens,
    db,
    errors,
    async stop() {
      await server.close();
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
  // biome-ignore lint/suspicious/noExplicitAny: the tests read fields of JSON bodies of many shapes.
  body: any;
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
