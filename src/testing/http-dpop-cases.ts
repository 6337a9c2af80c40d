/**
 * The DPoP (RFC 9449) cases of the HTTP contract suite, run against every adapter through
 * `httpContractCases`: a bound token with a fresh proof, every kind of bad proof (refused before any
 * store call), a proof by another key, a replayed proof, a bound token sent as Bearer, an unbound token
 * sent as DPoP, and binding at login.
 */
import assert from 'node:assert/strict';
import { type OutgoingHttpHeaders, request } from 'node:http';
import type { TokenManager, TokenManagerOptions } from '../core/manager.js';
import { MAX_DPOP_PROOF_LENGTH } from '../http/dpop.js';
import { DpopClient } from './dpop-client.js';
import { bodyOf, type ContractReply, type HttpContractApp } from './http-suite.js';

/** What a DPoP case uses of the suite's per-case context. */
interface DpopCaseContext {
  readonly url: string;
  readonly manager: TokenManager;
  get(path: string, headers?: OutgoingHttpHeaders): Promise<ContractReply>;
  post(path: string, body: unknown, headers?: OutgoingHttpHeaders): Promise<ContractReply>;
  counted(path: string, headers?: OutgoingHttpHeaders): Promise<ContractReply & { calls: number }>;
}

type AddCase = (
  name: string,
  setup: { manager?: Omit<TokenManagerOptions, 'store' | 'secret'>; auth?: HttpContractApp['auth'] },
  body: (ctx: DpopCaseContext) => Promise<void>,
) => void;

/** A 401 with one `WWW-Authenticate: <scheme> realm="api", error="<error>", ...` (with `algs` for DPoP), no-store, and the JSON body. */
function assertRefused(
  r: ContractReply,
  expected: { scheme: 'DPoP' | 'Bearer'; error: string; reason: string; where: string; sent?: readonly string[] },
): void {
  const { where } = expected;
  assert.equal(r.status, 401, `${where}: status (body: ${r.text.slice(0, 300)})`);
  const challenges = r.rawHeaders.filter(([n]) => n === 'www-authenticate').map(([, v]) => v);
  assert.equal(challenges.length, 1, `${where}: one WWW-Authenticate header`);
  const c = challenges[0]!;
  assert.ok(
    c.startsWith(`${expected.scheme} realm="api", error="${expected.error}", error_description="`),
    `${where}: challenge ${c}`,
  );
  if (expected.scheme === 'DPoP') assert.match(c, /, algs="ES256 EdDSA [^"]*"$/, `${where}: algs in ${c}`);
  assert.equal(r.headers['cache-control'], 'no-store', `${where}: Cache-Control`);
  assert.match(String(r.headers['content-type']), /^application\/json/i, `${where}: JSON`);
  const body = bodyOf(r);
  assert.equal(body.error, expected.error, `${where}: body.error`);
  assert.equal(body.reason, expected.reason, `${where}: body.reason`);
  for (const s of expected.sent ?? [])
    assert.ok(!r.text.includes(s) && !c.includes(s), `${where}: nothing sent is echoed`);
}

/** GET with a raw request target (an absolute-form one: `GET http://evil.example/me HTTP/1.1`), to the app at `baseUrl`. */
function rawGet(
  baseUrl: string,
  target: string,
  headers: OutgoingHttpHeaders,
): Promise<{ status: number; text: string }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: target, method: 'GET', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to GET ${target} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

const dpopHeaders = (token: string, proof: string | string[] | undefined, scheme = 'DPoP'): OutgoingHttpHeaders =>
  proof === undefined ? { Authorization: `${scheme} ${token}` } : { Authorization: `${scheme} ${token}`, DPoP: proof };

