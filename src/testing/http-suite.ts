/**
 * The HTTP contract suite: one list of cases every framework adapter must pass, over real HTTP on
 * loopback (requests sent with `node:http`, so every header byte is under control), against any store.
 * It checks statuses, `WWW-Authenticate` (RFC 6750 §3), `Cache-Control`, `Retry-After` and JSON bodies,
 * the number of store calls (none for malformed input, one per well-formed token), and that the
 * library's errors thrown in the app's own routes flow through the framework's error path to 400, 403
 * or 503 (never a 500). Runner-agnostic: it uses only `node:assert` and `node:http`.
 *
 * ```ts
 * for (const c of httpContractCases(harness, { store, outageStore })) it(c.name, c.run, c.timeoutMs);
 * ```
 *
 * The harness builds the contract app (see {@link HttpAdapterHarness}) with the adapter under test.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { TokenManager, type TokenManagerOptions } from '../core/manager.js';
import type { Store } from '../core/store.js';
import { generateToken, parseToken } from '../core/token-format.js';
import type { TokenRecord } from '../core/types.js';
import type { AuthOptions } from '../http/authenticate.js';
import type { AuthErrorResponse } from '../http/responses.js';
import type { ConformanceCase, StoreFactory } from './store-suite.js';
import { forgeSecret } from './store-suite.js';
import { addDpopContractCases } from './http-dpop-cases.js';
import { DpopClient } from './dpop-client.js';

/** What a harness builds an app from. */
export interface HttpContractApp {
  /** The TokenManager the adapter authenticates with. */
  manager: TokenManager;
  /** Options for the authenticated routes (loadUser, realm, errorBody); never `optional` or `scopes` (the routes fix those). */
  auth?: Omit<AuthOptions, 'optional' | 'scopes'>;
}

/**
 * An adapter under test. `start` builds this app with the adapter and listens on 127.0.0.1, port 0
 * (bodies are JSON):
 * - `GET /me`: required auth with `app.auth` -> 200 `{ userId, user, tokenId, scopes }` (of the authenticating token);
 * - `GET /optional`: optional auth (same `app.auth`) -> 200 `{ authenticated: boolean, userId: string | null }`;
 * - `GET /scoped`: required auth, then the adapter's own per-route scope requirement for `['admin']`
 *   (with `app.auth.realm` and `app.auth.errorBody`) -> 200 `{ ok: true }`;
 * - `GET /step-up`: required auth, then the adapter's own step-up requirement (RFC 9470) `{ maxAgeSeconds: 1 }`
 *   (with `app.auth.realm` and `app.auth.errorBody`) -> 200 `{ ok: true }`;
 * - `GET /step-up-acr`: the same with `{ maxAgeSeconds: 600, acr: ['mfa', 'hwk'] }` -> 200 `{ ok: true }`;
 * - `POST /login`: JSON body `{ userId, deviceName? }` (any JSON types) -> calls
 *   `manager.create(body.userId, { deviceName: body.deviceName, ...<adapter's device details of the request>, jkt: await dpopKeyFromRequest(req) })`
 *   (the token is DPoP-bound when the request carries a `DPoP` proof, RFC 9449)
 *   and answers 201 `{ token, tokenId, first, userAgent, ip }` (userAgent and ip of the created record);
 *   errors of `create` are not caught by the route: they go through the framework's error path (plus the
 *   adapter's error handler, where it has one);
 * - `GET /devices`: required auth -> 200 `manager.list(userId, { currentTokenId })`, errors as for `/login`;
 * - `GET /crash`: throws `new Error('boom')` -> the framework's ordinary 500.
 */
export interface HttpAdapterHarness {
  /** e.g. 'fastify 5' */
  name: string;
  /** Builds the contract app above with the adapter, listens on 127.0.0.1 port 0, returns its base URL (`http://127.0.0.1:PORT`). */
  start(app: HttpContractApp): Promise<{
    /** The base URL, `http://127.0.0.1:PORT`. */
    url: string;
    /** Stops the server (the case closes the manager itself). */
    close(): Promise<void>;
  }>;
}

/** The stores the cases run on. */
export interface HttpContractStores {
  /** Fresh, isolated stores (one per case; `destroy` after it). */
  store: StoreFactory;
  /** A real store whose server cannot be reached (e.g. a RedisStore over ioredisDriver({ url }) on a closed loopback port); closed after the case. */
  outageStore: () => Store | Promise<Store>;
}

