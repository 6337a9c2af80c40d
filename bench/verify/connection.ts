/**
 * One Redis connection per client library, shared by every verify variant of that client: the bare
 * commands and our store go through the same connection, so the ratios compare work, not sockets.
 */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RedisStore } from 'redis-multitokens/redis';
import { ioredisDriver } from 'redis-multitokens/ioredis';
import { nodeRedisDriver } from 'redis-multitokens/node-redis';

export type ClientKind = 'ioredis' | 'node-redis';

/** A connection as the variants see it. */
export interface Connection {
  kind: ClientKind;
  get(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
  scriptLoad(source: string): Promise<string>;
  evalsha(sha: string, key: string): Promise<unknown>;
  /** Our store over this same connection (prefix `bench:`). */
  store: RedisStore;
  close(): Promise<void>;
}

export async function openConnection(kind: ClientKind, url: string): Promise<Connection> {
  if (kind === 'ioredis') {
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    const store = new RedisStore({ driver: ioredisDriver(redis), keyPrefix: 'bench:' });
    return {
      kind,
      get: (key) => redis.get(key),
      set: (key, value) => redis.set(key, value),
      scriptLoad: async (source) => (await redis.script('LOAD', source)) as string,
      evalsha: (sha, key) => redis.evalsha(sha, 1, key),
      store,
      close: async () => {
        await store.close();
        await redis.quit();
      },
    };
  }
  const client = createClient({ url });
  client.on('error', () => {}); // a dropped connection fails the bench run through the calls
  await client.connect();
  const store = new RedisStore({ driver: nodeRedisDriver(client), keyPrefix: 'bench:' });
  return {
    kind,
    get: (key) => client.get(key),
    set: (key, value) => client.set(key, value),
    scriptLoad: (source) => client.scriptLoad(source),
    evalsha: (sha, key) => client.evalSha(sha, { keys: [key] }),
    store,
    close: async () => {
      await store.close();
      await client.close();
    },
  };
}
