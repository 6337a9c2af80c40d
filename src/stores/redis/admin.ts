/**
 * The Redis store's admin operations (`RedisStore.stats` and `RedisStore.prune`, used by the CLI):
 * everything that walks the whole key space. They SCAN (never KEYS) every primary (each master of a
 * Cluster), a batch at a time, and are bounded by a `limit` of keys. Everything that knows the key
 * layout stays here and in keys.ts / scripts.ts; callers get results, never key names.
 */
import { InvalidArgumentValueError, StoreUnavailableError } from '../../core/errors.js';
import type { RedisKeys } from './keys.js';
import { HASH_STATS, INDEX_STATS, PRUNE_HASH, PRUNE_INDEX, type LuaScript } from './scripts.js';

/** How many keys one SCAN call is asked to look at (`COUNT`). */
const SCAN_COUNT = 1000;

/** Progress of a walk, reported after each SCAN batch. Approximate: Redis gives no exact position of a SCAN. */
export interface AdminProgress {
  /** Keys looked at so far (about `COUNT` per SCAN call, summed over primaries; never above `total`). */
  done: number;
  /** Keys on every primary together at the start (`DBSIZE`, every key of the database, not only ours). */
  total: number;
}

/** Options of {@link RedisStore.stats} and {@link RedisStore.prune}. */
export interface AdminWalkOptions {
  /** Most keys of the store to handle (matched keys, all primaries together); default: no bound. The result says when it stopped early. */
  limit?: number;
  /** Called after each SCAN batch (for a progress bar). */
  onProgress?: (progress: AdminProgress) => void;
}

/** Options of {@link RedisStore.stats}. */
export interface StatsOptions extends AdminWalkOptions {
  /** How many token records and user indexes to measure with `MEMORY USAGE` (each; default 100, 0 = none). */
  sampleSize?: number;
}

/** Result of {@link RedisStore.stats}. Counts are of what the walk saw (all of it when `complete`). */
export interface StoreStats {
  /** Live token records (in the 0.2 hashes; 0.1 records still waiting to move are counted in `legacyKeys`). */
  liveTokens: number;
  /** Users holding at least one live token. */
  usersWithTokens: number;
  /** Live tokens per user with at least one (min, median, max); null when there is no such user. */
  tokensPerUser: {
    /** Fewest live tokens of one user (1 at least). */
    min: number;
    /** The median over those users (the mean of the two middle counts when their number is even, so it may end in .5). */
    median: number;
    /** Most live tokens of one user. */
    max: number;
  } | null;
  /**
   * Memory per token in bytes (`MEMORY USAGE ... SAMPLES 0` on up to `sampleSize` hashes and indexes):
   * a hash's bytes per record, an index's bytes per entry (users past 32 tokens only), and their sum;
   * null when nothing was sampled.
   */
  bytesPerToken: {
    /** Bytes of a user hash per record it holds (key, records, TTL, dict entry). */
    record: number;
    /** Bytes of a user index per entry (0 when no index was sampled). */
    indexEntry: number;
    /** `record` + `indexEntry`. */
    total: number;
    /** User hashes measured. */
    sampledRecords: number;
    /** User indexes measured. */
    sampledIndexes: number;
  } | null;
  /**
   * Keys that should expire but have no TTL: hashes of token records (`tokenRecords`) and user indexes
   * without an immortal token, 0.1 wrong-secret counters (data edited by hand). `prune` fixes hashes and indexes.
   */
  keysWithoutTtl: {
    /** User hashes without a TTL and without an immortal live token. */
    tokenRecords: number;
    /** User indexes without a TTL and without an immortal live token. */
    userIndexes: number;
    /** 0.1 wrong-secret counters without a TTL. */
    failureCounters: number;
  };
  /** Expired or broken records still in a hash, and index entries whose record is gone or expired (what `prune` drops). */
  staleIndexEntries: number;
  /** Keys of the 0.1 layout still there (records, indexes, counters): they move at their user's next verify or login, or expire. */
  legacyKeys: number;
  /** Keys of the store handled. */
  keysSeen: number;
  /** Primaries scanned (3 on a 3-primary Cluster). */
  primaries: number;
  /** False when `limit` stopped the walk before its end. */
  complete: boolean;
}

/** Options of {@link RedisStore.prune}. */
export interface PruneOptions extends AdminWalkOptions {
  /** Count only: change nothing. */
  dryRun?: boolean;
}