/** One HTTP reply. */
export interface ContractReply {
  /** The HTTP status. */
  status: number;
  /** The headers, as Node parsed them. */
  headers: IncomingHttpHeaders;
  /** Every header as sent, names lower-cased, values in order (to count repeated headers). */
  rawHeaders: [string, string][];
  /** The body as text. */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

const SECRET = 'http-contract-secret-0123456789-abcdefghijklmn';
const USER_AGENT = 'contract-agent/1.0 (redis-multitokens)';

interface AppUser {
  id: string;
  name: string;
}
const USERS: ReadonlyMap<string, AppUser> = new Map([
  ['1', { id: '1', name: 'Alice' }],
  ['3', { id: '3', name: 'Carol' }],
]);
/** The default `loadUser`: users 1 and 3 exist, 2 does not. */
const loadUser = (id: string): AppUser | null => USERS.get(id) ?? null;

/** Text that looks like a stack trace or a source path. */
const STACK_RE = /\n\s+at |\bat [\w.<>]+ \(|\.[cm]?[jt]s:\d+|node_modules|\/src\//;

/** Sends one request with exactly these headers (an array value sends the header once per element). */
export function sendRequest(
  baseUrl: string,
  path: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {},
): Promise<ContractReply> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { ...options.headers };
    if (options.body !== undefined) {
      headers['Content-Type'] ??= 'application/json';
      headers['Content-Length'] = Buffer.byteLength(options.body);
    }
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: options.method ?? 'GET',
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const rawHeaders: [string, string][] = [];
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
            rawHeaders.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
          resolve({ status: res.statusCode!, headers: res.headers, rawHeaders, text, json });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${options.method ?? 'GET'} ${path} within 10 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A store that counts the calls it passes on to the real store (a Proxy: no method is mocked). */
function countingStore(inner: Store): { store: Store; calls: () => number } {
  let calls = 0;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || prop === 'close' || prop === 'constructor') return value;
      return (...args: unknown[]) => {
        calls++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls: () => calls };
}

/** A well-formed token with the same id as `token` and another secret; its checksum is valid. */
const sameIdOtherSecret = forgeSecret;

/** `token` with the character at `pos` replaced (a typo: the checksum catches it). */
function typo(token: string, pos: number): string {
  const c = token[pos]!;
  return token.slice(0, pos) + (c === 'A' ? 'B' : 'A') + token.slice(pos + 1);
}

/** Raw UTF-8 bytes as Node writes a latin1 header string: each byte one character. */
const utf8Bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

type RfcError = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | null;

/** The bad-credential cases: [name, headers, reason, RFC 6750 error code]. None may reach the store. */
function badHeaderCases(token: string, other: string): [string, OutgoingHttpHeaders, string, RfcError][] {
  return [
    ['empty header', { Authorization: '' }, 'malformed_header', 'invalid_request'],
    [
      'whitespace-only header (Node trims it to empty)',
      { Authorization: '   ' },
      'malformed_header',
      'invalid_request',
    ],
    ['empty header twice', { Authorization: ['', ''] }, 'malformed_header', 'invalid_request'],
    ['scheme only', { Authorization: 'Bearer' }, 'malformed_header', 'invalid_request'],
    ['scheme and trailing spaces', { Authorization: 'Token   ' }, 'malformed_header', 'invalid_request'],
    ['token only, no scheme', { Authorization: token }, 'malformed_header', 'invalid_request'],
    ['no separator', { Authorization: `Bearer${token}` }, 'malformed_header', 'invalid_request'],
    ['Basic credentials', { Authorization: 'Basic dXNlcjpwYXNz' }, 'malformed_header', 'invalid_request'],
    ['near-miss scheme Bearor', { Authorization: `Bearor ${token}` }, 'malformed_header', 'invalid_request'],
    ['near-miss scheme Tokens', { Authorization: `Tokens ${token}` }, 'malformed_header', 'invalid_request'],
    ['tab separator', { Authorization: `Bearer\t${token}` }, 'malformed_header', 'invalid_request'],
    ['space and tab', { Authorization: `Bearer \t${token}` }, 'malformed_header', 'invalid_request'],
    [
      'non-breaking space (raw byte 0xA0)',
      { Authorization: `Bearer\u00a0${token}` },
      'malformed_header',
      'invalid_request',
    ],
    [
      'non-breaking space (raw UTF-8 bytes C2 A0)',
      { Authorization: `Bearer${utf8Bytes('\u00a0')}${token}` },
      'malformed_header',
      'invalid_request',
    ],
    [
      'non-breaking space after the token (raw byte 0xA0: not white space a header may be trimmed of)',
      { Authorization: `Bearer ${token}\u00a0` },
      'malformed_header',
      'invalid_request',
    ],
    [
      'non-breaking space before the scheme (raw byte 0xA0)',
      { Authorization: `\u00a0Bearer ${token}` },
      'malformed_header',
      'invalid_request',
    ],
    [
      'raw UTF-8 é inside the token',
      { Authorization: `Bearer ${token.slice(0, 30)}${utf8Bytes('é')}${token.slice(31)}` },
      'malformed_header',
      'invalid_request',
    ],
    [
      'raw UTF-8 emoji after the token',
      { Authorization: `Bearer ${token}${utf8Bytes('\u{1F600}')}` },
      'malformed_header',
      'invalid_request',
    ],
    [
      'two Authorization headers, both valid tokens',
      { Authorization: [`Bearer ${token}`, `Bearer ${token}`] },
      'malformed_header',
      'invalid_request',
    ],
    [
      'two Authorization headers, Bearer and Token',
      { Authorization: [`Bearer ${token}`, `Token ${other}`] },
      'malformed_header',
      'invalid_request',
    ],
    [
      'comma-joined credentials',
      { Authorization: `Bearer ${token}, Bearer ${token}` },
      'malformed_header',
      'invalid_request',
    ],
    ['comma-joined tokens', { Authorization: `Bearer ${token},${token}` }, 'malformed_header', 'invalid_request'],
    ['token then extra part', { Authorization: `Bearer ${token} ${token}` }, 'malformed_header', 'invalid_request'],
    ['6 KB header', { Authorization: `Bearer ${'a'.repeat(6 * 1024)}` }, 'malformed_header', 'invalid_request'],
    ['short token', { Authorization: 'Bearer x' }, 'malformed_token', 'invalid_token'],
    ['truncated token', { Authorization: `Bearer ${token.slice(0, 76)}` }, 'malformed_token', 'invalid_token'],
    ['doubled token', { Authorization: `Bearer ${token}${token}` }, 'malformed_token', 'invalid_token'],
    ['typo in the secret', { Authorization: `Bearer ${typo(token, 50)}` }, 'malformed_token', 'invalid_token'],
    ['typo in the token id', { Authorization: `Token ${typo(token, 20)}` }, 'malformed_token', 'invalid_token'],
    ['typo in the checksum', { Authorization: `Token ${typo(token, 74)}` }, 'malformed_token', 'invalid_token'],
    ['upper-case prefix', { Authorization: `Bearer RMT_${token.slice(4)}` }, 'malformed_token', 'invalid_token'],
    [
      'glob characters in the token',
      { Authorization: `Bearer rmt_*${token.slice(5)}` },
      'malformed_token',
      'invalid_token',
    ],
    [
      'hash-tag characters in the token',
      { Authorization: `Bearer ${token.slice(0, 4)}{${token.slice(5, 12)}}${token.slice(13)}` },
      'malformed_token',
      'invalid_token',
    ],
    ['colons and brackets', { Authorization: 'Bearer rmt:t:[a-z]?{x}' }, 'malformed_token', 'invalid_token'],
  ];
}

/** Values of one response header, in order (a repeated header gives several). */
function headerValues(r: ContractReply, name: string): string[] {
  return r.rawHeaders.filter(([n]) => n === name).map(([, v]) => v);
}

/** The reply's JSON body, asserted to be an object. */
export function bodyOf(r: ContractReply): Record<string, unknown> {
  assert.ok(
    r.json !== null && typeof r.json === 'object' && !Array.isArray(r.json),
    `a JSON object body, got: ${r.text.slice(0, 200)}`,
  );
  return r.json as Record<string, unknown>;
}

function assertJson(r: ContractReply, where: string): void {
  // One Content-Type on every adapter (ERROR_BODY_CONTENT_TYPE): the charset RFC 8259 makes UTF-8 anyway, named.
  assert.match(
    String(r.headers['content-type']),
    /^application\/json; ?charset=utf-8$/i,
    `${where}: Content-Type application/json; charset=utf-8`,
  );
}

/** The shape every 401/403 challenge shares (RFC 6750 §3), with the library's JSON body. */
function assertChallenge(
  r: ContractReply,
  expected: {
    status?: 401 | 403;
    reason: string;
    rfcError: RfcError;
    realm?: string;
    sent?: readonly string[];
    where?: string;
    scope?: string;
  },
): void {
  const where = expected.where ?? expected.reason;
  assert.equal(r.status, expected.status ?? 401, `${where}: status (body: ${r.text.slice(0, 300)})`);
  const challenges = headerValues(r, 'www-authenticate');
  assert.equal(challenges.length, 1, `${where}: exactly one WWW-Authenticate header`);
  const challenge = challenges[0]!;
  const realm = expected.realm ?? 'api';
  if (expected.rfcError === null)
    assert.equal(challenge, `Bearer realm="${realm}"`, `${where}: a challenge without an error code (RFC 6750 §3)`);
  else {
    assert.ok(
      challenge.startsWith(`Bearer realm="${realm}", error="${expected.rfcError}", error_description="`),
      `${where}: challenge ${challenge}`,
    );
    assert.match(challenge, /error_description="[^"\\]*"/, `${where}: error_description is one quoted string`);
  }
  if (expected.scope !== undefined)
    assert.ok(challenge.endsWith(`, scope="${expected.scope}"`), `${where}: scope in ${challenge}`);
  else assert.doesNotMatch(challenge, /scope=/, `${where}: no scope attribute`);
  assert.equal(r.headers['cache-control'], 'no-store', `${where}: Cache-Control: no-store`);
  assertJson(r, where);
  const body = bodyOf(r);
  assert.equal(body.reason, expected.reason, `${where}: reason`);
  assert.equal(body.error, expected.rfcError ?? 'unauthorized', `${where}: error`);
  assert.equal(typeof body.message, 'string', `${where}: message`);
  assert.ok((body.message as string).length > 0);
  assert.doesNotMatch(r.text, STACK_RE, `${where}: no stack trace`);
  for (const s of expected.sent ?? []) {
    if (s.length < 8) continue;
    assert.ok(!r.text.includes(s), `${where}: the token is not echoed in the body`);
    assert.ok(!challenge.includes(s), `${where}: the token is not echoed in the challenge`);
  }
}

/** The 503 of a store outage: Retry-After in seconds, no-store, JSON, nothing about the server. */
function assert503(r: ContractReply, where: string): void {
  assert.equal(r.status, 503, `${where}: status (body: ${r.text.slice(0, 300)})`);
  assert.match(String(r.headers['retry-after']), /^\d+$/, `${where}: Retry-After in seconds`);
  assert.equal(r.headers['cache-control'], 'no-store', `${where}: Cache-Control: no-store`);
  assertJson(r, where);
  const body = bodyOf(r);
  assert.equal(body.reason, 'store_unavailable', `${where}: reason`);
  assert.equal(body.error, 'service_unavailable', `${where}: error`);
  assert.doesNotMatch(r.text, STACK_RE, `${where}: no stack trace`);
  for (const leak of ['127.0.0.1:', 'localhost', 'redis://', 'ECONNREFUSED', 'ECONNRESET'])
    assert.ok(!r.text.includes(leak), `${where}: body names ${leak}`);
}

const bearer = (token: string, scheme = 'Bearer'): OutgoingHttpHeaders => ({ Authorization: `${scheme} ${token}` });

/** What one case gets: the app's URL and helpers. */
class Ctx {
  readonly extra: (() => Promise<void>)[] = [];
  constructor(
    readonly url: string,
    readonly manager: TokenManager,
    readonly storeCalls: () => number,
  ) {}
  get(path: string, headers?: OutgoingHttpHeaders): Promise<ContractReply> {
    return sendRequest(this.url, path, { headers });
  }
  post(path: string, body: unknown, headers?: OutgoingHttpHeaders): Promise<ContractReply> {
    return sendRequest(this.url, path, { method: 'POST', headers, body: JSON.stringify(body) });
  }
  /** Sends, and returns the reply with the number of store calls it caused. */
  async counted(path: string, headers?: OutgoingHttpHeaders): Promise<ContractReply & { calls: number }> {
    const before = this.storeCalls();
    const r = await this.get(path, headers);
    return { ...r, calls: this.storeCalls() - before };
  }
}

interface CaseSetup {
  /** TokenManager options for the app (merged over `{ secret, store }`). */
  manager?: Omit<TokenManagerOptions, 'store' | 'secret'>;
  auth?: HttpContractApp['auth'];
  /** Run on the outage store instead of a working one. */
  outage?: boolean;
}

/**
 * The cases. Each builds its own store (from `stores.store`, or `stores.outageStore` for outage cases),
 * its own manager and its own app (through `harness.start`), and closes them afterwards.
 */
export function httpContractCases(harness: HttpAdapterHarness, stores: HttpContractStores): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const add = (name: string, setup: CaseSetup, body: (ctx: Ctx) => Promise<void>, timeoutMs = 20_000) =>
    cases.push({
      name: `${harness.name}: ${name}`,
      timeoutMs,
      run: async () => {
        const real = setup.outage ? await stores.outageStore() : await stores.store.create();
        const { store, calls } = countingStore(real);
        const manager = new TokenManager({ secret: SECRET, ...setup.manager, store });
        let server: { url: string; close(): Promise<void> } | undefined;
        try {
          server = await harness.start({ manager, auth: setup.auth ?? { loadUser } });
          await body(new Ctx(server.url, manager, calls));
        } finally {
          await server?.close();
          if (setup.outage) await real.close?.();
          else await stores.store.destroy?.(real);
        }
      },
    });

