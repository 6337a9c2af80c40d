/**
 * Throwaway redis-server instances on loopback ports, for tests (after connect-redis's testdata/server.ts).
 * Nothing is kept on disk. Each instance is killed by `stop()` and when the test process exits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A running throwaway redis-server. */
export interface RedisServer {
  port: number;
  url: string;
  process: ChildProcess;
  /** Stops it (SIGKILL by default: the test wants a dead server, not a graceful one). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** True when a `redis-server` binary is on the PATH. */
export function hasRedisServerBinary(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A free TCP port on 127.0.0.1 (asks the OS for one). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** PINGs `url` once; true when it answers PONG within `timeoutMs` milliseconds. */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** True when the Redis at `url` answers and is the process `pid` (INFO server's process_id). */
async function redisAnswersAs(url: string, pid: number | undefined): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 500,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return new RegExp(`process_id:${pid}\\b`).test(await client.info('server'));
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** Starts `redis-server` on a free (or given) loopback port and waits until it answers. */
export async function startRedisServer(options: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
      ...(options.args ?? []),
    ],
    { stdio: 'ignore' },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  // Wait for THIS child to answer: another test's server could hold the port (a race between choosing
  // a free port and binding it), and then this child exits on the bind failure.
  while (!(await redisAnswersAs(url, child.pid))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url,
    process: child,
    stop: (signal = 'SIGKILL') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

/** A running throwaway Redis Cluster (masters only, no replicas) on loopback ports. */
export interface RedisClusterServer {
  nodes: { host: string; port: number }[];
  /** Starts node `index` again (after it was killed) on its port with its nodes.conf: it rejoins with its slots. */
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `count` (default 3) cluster-enabled redis-servers and joins them with
 * `redis-cli --cluster create`, then waits for `cluster_state:ok` on every node.
 */
export async function startRedisCluster(count = 3): Promise<RedisClusterServer> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'rmt-cluster-'));
  const servers: RedisServer[] = [];
  const args = (port: number) => [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, `nodes-${port}.conf`),
    '--dir',
    dir,
    '--cluster-node-timeout',
    '2000',
  ];
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      servers.push(await startRedisServer({ port, args: args(port) }));
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stderr || create.stdout}`);
    const deadline = Date.now() + 20_000;
    for (const s of servers) {
      const c = new Redis(s.url, { maxRetriesPerRequest: 1 });
      try {
        while (!(await c.cluster('INFO')).includes('cluster_state:ok')) {
          if (Date.now() > deadline) throw new Error('Redis Cluster did not reach cluster_state:ok');
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        c.disconnect();
      }
    }
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    nodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
    restart: async (index) => {
      const port = servers[index]!.port;
      servers[index] = await startRedisServer({ port, args: args(port) });
    },
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A loopback TCP proxy in front of a server, which a test can black-hole (stop forwarding, keep sockets open). */
export interface BlackHoleProxy {
  port: number;
  url: string;
  /** Stop forwarding in both directions; connections stay open and silent. */
  blackHole(): void;
  /** Forward again (what was held back is delivered). */
  restore(): void;
  close(): Promise<void>;
}

/** Starts a {@link BlackHoleProxy} to 127.0.0.1:`targetPort` on a free loopback port. */
export async function startBlackHoleProxy(targetPort: number): Promise<BlackHoleProxy> {
  const { connect } = await import('node:net');
  let holding = false;
  const pairs = new Set<{ resume(): void; destroy(): void }>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const held: [import('node:net').Socket, Buffer][] = [];
    const forward = (from: import('node:net').Socket, to: import('node:net').Socket) =>
      from.on('data', (chunk) => (holding ? held.push([to, chunk]) : to.write(chunk)));
    forward(client, upstream);
    forward(upstream, client);
    const pair = {
      resume: () => {
        for (const [to, chunk] of held.splice(0)) to.write(chunk);
      },
      destroy: () => {
        client.destroy();
        upstream.destroy();
      },
    };
    pairs.add(pair);
    const drop = () => {
      pair.destroy();
      pairs.delete(pair);
    };
    client.on('close', drop).on('error', drop);
    upstream.on('close', drop).on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    blackHole: () => {
      holding = true;
    },
    restore: () => {
      holding = false;
      for (const p of pairs) p.resume();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of pairs) p.destroy();
        server.close(() => resolve());
      }),
  };
}
