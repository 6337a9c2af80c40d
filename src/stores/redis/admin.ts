/**
 * The Redis store's admin operations (`RedisStore.stats` and `RedisStore.prune`, used by the CLI):
 * everything that walks the whole key space. They SCAN (never KEYS) every primary (each master of a
 * Cluster), a batch at a time, and are bounded by a `limit` of keys. Everything that knows the key
 * layout stays here and in keys.ts / scripts.ts; callers get results, never key names.
 */
import { InvalidArgumentValueError, StoreUnavailableError } from '../../core/errors.js';
import type { RedisKeys } from './keys.js';
import { INDEX_STATS, PRUNE_INDEX, type LuaScript } from './scripts.js';

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
  /** Live token records. */
  liveTokens: number;
  /** User indexes holding at least one live token. */
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
   * Memory per token in bytes (`MEMORY USAGE ... SAMPLES 0` on up to `sampleSize` records and indexes):
   * the record's own key, the index's bytes per entry, and their sum; null when nothing was sampled.
   */
  bytesPerToken: {
    /** Bytes of one token record's key: the mean `MEMORY USAGE` of the sampled records, rounded. */
    record: number;
    /** Bytes per entry of a user index: the sampled indexes' bytes over their entries (stale ones included), rounded; 0 when no index was sampled. */
    indexEntry: number;
    /** Bytes one token costs: `record + indexEntry`. */
    total: number;
    /** Token records measured (at most `sampleSize`). */
    sampledRecords: number;
    /** User indexes measured (at most `sampleSize`; only indexes holding a live token). */
    sampledIndexes: number;
  } | null;
  /**
   * Keys that should expire but have no TTL: token records with an expiry, user indexes without an
   * immortal token, wrong-secret counters (data edited by hand or written by older versions). `prune`
   * fixes the indexes; records and counters without TTL need a look (or `revoke-all` of their user).
   */
  keysWithoutTtl: {
    /** Token records whose JSON has an expiry but whose key has no TTL (`PTTL` -1). */
    tokenRecords: number;
    /** User indexes with entries but no immortal token, and no TTL (`prune` sets it). */
    userIndexes: number;
    /** Wrong-secret counters without TTL (they should expire with their window). */
    failureCounters: number;
  };
  /** Index entries whose record is gone or expired (what `prune` drops). */
  staleIndexEntries: number;
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
  /** User indexes looked at. */
  indexesSeen: number;
  /** Index entries dropped (or, in a dry run, that would be): their record was gone or expired. */
  entriesDropped: number;
  /** Indexes with at least one such entry. */
  indexesChanged: number;
  /** True when this was a dry run (`dryRun: true`): the counts say what would be dropped, nothing was. */
  dryRun: boolean;
  /** Primaries scanned (3 on a 3-primary Cluster). */
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
  if (!(limit === Infinity || (Number.isInteger(limit) && limit >= 1))) throw new InvalidArgumentValueError(`limit must be a whole number of keys, 1 or more; got ${String(limit)}`);
  const primaries = ctx.primaries();
  const sizes = await Promise.all(primaries.map(async (p) => Number(await ctx.command(p, ['DBSIZE']))));
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  let handed = 0;
  for (const [i, primary] of primaries.entries()) {
    let cursor = '0';
    let looked = 0;
    do {
      const [next, found] = (await ctx.command(primary, ['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(SCAN_COUNT)])) as [string, string[]];
      cursor = String(next);
      const keys = found.slice(0, Math.max(0, limit - handed));
      handed += keys.length;
      if (keys.length > 0) await onBatch(primary, keys);
      looked = Math.min(looked + SCAN_COUNT, sizes[i]!);
      options.onProgress?.({ done: Math.min(done + looked, total), total });
      if (handed >= limit && (cursor !== '0' || keys.length < found.length || i < primaries.length - 1)) return { complete: false, primaries: primaries.length };
    } while (cursor !== '0');
    done += sizes[i]!;
    options.onProgress?.({ done, total });
  }
  return { complete: true, primaries: primaries.length };
}

/** See {@link RedisStore.stats}. */
export async function storeStats(ctx: AdminContext, options: StatsOptions = {}): Promise<StoreStats> {
  const sampleSize = options.sampleSize ?? 100;
  if (!Number.isInteger(sampleSize) || sampleSize < 0) throw new InvalidArgumentValueError(`sampleSize must be a whole number, 0 or more; got ${String(sampleSize)}`);
  const perUser: number[] = [];
  const stats: StoreStats = {
    liveTokens: 0,
    usersWithTokens: 0,
    tokensPerUser: null,
    bytesPerToken: null,
    keysWithoutTtl: { tokenRecords: 0, userIndexes: 0, failureCounters: 0 },
    staleIndexEntries: 0,
    keysSeen: 0,
    primaries: 0,
    complete: true,
  };
  let recordBytes = 0;
  let sampledRecords = 0;
  let indexBytes = 0;
  let indexEntries = 0;
  let sampledIndexes = 0;
  const memory = async (primary: string, key: string) => Number((await ctx.command(primary, ['MEMORY', 'USAGE', key, 'SAMPLES', '0'])) ?? 0);
  const { complete, primaries } = await walk(ctx, ctx.keys.scanPattern(), options, async (primary, keys) => {
    await Promise.all(
      keys.map(async (key) => {
        const parsed = ctx.keys.parse(key);
        if (parsed === null) return;
        const { kind, userTag } = parsed;
        stats.keysSeen++;
        if (kind === 'user') {
          const [live, stale, shouldExpire] = ((await ctx.runScript(INDEX_STATS, [key], [ctx.keys.tokenKeyPrefix(userTag)])) as unknown[]).map(Number) as [number, number, number];
          stats.staleIndexEntries += stale;
          if (shouldExpire === 1 && Number(await ctx.command(primary, ['PTTL', key])) === -1) stats.keysWithoutTtl.userIndexes++;
          if (live > 0) {
            perUser.push(live);
            if (sampledIndexes < sampleSize) {
              sampledIndexes++;
              indexEntries += live + stale;
              const bytes = await memory(primary, key); // (awaited first: `x += await y` would read x before the wait, losing concurrent adds)
              indexBytes += bytes;
            }
          }
          return;
        }
        const pttl = Number(await ctx.command(primary, ['PTTL', key]));
        if (pttl === -2) return; // gone meanwhile
        if (kind === 'failure') {
          if (pttl === -1) stats.keysWithoutTtl.failureCounters++;
          return;
        }
        stats.liveTokens++;
        if (pttl === -1 && recordHasExpiry(await ctx.command(primary, ['GET', key]))) stats.keysWithoutTtl.tokenRecords++;
        if (sampledRecords < sampleSize) {
          sampledRecords++;
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
  if (sampledRecords > 0) {
    const record = Math.round(recordBytes / sampledRecords);
    const indexEntry = indexEntries > 0 ? Math.round(indexBytes / indexEntries) : 0;
    stats.bytesPerToken = { record, indexEntry, total: record + indexEntry, sampledRecords, sampledIndexes };
  }
  return stats;
}

/** See {@link RedisStore.prune}. */
export async function pruneIndexes(ctx: AdminContext, options: PruneOptions = {}): Promise<PruneResult> {
  const dryRun = options.dryRun === true;
  const result: PruneResult = { indexesSeen: 0, entriesDropped: 0, indexesChanged: 0, dryRun, primaries: 0, complete: true };
  const { complete, primaries } = await walk(ctx, ctx.keys.scanPattern('user'), options, async (_primary, keys) => {
    await Promise.all(
      keys.map(async (key) => {
        const parsed = ctx.keys.parse(key);
        if (parsed?.kind !== 'user') return;
        result.indexesSeen++;
        const tokenPrefix = ctx.keys.tokenKeyPrefix(parsed.userTag);
        const dropped = dryRun
          ? Number(((await ctx.runScript(INDEX_STATS, [key], [tokenPrefix])) as unknown[])[1])
          : Number(await ctx.runScript(PRUNE_INDEX, [key], [tokenPrefix]));
        if (dropped > 0) {
          result.entriesDropped += dropped;
          result.indexesChanged++;
        }
      }),
    );
  });
  return { ...result, complete, primaries };
}

/** True when a stored record (raw JSON, see scripts.ts) has an expiry; unreadable: false (nothing to say). */
function recordHasExpiry(raw: unknown): boolean {
  if (typeof raw !== 'string') return false;
  try {
    return (JSON.parse(raw) as { e?: unknown }).e !== undefined;
  } catch {
    return false;
  }
}

/** The error of an admin call on a driver that cannot send a command to one primary. */
export function noAdminCapability(driverName: string): StoreUnavailableError {
  return new StoreUnavailableError(`the ${driverName} driver cannot send commands to each primary (RedisDriver.commandOn): stats and prune need it`, {
    code: 'ERR_STORE_NO_ADMIN',
  });
}