  // -------------------------------------------------------------------------------------------
  // Valid tokens

  add(
    'every accepted scheme spelling (Bearer, Token, any case) -> 200 with the user, one store call',
    {},
    async (ctx) => {
      const created = await ctx.manager.create(1, { deviceName: 'laptop', scopes: ['read'] });
      for (const scheme of ['Bearer', 'Token', 'bearer', 'token', 'BEARER', 'TOKEN', 'bEaReR', 'ToKeN']) {
        const r = await ctx.counted('/me', bearer(created.token, scheme));
        assert.equal(r.status, 200, `${scheme}: ${r.text}`);
        assert.equal(r.calls, 1, `${scheme}: one store call`);
        assert.deepEqual(r.json, {
          userId: '1',
          user: { id: '1', name: 'Alice' },
          tokenId: created.tokenId,
          scopes: ['read'],
        });
        assert.ok(!r.text.includes(created.token), 'the token is not echoed');
      }
      const spaced = await ctx.get('/me', { Authorization: `Bearer     ${created.token}` });
      assert.equal(spaced.status, 200, 'several spaces between scheme and token');
    },
  );

  add('without loadUser the user is { id }', { auth: {} }, async (ctx) => {
    const { token } = await ctx.manager.create('u-7');
    const r = await ctx.get('/me', bearer(token));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(bodyOf(r).user, { id: 'u-7' });
  });

