#!/usr/bin/env node
/**
 * The admin CLI, `npx redis-multitokens <command>`: list, revoke, revoke-all, revoke-others, inspect,
 * stats, prune, secret (see docs/operations.md, "CLI"). Built on the package's public entries only.
 *
 * Connection: `--redis-url`, else `REDIS_URL`, else the config file's `redisUrl`; `--cluster` for a
 * Redis Cluster (the URL names one node). Secrets come from environment variables only, never from a
 * flag or the config file (argv shows in `ps` and shell history): `TOKEN_SECRET` (one secret, as the
 * demo reads it), or `TOKEN_KEY_RING` (JSON `[{"id":"k2","secret":"..."}, ...]`, as the `secret` option's
 * key ring) with `TOKEN_USER_TAG_SECRET`. Every failure exits with code 1 and one line on stderr, no stack.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { TokenManager, isTokenId, TOKEN_PREFIX, type SecretOption, type TokenInfo } from './index.js';
import { RedisStore, DEFAULT_KEY_PREFIX, type AdminProgress } from './redis.js';
import { checkRedisUrl } from './stores/redis/driver.js';
// ioredis (a peer dependency, maybe absent) and the driver over it are imported when a command opens
// Redis (see openStore), so that `secret` and `--help` work without it and the others say one line.

/** A failure the CLI reports as one line (exit code 1). */
class CliError extends Error {}

/** Options every command that talks to Redis takes (flags, then the config file, then defaults). */
interface ConnectionFlags {
  redisUrl?: string;
  config?: string;
  cluster?: boolean;
  keyPrefix?: string;
  timeout?: number;
}

/** The config file (JSON): connection settings only; secrets are refused (environment variables only). */
interface ConfigFile {
  redisUrl?: string;
  cluster?: boolean;
  keyPrefix?: string;
  commandTimeoutMs?: number;
}
const CONFIG_KEYS = ['redisUrl', 'cluster', 'keyPrefix', 'commandTimeoutMs'] as const;

/** Passwords seen in Redis URLs: never printed, even if a client's error message held one. */
const redactions = new Set<string>();

/**
 * Text from Redis or the command line (device name, user agent, IP, user id, metadata, error messages),
 * made safe for a terminal: C0 and C1 control characters, DEL, and invisible or reordering characters
 * (bidi embeddings, overrides and isolates, zero-width and line/paragraph separators, BOM) are shown as
 * escapes (`\x1b`, `\u202e`), so no one's device name can clear the screen, forge lines, or open a link.
 */
function clean(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: it finds the control characters, to escape them
    /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g,
    (c) => {
      const code = c.charCodeAt(0);
      return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    },
  );
}

const TOKEN_SHAPED = new RegExp(`${TOKEN_PREFIX}[A-Za-z0-9]{16,}`);

/** True when `value` holds a token, or the start of one: never echoed, never taken as a user id. */
function tokenShaped(value: string): boolean {
  return TOKEN_SHAPED.test(value);
}

/** `userId` as given, refused when it is token-shaped (pasted in the wrong place: it would be echoed). */
function userIdArg(userId: string): string {
  if (tokenShaped(userId))
    throw new CliError('this looks like a token, not a user id: use `inspect`, which reads it from standard input');
  return userId;
}

/** Default wait for one Redis reply in the CLI, in milliseconds (longer than the library's 1,000: a remote Redis at 3 a.m.). */
const DEFAULT_CLI_TIMEOUT_MS = 5000;