/** Adds the DPoP cases through the suite's `add`. */
export function addDpopContractCases(add: AddCase): void {
  add(
    'DPoP: a bound token with a fresh proof -> 200 in one store call (query ignored in htu, EdDSA too); /devices shows it bound',
    {},
    async (ctx) => {
      const device = await DpopClient.create('ES256');
      const bound = await ctx.manager.create(1, { deviceName: 'bound', jkt: device.jkt });
      assert.equal(bound.record.jkt, device.jkt);
      const r = await ctx.counted(
        '/me?page=2',
        dpopHeaders(bound.token, await device.proof('GET', `${ctx.url}/me`, bound.token)),
      );
      assert.equal(r.status, 200, r.text);
      assert.equal(r.calls, 1, 'one store call: token, key and jti together');
      assert.equal(bodyOf(r).tokenId, bound.tokenId);
      const lower = await ctx.get(
        '/me',
        dpopHeaders(bound.token, await device.proof('GET', `${ctx.url}/me`, bound.token), 'dpop'),
      );
      assert.equal(lower.status, 200, `the scheme is case-insensitive: ${lower.text}`);
      const ed = await DpopClient.create('EdDSA');
      const edToken = await ctx.manager.create(3, { jkt: ed.jkt });
      assert.equal(
        (await ctx.get('/me', dpopHeaders(edToken.token, await ed.proof('GET', `${ctx.url}/me`, edToken.token))))
          .status,
        200,
        'EdDSA (Ed25519)',
      );
      await ctx.manager.create(1, { deviceName: 'plain' });
      const devices = await ctx.get(
        '/devices',
        dpopHeaders(bound.token, await device.proof('GET', `${ctx.url}/devices`, bound.token)),
      );
      assert.equal(devices.status, 200, devices.text);
      const list = devices.json as { deviceName: string; jkt: string | null }[];
      assert.deepEqual(list.map((d) => [d.deviceName, d.jkt]).sort(), [
        ['bound', device.jkt],
        ['plain', null],
      ]);
    },
  );

  add(
    'DPoP: every bad proof -> 401 invalid_dpop_proof with a DPoP challenge (algs), no store call',
    {},
    async (ctx) => {
      const device = await DpopClient.create('ES256');
      const { token } = await ctx.manager.create(1, { jkt: device.jkt });
      const url = `${ctx.url}/me`;
      const now = Math.floor(Date.now() / 1000);
      const good = await device.proof('GET', url, token);
      const [h, p, s] = good.split('.') as [string, string, string];
      const unsigned = (header: object, claims: object) =>
        `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      const claimsOf = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const headerOf = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
      const cases: [string, string | string[] | undefined][] = [
        ['no DPoP header', undefined],
        [
          'signature of another payload',
          `${h}.${Buffer.from(JSON.stringify({ ...claimsOf, jti: 'x' })).toString('base64url')}.${s}`,
        ],
        ['signature bytes changed', `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`],
        ['htm POST for a GET', await device.proof('POST', url, token)],
        ['htu of another path', await device.proof('GET', `${ctx.url}/devices`, token)],
        ['htu of another host', await device.proof('GET', url.replace('127.0.0.1', 'evil.example'), token)],
        ['htu of another scheme', await device.proof('GET', url.replace('http:', 'https:'), token)],
        ['iat 10 minutes old', await device.proof('GET', url, token, { claims: { iat: now - 600 } })],
        ['iat 10 minutes ahead', await device.proof('GET', url, token, { claims: { iat: now + 600 } })],
        ['no iat', await device.proof('GET', url, token, { claims: { iat: undefined } })],
        ['ath of another token', await device.proof('GET', url, `${token}x`)],
        ['no ath', await device.proof('GET', url, null)],
        ['no jti', await device.proof('GET', url, token, { claims: { jti: undefined } })],
        ['typ JWT', await device.proof('GET', url, token, { header: { typ: 'JWT' } })],
        ['alg none', `${unsigned({ ...headerOf, alg: 'none' }, claimsOf)}.`],
        ['alg HS256', `${unsigned({ ...headerOf, alg: 'HS256' }, claimsOf)}.${s}`],
        ['no jwk', `${unsigned({ typ: 'dpop+jwt', alg: 'ES256' }, claimsOf)}.${s}`],
        [
          'too big',
          `${h}.${Buffer.from(JSON.stringify({ ...claimsOf, pad: 'x'.repeat(MAX_DPOP_PROOF_LENGTH) })).toString('base64url')}.${s}`,
        ],
        ['not a JWS', 'not-a-proof'],
        ['two DPoP headers', [good, good]],
      ];
      for (const [where, proof] of cases) {
        const r = await ctx.counted('/me', dpopHeaders(token, proof));
        assertRefused(r, {
          scheme: 'DPoP',
          error: 'invalid_dpop_proof',
          reason: 'invalid_dpop_proof',
          where,
          sent: [token],
        });
        assert.equal(r.calls, 0, `${where}: no store call`);
      }
      const malformed = await ctx.counted('/me', dpopHeaders(`${token.slice(0, 40)}`, good));
      assertRefused(malformed, {
        scheme: 'DPoP',
        error: 'invalid_token',
        reason: 'malformed_token',
        where: 'malformed token under DPoP',
      });
      assert.equal(malformed.calls, 0, 'malformed token: no store call');
      assert.equal((await ctx.get('/me', dpopHeaders(token, good))).status, 200, 'the good proof still passes');
    },
  );

  add(
    "DPoP: an absolute-form request target contributes only its path to htu: a proof for the authority it names -> 401, one for the app's own URL -> 200",
    {},
    async (ctx) => {
      const device = await DpopClient.create('ES256');
      const { token } = await ctx.manager.create(1, { jkt: device.jkt });
      const evil = await rawGet(
        ctx.url,
        'http://evil.example/me',
        dpopHeaders(token, await device.proof('GET', 'http://evil.example/me', token)),
      );
      assert.equal(evil.status, 401, `a proof for http://evil.example/me: ${evil.text}`);
      assert.match(evil.text, /invalid_dpop_proof/);
      const own = await rawGet(
        ctx.url,
        'http://evil.example/me',
        dpopHeaders(token, await device.proof('GET', `${ctx.url}/me`, token)),
      );
      assert.equal(own.status, 200, `a proof for the app's own URL and the target's path: ${own.text}`);
      const slashes = await rawGet(
        ctx.url,
        '//evil.example/me',
        dpopHeaders(token, await device.proof('GET', 'http://evil.example/me', token)),
      );
      assert.notEqual(slashes.status, 200, `a path of two slashes is a path, not an authority: ${slashes.text}`);
    },
  );

  add(
    'DPoP: with dpop.origin set, an absolute-form target naming another authority is checked against the origin and its path only',
    { auth: { dpop: { origin: 'https://api.example.com' } } },
    async (ctx) => {
      const device = await DpopClient.create('ES256');
      const { token } = await ctx.manager.create(1, { jkt: device.jkt });
      const evil = await rawGet(
        ctx.url,
        'http://evil.example/me',
        dpopHeaders(token, await device.proof('GET', 'http://evil.example/me', token)),
      );
      assert.equal(evil.status, 401, `a proof for http://evil.example/me: ${evil.text}`);
      const own = await rawGet(
        ctx.url,
        'http://evil.example/me',
        dpopHeaders(token, await device.proof('GET', 'https://api.example.com/me', token)),
      );
      assert.equal(own.status, 200, `a proof for the configured origin and the target's path: ${own.text}`);
      const direct = await rawGet(
        ctx.url,
        '/me',
        dpopHeaders(token, await device.proof('GET', 'https://api.example.com/me', token)),
      );
      assert.equal(direct.status, 200, `origin-form: ${direct.text}`);
    },
  );

  add(
    'DPoP: a proof by another key -> 401 invalid_dpop_proof; a replayed proof -> 401; a new proof -> 200',
    {},
    async (ctx) => {
      const device = await DpopClient.create('ES256');
      const thief = await DpopClient.create('ES256');
      const { token } = await ctx.manager.create(1, { jkt: device.jkt });
      const url = `${ctx.url}/me`;
      const stolen = await ctx.counted('/me', dpopHeaders(token, await thief.proof('GET', url, token)));
      assertRefused(stolen, {
        scheme: 'DPoP',
        error: 'invalid_dpop_proof',
        reason: 'invalid_dpop_proof',
        where: 'another key',
        sent: [token],
      });
      assert.equal(stolen.calls, 1, 'the key check is the store call');
      const proof = await device.proof('GET', url, token);
      assert.equal((await ctx.get('/me', dpopHeaders(token, proof))).status, 200);
      const replay = await ctx.counted('/me', dpopHeaders(token, proof));
      assertRefused(replay, {
        scheme: 'DPoP',
        error: 'invalid_dpop_proof',
        reason: 'invalid_dpop_proof',
        where: 'replay',
      });
      assert.match(String(bodyOf(replay).message), /already used/);
      assert.equal(replay.calls, 1);
      const [a, b] = await Promise.all([1, 2].map(async () => device.proof('GET', url, token)));
      const same = await Promise.all([a!, a!, a!, b!].map((x) => ctx.get('/me', dpopHeaders(token, x))));
      assert.deepEqual(
        same.map((r) => r.status).sort(),
        [200, 200, 401, 401],
        'concurrent replays: one of each jti passes',
      );
    },
  );

  add(
    'DPoP: a bound token sent as Bearer -> 401 invalid_token with a DPoP challenge (optional routes too); an unbound token as DPoP -> 401 with a Bearer challenge',
    {},
    async (ctx) => {
      const device = await DpopClient.create('ES256');
      const { token } = await ctx.manager.create(1, { jkt: device.jkt });
      const url = `${ctx.url}/me`;
      for (const [where, path, headers] of [
        ['Bearer', '/me', { Authorization: `Bearer ${token}` }],
        ['Token', '/me', { Authorization: `Token ${token}` }],
        [
          'Bearer with a valid proof',
          '/me',
          { Authorization: `Bearer ${token}`, DPoP: await device.proof('GET', url, token) },
        ],
        ['Bearer on an optional route', '/optional', { Authorization: `Bearer ${token}` }],
      ] as const) {
        const r = await ctx.counted(path, headers);
        assertRefused(r, { scheme: 'DPoP', error: 'invalid_token', reason: 'dpop_bound_token', where, sent: [token] });
        assert.equal(r.calls, 1, `${where}: one store call`);
      }
      const plain = await ctx.manager.create(3);
      const asDpop = await ctx.counted('/me', dpopHeaders(plain.token, await device.proof('GET', url, plain.token)));
      assertRefused(asDpop, {
        scheme: 'Bearer',
        error: 'invalid_token',
        reason: 'dpop_unbound_token',
        where: 'unbound token as DPoP',
        sent: [plain.token],
      });
      const withProof = await ctx.get('/me', {
        Authorization: `Bearer ${plain.token}`,
        DPoP: await device.proof('GET', url, plain.token),
      });
      assert.equal(
        withProof.status,
        200,
        'an unbound token as Bearer: a DPoP header beside it is ignored (RFC 9449 §7.2)',
      );
    },
  );

  add(
    'DPoP: login with a proof binds the token (the proof key only works); a bad login proof -> 400 invalid_dpop_proof',
    {},
    async (ctx) => {
      const device = await DpopClient.create('ES256');
      const login = await ctx.post('/login', { userId: '1' }, { DPoP: await device.proof('POST', `${ctx.url}/login`) });
      assert.equal(login.status, 201, login.text);
      const token = bodyOf(login).token as string;
      assert.equal((await ctx.get('/me', { Authorization: `Bearer ${token}` })).status, 401, 'bound: Bearer refused');
      assert.equal(
        (await ctx.get('/me', dpopHeaders(token, await device.proof('GET', `${ctx.url}/me`, token)))).status,
        200,
        'bound: DPoP passes',
      );
      for (const [where, proof] of [
        ['htm GET for a POST', await device.proof('GET', `${ctx.url}/login`)],
        [
          'stale',
          await device.proof('POST', `${ctx.url}/login`, null, {
            claims: { iat: Math.floor(Date.now() / 1000) - 3600 },
          }),
        ],
        ['garbage', 'a.b.c'],
      ] as const) {
        const r = await ctx.post('/login', { userId: '1' }, { DPoP: proof });
        assert.equal(r.status, 400, `${where}: ${r.text}`);
        assert.equal(bodyOf(r).error, 'invalid_dpop_proof', where);
        assert.equal(r.headers['cache-control'], 'no-store', where);
      }
    },
  );

  add(
    'DPoP: requireDpop -> a login without a proof gets 400 invalid_dpop_proof; with one, a bound token',
    { manager: { requireDpop: true } },
    async (ctx) => {
      const r = await ctx.post('/login', { userId: '1' });
      assert.equal(r.status, 400, r.text);
      assert.equal(bodyOf(r).error, 'invalid_dpop_proof');
      const device = await DpopClient.create('ES256');
      const ok = await ctx.post('/login', { userId: '1' }, { DPoP: await device.proof('POST', `${ctx.url}/login`) });
      assert.equal(ok.status, 201, ok.text);
    },
  );
}