  // -------------------------------------------------------------------------------------------
  // Bad input

  add('no Authorization header -> 401 with a bare challenge (RFC 6750 §3), no store call', {}, async (ctx) => {
    const r = await ctx.counted('/me');
    assertChallenge(r, { reason: 'missing_token', rfcError: null });
    assert.equal(r.calls, 0);
  });

  add(
    'every malformed header or token -> 401 with a challenge and a JSON body, never 500, no store call',
    {},
    async (ctx) => {
      const { token } = await ctx.manager.create(1);
      const { token: other } = await ctx.manager.create(3);
      for (const [name, headers, reason, rfcError] of badHeaderCases(token, other)) {
        const r = await ctx.counted('/me', headers);
        assertChallenge(r, { reason, rfcError, sent: [token, other], where: name });
        assert.equal(r.calls, 0, `${name}: store calls`);
      }
      assert.equal((await ctx.get('/me', bearer(token))).status, 200, 'the app still serves a valid request');
    },
  );

  add(
    'two Authorization headers -> 401 malformed_header saying "more than one Authorization header", no store call',
    {},
    async (ctx) => {
      const { token } = await ctx.manager.create(1);
      for (const [name, values] of [
        ['two valid tokens', [`Bearer ${token}`, `Bearer ${token}`]],
        ['Bearer and Token', [`Bearer ${token}`, `Token ${token}`]],
        ['two empty headers', ['', '']],
      ] as const) {
        const r = await ctx.counted('/me', { Authorization: [...values] });
        assertChallenge(r, { reason: 'malformed_header', rfcError: 'invalid_request', sent: [token], where: name });
        assert.equal(
          bodyOf(r).message,
          'malformed Authorization header: more than one Authorization header',
          `${name}: message`,
        );
        assert.equal(r.calls, 0, `${name}: store calls`);
      }
    },
  );

  add('every malformed header on an optional route is still 401, never anonymous', {}, async (ctx) => {
    const { token } = await ctx.manager.create(1);
    const { token: other } = await ctx.manager.create(3);
    for (const [name, headers, reason, rfcError] of badHeaderCases(token, other)) {
      const r = await ctx.counted('/optional', headers);
      assertChallenge(r, { reason, rfcError, sent: [token, other], where: `optional: ${name}` });
      assert.equal(r.calls, 0, `${name}: store calls`);
    }
  });

  add(
    'a well-formed token never issued, or forged with another secret -> 401 invalid_token after one store call',
    {},
    async (ctx) => {
      const { token } = await ctx.manager.create(1);
      const unknown = generateToken(ctx.manager.userTag('1')).token;
      const forged = sameIdOtherSecret(token);
      assert.equal(parseToken(forged)?.tokenId, parseToken(token)!.tokenId);
      for (const [name, candidate] of [
        ['never issued', unknown],
        ['forged secret', forged],
      ] as const) {
        const r = await ctx.counted('/me', bearer(candidate));
        assertChallenge(r, {
          reason: 'invalid_token',
          rfcError: 'invalid_token',
          sent: [candidate, token],
          where: name,
        });
        assert.equal(r.calls, 1, `${name}: one store call`);
      }
      const foreign = await new TokenManager({
        secret: 'another-contract-secret-0123456789-abcdef',
        store: ctx.manager.store,
      }).create(1);
      assertChallenge(await ctx.get('/me', bearer(foreign.token)), {
        reason: 'invalid_token',
        rfcError: 'invalid_token',
        where: 'another server secret',
      });
      assert.equal((await ctx.get('/me', bearer(token))).status, 200, 'a failed guess does not harm the real token');
    },
  );

  add('an expired token -> 401 invalid_token', { manager: { ttlSeconds: 1, renew: 'off' } }, async (ctx) => {
    const { token } = await ctx.manager.create(1);
    assert.equal((await ctx.get('/me', bearer(token))).status, 200);
    await sleep(1_100);
    assertChallenge(await ctx.get('/me', bearer(token)), {
      reason: 'invalid_token',
      rfcError: 'invalid_token',
      sent: [token],
    });
  });

  add(
    'a revoked token -> 401 at once; the other devices stay logged in; revoke all logs out every device',
    {},
    async (ctx) => {
      const phone = (await ctx.manager.create(1, { deviceName: 'phone' })).token;
      const tablet = (await ctx.manager.create(1, { deviceName: 'tablet' })).token;
      const carol = (await ctx.manager.create(3)).token;
      assert.equal((await ctx.get('/me', bearer(phone))).status, 200);
      assert.equal(await ctx.manager.revoke(phone), true);
      assertChallenge(await ctx.get('/me', bearer(phone)), {
        reason: 'invalid_token',
        rfcError: 'invalid_token',
        sent: [phone],
        where: 'revoked',
      });
      assert.equal((await ctx.get('/me', bearer(tablet))).status, 200, 'another device of the user');
      await ctx.manager.revokeAll(1);
      assertChallenge(await ctx.get('/me', bearer(tablet, 'Token')), {
        reason: 'invalid_token',
        rfcError: 'invalid_token',
        where: 'after revoke all',
      });
      assert.equal((await ctx.get('/me', bearer(carol))).status, 200, 'another user');
    },
  );