function readConfig(path: string | undefined): ConfigFile {
  const file = path ?? process.env.REDIS_MULTITOKENS_CONFIG;
  if (!file) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new CliError(
      `cannot read the config file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e instanceof SyntaxError ? 'not valid JSON' : e.message}`,
    );
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new CliError(`the config file ${file} must hold a JSON object`);
  for (const key of Object.keys(parsed)) {
    if (/secret|ring|password/i.test(key))
      throw new CliError(
        `the config file ${file} holds "${key}": secrets come from environment variables only (TOKEN_SECRET, TOKEN_KEY_RING, TOKEN_USER_TAG_SECRET)`,
      );
    if (!(CONFIG_KEYS as readonly string[]).includes(key))
      throw new CliError(`the config file ${file} holds an unknown key "${key}" (known: ${CONFIG_KEYS.join(', ')})`);
  }
  const config = parsed as Record<string, unknown>;
  for (const key of ['redisUrl', 'keyPrefix'] as const)
    if (key in config && typeof config[key] !== 'string')
      throw new CliError(`the config file ${file}: "${key}" must be a string`);
  if ('cluster' in config && typeof config.cluster !== 'boolean')
    throw new CliError(`the config file ${file}: "cluster" must be true or false (a JSON boolean, not a string)`);
  const t = config.commandTimeoutMs;
  if (t !== undefined && !(typeof t === 'number' && Number.isSafeInteger(t) && t >= 1))
    throw new CliError(`the config file ${file}: "commandTimeoutMs" must be a whole number of at least 1`);
  return config as ConfigFile;
}

