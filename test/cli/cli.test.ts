/**
 * The admin CLI as an operator runs it: a child process (`node --import tsx src/cli.ts`, the source
 * itself, so that running this file alone tests the code as it is now, without a build first; the
 * built `dist/cli.js` bin is checked once at the end) against the real Redis at REDIS_URL (a fresh key
 * prefix per test), throwaway servers for the failure modes, and the tests' 3-primary Redis Cluster.
 * Tokens are made through the library with the same secret, read back through the library.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import { ioredisDriver } from '../../src/stores/redis/ioredis.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { forgeSecret } from '../../src/testing/index.js';
import {
  hasRedisServerBinary,
  freePort,
  startRedisCluster,
  startRedisServer,
  type RedisClusterServer,
} from '../support/redis-server.js';
import { REDIS_URL, TEST_SECRET, deletePrefix, pieceFieldsOf, testRedis, uniquePrefix } from '../support/redis.js';

const ROOT = new URL('../../', import.meta.url);
const CLI = ['--import', 'tsx', new URL('src/cli.ts', ROOT).pathname];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args`; `input` is piped to its standard input (closed at once when absent). */
function cli(
  args: string[],
  options: { input?: string; env?: Record<string, string | undefined>; bin?: string[] } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      REDIS_URL,
      TOKEN_SECRET: TEST_SECRET,
      TOKEN_KEY_RING: undefined,
      NO_COLOR: '1',
      ...options.env,
    };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const child = spawn(process.execPath, [...(options.bin ?? CLI), ...args], {
      cwd: ROOT.pathname,
      env: env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.stdin.on('error', () => {}); // EPIPE: the CLI stopped reading (inspect reads at most 512 bytes)
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** A failure as promised: exit code 1, one line on stderr that matches `pattern`, no stack trace, nothing on stdout. */
function expectOneLineFailure(r: Run, pattern: RegExp): void {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^redis-multitokens: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const admin = testRedis();
afterAll(() => admin.quit());

/** A manager and store over the test Redis under a fresh prefix, and the CLI flags for the same store. */
function setup(label: string) {
  const keyPrefix = uniquePrefix(`cli-${label}`);
  const store = new RedisStore({ driver: ioredisDriver(new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })), keyPrefix });
  const manager = new TokenManager({ store, secret: TEST_SECRET, maxTokensPerUser: null });
  return {
    store,
    manager,
    flags: ['--key-prefix', keyPrefix],
    done: async () => {
      await deletePrefix(admin, keyPrefix);
      await store.close();
      (store.driver as ReturnType<typeof ioredisDriver>).redis.disconnect();
    },
  };
}

/** Runs `fn` with {@link setup}'s store, then deletes its keys and closes it. */
async function withSetup(label: string, fn: (s: ReturnType<typeof setup>) => Promise<void>): Promise<void> {
  const s = setup(label);
  try {
    await fn(s);
  } finally {
    await s.done();
  }
}

/**
 * Runs the CLI on a pseudo-terminal (`script` gives it one as standard input and output, and copies
 * what it shows); `onOutput` sees the output so far and may write to the terminal. Resolves to the exit code and output.
 */
function onTerminal(
  args: string[],
  onOutput: (out: string, stdin: NodeJS.WritableStream & { writableEnded: boolean }) => void = () => {},
  extraEnv: Record<string, string | undefined> = {},
): Promise<{ code: number | null; out: string }> {
  const command = [process.execPath, ...CLI, ...args].map((x) => `'${x}'`).join(' ');
  const env: Record<string, string | undefined> = {
    ...process.env,
    REDIS_URL,
    TOKEN_SECRET: TEST_SECRET,
    NO_COLOR: '1',
    ...extraEnv,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: env as NodeJS.ProcessEnv });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    onOutput(out, child.stdin);
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

describe('CLI against Redis', () => {
  it(
    'list: a table of the devices, --json for scripts; never a token',
    () =>
      withSetup('list', async (s) => {
        const a = await s.manager.create('42', {
          deviceName: 'Alice phone',
          userAgent: 'Mozilla/5.0 (iPhone)',
          ip: '203.0.113.7',
        });
        const b = await s.manager.create('42', { deviceName: 'laptop' });
        await s.manager.create('43', { deviceName: 'other user' });
        const table = await cli(['list', '42', ...s.flags]);
        expect(table.code).toBe(0);
        expect(table.stderr).toBe('');
        const lines = table.stdout.trimEnd().split('\n');
        expect(lines[0]).toMatch(/^TOKEN ID\s+DEVICE\s+USER AGENT\s+IP\s+CREATED\s+LAST USED\s+EXPIRES$/);
        expect(lines).toHaveLength(3);
        expect(table.stdout).toContain(a.tokenId);
        expect(table.stdout).toContain('Alice phone');
        expect(table.stdout).toContain('203.0.113.7');
        expect(table.stdout).toContain(b.tokenId);
        expect(table.stdout).not.toContain('other user');
        expect(table.stdout).toContain(new Date(a.record.expiresAtMs!).toISOString().slice(0, 16));
        for (const t of [a.token, b.token]) expect(table.stdout).not.toContain(t);
        const json = await cli(['list', '42', '--json', ...s.flags]);
        expect(json.code).toBe(0);
        const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
        expect(rows.map((r) => r.tokenId).sort()).toEqual([a.tokenId, b.tokenId].sort());
        expect(rows.find((r) => r.tokenId === a.tokenId)).toMatchObject({
          userId: '42',
          deviceName: 'Alice phone',
          userAgent: 'Mozilla/5.0 (iPhone)',
          ip: '203.0.113.7',
        });
        expect(json.stdout).not.toContain(a.token);
        expectOneLineFailure(await cli(['list', 'nobody', ...s.flags]), /user nobody has no live tokens/);
      }),
    30_000,
  );

  it(
    'revoke, revoke-all, revoke-others: print what they revoked; unknown ids and users fail',
    () =>
      withSetup('revoke', async (s) => {
        const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => s.manager.create('7')));
        const other = await s.manager.create('8');
        const one = await cli(['revoke', a!.tokenId, '--user', '7', ...s.flags]);
        expect(one.code).toBe(0);
        expect(one.stdout).toBe(`revoked 1 token of user 7:\n  ${a!.tokenId}\n`);
        expect((await s.manager.verify(a!.token)).valid).toBe(false);
        expectOneLineFailure(await cli(['revoke', a!.tokenId, '--user', '7', ...s.flags]), /user 7 has no live token/);
        expectOneLineFailure(
          await cli(['revoke', other.tokenId, '--user', '7', ...s.flags]),
          /user 7 has no live token/,
        );
        expect((await s.manager.verify(other.token)).valid).toBe(true); // another user's token is left alone
        expectOneLineFailure(await cli(['revoke', other.token, '--user', '8', ...s.flags]), /not a token id/);
        expectOneLineFailure(
          await cli(['revoke', b!.tokenId, ...s.flags]),
          /required option '--user <userId>' not specified/,
        );

        expectOneLineFailure(
          await cli(['revoke-others', '7', other.tokenId, ...s.flags]),
          /user 7 has no live token .*nothing revoked/,
        );
        expect((await s.manager.list('7')).length).toBe(3); // a keep id that is not the user's revokes nothing
        const others = await cli(['revoke-others', '7', d!.tokenId, ...s.flags]);
        expect(others.code).toBe(0);
        expect(others.stdout).toContain('revoked 2 tokens of user 7:');
        for (const t of [b!, c!]) {
          expect(others.stdout).toContain(t.tokenId);
          expect((await s.manager.verify(t.token)).valid).toBe(false);
        }
        expect((await s.manager.verify(d!.token)).valid).toBe(true);

        const all = await cli(['revoke-all', '7', ...s.flags]);
        expect(all.code).toBe(0);
        expect(all.stdout).toBe(`revoked 1 token of user 7:\n  ${d!.tokenId}\n`);
        expect(await s.manager.list('7')).toEqual([]);
        expectOneLineFailure(await cli(['revoke-all', '7', ...s.flags]), /user 7 has no live tokens: nothing revoked/);
        expect((await s.manager.verify(other.token)).valid).toBe(true);
      }),
    60_000,
  );

  it(
    'inspect: reads the token from standard input, says user and device, never prints it; --revoke',
    () =>
      withSetup('inspect', async (s) => {
        const a = await s.manager.create('alice', { deviceName: 'work laptop' });
        const r = await cli(['inspect', ...s.flags], { input: `${a.token}\n` });
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^well-formed: yes$/m);
        expect(r.stdout).toMatch(/^valid: +yes$/m);
        expect(r.stdout).toMatch(new RegExp(`^token id: +${a.tokenId}$`, 'm'));
        expect(r.stdout).toMatch(/^user: +alice$/m);
        expect(r.stdout).toMatch(/^device: +work laptop$/m);
        expect(r.stdout + r.stderr).not.toContain(a.token);
        const before = (await s.store.lookup({ tokenId: a.tokenId, userTag: a.tokenId.slice(0, 8) }))!.record;
        expect(before.lastUsedAtMs).toBe(a.record.lastUsedAtMs); // inspecting is not a use

        const forged = forgeSecret(a.token);
        const f = await cli(['inspect', ...s.flags], { input: forged });
        expectOneLineFailure(
          f,
          new RegExp(
            `token id ${a.tokenId} exists \\(user alice\\) but this token's secret does not match it: not valid`,
          ),
        );
        expect(f.stderr).not.toContain(forged);
        expectOneLineFailure(
          await cli(['inspect', ...s.flags], { input: 'rmt_0123456789abcdef\n' }),
          /not a well-formed token/,
        );
        expectOneLineFailure(await cli(['inspect', ...s.flags], { input: '' }), /not a well-formed token/);

        const json = await cli(['inspect', '--json', ...s.flags], { input: a.token });
        expect(JSON.parse(json.stdout)).toMatchObject({
          wellFormed: true,
          valid: true,
          tokenId: a.tokenId,
          userId: 'alice',
          revoked: false,
        });
        expect(json.stdout).not.toContain(a.token);

        const revoked = await cli(['inspect', '--revoke', ...s.flags], { input: a.token });
        expect(revoked.code).toBe(0);
        expect(revoked.stdout).toMatch(new RegExp(`^revoked: +yes \\(token id ${a.tokenId} of user alice\\)$`, 'm'));
        expect((await s.manager.verify(a.token)).valid).toBe(false);
        expectOneLineFailure(
          await cli(['inspect', ...s.flags], { input: a.token }),
          new RegExp(`token id ${a.tokenId}: no live token has this id`),
        );
        // Another secret: the id is found, the token does not match.
        const b = await s.manager.create('bob');
        expectOneLineFailure(
          await cli(['inspect', ...s.flags], {
            input: b.token,
            env: { TOKEN_SECRET: 'another-secret-another-secret-another-secret-0' },
          }),
          /exists \(user bob\) but this token's secret does not match/,
        );
      }),
    60_000,
  );

  it.runIf(existsSync('/usr/bin/script'))(
    'inspect on a terminal: a hidden prompt that does not echo the token',
    () =>
      withSetup('prompt', async (s) => {
        const a = await s.manager.create('carol', { deviceName: 'tty' });
        const { code, out } = await onTerminal(['inspect', ...s.flags], (shown, stdin) => {
          if (shown.includes('Token (hidden)') && !stdin.writableEnded) stdin.end(`${a.token}\r`);
        });
        expect(out).toContain('Token (hidden)');
        expect(out).toMatch(/user: +carol/);
        expect(out).not.toContain(a.token);
        expect(code).toBe(0);
      }),
    30_000,
  );

  it.runIf(existsSync('/usr/bin/script'))(
    'stats and prune on a terminal: a progress bar on stderr that reaches 100%',
    () =>
      withSetup('bar', async (s) => {
        await s.manager.create('bar-user');
        for (const command of ['stats', 'prune']) {
          const { code, out } = await onTerminal([command, ...s.flags], (_shown, stdin) => {
            if (!stdin.writableEnded) stdin.end();
          });
          expect(code).toBe(0);
          expect(out).toContain(`${command} [`);
          expect(out).toMatch(/100% \| \d+\/\d+ keys/);
        }
      }),
    30_000,
  );

  it(
    'stats: live tokens, users, tokens per user, bytes per token, keys without TTL; --limit; no progress bar when piped',
    () =>
      withSetup('stats', async (s) => {
        await s.manager.create('u1');
        await Promise.all([1, 2].map(() => s.manager.create('u2')));
        const u3 = await Promise.all([1, 2, 3].map(() => s.manager.create('u3')));
        await s.manager.create('u4', { ttlSeconds: null }); // immortal: its record and index rightly have no TTL
        const unexpiring = u3[0]!;
        await admin.persist(s.store.keys.hashKey(unexpiring.tokenId.slice(0, 8))); // edited by hand: u3's hash lost its TTL
        const r = await cli(['stats', '--json', ...s.flags]);
        expect(r.code).toBe(0);
        expect(r.stderr).toBe(''); // piped: no progress bar
        const stats = JSON.parse(r.stdout);
        expect(stats).toMatchObject({
          liveTokens: 7,
          usersWithTokens: 4,
          tokensPerUser: { min: 1, median: 1.5, max: 3 },
          keysWithoutTtl: { tokenRecords: 1, userIndexes: 0, failureCounters: 0 },
          staleIndexEntries: 0,
          primaries: 1,
          complete: true,
        });
        expect(stats.bytesPerToken.sampledRecords).toBe(4); // the four users' hashes
        expect(stats.bytesPerToken.record).toBeGreaterThan(50);
        expect(stats.bytesPerToken.total).toBe(stats.bytesPerToken.record + stats.bytesPerToken.indexEntry);
        const text = await cli(['stats', ...s.flags]);
        expect(text.stdout).toMatch(/^live tokens: +7$/m);
        expect(text.stdout).toMatch(/^tokens per user: +min 1, median 1\.5, max 3$/m);
        expect(text.stdout).toMatch(/^keys without TTL: +1 \(token hashes 1,/m);
        const limited = JSON.parse((await cli(['stats', '--json', '--limit', '3', ...s.flags])).stdout);
        expect(limited.complete).toBe(false);
        expect(limited.keysSeen).toBe(3);
        expectOneLineFailure(await cli(['stats', '--limit', '0', ...s.flags]), /--limit.*whole number of at least 1/);
        expectOneLineFailure(await cli(['stats', '--limit', 'ten', ...s.flags]), /--limit.*whole number/);
      }),
    60_000,
  );

  it(
    'prune: drops records broken by hand (a piece gone), --dry-run changes nothing',
    () =>
      withSetup('prune', async (s) => {
        const a = await s.manager.create('p1', { userAgent: 'x'.repeat(100) }); // in pieces
        const b = await s.manager.create('p1');
        await s.manager.create('p2');
        const hash = s.store.keys.hashKey(a.tokenId.slice(0, 8));
        const [piece] = await pieceFieldsOf(admin, hash, s.store.keys.field(a.tokenId));
        await admin.hdel(hash, piece!); // a record broken by hand
        const dry = await cli(['prune', '--dry-run', ...s.flags]);
        expect(dry.code).toBe(0);
        expect(dry.stdout).toBe('would drop 1 stale entry from 1 of 2 user hashes and indexes on 1 primary\n');
        expect(dry.stderr).toBe('');
        expect(JSON.parse((await cli(['stats', '--json', ...s.flags])).stdout).staleIndexEntries).toBe(1); // still there
        const real = await cli(['prune', ...s.flags]);
        expect(real.stdout).toBe('dropped 1 stale entry from 1 of 2 user hashes and indexes on 1 primary\n');
        expect(JSON.parse((await cli(['stats', '--json', ...s.flags])).stdout)).toMatchObject({
          staleIndexEntries: 0,
          liveTokens: 2,
        });
        expect(JSON.parse((await cli(['prune', '--json', ...s.flags])).stdout)).toMatchObject({
          entriesDropped: 0,
          indexesSeen: 2,
          complete: true,
        });
        expect((await s.manager.verify(b.token)).valid).toBe(true);
        expect((await s.manager.list('p1')).map((t) => t.tokenId)).toEqual([b.tokenId]);
      }),
    60_000,
  );

  it(
    'list and inspect escape control and bidi characters of device details (no forged lines, no terminal escapes)',
    () =>
      withSetup('escape', async (s) => {
        const forged = 'pwn\nrevoked 3 tokens of user 42:\x1b[2J';
        const link = '\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07 \u202eevil\u2066';
        const a = await s.manager.create('esc', {
          deviceName: forged,
          userAgent: link,
          ip: '10.0.0.1\r',
          metadata: { note: 'x\x1b[31my\u202e' },
        });
        // biome-ignore lint/suspicious/noControlCharactersInRegex: it looks for the control characters that must not be printed
        const unsafe = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
        const list = await cli(['list', 'esc', ...s.flags]);
        expect(list.code).toBe(0);
        expect(list.stdout).not.toMatch(unsafe);
        expect(list.stdout.trimEnd().split('\n')).toHaveLength(2); // the header and one row: no forged line
        expect(list.stdout).toContain('pwn\\x0arevoked 3');
        expect(list.stdout).toContain('\\x1b]8;;https://evil');
        const ins = await cli(['inspect', ...s.flags], { input: a.token });
        expect(ins.code).toBe(0);
        expect(ins.stdout).not.toMatch(unsafe);
        expect(ins.stdout).toMatch(/^device: +pwn\\x0arevoked 3 tokens of user 42:\\x1b\[2J$/m);
        expect(ins.stdout).toMatch(/^ip: +10\.0\.0\.1\\x0d$/m);
        expect(ins.stdout).toContain('\\u202eevil\\u2066');
        expect(ins.stdout).toMatch(/^metadata: +.*x\\u001b\[31my\\u202e/m); // JSON's escape, then ours
        const json = JSON.parse((await cli(['list', 'esc', '--json', ...s.flags])).stdout) as { deviceName: string }[];
        expect(json[0]!.deviceName).toBe(forged); // JSON keeps the value exactly (and JSON-escaped on the wire)
        const user = 'u\x1b[2J\u202e';
        await s.manager.create(user);
        const revoked = await cli(['revoke-all', user, ...s.flags]);
        expect(revoked.stdout).toMatch(/^revoked 1 token of user u\\x1b\[2J\\u202e:\n {2}\w{24}\n$/);
        expectOneLineFailure(
          await cli(['list', 'a\nb\x1b[2J', ...s.flags]),
          /^redis-multitokens: user a\\x0ab\\x1b\[2J has no live tokens$/,
        );
      }),
    60_000,
  );

  it(
    'a token given where a user id is expected is refused and never echoed',
    () =>
      withSetup('tokenuser', async (s) => {
        const a = await s.manager.create('tu');
        for (const args of [
          ['list', a.token],
          ['revoke-all', a.token],
          ['revoke', a.tokenId, '--user', a.token],
          ['revoke-others', a.token, a.tokenId],
          ['list', `Bearer ${a.token}`],
        ]) {
          const r = await cli([...args, ...s.flags]);
          expectOneLineFailure(r, /this looks like a token, not a user id: use `inspect`/);
          expect(r.stderr).not.toContain(a.token.slice(4, 40));
        }
        expect((await s.manager.verify(a.token)).valid).toBe(true);
      }),
    60_000,
  );

  it(
    'inspect: standard input is read up to 512 bytes; a Bearer or Token scheme is stripped',
    () =>
      withSetup('stdin', async (s) => {
        const a = await s.manager.create('bearer-user');
        for (const input of [`Bearer ${a.token}\n`, `  Token ${a.token}  \r\n`, `Authorization: Bearer ${a.token}`]) {
          const r = await cli(['inspect', ...s.flags], { input });
          expect(r.code).toBe(0);
          expect(r.stdout).toMatch(/^user: +bearer-user$/m);
        }
        const big = await cli(['inspect', ...s.flags], { input: 'y\n'.repeat(1_000_000) });
        expectOneLineFailure(big, /standard input holds more than 512 bytes/);
      }),
    60_000,
  );

  it.runIf(existsSync('/usr/bin/script'))(
    'inspect checks its configuration before prompting for a token',
    async () => {
      for (const [env, pattern] of [
        [{ TOKEN_SECRET: undefined }, /no secret: set TOKEN_SECRET/],
        [{ REDIS_URL: undefined }, /no Redis to talk to/],
      ] as const) {
        const { code, out } = await onTerminal(
          ['inspect'],
          (shown, stdin) => {
            if (shown.includes('Token (hidden)') && !stdin.writableEnded) stdin.end('x\r');
          },
          env,
        );
        expect(out).not.toContain('Token (hidden)');
        expect(out).toMatch(pattern);
        expect(code).toBe(1);
      }
    },
    30_000,
  );

  it('secret: a new random 32-byte secret the library accepts', async () => {
    const [x, y] = await Promise.all([
      cli(['secret'], { env: { REDIS_URL: undefined, TOKEN_SECRET: undefined } }),
      cli(['secret']),
    ]);
    expect(x.code).toBe(0);
    const secret = x.stdout.trim();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(y.stdout.trim()).not.toBe(secret);
    expect(
      () => new TokenManager({ secret, store: new RedisStore({ driver: ioredisDriver({ url: REDIS_URL }) }) }),
    ).not.toThrow();
  }, 30_000);
});

describe('CLI failures: exit 1, one readable line, no stack trace', () => {
  it('Redis unreachable', async () => {
    const port = await freePort();
    expectOneLineFailure(
      await cli(['list', '1'], { env: { REDIS_URL: `redis://127.0.0.1:${port}` } }),
      new RegExp(`unavailable.*127\\.0\\.0\\.1:${port}.*ECONNREFUSED`),
    );
    expectOneLineFailure(
      await cli(['stats', '--redis-url', `redis://:hunter2hunter2@127.0.0.1:${port}`]),
      /unavailable/,
    );
    const r = await cli(['stats', '--redis-url', `redis://:hunter2hunter2@127.0.0.1:${port}`]);
    expect(r.stderr).not.toContain('hunter2');
  }, 30_000);

  it('bad flags, commands and settings', async () => {
    expectOneLineFailure(await cli(['list', '1', '--bogus']), /unknown option '--bogus'/);
    expectOneLineFailure(await cli(['lst', '1']), /unknown command 'lst'.*Did you mean list\?/);
    expectOneLineFailure(await cli(['list']), /missing required argument 'userId'/);
    expectOneLineFailure(await cli(['list', '1', '--secret', 'x'.repeat(40)]), /unknown option '--secret'/); // secrets never by flag
    expectOneLineFailure(await cli(['list', '1'], { env: { TOKEN_SECRET: undefined } }), /no secret: set TOKEN_SECRET/);
    expectOneLineFailure(
      await cli(['list', '1'], { env: { TOKEN_SECRET: 'short' } }),
      /secret must be at least 32 bytes/,
    );
    expectOneLineFailure(
      await cli(['list', '1'], { env: { TOKEN_SECRET: undefined, TOKEN_KEY_RING: '[{"id":"k2"' } }),
      /TOKEN_KEY_RING must be JSON/,
    );
    expectOneLineFailure(await cli(['list', '1'], { env: { REDIS_URL: undefined } }), /no Redis to talk to/);
    expectOneLineFailure(
      await cli(['list', '1', '--redis-url', 'http://127.0.0.1:6379']),
      /must start with redis:\/\/ or rediss:\/\//,
    );
    // The drivers' database check: never database 0 by accident, never the password in the line.
    const badEscape = await cli(['list', '1', '--redis-url', 'redis://:hunter2%zzhunter2@127.0.0.1:6379']);
    expectOneLineFailure(badEscape, /the Redis URL: its user name or password is not valid percent-encoding/);
    expect(badEscape.stderr).not.toContain('hunter2');
    for (const url of ['redis://:hunter2hunter2@127.0.0.1:6379/abc', 'redis://:hunter2hunter2@127.0.0.1:6379/2?db=3']) {
      const r = await cli(['list', '1', '--redis-url', url]);
      expectOneLineFailure(
        r,
        /the Redis URL: (the database in `url` must be a whole number|`\?db=` in `url` must be one whole number)/,
      );
      expect(r.stderr).not.toContain('hunter2');
    }
    expectOneLineFailure(await cli(['list', '1', '--key-prefix', '{bad}']), /keyPrefix must be at most 64 characters/);
    expectOneLineFailure(await cli(['list', '1', '--timeout', '-5']), /--timeout.*whole number/);
    const valued = await cli(['list', '1', '--secret=hunter2hunter2hunter2']);
    expectOneLineFailure(valued, /unknown option '--secret'/); // the option's name only, never its value
    expect(valued.stderr).not.toContain('hunter2');
    expect((await cli(['list', '1', '-phunter2hunter2'])).stderr).not.toContain('hunter2');
    expectOneLineFailure(
      await cli(['list', '1'], { env: { TOKEN_KEY_RING: 'null' } }),
      /TOKEN_KEY_RING must be a non-empty JSON array/,
    );
    expectOneLineFailure(
      await cli(['list', '1'], { env: { TOKEN_KEY_RING: '{"id":"k1"}' } }),
      /TOKEN_KEY_RING must be/,
    );
    expectOneLineFailure(
      await cli(['list', '1'], { env: { TOKEN_KEY_RING: '[{"id":"k1","secret":"short"}]' } }),
      /^redis-multitokens: TOKEN_KEY_RING: .*32 bytes/,
    );
  }, 120_000);

  it('config file: connection settings read from it; a secret in it is refused', async () => {
    const s = setup('config');
    const dir = mkdtempSync(join(tmpdir(), 'rmt-cli-'));
    try {
      const a = await s.manager.create('cfg', { deviceName: 'from config' });
      const good = join(dir, 'good.json');
      writeFileSync(
        good,
        JSON.stringify({ redisUrl: REDIS_URL, keyPrefix: s.store.keys.prefix, commandTimeoutMs: 3000 }),
      );
      const r = await cli(['list', 'cfg', '--config', good], { env: { REDIS_URL: undefined } });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(a.tokenId);
      const viaEnv = await cli(['list', 'cfg'], { env: { REDIS_URL: undefined, REDIS_MULTITOKENS_CONFIG: good } });
      expect(viaEnv.stdout).toContain('from config');
      const secretIn = join(dir, 'secret.json');
      writeFileSync(secretIn, JSON.stringify({ redisUrl: REDIS_URL, secret: TEST_SECRET }));
      const refused = await cli(['list', 'cfg', '--config', secretIn]);
      expectOneLineFailure(refused, /holds "secret": secrets come from environment variables only/);
      expect(refused.stderr).not.toContain(TEST_SECRET);
      expectOneLineFailure(
        await cli(['list', 'cfg', '--config', join(dir, 'absent.json')]),
        /cannot read the config file .*no such file/,
      );
      for (const [body, pattern] of [
        [{ redisUrl: REDIS_URL, cluster: 'no' }, /"cluster" must be true or false/],
        [{ redisUrl: 6379 }, /"redisUrl" must be a string/],
        [{ redisUrl: REDIS_URL, commandTimeoutMs: '3000' }, /"commandTimeoutMs" must be a whole number/],
      ] as const) {
        writeFileSync(join(dir, 'typed.json'), JSON.stringify(body));
        expectOneLineFailure(
          await cli(['list', 'cfg', '--config', join(dir, 'typed.json')], { env: { REDIS_URL: undefined } }),
          pattern,
        );
      }
      writeFileSync(join(dir, 'bad.json'), '{ nope');
      expectOneLineFailure(await cli(['list', 'cfg', '--config', join(dir, 'bad.json')]), /not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await s.done();
    }
  }, 60_000);

  it.runIf(hasRedisServerBinary())(
    'a refused command says why (the cause on the same line), never the password',
    async () => {
      const server = await startRedisServer();
      const admin2 = new Redis(server.url);
      try {
        await admin2.call('ACL', 'SETUSER', 'ops', 'on', '>opspassword-xyz', '~*', '+@all', '-scan');
        const url = server.url.replace('redis://', 'redis://ops:opspassword-xyz@');
        const r = await cli(['stats', '--redis-url', url]);
        expectOneLineFailure(r, /SCAN failed at .*NOPERM/);
        expect(r.stderr).not.toContain('opspassword-xyz');
      } finally {
        admin2.disconnect();
        await server.stop();
      }
    },
    60_000,
  );

  it.runIf(hasRedisServerBinary())(
    'a Redis that may evict keys (maxmemory-policy allkeys-lru)',
    async () => {
      const server = await startRedisServer({ args: ['--maxmemory-policy', 'allkeys-lru'] });
      try {
        for (const args of [['list', '1'], ['revoke-all', '1'], ['stats'], ['prune', '--dry-run']])
          expectOneLineFailure(
            await cli(args, { env: { REDIS_URL: server.url } }),
            /maxmemory-policy is "allkeys-lru".*set maxmemory-policy to noeviction/,
          );
      } finally {
        await server.stop();
      }
    },
    60_000,
  );
});

describe.runIf(hasRedisServerBinary())('CLI against a Redis Cluster (3 primaries)', () => {
  let cluster: RedisClusterServer;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    await client.ping();
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('stats and prune SCAN every primary; list, inspect and revoke-all find users on any primary', async () => {
    const keyPrefix = uniquePrefix('cli-cluster');
    const store = new RedisStore({ driver: ioredisDriver(client), keyPrefix, commandTimeoutMs: 5000 });
    const m = new TokenManager({ store, secret: TEST_SECRET });
    const made = await Promise.all(
      Array.from({ length: 30 }, (_, i) => m.create(`c${i % 10}`, { deviceName: `d${i}`, userAgent: 'x'.repeat(100) })),
    );
    const url = `redis://127.0.0.1:${cluster.nodes[0]!.port}`;
    const flags = ['--cluster', '--redis-url', url, '--key-prefix', keyPrefix];
    const stats = await cli(['stats', '--json', ...flags]);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({
      liveTokens: 30,
      usersWithTokens: 10,
      tokensPerUser: { min: 3, median: 3, max: 3 },
      primaries: 3,
      complete: true,
    });
    const victim = made[4]!; // user c4
    const tag = victim.tokenId.slice(0, 8);
    const [piece] = await pieceFieldsOf(client, store.keys.hashKey(tag), store.keys.field(victim.tokenId));
    await client.hdel(store.keys.hashKey(tag), piece!); // a record broken by hand
    expect(JSON.parse((await cli(['prune', '--json', '--dry-run', ...flags])).stdout)).toMatchObject({
      entriesDropped: 1,
      indexesSeen: 10,
      primaries: 3,
    });
    expect(JSON.parse((await cli(['prune', '--json', ...flags])).stdout)).toMatchObject({
      entriesDropped: 1,
      indexesChanged: 1,
    });
    expect(JSON.parse((await cli(['stats', '--json', ...flags])).stdout)).toMatchObject({
      liveTokens: 29,
      staleIndexEntries: 0,
    });
    for (let u = 0; u < 10; u++) {
      const listed = await cli(['list', `c${u}`, '--json', ...flags]);
      expect(JSON.parse(listed.stdout)).toHaveLength(u === 4 ? 2 : 3);
    }
    const inspected = await cli(['inspect', ...flags], { input: made[7]!.token });
    expect(inspected.stdout).toMatch(/^user: +c7$/m);
    const all = await cli(['revoke-all', 'c7', ...flags]);
    expect(all.stdout).toContain('revoked 3 tokens of user c7:');
    expect((await m.verify(made[7]!.token)).valid).toBe(false);
    for (let u = 0; u < 10; u++) await m.revokeAll(`c${u}`);
    await store.close();
  }, 90_000);

  it('without --cluster, a Cluster node is refused with one line saying to add it (never a partial stats or prune)', async () => {
    const url = `redis://127.0.0.1:${cluster.nodes[0]!.port}`;
    for (const args of [['stats'], ['prune', '--dry-run'], ['list', 'someone'], ['revoke-all', 'someone']])
      expectOneLineFailure(await cli([...args, '--redis-url', url]), /is a node of a Redis Cluster: add --cluster/);
  }, 60_000);
});

describe('the built bin (dist/cli.js, made by npm test)', () => {
  it.runIf(existsSync(new URL('dist/cli.js', ROOT)))(
    'runs from package.json "bin" with its shebang',
    async () => {
      const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
        bin: Record<string, string>;
        version: string;
      };
      expect(pkg.bin['redis-multitokens']).toBe('./dist/cli.js');
      const r = await cli(['--version'], { bin: [new URL('dist/cli.js', ROOT).pathname] });
      expect(r.stdout.trim()).toBe(pkg.version);
      expectOneLineFailure(
        await cli(['list', '1', '--bogus'], { bin: [new URL('dist/cli.js', ROOT).pathname] }),
        /unknown option '--bogus'/,
      );
    },
    30_000,
  );

  it.runIf(existsSync(new URL('dist/cli.js', ROOT)))(
    'without ioredis installed: `secret` works, the others say one line (no ERR_MODULE_NOT_FOUND)',
    async () => {
      // A copy of the package whose node_modules holds every installed package but ioredis (links to the shared ones).
      const dir = mkdtempSync(join(tmpdir(), 'rmt-no-ioredis-'));
      try {
        cpSync(new URL('dist', ROOT), join(dir, 'dist'), { recursive: true });
        cpSync(new URL('package.json', ROOT), join(dir, 'package.json'));
        mkdirSync(join(dir, 'node_modules'));
        const shared = new URL('node_modules/', ROOT).pathname;
        for (const name of readdirSync(shared))
          if (name !== 'ioredis' && name !== '.bin') symlinkSync(join(shared, name), join(dir, 'node_modules', name));
        const bin = [join(dir, 'dist', 'cli.js')];
        const secret = await cli(['secret'], { bin });
        expect(secret.stderr).toBe('');
        expect(secret.stdout.trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expectOneLineFailure(
          await cli(['list', '1'], { bin }),
          /through ioredis, which is not installed: npm install ioredis/,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    30_000,
  );
});