  add('every refusal emits authFailed once, with its reason and never the token', {}, async (ctx) => {
    const events: { reason: string; tokenId: string | null }[] = [];
    ctx.manager.on('authFailed', (e) => events.push(e));
    const reader = await ctx.manager.create(1, { scopes: ['read'] });
    const ghost = await ctx.manager.create(2);
    const unknown = generateToken(ctx.manager.userTag('1')).token;
    const expected: [string, OutgoingHttpHeaders | undefined, { reason: string; tokenId: string | null }][] = [
      ['/me', undefined, { reason: 'missing', tokenId: null }],
      ['/me', { Authorization: 'Basic dXNlcjpwYXNz' }, { reason: 'malformed', tokenId: null }],
      ['/me', { Authorization: 'Bearer nope' }, { reason: 'malformed', tokenId: null }],
      ['/me', bearer(unknown), { reason: 'invalid', tokenId: parseToken(unknown)!.tokenId }],
      ['/me', bearer(ghost.token), { reason: 'user_not_found', tokenId: ghost.tokenId }],
      ['/scoped', bearer(reader.token), { reason: 'insufficient_scope', tokenId: reader.tokenId }],
    ];
    for (const [path, headers, event] of expected) {
      events.length = 0;
      const r = await ctx.get(path, headers);
      assert.ok(r.status === 401 || r.status === 403, `${path} ${JSON.stringify(headers)}: ${r.status}`);
      assert.deepEqual(events, [event], `${path} ${JSON.stringify(headers)}: authFailed events`);
    }
    events.length = 0;
    assert.equal((await ctx.get('/optional')).status, 200);
    assert.deepEqual(events, [], 'an anonymous request on an optional route is not a failure');
  });

  // -------------------------------------------------------------------------------------------
  // Users

  add(
    'loadUser returning null, undefined or false -> 401 user_not_found; it gets the user id and the token record',
    {},
    async (ctx) => {
      const { token } = await ctx.manager.create(2); // no such app user
      assertChallenge(await ctx.get('/me', bearer(token)), {
        reason: 'user_not_found',
        rfcError: 'invalid_token',
        sent: [token],
        where: 'unknown user',
      });
      assertChallenge(await ctx.get('/optional', bearer(token)), {
        reason: 'user_not_found',
        rfcError: 'invalid_token',
        where: 'unknown user on the optional route',
      });
    },
  );

  for (const [label, value] of [
    ['undefined', undefined],
    ['false', false],
  ] as const) {
    const seen: [string, TokenRecord][] = [];
    add(
      `loadUser returning ${label} -> 401 user_not_found`,
      {
        auth: {
          loadUser: (id, record) => {
            seen.push([id, record]);
            return value;
          },
        },
      },
      async (ctx) => {
        const created = await ctx.manager.create(1);
        assertChallenge(await ctx.get('/me', bearer(created.token)), {
          reason: 'user_not_found',
          rfcError: 'invalid_token',
          sent: [created.token],
        });
        assert.equal(seen.at(-1)?.[0], '1', 'loadUser gets the normalised user id');
        assert.equal(seen.at(-1)?.[1].tokenId, created.tokenId, 'loadUser gets the token record');
      },
    );
  }

  add(
    "loadUser throwing -> the framework's 500 without a stack trace, and the server lives on",
    {
      auth: {
        loadUser: async (id) => {
          if (id === '3') throw new Error('user database exploded at db.internal:5432');
          return loadUser(id);
        },
      },
    },
    async (ctx) => {
      const { token } = await ctx.manager.create(3);
      const { token: alice } = await ctx.manager.create(1);
      const r = await ctx.get('/me', bearer(token));
      assert.equal(r.status, 500, r.text);
      assert.doesNotMatch(r.text, STACK_RE, 'no stack trace');
      assert.ok(!r.text.includes(token), 'the token is not echoed');
      assert.equal((await ctx.get('/me', bearer(alice))).status, 200, 'the server lives on');
    },
  );

  add("an error thrown by a route -> the framework's 500 without a stack trace", {}, async (ctx) => {
    const r = await ctx.get('/crash');
    assert.equal(r.status, 500, r.text);
    assert.doesNotMatch(r.text, STACK_RE, 'no stack trace');
  });

  // -------------------------------------------------------------------------------------------
  // Optional routes