/** The connection settings of the flags, config file and environment, checked (no I/O but the config file). */
function connectionSettings(flags: ConnectionFlags): { url: string; parsed: URL; config: ConfigFile } {
  const config = readConfig(flags.config);
  const url = flags.redisUrl ?? process.env.REDIS_URL ?? config.redisUrl;
  if (!url)
    throw new CliError('no Redis to talk to: give --redis-url, set REDIS_URL, or a config file with "redisUrl"');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError('the Redis URL is not a URL (redis://[[user]:password@]host:port[/db])');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new CliError(`the Redis URL must start with redis:// or rediss://; got ${clean(parsed.protocol)}//`);
  if (parsed.password) redactions.add(parsed.password);
  try {
    decodeURIComponent(parsed.username);
    if (parsed.password) redactions.add(decodeURIComponent(parsed.password));
  } catch {
    throw new CliError('the Redis URL: its user name or password is not valid percent-encoding (write % as %25)');
  }
  // The drivers' own check of the database (`/abc`, a `?db=` that disagrees with the path), whose
  // messages never show the password; ioredis reads both forms.
  try {
    checkRedisUrl('the Redis URL', url, 'an ioredis client', { queryDb: true });
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  return { url, parsed, config };
}

/**
 * Fails when a plain connection reached a node of a Redis Cluster: `stats` and `prune` would walk one
 * primary only (a silently partial answer) and users on the other nodes would fail with MOVED. We refuse
 * rather than switch to cluster mode by ourselves: the same URL and settings are likely wrong in the app's
 * own config too, and the operator should learn it, not have the CLI quietly work around it.
 * A server that refuses `INFO` (ACL) is given the benefit of the doubt (a MOVED reply is still explained).
 */
async function refuseClusterNode(client: import('ioredis').Redis, where: string): Promise<void> {
  let lastError: unknown;
  client.on('error', (error) => {
    lastError = error;
  });
  try {
    if (client.status === 'wait') await client.connect();
  } catch (error) {
    // ioredis rejects with "Connection is closed."; the reason (ECONNREFUSED, ENOTFOUND, WRONGPASS...) came as an error event.
    throw new CliError(`token store unavailable: cannot connect to Redis at ${where}`, { cause: lastError ?? error });
  }
  let info: string;
  try {
    info = await client.info('cluster');
  } catch {
    return;
  }
  if (/^cluster_enabled:1\s*$/m.test(info))
    throw new CliError(`${where} is a node of a Redis Cluster: add --cluster (or "cluster": true in the config file)`);
}

/** The store (and what closes it) for the connection flags. */
async function openStore(flags: ConnectionFlags): Promise<{ store: RedisStore; close: () => Promise<void> }> {
  const { url, parsed, config } = connectionSettings(flags);
  let ioredis: Pick<typeof import('ioredis'), 'Redis' | 'Cluster'>;
  let ioredisDriver: typeof import('./ioredis.js').ioredisDriver;
  try {
    ioredis = await import('ioredis');
    ({ ioredisDriver } = await import('./ioredis.js'));
  } catch {
    throw new CliError('the CLI talks to Redis through ioredis, which is not installed: npm install ioredis');
  }
  const fast = { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true };
  const cluster = flags.cluster ?? config.cluster ?? false;
  const client = cluster
    ? new ioredis.Cluster([{ host: parsed.hostname, port: Number(parsed.port || 6379) }], {
        ...fast,
        clusterRetryStrategy: () => null,
        redisOptions: {
          username: decodeURIComponent(parsed.username) || undefined,
          password: decodeURIComponent(parsed.password) || undefined,
          tls: parsed.protocol === 'rediss:' ? {} : undefined,
        },
      })
    : new ioredis.Redis(url, { ...fast, retryStrategy: () => null });
  client.on('error', () => {}); // reported through the store's errors, with the endpoint and no password
  if (client instanceof ioredis.Redis) {
    try {
      await refuseClusterNode(client, `${parsed.hostname}:${parsed.port || 6379}`);
    } catch (error) {
      if (client.status !== 'end') client.disconnect();
      throw error;
    }
  }
  let store: RedisStore;
  try {
    store = new RedisStore({
      driver: ioredisDriver(client),
      keyPrefix: flags.keyPrefix ?? config.keyPrefix ?? DEFAULT_KEY_PREFIX,
      commandTimeoutMs: flags.timeout ?? config.commandTimeoutMs ?? DEFAULT_CLI_TIMEOUT_MS,
    });
  } catch (error) {
    if (client.status !== 'end') client.disconnect(); // else the connection made above holds the process
    throw error;
  }
  return {
    store,
    close: async () => {
      await store.close();
      // (ioredis's disconnect() of a connection that already ended holds the process for 2 seconds: skip it then)
      if (client.status !== 'end') client.disconnect();
    },
  };
}

/** The `secret` option from the environment (see the header). */
function secretFromEnv(): { secret: SecretOption; userTagSecret?: string } {
  const ring = process.env.TOKEN_KEY_RING;
  const single = process.env.TOKEN_SECRET;
  const userTagSecret = process.env.TOKEN_USER_TAG_SECRET || undefined;
  if (ring) {
    let keys: unknown;
    try {
      keys = JSON.parse(ring);
    } catch {
      throw new CliError('TOKEN_KEY_RING must be JSON: [{"id":"k2","secret":"..."}, {"id":"k1","secret":"..."}]');
    }
    const entry = (k: unknown) =>
      !!k &&
      typeof k === 'object' &&
      typeof (k as { id?: unknown }).id === 'string' &&
      typeof (k as { secret?: unknown }).secret === 'string';
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every(entry))
      throw new CliError(
        'TOKEN_KEY_RING must be a non-empty JSON array of {"id": string, "secret": string}, newest first: [{"id":"k2","secret":"..."}, {"id":"k1","secret":"..."}]',
      );
    return { secret: keys as SecretOption, userTagSecret };
  }
  if (!single)
    throw new CliError(
      "no secret: set TOKEN_SECRET (or TOKEN_KEY_RING and TOKEN_USER_TAG_SECRET) to the app's secret; secrets are never taken from flags",
    );
  return { secret: single, userTagSecret };
}

