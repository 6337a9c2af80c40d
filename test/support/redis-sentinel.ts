/**
 * A throwaway Redis Sentinel set on loopback, for tests: one primary, one replica and three sentinels
 * (`redis-server <conf> --sentinel`), all from the installed `redis-server` binary, on free ports, with
 * their config files in a temp directory (Sentinel rewrites its config file, so it needs one; the data
 * nodes get one too, so the `CONFIG REWRITE` Sentinel sends on a failover succeeds). Nothing is kept:
 * `stop()` kills every process and deletes the directory, and the processes are killed when the test
 * process exits whatever happens (a failing test, a timeout).
 *
 * Timings are small so tests are fast: a node is subjectively down after `downAfterMs` (default 1,000)
 * without a reply, and a failover is retried after `failoverTimeoutMs` (default 4,000).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisAnswers } from './redis-server.js';

/** host:port of one node. */
export interface Endpoint {
  host: string;
  port: number;
}

/** A running Sentinel set (see the file's header). */
export interface RedisSentinelSet {
  /** The monitored master's name (`SENTINEL MONITOR <name> ...`), for the clients' `name` option. */
  name: string;
  /** The three sentinels. */
  sentinels: Endpoint[];
  /** The two data nodes (primary first at start-up; roles change with failovers). */
  nodes: Endpoint[];
  /** The primary as the sentinels see it now (asks them, majority answer). */
  primary(): Promise<Endpoint>;
  /** The data node that is not {@link primary} now. */
  replica(): Promise<Endpoint>;
  /** Kills a data node (SIGKILL: no shutdown save, no goodbye to clients). */
  kill(node: Endpoint): Promise<void>;
  /** Starts a killed data node again on its own port (Sentinel turns it into a replica of the primary). */
  restart(node: Endpoint): Promise<void>;
  /** `SENTINEL FAILOVER <name>` on one sentinel (a forced failover, no agreement needed). */
  failover(): Promise<void>;
  /**
   * Waits, up to `timeoutMs` (default 20,000), until every sentinel names the same primary, knows the
   * other two sentinels and sees the replica up (flags `slave` only), and the replica itself reports its
   * link to that primary up and in sync (Sentinel's own view of the link is refreshed every 10 s only). Rejects with what was missing at the deadline.
   */
  settled(timeoutMs?: number): Promise<Endpoint>;
  /**
   * Waits, up to `timeoutMs` (default 30,000), until all three sentinels name the same primary and it is
   * not `from`; resolves to it (a failover has been decided; the set may not have {@link settled}).
   */
  switched(from: Endpoint, timeoutMs?: number): Promise<Endpoint>;
  /** Kills every process and deletes the temp directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@link startRedisSentinel}. */
export interface RedisSentinelOptions {
  /** Milliseconds without a reply before a sentinel marks a node down (default 1,000). */
  downAfterMs?: number;
  /** Sentinel's failover-timeout, in milliseconds (default 4,000). */
  failoverTimeoutMs?: number;
  /** Extra `redis-server` config lines for both data nodes (e.g. `maxmemory-policy noeviction`). */
  dataConfig?: string[];
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

const HOST = '127.0.0.1';
const MASTER_NAME = 'rmt-primary';

function launch(args: string[]): ChildProcess {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function killChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function waitAnswers(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(`redis://${HOST}:${port}`, 500))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await sleep(50);
  }
}

/** One short-lived admin connection: runs `fn`, always disconnects. */
async function withAdmin<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    enableOfflineQueue: false,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

/** Fields of a `SENTINEL MASTER/REPLICAS/SENTINELS` entry (a flat [k, v, k, v...] array) as an object. */
function fields(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const a = flat as string[];
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i]!] = a[i + 1]!;
  return out;
}