/** Result of {@link RedisStore.prune}. */
export interface PruneResult {
  /** Hashes of token records and user indexes looked at. */
  indexesSeen: number;
  /** Records and index entries dropped (or, in a dry run, that would be): expired, broken, or their record gone. */
  entriesDropped: number;
  /** Hashes and indexes with at least one such entry. */
  indexesChanged: number;
  /** True when nothing was changed (`dryRun` was asked). */
  dryRun: boolean;
  /** Primaries walked (3 on a 3-primary Cluster). */
  primaries: number;
  /** False when `limit` stopped the walk before its end. */
  complete: boolean;
}

/** What the admin operations need from the store (bound to its timeout and fault rules). */
export interface AdminContext {
  keys: RedisKeys;
  /** The primaries' ids (see `RedisDriver.primaries`). */
  primaries(): string[];
  /** One command on one primary, under the store's timeout; faults as `StoreUnavailableError`. */
  command(primary: string, args: readonly string[]): Promise<unknown>;
  /** One script, as the store runs its own. */
  runScript(script: LuaScript, keys: string[], args: string[]): Promise<unknown>;
}

/**
 * SCANs every primary for keys matching `pattern` and calls `onBatch` with each batch, until done or
 * `limit` keys were handed over. Returns whether the walk reached its end.
 */
async function walk(
  ctx: AdminContext,
  pattern: string,
  options: AdminWalkOptions,
  onBatch: (primary: string, keys: string[]) => Promise<void>,
): Promise<{ complete: boolean; primaries: number }> {
  const limit = options.limit ?? Infinity;
  if (!(limit === Infinity || (Number.isInteger(limit) && limit >= 1)))
    throw new InvalidArgumentValueError(`limit must be a whole number of keys, 1 or more; got ${String(limit)}`);
  const primaries = ctx.primaries();
  const sizes = await Promise.all(primaries.map(async (p) => Number(await ctx.command(p, ['DBSIZE']))));
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  let handed = 0;
  for (const [i, primary] of primaries.entries()) {
    let cursor = '0';
    let looked = 0;
    do {
      const [next, found] = (await ctx.command(primary, [
        'SCAN',
        cursor,
        'MATCH',
        pattern,
        'COUNT',
        String(SCAN_COUNT),
      ])) as [string, string[]];
      cursor = String(next);
      const keys = found.slice(0, Math.max(0, limit - handed));
      handed += keys.length;
      if (keys.length > 0) await onBatch(primary, keys);
      looked = Math.min(looked + SCAN_COUNT, sizes[i]!);
      options.onProgress?.({ done: Math.min(done + looked, total), total });
      if (handed >= limit && (cursor !== '0' || keys.length < found.length || i < primaries.length - 1))
        return { complete: false, primaries: primaries.length };
    } while (cursor !== '0');
    done += sizes[i]!;
    options.onProgress?.({ done, total });
  }
  return { complete: true, primaries: primaries.length };
}