/** Runs `fn` with a manager over the store of `flags`, then closes the connection. */
async function withManager<T>(flags: ConnectionFlags, fn: (m: TokenManager) => Promise<T>): Promise<T> {
  const { secret, userTagSecret } = secretFromEnv();
  const { store, close } = await openStore(flags);
  try {
    let manager: TokenManager;
    try {
      manager = new TokenManager({ store, secret, ...(userTagSecret === undefined ? {} : { userTagSecret }) });
    } catch (error) {
      // Say which variable is wrong: the library names its options, not our environment variables.
      const message = error instanceof Error ? error.message : String(error);
      const source = /userTagSecret/.test(message)
        ? 'TOKEN_USER_TAG_SECRET'
        : typeof secret === 'string'
          ? 'TOKEN_SECRET'
          : 'TOKEN_KEY_RING';
      throw new CliError(`${source}: ${message}`);
    }
    return await fn(manager);
  } finally {
    await close();
  }
}

async function withStore<T>(flags: ConnectionFlags, fn: (s: RedisStore) => Promise<T>): Promise<T> {
  const { store, close } = await openStore(flags);
  try {
    return await fn(store);
  } finally {
    await close();
  }
}

const iso = (ms: number | null): string =>
  ms === null ? 'never' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Rows as aligned columns (the first row is the header). */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const cut = (s: string | null, n: number): string => (s === null ? '-' : s.length > n ? `${s.slice(0, n - 1)}…` : s);

function printTokens(tokens: TokenInfo[]): void {
  const rows = [['TOKEN ID', 'DEVICE', 'USER AGENT', 'IP', 'CREATED', 'LAST USED', 'EXPIRES']];
  for (const t of tokens)
    rows.push([
      t.tokenId,
      clean(cut(t.deviceName, 30)),
      clean(cut(t.userAgent, 40)),
      clean(t.ip ?? '-'),
      iso(t.createdAtMs),
      iso(t.lastUsedAtMs),
      iso(t.expiresAtMs),
    ]);
  console.log(table(rows));
}

function printRevoked(ids: string[], userId: string): void {
  console.log(`revoked ${ids.length} token${ids.length === 1 ? '' : 's'} of user ${clean(userId)}:`);
  for (const id of ids) console.log(`  ${id}`);
}

/** A whole number of at least `min`, for a flag. */
function wholeNumber(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`a whole number of at least ${min} is expected`);
    return n;
  };
}

/** A progress bar on stderr when it is a terminal; none when piped. Returns the callback and a stop. */
async function progressBar(label: string): Promise<{ onProgress?: (p: AdminProgress) => void; stop: () => void }> {
  if (!process.stderr.isTTY) return { stop: () => {} };
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} keys`,
      clearOnComplete: true,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (p) => {
      if (!started) {
        bar.start(p.total, 0);
        started = true;
      }
      bar.setTotal(p.total);
      bar.update(p.done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/**
 * Runs a walk of the whole store (`stats`, `prune`) with a progress bar on a terminal. With `--json`,
 * prints the result as JSON and resolves to undefined; else resolves to the result, to print as text.
 */
async function walkStore<T>(
  label: string,
  flags: ConnectionFlags & { json?: boolean },
  fn: (store: RedisStore, onProgress?: (p: AdminProgress) => void) => Promise<T>,
): Promise<T | undefined> {
  const bar = await progressBar(label);
  const result = await withStore(flags, (store) => fn(store, bar.onProgress)).finally(bar.stop);
  if (!flags.json) return result;
  console.log(JSON.stringify(result, null, 2));
  return undefined;
}

/** Most bytes `inspect` reads from standard input: a token is 77 characters; room for whitespace and `Authorization: Bearer `. */
const MAX_TOKEN_INPUT = 512;

/** `text` without surrounding whitespace and a `Bearer ` or `Token ` scheme (as pasted from a header). */
function stripScheme(text: string): string {
  return text
    .trim()
    .replace(/^(?:authorization:\s*)?(?:bearer|token)\s+/i, '')
    .trim();
}

/**
 * The token for `inspect`: standard input when piped (at most {@link MAX_TOKEN_INPUT} bytes: `yes | inspect`
 * must not grow without bound), else a hidden prompt on the terminal. Never argv.
 */
async function readToken(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size > MAX_TOKEN_INPUT) {
        process.stdin.destroy();
        throw new CliError(
          `standard input holds more than ${MAX_TOKEN_INPUT} bytes: give one token (77 characters), nothing looked up`,
        );
      }
    }
    return stripScheme(Buffer.concat(chunks).toString('utf8'));
  }
  const { default: password } = await import('@inquirer/password');
  return stripScheme(await password({ message: 'Token (hidden):', mask: false }, { output: process.stderr }));
}

function connectionOptions(cmd: Command): Command {
  return cmd
    .option('--redis-url <url>', 'Redis URL (else REDIS_URL, else the config file)')
    .option('--cluster', 'the URL names a node of a Redis Cluster')
    .option(
      '--key-prefix <prefix>',
      `key prefix of the store (default "${DEFAULT_KEY_PREFIX}", as the library's keyPrefix)`,
    )
    .option(
      '--config <file>',
      'JSON config file: redisUrl, cluster, keyPrefix, commandTimeoutMs (else REDIS_MULTITOKENS_CONFIG)',
    )
    .addOption(
      new Option(
        '--timeout <ms>',
        `longest wait for one Redis reply, in milliseconds (default ${DEFAULT_CLI_TIMEOUT_MS})`,
      ).argParser(wholeNumber(1)),
    );
}