/** Starts the set and waits until it has {@link RedisSentinelSet.settled}. */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinelSet> {
  const downAfterMs = options.downAfterMs ?? 1000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 4000;
  const dir = mkdtempSync(join(tmpdir(), 'rmt-sentinel-'));
  const children = new Map<number, ChildProcess>();
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all([...children.values()].map(killChild));
    rmSync(dir, { recursive: true, force: true });
  };

  const dataPorts = [await freePort(), await freePort()];
  const sentinelPorts = [await freePort(), await freePort(), await freePort()];
  const [primaryPort, replicaPort] = dataPorts as [number, number];

  const dataConf = (port: number, replicaOf?: number) => {
    const file = join(dir, `redis-${port}.conf`);
    writeFileSync(
      file,
      [
        `port ${port}`,
        `bind ${HOST}`,
        'protected-mode no',
        `dir ${dir}`,
        `dbfilename dump-${port}.rdb`,
        'save ""',
        'appendonly no',
        // Full syncs without a disk file and without the default 5-second wait for more replicas.
        'repl-diskless-sync yes',
        'repl-diskless-sync-delay 0',
        'maxmemory-policy noeviction',
        ...(replicaOf ? [`replicaof ${HOST} ${replicaOf}`] : []),
        ...(options.dataConfig ?? []),
        '', // a final newline
      ].join('\n'),
    );
    return file;
  };
  const dataConfFiles = new Map<number, string>();

  const startData = async (port: number, replicaOf?: number) => {
    const file = dataConfFiles.get(port) ?? dataConf(port, replicaOf);
    dataConfFiles.set(port, file);
    const child = launch([file]);
    children.set(port, child);
    await waitAnswers(port, child);
  };

  try {
    await startData(primaryPort);
    await startData(replicaPort, primaryPort);
    for (const port of sentinelPorts) {
      const file = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          `bind ${HOST}`,
          'protected-mode no',
          `dir ${dir}`,
          'sentinel resolve-hostnames no',
          `sentinel monitor ${MASTER_NAME} ${HOST} ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} ${downAfterMs}`,
          `sentinel failover-timeout ${MASTER_NAME} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          '', // a final newline
        ].join('\n'),
      );
      const child = launch([file, '--sentinel']);
      children.set(port, child);
      await waitAnswers(port, child);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const endpoint = (port: number): Endpoint => ({ host: HOST, port });
  const sentinels = sentinelPorts.map(endpoint);
  const nodes = dataPorts.map(endpoint);

  /** The primary each sentinel names (null when one does not answer). */
  const primariesSeen = () =>
    Promise.all(
      sentinelPorts.map((p) =>
        withAdmin(p, async (c) => {
          const [, port] = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [string, string];
          return Number(port);
        }).catch(() => null),
      ),
    );

  const primary = async (): Promise<Endpoint> => {
    const seen = (await primariesSeen()).filter((p): p is number => p !== null);
    const counts = new Map<number, number>();
    for (const p of seen) counts.set(p, (counts.get(p) ?? 0) + 1);
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
    if (!best) throw new Error('no sentinel answers');
    return endpoint(best[0]);
  };

  /** What is not yet settled, or null when everything is. */
  const notSettled = async (): Promise<string | null> => {
    const seen = await primariesSeen();
    if (seen.some((p) => p === null) || new Set(seen).size !== 1)
      return `sentinels disagree on the primary: ${seen.join(', ')}`;
    const primaryPortNow = seen[0]!;
    const replicaPortNow = dataPorts.find((p) => p !== primaryPortNow)!;
    for (const p of sentinelPorts) {
      const problem = await withAdmin(p, async (c) => {
        const master = fields(await c.call('SENTINEL', 'MASTER', MASTER_NAME));
        if (master.flags !== 'master') return `sentinel ${p} sees the primary as ${master.flags}`;
        if (Number(master['num-other-sentinels']) !== 2)
          return `sentinel ${p} knows ${master['num-other-sentinels']} other sentinels`;
        const replicas = ((await c.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[]).map(fields);
        const up = replicas.filter((r) => Number(r.port) === replicaPortNow && r.flags === 'slave');
        if (up.length !== 1)
          return `sentinel ${p} does not see replica ${replicaPortNow} up (${replicas.map((r) => `${r.port}:${r.flags}`).join(' ')})`;
        return null;
      }).catch((e: Error) => `sentinel ${p}: ${e.message}`);
      if (problem) return problem;
    }
    return withAdmin(replicaPortNow, async (c) => {
      const info = await c.info('replication');
      if (!info.includes(`master_port:${primaryPortNow}`))
        return `replica ${replicaPortNow} does not follow ${primaryPortNow}`;
      if (!info.includes('master_link_status:up') || !info.includes('master_sync_in_progress:0'))
        return `replica ${replicaPortNow} is not in sync`;
      return null;
    }).catch((e: Error) => `replica ${replicaPortNow}: ${e.message}`);
  };

  const settled = async (timeoutMs = 20_000): Promise<Endpoint> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const problem = await notSettled();
      if (problem === null) return primary();
      if (Date.now() > deadline) throw new Error(`Sentinel set did not settle within ${timeoutMs} ms: ${problem}`);
      await sleep(100);
    }
  };

  const switched = async (from: Endpoint, timeoutMs = 30_000): Promise<Endpoint> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = await primariesSeen();
      if (seen[0] != null && seen[0] !== from.port && seen.every((p) => p === seen[0])) return endpoint(seen[0]);
      if (Date.now() > deadline)
        throw new Error(
          `the sentinels did not switch away from ${from.port} within ${timeoutMs} ms: ${seen.join(', ')}`,
        );
      await sleep(20);
    }
  };

  const set: RedisSentinelSet = {
    name: MASTER_NAME,
    sentinels,
    nodes,
    primary,
    replica: async () => {
      const p = await primary();
      return nodes.find((n) => n.port !== p.port)!;
    },
    kill: async (node) => {
      const child = children.get(node.port);
      if (child) await killChild(child);
    },
    restart: async (node) => {
      const child = children.get(node.port);
      if (child && child.exitCode === null && child.signalCode === null) return;
      await startData(node.port);
    },
    failover: async () => {
      await withAdmin(sentinelPorts[0]!, (c) => c.call('SENTINEL', 'FAILOVER', MASTER_NAME));
    },
    settled,
    switched,
    stop,
  };
  try {
    // At start-up a sentinel can take longer than a failover's settle to report the primary on a loaded
    // machine (seen once in CI: one of three answered nothing for 20 s): give the new set 40 s.
    await settled(40_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return set;
}

/**
 * Makes sure every write acknowledged so far reached the replica: a write on `primary`, then
 * `WAIT 1 timeoutMs` on the same connection (replication is one ordered stream, so the replica
 * acknowledging this write means it holds every earlier one, whoever wrote it).
 * @throws when the replica did not acknowledge within `timeoutMs` milliseconds.
 */
export async function waitReplicated(primary: Endpoint, timeoutMs = 1000): Promise<void> {
  await withAdmin(primary.port, async (c) => {
    await c.incr('rmt-test:replication-marker');
    const acked = (await c.call('WAIT', '1', String(timeoutMs))) as number;
    if (acked < 1) throw new Error(`the replica did not acknowledge within ${timeoutMs} ms`);
  });
}