/** See {@link RedisStore.stats}. */
export async function storeStats(ctx: AdminContext, options: StatsOptions = {}): Promise<StoreStats> {
  const sampleSize = options.sampleSize ?? 100;
  if (!Number.isInteger(sampleSize) || sampleSize < 0)
    throw new InvalidArgumentValueError(`sampleSize must be a whole number, 0 or more; got ${String(sampleSize)}`);
  const perUser: number[] = [];
  const stats: StoreStats = {
    liveTokens: 0,
    usersWithTokens: 0,
    tokensPerUser: null,
    bytesPerToken: null,
    keysWithoutTtl: { tokenRecords: 0, userIndexes: 0, failureCounters: 0 },
    staleIndexEntries: 0,
    legacyKeys: 0,
    keysSeen: 0,
    primaries: 0,
    complete: true,
  };
  let recordBytes = 0;
  let records = 0;
  let sampledRecords = 0;
  let indexBytes = 0;
  let indexEntries = 0;
  let sampledIndexes = 0;
  const memory = async (primary: string, key: string) =>
    Number((await ctx.command(primary, ['MEMORY', 'USAGE', key, 'SAMPLES', '0'])) ?? 0);
  const { complete, primaries } = await walk(ctx, ctx.keys.scanPattern(), options, async (primary, keys) => {
    await Promise.all(
      keys.map(async (key) => {
        const parsed = ctx.keys.parse(key);
        if (parsed === null) return;
        stats.keysSeen++;
        const { kind } = parsed;
        if (kind === 'token' || kind === 'user' || kind === 'failure') {
          stats.legacyKeys++;
          if (kind === 'failure' && Number(await ctx.command(primary, ['PTTL', key])) === -1)
            stats.keysWithoutTtl.failureCounters++;
          return;
        }
        if (kind === 'index') {
          const [live, stale, shouldExpire] = ((await ctx.runScript(INDEX_STATS, [key], [])) as unknown[]).map(
            Number,
          ) as [number, number, number];
          stats.staleIndexEntries += stale;
          if (shouldExpire === 1 && Number(await ctx.command(primary, ['PTTL', key])) === -1)
            stats.keysWithoutTtl.userIndexes++;
          if (live > 0 && sampledIndexes < sampleSize) {
            sampledIndexes++;
            indexEntries += live + stale;
            const bytes = await memory(primary, key); // (awaited first: `x += await y` would read x before the wait, losing concurrent adds)
            indexBytes += bytes;
          }
          return;
        }
        const [live, stale, shouldExpire, counts] = (await ctx.runScript(HASH_STATS, [key], [])) as [
          unknown,
          unknown,
          unknown,
          unknown[],
        ];
        stats.liveTokens += Number(live);
        stats.staleIndexEntries += Number(stale);
        for (const n of counts) perUser.push(Number(n));
        if (Number(shouldExpire) === 1 && Number(await ctx.command(primary, ['PTTL', key])) === -1)
          stats.keysWithoutTtl.tokenRecords++;
        if (Number(live) + Number(stale) > 0 && sampledRecords < sampleSize) {
          sampledRecords++;
          records += Number(live) + Number(stale);
          const bytes = await memory(primary, key);
          recordBytes += bytes;
        }
      }),
    );
  });
  stats.complete = complete;
  stats.primaries = primaries;
  stats.usersWithTokens = perUser.length;
  if (perUser.length > 0) {
    perUser.sort((a, b) => a - b);
    const mid = perUser.length >> 1;
    stats.tokensPerUser = {
      min: perUser[0]!,
      median: perUser.length % 2 === 1 ? perUser[mid]! : (perUser[mid - 1]! + perUser[mid]!) / 2,
      max: perUser[perUser.length - 1]!,
    };
  }
  if (records > 0) {
    const record = Math.round(recordBytes / records);
    const indexEntry = indexEntries > 0 ? Math.round(indexBytes / indexEntries) : 0;
    stats.bytesPerToken = { record, indexEntry, total: record + indexEntry, sampledRecords, sampledIndexes };
  }
  return stats;
}

/** See {@link RedisStore.prune}. */
export async function pruneIndexes(ctx: AdminContext, options: PruneOptions = {}): Promise<PruneResult> {
  const dryRun = options.dryRun === true;
  const result: PruneResult = {
    indexesSeen: 0,
    entriesDropped: 0,
    indexesChanged: 0,
    dryRun,
    primaries: 0,
    complete: true,
  };
  const { complete, primaries } = await walk(ctx, ctx.keys.scanPattern(), options, async (_primary, keys) => {
    // Hashes first, then indexes: an index entry whose record the hash's prune drops goes with it.
    const parsed = keys.map((key) => ({ key, kind: ctx.keys.parse(key)?.kind }));
    for (const kind of ['hash', 'index'] as const) {
      await Promise.all(
        parsed
          .filter((p) => p.kind === kind)
          .map(async ({ key }) => {
            result.indexesSeen++;
            const dropped =
              kind === 'hash'
                ? Number(
                    dryRun
                      ? ((await ctx.runScript(HASH_STATS, [key], [])) as unknown[])[1]
                      : await ctx.runScript(PRUNE_HASH, [key], []),
                  )
                : Number(
                    dryRun
                      ? ((await ctx.runScript(INDEX_STATS, [key], [])) as unknown[])[1]
                      : await ctx.runScript(PRUNE_INDEX, [key], []),
                  );
            if (dropped > 0) {
              result.entriesDropped += dropped;
              result.indexesChanged++;
            }
          }),
      );
    }
  });
  return { ...result, complete, primaries };
}

/** The error of an admin call on a driver that cannot send a command to one primary. */
export function noAdminCapability(driverName: string): StoreUnavailableError {
  return new StoreUnavailableError(
    `the ${driverName} driver cannot send commands to each primary (RedisDriver.commandOn): stats and prune need it`,
    {
      code: 'ERR_STORE_NO_ADMIN',
    },
  );
}