/** The program. */
function program(): Command {
  const p = new Command('redis-multitokens')
    .description('Admin CLI of redis-multitokens: devices of a user, revocation, token inspection, store statistics.')
    .version(
      (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version,
    )
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) =>
        write(
          `redis-multitokens: ${clean(
            withoutOptionValues(
              s
                .replace(/^error: /, '')
                .trim()
                .replace(/\s*\n\s*/g, ' '),
            ),
          )}\n`,
        ),
    });

  connectionOptions(
    p.command('list').description("the user's live tokens (devices), newest first").argument('<userId>'),
  )
    .option('--json', 'JSON for scripts')
    .action(async (userId: string, flags: ConnectionFlags & { json?: boolean }) => {
      userIdArg(userId);
      const tokens = await withManager(flags, (m) => m.list(userId));
      if (tokens.length === 0) throw new CliError(`user ${clean(userId)} has no live tokens`);
      if (flags.json)
        console.log(
          JSON.stringify(
            tokens.map(({ current: _current, ...t }) => t),
            null,
            2,
          ),
        );
      else printTokens(tokens);
    });

  connectionOptions(p.command('revoke').description('revoke one token of a user by its token id').argument('<tokenId>'))
    .requiredOption('--user <userId>', 'the user the token belongs to')
    .action(async (tokenId: string, flags: ConnectionFlags & { user: string }) => {
      if (!isTokenId(tokenId))
        throw new CliError(
          'not a token id (24 characters: 8 hex digits and 16 letters or digits); never pass a whole token on the command line',
        );
      userIdArg(flags.user);
      const done = await withManager(flags, (m) => m.revokeById(flags.user, tokenId, { reason: 'admin' }));
      if (!done) throw new CliError(`user ${clean(flags.user)} has no live token ${tokenId}`);
      printRevoked([tokenId], flags.user);
    });

  connectionOptions(
    p.command('revoke-all').description('revoke every token of a user (log out everywhere)').argument('<userId>'),
  ).action(async (userId: string, flags: ConnectionFlags) => {
    userIdArg(userId);
    const ids = await withManager(flags, (m) => m.revokeAll(userId));
    if (ids.length === 0) throw new CliError(`user ${clean(userId)} has no live tokens: nothing revoked`);
    printRevoked(ids, userId);
  });

  connectionOptions(
    p
      .command('revoke-others')
      .description('revoke every token of a user but one')
      .argument('<userId>')
      .argument('<keepTokenId>'),
  ).action(async (userId: string, keep: string, flags: ConnectionFlags) => {
    userIdArg(userId);
    if (!isTokenId(keep))
      throw new CliError(
        'not a token id (24 characters: 8 hex digits and 16 letters or digits); never pass a whole token on the command line',
      );
    const ids = await withManager(flags, async (m) => {
      // Refused when the token to keep is not the user's: revoking "all but a typo" would log the user out everywhere.
      if (!(await m.list(userId)).some((t) => t.tokenId === keep))
        throw new CliError(`user ${clean(userId)} has no live token ${keep}: nothing revoked`);
      return m.revokeOthers(userId, keep);
    });
    if (ids.length === 0) console.log(`user ${clean(userId)} has no other live token: nothing revoked`);
    else printRevoked(ids, userId);
  });

  connectionOptions(
    p
      .command('inspect')
      .description('check a token read from standard input or a hidden prompt (never an argument); never prints it'),
  )
    .option('--revoke', 'revoke it at once when it is valid')
    .option('--json', 'JSON for scripts')
    .action(async (flags: ConnectionFlags & { revoke?: boolean; json?: boolean }) => {
      // The configuration first: no prompt for a token that could not be looked up anyway.
      secretFromEnv();
      connectionSettings(flags);
      const token = await readToken();
      const { out, revoked } = await withManager(flags, async (m) => {
        const r = await m.inspect(token);
        if (!r.wellFormed)
          throw new CliError(
            'not a well-formed token (prefix, length, alphabet or checksum is wrong): nothing looked up',
          );
        if (!r.found)
          throw new CliError(
            `well-formed, token id ${r.tokenId}: no live token has this id (unknown, expired or revoked)`,
          );
        if (!r.valid)
          throw new CliError(
            `well-formed, token id ${r.tokenId} exists (user ${clean(r.record.userId)}) but this token's secret does not match it: not valid${flags.revoke ? ', nothing revoked' : ''}`,
          );
        return { out: r, revoked: flags.revoke ? await m.revoke(token) : false };
      });
      const rec = out.record;
      if (flags.json) {
        console.log(
          JSON.stringify(
            { wellFormed: true, valid: true, tokenId: out.tokenId, userId: rec.userId, record: rec, revoked },
            null,
            2,
          ),
        );
        return;
      }
      console.log(`well-formed: yes\nvalid:       yes\ntoken id:    ${out.tokenId}\nuser:        ${clean(rec.userId)}`);
      console.log(
        `device:      ${clean(rec.deviceName ?? '-')}\nuser agent:  ${clean(rec.userAgent ?? '-')}\nip:          ${clean(rec.ip ?? '-')}`,
      );
      if (rec.metadata) console.log(`metadata:    ${clean(JSON.stringify(rec.metadata))}`);
      console.log(
        `created:     ${iso(rec.createdAtMs)}\nlast used:   ${iso(rec.lastUsedAtMs)}\nexpires:     ${iso(rec.expiresAtMs)}`,
      );
      if (flags.revoke)
        console.log(
          revoked
            ? `revoked:     yes (token id ${out.tokenId} of user ${clean(rec.userId)})`
            : 'revoked:     no (it went meanwhile)',
        );
    });

  connectionOptions(
    p
      .command('stats')
      .description('live tokens, users, tokens per user, bytes per token, keys without a TTL (SCAN on every primary)'),
  )
    .addOption(new Option('--limit <keys>', 'most keys to look at (default: all)').argParser(wholeNumber(1)))
    .addOption(
      new Option('--sample <n>', 'records and indexes measured with MEMORY USAGE (default 100)').argParser(
        wholeNumber(0),
      ),
    )
    .option('--json', 'JSON for scripts')
    .action(async (flags: ConnectionFlags & { limit?: number; sample?: number; json?: boolean }) => {
      const s = await walkStore('stats', flags, (store, onProgress) =>
        store.stats({ limit: flags.limit, sampleSize: flags.sample, onProgress }),
      );
      if (!s) return;
      const t = s.tokensPerUser;
      const b = s.bytesPerToken;
      const w = s.keysWithoutTtl;
      console.log(`live tokens:        ${s.liveTokens}\nusers with tokens:  ${s.usersWithTokens}`);
      console.log(`tokens per user:    ${t ? `min ${t.min}, median ${t.median}, max ${t.max}` : '-'}`);
      console.log(
        `bytes per token:    ${b ? `${b.total} (record ${b.record} + index entry ${b.indexEntry}; MEMORY USAGE of ${b.sampledRecords} records, ${b.sampledIndexes} indexes)` : '-'}`,
      );
      console.log(
        `keys without TTL:   ${w.tokenRecords + w.userIndexes + w.failureCounters} (token hashes ${w.tokenRecords}, user indexes ${w.userIndexes}, 0.1 failure counters ${w.failureCounters})`,
      );
      console.log(`stale entries:      ${s.staleIndexEntries}${s.staleIndexEntries > 0 ? ' (run prune)' : ''}`);
      if (s.legacyKeys > 0)
        console.log(`0.1 keys:           ${s.legacyKeys} (they move at their user's next verify or login, or expire)`);
      console.log(
        `scanned:            ${s.keysSeen} keys on ${s.primaries} primar${s.primaries === 1 ? 'y' : 'ies'}${s.complete ? '' : ' (stopped at --limit: partial)'}`,
      );
    });

  connectionOptions(p.command('prune').description('drop user-index entries whose record is gone or expired'))
    .option('--dry-run', 'count only, change nothing')
    .addOption(
      new Option('--limit <keys>', 'most user hashes and indexes to look at (default: all)').argParser(wholeNumber(1)),
    )
    .option('--json', 'JSON for scripts')
    .action(async (flags: ConnectionFlags & { dryRun?: boolean; limit?: number; json?: boolean }) => {
      const r = await walkStore('prune', flags, (store, onProgress) =>
        store.prune({ dryRun: flags.dryRun, limit: flags.limit, onProgress }),
      );
      if (!r) return;
      const verb = r.dryRun ? 'would drop' : 'dropped';
      console.log(
        `${verb} ${r.entriesDropped} stale entr${r.entriesDropped === 1 ? 'y' : 'ies'} from ${r.indexesChanged} of ${r.indexesSeen} user hashes and indexes on ${r.primaries} primar${r.primaries === 1 ? 'y' : 'ies'}${r.complete ? '' : ' (stopped at --limit: partial)'}`,
      );
    });

  p.command('secret')
    .description('print a new random secret for TOKEN_SECRET (32 random bytes, base64url: 43 characters)')
    .action(() => {
      console.log(randomBytes(32).toString('base64url'));
    });

  return p;
}

/** Runs the CLI; resolves to the exit code. Failures print one line on stderr, never a stack trace. */
async function main(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode; // commander printed its one line (or the help)
    process.stderr.write(`redis-multitokens: ${errorLine(error)}\n`);
    return 1;
  }
}

/** Commander's messages with an option's value left out (`--secret=...` is shown as `--secret`). */
function withoutOptionValues(message: string): string {
  return message.replace(/'(--[^'=\s]+)=[^']*'/g, "'$1'").replace(/'-([A-Za-z])[^'\s]+'/g, "'-$1'");
}

/**
 * One line for a failure: its message, then the messages of its causes (the library's are safe copies:
 * no command arguments, no password), a hint for a cluster reply, no password of the URL, terminal-safe.
 */
function errorLine(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  let line = parts.join(': ');
  if (/\b(MOVED|ASK|CROSSSLOT|CLUSTERDOWN)\b/.test(line) && !/--cluster/.test(line))
    line += ' (is this a Redis Cluster? add --cluster)';
  for (const secret of redactions) if (secret) line = line.split(secret).join('***');
  return clean(line.replace(/\s*\n\s*/g, ' '));
}

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`redis-multitokens: ${errorLine(reason)}\n`);
  process.exit(1);
});
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