  add(
    'optional route: no header -> 200 anonymous without a store call; a valid token -> authenticated',
    {},
    async (ctx) => {
      const anon = await ctx.counted('/optional');
      assert.equal(anon.status, 200, anon.text);
      assert.deepEqual(anon.json, { authenticated: false, userId: null });
      assert.equal(anon.calls, 0);
      const { token } = await ctx.manager.create(1);
      const r = await ctx.get('/optional', bearer(token, 'bearer'));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { authenticated: true, userId: '1' });
      const unknown = generateToken(ctx.manager.userTag('9')).token;
      assertChallenge(await ctx.get('/optional', bearer(unknown)), {
        reason: 'invalid_token',
        rfcError: 'invalid_token',
        where: 'an unknown token is not anonymous',
      });
    },
  );

  // -------------------------------------------------------------------------------------------
  // Scopes

  for (const realm of [undefined, 'contract realm'] as const) {
    add(
      `scopes, realm ${realm ?? '"api" (default)'}: 403 insufficient_scope naming the missing scope, 401 without a token, 200 with it`,
      { auth: { loadUser, ...(realm ? { realm } : {}) } },
      async (ctx) => {
        const { token: reader } = await ctx.manager.create(1, { scopes: ['read'] });
        const r = await ctx.get('/scoped', bearer(reader));
        assertChallenge(r, {
          status: 403,
          reason: 'insufficient_scope',
          rfcError: 'insufficient_scope',
          realm,
          scope: 'admin',
          sent: [reader],
        });
        assert.deepEqual(bodyOf(r).scopes, ['admin']);
        assert.match(String(bodyOf(r).message), /\badmin\b/);
        assertChallenge(await ctx.get('/scoped'), {
          reason: 'missing_token',
          rfcError: null,
          realm,
          where: 'no token',
        });
        assertChallenge(await ctx.get('/me'), {
          reason: 'missing_token',
          rfcError: null,
          realm,
          where: '/me without a token',
        });
        assertChallenge(await ctx.get('/me', { Authorization: 'Bearer nope' }), {
          reason: 'malformed_token',
          rfcError: 'invalid_token',
          realm,
          where: '/me with a malformed token',
        });
        const { token: admin } = await ctx.manager.create(1, { scopes: ['admin', 'read'] });
        const ok = await ctx.get('/scoped', bearer(admin));
        assert.equal(ok.status, 200, ok.text);
        assert.deepEqual(ok.json, { ok: true });
      },
    );
  }

  // -------------------------------------------------------------------------------------------
  // Store outage (fail closed)

  add(
    'a store outage -> 503 with Retry-After and a JSON body; malformed input is still 401; optional routes fail closed too',
    { outage: true },
    async (ctx) => {
      const token = generateToken(ctx.manager.userTag('1')).token;
      for (let i = 0; i < 2; i++) assert503(await ctx.get('/me', bearer(token)), `/me #${i + 1}`);
      assert503(await ctx.get('/optional', bearer(token)), '/optional with a token it cannot check');
      assert503(await ctx.get('/scoped', bearer(token)), '/scoped');
      assertChallenge(await ctx.get('/me', { Authorization: 'Bearer nope' }), {
        reason: 'malformed_token',
        rfcError: 'invalid_token',
        where: 'malformed during the outage',
      });
      assertChallenge(await ctx.get('/me'), {
        reason: 'missing_token',
        rfcError: null,
        where: 'missing during the outage',
      });
      const anon = await ctx.get('/optional');
      assert.equal(anon.status, 200, 'an anonymous request needs no store');
    },
  );

  add(
    "a store outage in the app's own route (create) -> 503 with Retry-After through the framework's error path",
    { outage: true },
    async (ctx) => {
      const r = await ctx.post('/login', { userId: '1', deviceName: 'phone' }, { 'User-Agent': USER_AGENT });
      assert503(r, 'POST /login');
    },
  );

  // -------------------------------------------------------------------------------------------
  // errorBody

  const errorBody = (response: AuthErrorResponse) => ({ problem: response.body.reason, httpStatus: response.status });
  add(
    'errorBody replaces the JSON body of 401 and 403 refusals; status and headers stay',
    { auth: { loadUser, errorBody, realm: 'custom' } },
    async (ctx) => {
      const missing = await ctx.get('/me');
      assert.equal(missing.status, 401);
      assert.deepEqual(missing.json, { problem: 'missing_token', httpStatus: 401 });
      assert.equal(missing.headers['www-authenticate'], 'Bearer realm="custom"');
      assert.equal(missing.headers['cache-control'], 'no-store');
      assertJson(missing, 'errorBody 401');
      const bad = await ctx.get('/optional', { Authorization: 'Bearer nope' });
      assert.equal(bad.status, 401);
      assert.deepEqual(bad.json, { problem: 'malformed_token', httpStatus: 401 });
      assert.match(String(bad.headers['www-authenticate']), /^Bearer realm="custom", error="invalid_token"/);
      const { token } = await ctx.manager.create(1, { scopes: ['read'] });
      const scoped = await ctx.get('/scoped', bearer(token));
      assert.equal(scoped.status, 403);
      assert.deepEqual(scoped.json, { problem: 'insufficient_scope', httpStatus: 403 });
      assert.match(String(scoped.headers['www-authenticate']), /^Bearer realm="custom", error="insufficient_scope"/);
      assert.equal(scoped.headers['cache-control'], 'no-store');
      const noToken = await ctx.get('/scoped');
      assert.deepEqual(noToken.json, { problem: 'missing_token', httpStatus: 401 });
    },
  );

  add(
    'errorBody replaces the JSON body of the 503; Retry-After stays',
    { outage: true, auth: { loadUser, errorBody } },
    async (ctx) => {
      const r = await ctx.get('/me', bearer(generateToken(ctx.manager.userTag('1')).token));
      assert.equal(r.status, 503);
      assert.deepEqual(r.json, { problem: 'store_unavailable', httpStatus: 503 });
      assert.match(String(r.headers['retry-after']), /^\d+$/);
      assert.equal(r.headers['cache-control'], 'no-store');
    },
  );

  // One rule in every adapter: whatever errorBody returns is sent as JSON (application/json), a string
  // as a JSON string and null as null; undefined keeps the library's body.
  const denied = (response: AuthErrorResponse) => `denied: ${response.body.reason}`;
  add(
    'errorBody returning a string -> sent as a JSON string with Content-Type application/json; status and headers stay',
    { auth: { loadUser, errorBody: denied, realm: 'custom' } },
    async (ctx) => {
      const missing = await ctx.get('/me');
      assert.equal(missing.status, 401);
      assertJson(missing, 'string errorBody 401');
      assert.equal(missing.text, '"denied: missing_token"', 'the body is the JSON string, not raw text nor wrapped');
      assert.equal(missing.headers['www-authenticate'], 'Bearer realm="custom"');
      assert.equal(missing.headers['cache-control'], 'no-store');
      const bad = await ctx.get('/optional', { Authorization: 'Bearer nope' });
      assert.equal(bad.status, 401);
      assertJson(bad, 'string errorBody, malformed token');
      assert.equal(bad.text, '"denied: malformed_token"');
      const { token } = await ctx.manager.create(1, { scopes: ['read'] });
      const scoped = await ctx.get('/scoped', bearer(token));
      assert.equal(scoped.status, 403);
      assertJson(scoped, 'string errorBody 403');
      assert.equal(scoped.text, '"denied: insufficient_scope"');
      assert.match(String(scoped.headers['www-authenticate']), /^Bearer realm="custom", error="insufficient_scope"/);
    },
  );

  add(
    'errorBody returning a string or a number on the 503 -> sent as JSON; Retry-After stays',
    { outage: true, auth: { loadUser, errorBody: (r) => (r.status === 503 ? 503 : denied(r)) } },
    async (ctx) => {
      const r = await ctx.get('/me', bearer(generateToken(ctx.manager.userTag('1')).token));
      assert.equal(r.status, 503);
      assertJson(r, 'number errorBody 503');
      assert.equal(r.text, '503');
      assert.match(String(r.headers['retry-after']), /^\d+$/);
      const missing = await ctx.get('/me');
      assertJson(missing, 'string errorBody 401 during the outage');
      assert.equal(missing.text, '"denied: missing_token"');
    },
  );

  add(
    'errorBody returning null -> the JSON null with Content-Type application/json; status and headers stay',
    { auth: { loadUser, errorBody: () => null } },
    async (ctx) => {
      const missing = await ctx.get('/me');
      assert.equal(missing.status, 401);
      assertJson(missing, 'null errorBody 401');
      assert.equal(missing.text, 'null');
      assert.equal(missing.headers['www-authenticate'], 'Bearer realm="api"');
      const { token } = await ctx.manager.create(1, { scopes: ['read'] });
      const scoped = await ctx.get('/scoped', bearer(token));
      assert.equal(scoped.status, 403);
      assertJson(scoped, 'null errorBody 403');
      assert.equal(scoped.text, 'null');
      assert.match(String(scoped.headers['www-authenticate']), /^Bearer realm="api", error="insufficient_scope"/);
    },
  );

  add(
    "errorBody returning undefined -> the library's own body",
    { auth: { loadUser, errorBody: (r) => (r.status === 403 ? { custom: true } : undefined) } },
    async (ctx) => {
      assertChallenge(await ctx.get('/me'), {
        reason: 'missing_token',
        rfcError: null,
        where: 'undefined errorBody 401',
      });
      assertChallenge(await ctx.get('/optional', { Authorization: 'Bearer nope' }), {
        reason: 'malformed_token',
        rfcError: 'invalid_token',
        where: 'undefined errorBody, malformed',
      });
      const { token } = await ctx.manager.create(1, { scopes: ['read'] });
      const scoped = await ctx.get('/scoped', bearer(token));
      assert.equal(scoped.status, 403);
      assert.deepEqual(scoped.json, { custom: true }, 'a formatter may replace some answers only');
    },
  );

  // -------------------------------------------------------------------------------------------
  // The app's own routes: login, devices

  add(
    'login records the device: User-Agent and client IP (IPv4, not ::ffff:-mapped); `first` only for the first device',
    {},
    async (ctx) => {
      const r = await ctx.post('/login', { userId: '1', deviceName: 'phone' }, { 'User-Agent': USER_AGENT });
      assert.equal(r.status, 201, r.text);
      const body = bodyOf(r);
      assert.ok(parseToken(body.token), 'a token');
      assert.equal(body.tokenId, parseToken(body.token as string)!.tokenId);
      assert.equal(body.first, true);
      assert.equal(body.userAgent, USER_AGENT);
      assert.equal(body.ip, '127.0.0.1');
      const second = await ctx.post('/login', { userId: '1' });
      assert.equal(second.status, 201, second.text);
      assert.equal(bodyOf(second).first, false);
      assert.equal(bodyOf(second).userAgent, null, 'no User-Agent header -> null');
      const me = await ctx.get('/me', bearer(body.token as string));
      assert.equal(me.status, 200, 'the new token works');
    },
  );

  add(
    "invalid arguments in the app's own route -> 400 through the framework's error path, never 500",
    {},
    async (ctx) => {
      for (const [name, payload] of [
        ['deviceName a number', { userId: '1', deviceName: 42 }],
        ['userId missing', {}],
        ['userId an object', { userId: { id: 1 } }],
        ['userId empty', { userId: '' }],
      ] as const) {
        const r = await ctx.post('/login', payload);
        assert.equal(r.status, 400, `${name}: ${r.text}`);
        assertJson(r, name);
        const body = bodyOf(r);
        assert.equal(body.reason, 'invalid_argument', name);
        assert.equal(body.error, 'bad_request', name);
        assert.equal(typeof body.message, 'string');
        assert.equal(r.headers['cache-control'], 'no-store', `${name}: Cache-Control`);
        assert.doesNotMatch(r.text, STACK_RE, `${name}: no stack trace`);
      }
    },
  );

  add(
    "the device limit in the app's own route -> 403 token_limit through the framework's error path",
    { manager: { maxTokensPerUser: 1, limitPolicy: 'reject' } },
    async (ctx) => {
      assert.equal((await ctx.post('/login', { userId: '1' })).status, 201);
      const r = await ctx.post('/login', { userId: '1' });
      assert.equal(r.status, 403, r.text);
      assertJson(r, 'token_limit');
      const body = bodyOf(r);
      assert.equal(body.reason, 'token_limit');
      assert.equal(body.error, 'forbidden');
      assert.equal(body.limit, 1);
      assert.equal(r.headers['cache-control'], 'no-store');
      assert.equal(r.headers['www-authenticate'], undefined, 'not a credentials problem: no challenge');
    },
  );

  add('devices: the list of the user with the current device marked', {}, async (ctx) => {
    const laptop = await ctx.manager.create(1, { deviceName: 'laptop' });
    await ctx.manager.create(1, { deviceName: 'phone' });
    const r = await ctx.get('/devices', bearer(laptop.token));
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json), 'a JSON array');
    const list = r.json as { tokenId: string; deviceName: string | null; current: boolean }[];
    assert.deepEqual(list.map((d) => d.deviceName).sort(), ['laptop', 'phone']);
    assert.deepEqual(
      list.filter((d) => d.current).map((d) => d.tokenId),
      [laptop.tokenId],
    );
    assert.ok(!r.text.includes(laptop.token), 'no token in the list');
    assertChallenge(await ctx.get('/devices'), {
      reason: 'missing_token',
      rfcError: null,
      where: '/devices without a token',
    });
  });

  addDpopContractCases(add);
  // -------------------------------------------------------------------------------------------
  // Step-up (RFC 9470): insufficient_user_authentication

  /** The one challenge of a step-up refusal, checked whole: `Bearer realm, error, error_description[, max_age][, acr_values]`. */
  const assertStepUp = (
    r: ContractReply,
    where: string,
    expected: { maxAge?: number; acr?: string; realm?: string },
  ) => {
    assert.equal(r.status, 401, `${where}: status (body: ${r.text.slice(0, 300)})`);
    const challenges = headerValues(r, 'www-authenticate');
    assert.equal(challenges.length, 1, `${where}: exactly one WWW-Authenticate header`);
    const tail =
      (expected.maxAge === undefined ? '' : `, max_age="${expected.maxAge}"`) +
      (expected.acr === undefined ? '' : `, acr_values="${expected.acr}"`);
    const re = new RegExp(
      `^Bearer realm="${expected.realm ?? 'api'}", error="insufficient_user_authentication", error_description="[^"\\\\]+"${tail}$`,
    );
    assert.match(challenges[0]!, re, `${where}: the RFC 9470 §3 challenge`);
    assert.equal(r.headers['cache-control'], 'no-store', `${where}: Cache-Control: no-store`);
    assertJson(r, where);
  };

  add(
    'step-up: a fresh login passes max_age; a stale one gets 401 insufficient_user_authentication with max_age; reauthenticate, then it passes',
    {},
    async (ctx) => {
      const c = await ctx.manager.create(1);
      const fresh = await ctx.counted('/step-up', bearer(c.token));
      assert.equal(fresh.status, 200, `fresh login: ${fresh.text}`);
      assert.equal(fresh.calls, 1, 'the requirement costs no store call of its own');
      // Stale on the store's clock: max age 1 second, so wait a little over one (the only sleep of these cases).
      await sleep(1100);
      const stale = await ctx.counted('/step-up', bearer(c.token));
      assertStepUp(stale, 'stale authentication', { maxAge: 1 });
      assert.equal(stale.calls, 1, 'one verify, no more');
      const body = bodyOf(stale);
      assert.equal(body.error, 'insufficient_user_authentication');
      assert.equal(body.reason, 'insufficient_user_authentication');
      assert.equal(body.maxAgeSeconds, 1);
      assert.equal(typeof body.message, 'string');
      assert.ok(!stale.text.includes(c.token), 'the token is not echoed');
      assert.equal(
        (await ctx.get('/me', bearer(c.token))).status,
        200,
        'routes without the requirement still accept the token',
      );
      assert.ok(await ctx.manager.reauthenticate(1, c.tokenId), 'reauthenticated');
      const again = await ctx.get('/step-up', bearer(c.token));
      assert.equal(again.status, 200, `after reauthenticate: ${again.text}`);
    },
  );

  add(
    'step-up: acr_values: a token without one, or with another level, gets 401 naming them; reauthenticate with one of them, then it passes',
    {},
    async (ctx) => {
      const failures: unknown[] = [];
      ctx.manager.on('authFailed', (e) => failures.push(e));
      const none = await ctx.manager.create(1);
      const r = await ctx.get('/step-up-acr', bearer(none.token));
      assertStepUp(r, 'no acr', { maxAge: 600, acr: 'mfa hwk' });
      assert.deepEqual(bodyOf(r).acrValues, ['mfa', 'hwk']);
      assert.deepEqual(
        failures,
        [{ reason: 'insufficient_user_authentication', tokenId: none.tokenId }],
        'authFailed says why',
      );
      const pwd = await ctx.manager.create(1, { acr: 'pwd' });
      assertStepUp(await ctx.get('/step-up-acr', bearer(pwd.token)), 'acr pwd', { maxAge: 600, acr: 'mfa hwk' });
      await ctx.manager.reauthenticate(1, pwd.tokenId, { acr: 'hwk' });
      assert.equal((await ctx.get('/step-up-acr', bearer(pwd.token))).status, 200, 'hwk is one of the accepted levels');
      await ctx.manager.reauthenticate(1, pwd.tokenId, { acr: 'pwd' });
      assertStepUp(await ctx.get('/step-up-acr', bearer(pwd.token)), 'a weaker proof replaces the level', {
        maxAge: 600,
        acr: 'mfa hwk',
      });
      const mfa = await ctx.manager.create(3, { acr: 'mfa' });
      assert.equal((await ctx.get('/step-up-acr', bearer(mfa.token))).status, 200, 'an mfa login passes');
      assertChallenge(await ctx.get('/step-up-acr'), { reason: 'missing_token', rfcError: null, where: 'no token' });
    },
  );

  add(
    'step-up: a DPoP request refused by step-up gets a DPoP challenge (RFC 9449 §7.1 + RFC 9470 §3) with algs, max_age and acr_values; a Bearer one a Bearer challenge',
    {},
    async (ctx) => {
      const device = await DpopClient.create('ES256');
      const bound = await ctx.manager.create(1, { jkt: device.jkt });
      const r = await ctx.get('/step-up-acr', {
        Authorization: `DPoP ${bound.token}`,
        DPoP: await device.proof('GET', `${ctx.url}/step-up-acr`, bound.token),
      });
      assert.equal(r.status, 401, r.text);
      const challenges = headerValues(r, 'www-authenticate');
      assert.equal(challenges.length, 1, 'exactly one WWW-Authenticate header');
      assert.match(
        challenges[0]!,
        /^DPoP realm="api", error="insufficient_user_authentication", error_description="[^"\\]+", max_age="600", acr_values="mfa hwk", algs="ES256 EdDSA [^"]*"$/,
        'the DPoP scheme, with algs',
      );
      assert.equal(r.headers['cache-control'], 'no-store');
      assert.equal(bodyOf(r).reason, 'insufficient_user_authentication');
      await ctx.manager.reauthenticate(1, bound.tokenId, { acr: 'mfa' });
      const ok = await ctx.get('/step-up-acr', {
        Authorization: `DPoP ${bound.token}`,
        DPoP: await device.proof('GET', `${ctx.url}/step-up-acr`, bound.token),
      });
      assert.equal(ok.status, 200, `after reauthenticate: ${ok.text}`);
      const plain = await ctx.manager.create(1);
      assertStepUp(await ctx.get('/step-up-acr', bearer(plain.token)), 'a bearer token', {
        maxAge: 600,
        acr: 'mfa hwk',
      });
    },
  );

  add(
    "step-up: the refusal is in the app's realm, with its errorBody",
    { auth: { loadUser, realm: 'custom', errorBody: (res) => ({ problem: res.body.reason, httpStatus: res.status }) } },
    async (ctx) => {
      const c = await ctx.manager.create(1);
      const r = await ctx.get('/step-up-acr', bearer(c.token));
      assert.equal(r.status, 401);
      assert.deepEqual(r.json, { problem: 'insufficient_user_authentication', httpStatus: 401 });
      assert.match(
        String(r.headers['www-authenticate']),
        /^Bearer realm="custom", error="insufficient_user_authentication", error_description="[^"]+", max_age="600", acr_values="mfa hwk"$/,
      );
    },
  );

  return cases;
}
