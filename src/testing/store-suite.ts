/**
 * The Store conformance suite: one list of cases that every Store must pass, run unchanged against
 * the Redis store and the memory store (after lucia's adapter-test). It uses only `node:assert`, so
 * any test runner can register the cases:
 *
 * ```ts
 * for (const c of storeConformanceCases(factory)) it(c.name, c.run, c.timeoutMs);
 * ```
 *
 * Cases that wait for expiry sleep for real (about 1.1 to 2.2 seconds each): stores take time from
 * their own clock (Redis `TIME`), which a test cannot move.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { TokenManager, type TokenManagerOptions } from '../core/manager.js';
import type { Store } from '../core/store.js';
import { TokenLimitError } from '../core/errors.js';
import { encodeBase62Fixed, randomBase62 } from '../core/base62.js';
import { crc32 } from '../core/crc32.js';
import { SECRET_LENGTH, TOKEN_PREFIX, parseToken } from '../core/token-format.js';
import type { RevokeReason, TokenPage } from '../core/types.js';
import { addDpopStoreCases } from './store-dpop-cases.js';

/** Makes a fresh, empty store for one case, and cleans it up afterwards. */
export interface StoreFactory {
  /** A new store; every call should give an isolated one (e.g. a new key prefix). */
  create(): Store | Promise<Store>;
  /** Called after each case with the store it used (delete its keys, close it). */
  destroy?(store: Store): void | Promise<void>;
}

/** One conformance case. */
export interface ConformanceCase {
  /** The case's name, for the runner (`it(c.name, c.run, c.timeoutMs)`). */
  name: string;
  /** Runs the case; rejects (a `node:assert` error) when the implementation fails it. */
  run: () => Promise<void>;
  /** Suggested timeout, in milliseconds. */
  timeoutMs: number;
}

/** A 46-byte secret for the suite's managers. */
const SECRET_A = 'conformance-secret-A-0123456789-abcdefghijklmn';
const SECRET_B = 'conformance-secret-B-0123456789-abcdefghijklmn';

/** The same token id with another secret and a valid checksum: a well-formed forgery. */
export function forgeSecret(token: string): string {
  const parsed = parseToken(token);
  if (!parsed) throw new Error('forgeSecret: not a token');
  const body = TOKEN_PREFIX + parsed.tokenId + randomBase62(SECRET_LENGTH);
  return body + encodeBase62Fixed(crc32(body), 6);
}

/**
 * The cases. Each creates its own store through `factory` and its own managers over it.
 */
export function storeConformanceCases(factory: StoreFactory): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const add = (name: string, timeoutMs: number, body: (ctx: Ctx) => Promise<void>) =>
    cases.push({
      name,
      timeoutMs,
      run: async () => {
        const store = await factory.create();
        const ctx = new Ctx(store, factory);
        try {
          await body(ctx);
        } finally {
          for (const s of [store, ...ctx.extraStores]) await factory.destroy?.(s);
        }
      },
    });

  add('create returns a well-formed token, a public id and `first`', 10_000, async ({ manager }) => {
    const m = manager();
    const a = await m.create('alice', { deviceName: 'phone' });
    assert.equal(a.first, true);
    assert.ok(parseToken(a.token), 'token parses');
    assert.equal(parseToken(a.token)!.tokenId, a.tokenId);
    assert.equal(a.record.tokenId, a.tokenId);
    assert.equal(a.record.userId, 'alice');
    assert.equal(a.record.deviceName, 'phone');
    assert.ok(!JSON.stringify(a.record).includes(a.token.slice(28, 70)), 'record holds no secret');
    const b = await m.create('alice');
    assert.equal(b.first, false);
    assert.notEqual(b.token, a.token);
    assert.equal((await m.create('bob')).first, true);
  });

  add(
    'list in pages: every live token of the user once at least, none of another; the old call shape still lists all',
    20_000,
    async ({ manager }) => {
      const m = manager({ maxTokensPerUser: null });
      const made = new Set<string>();
      for (let i = 0; i < 45; i++) made.add((await m.create('pager', { deviceName: `d${i}` })).tokenId);
      await m.create('other');
      const gone = [...made][3]!;
      await m.revokeById('pager', gone);
      made.delete(gone);
      for (const limit of [1, 7, 1000]) {
        const seen = new Set<string>();
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: TokenPage = await m.list('pager', { limit, cursor, currentTokenId: [...made][0] });
          for (const t of page.tokens) {
            assert.equal(t.userId, 'pager');
            assert.equal(t.current, t.tokenId === [...made][0]);
            seen.add(t.tokenId);
          }
          for (let i = 1; i < page.tokens.length; i++)
            assert.ok(page.tokens[i - 1]!.createdAtMs >= page.tokens[i]!.createdAtMs, 'newest first within a page');
          cursor = page.nextCursor;
          pages++;
          assert.ok(pages <= 100, 'paging ends');
        } while (cursor !== null);
        assert.deepEqual([...seen].sort(), [...made].sort(), `limit ${limit}`);
      }
      assert.deepEqual((await m.list('pager')).map((t) => t.tokenId).sort(), [...made].sort());
      assert.deepEqual(await m.list('nobody', { limit: 10 }), { tokens: [], nextCursor: null });
      await assert.rejects(m.list('pager', { limit: 0 }), /limit/);
      await assert.rejects(m.list('pager', { limit: 1001 }), /limit/);
      await assert.rejects(m.list('pager', { limit: 10, cursor: 'not a cursor' }), /cursor/);
    },
  );

  add('verify returns the user id and the full record', 10_000, async ({ manager }) => {
    const m = manager();
    const c = await m.create('u1', {
      deviceName: 'laptop',
      userAgent: 'UA/1',
      ip: '10.0.0.1',
      scopes: ['read', 'write'],
      metadata: { plan: 'pro', n: 1 },
    });
    const v = await m.verify(c.token);
    assert.equal(v.valid, true);
    if (!v.valid) return;
    assert.equal(v.userId, 'u1');
    assert.deepEqual(
      { ...v.record, lastUsedAtMs: 0, expiresAtMs: 0 },
      { ...c.record, lastUsedAtMs: 0, expiresAtMs: 0 },
    );
    assert.deepEqual(v.record.scopes, ['read', 'write']);
    assert.deepEqual(v.record.metadata, { plan: 'pro', n: 1 });
    assert.equal(v.record.userAgent, 'UA/1');
    assert.equal(v.record.ip, '10.0.0.1');
  });

  add('verify: malformed, unknown, forged and revoked tokens are invalid', 10_000, async ({ manager }) => {
    const m = manager();
    const c = await m.create('u1');
    for (const bad of ['', 'rmt_', c.token.slice(0, -1), `${c.token}x`, c.token.toUpperCase(), 42, null, undefined, {}])
      assert.deepEqual(
        await m.verify(bad),
        { valid: false, reason: 'malformed' },
        `malformed: ${String(bad).slice(0, 20)}`,
      );
    const other = await manager().create('u2');
    await m.revokeAll('u2');
    assert.deepEqual(await m.verify(other.token), { valid: false, reason: 'invalid' });
    assert.deepEqual(
      await m.verify(forgeSecret(c.token)),
      { valid: false, reason: 'invalid' },
      'same id, other secret',
    );
    assert.equal((await m.verify(c.token)).valid, true, 'the real one still works');
    assert.equal(await m.revoke(c.token), true);
    assert.deepEqual(await m.verify(c.token), { valid: false, reason: 'invalid' });
    assert.equal(await m.revoke(c.token), false, 'second revoke is a no-op');
  });

  add('a token verified under another secret is invalid (HMAC key matters)', 10_000, async ({ manager }) => {
    const c = await manager().create('u1');
    assert.equal((await manager({ secret: SECRET_B }).verify(c.token)).valid, false);
  });

  add(
    'key ring: old tokens work after rotation; dropping the old key invalidates exactly them',
    10_000,
    async ({ manager }) => {
      // Day 1: one secret (its key id is "k1"). Day 2: a ring, new key first; userTagSecret keeps the
      // user tag of day 1, so "log out everywhere" still finds the old tokens.
      const single = manager({ secret: SECRET_A });
      const old = await single.create('u1');
      const rotated = manager({
        secret: [
          { id: 'k2', secret: SECRET_B },
          { id: 'k1', secret: SECRET_A },
        ],
        userTagSecret: SECRET_A,
      });
      assert.equal(rotated.userTag('u1'), single.userTag('u1'), 'the user tag survives the move to a key ring');
      const fresh = await rotated.create('u1');
      assert.equal(fresh.first, false, 'the old token is found in the same user index');
      assert.equal((await rotated.verify(old.token)).valid, true, 'old token verifies after rotation');
      assert.equal((await rotated.verify(fresh.token)).valid, true);
      assert.equal((await single.verify(fresh.token)).valid, false, 'a server without the new key refuses new tokens');
      const dropped = manager({ secret: [{ id: 'k2', secret: SECRET_B }], userTagSecret: SECRET_A });
      assert.equal((await dropped.verify(old.token)).valid, false, 'old key removed: old token invalid');
      assert.equal((await dropped.verify(fresh.token)).valid, true, 'new token unaffected');
      assert.deepEqual(
        (await dropped.list('u1')).map((r) => r.tokenId),
        [fresh.tokenId],
        'tokens of a dropped key are not listed as devices',
      );
      assert.equal((await rotated.revokeAll('u1')).length, 2, 'log out everywhere reaches tokens of both keys');
      assert.throws(
        () => manager({ secret: [{ id: 'k2', secret: SECRET_B }] }),
        /userTagSecret/,
        'a key ring without userTagSecret is refused',
      );
    },
  );

  add(
    'tokens of a dropped key neither count towards the limit nor make a login "not first"',
    10_000,
    async ({ manager }) => {
      const ring = {
        secret: [
          { id: 'k2', secret: SECRET_B },
          { id: 'k1', secret: SECRET_A },
        ],
        userTagSecret: SECRET_A,
      };
      const old = manager({ ...ring });
      await old.create('u1', { ttlSeconds: null });
      await old.create('u1');
      const dropped = manager({
        secret: [{ id: 'k3', secret: SECRET_B.replace('B', 'C') }],
        userTagSecret: SECRET_A,
        maxTokensPerUser: 1,
        limitPolicy: 'reject',
      });
      const c = await dropped.create('u1');
      assert.equal(c.first, true, 'no live token under the current ring');
      assert.deepEqual(
        (await dropped.list('u1')).map((r) => r.tokenId),
        [c.tokenId],
      );
      await assert.rejects(dropped.create('u1'), TokenLimitError, 'the limit counts live tokens of the ring only');
      assert.equal((await dropped.revokeAll('u1')).length, 3, 'revokeAll still removes every record, dead ones too');
    },
  );

  add('revoking a token with a wrong secret does nothing', 10_000, async ({ manager }) => {
    const m = manager();
    const c = await m.create('u1');
    assert.equal(await m.revoke(forgeSecret(c.token)), false);
    assert.equal((await m.verify(c.token)).valid, true);
  });

  add(
    'wrong secrets are throttled per token id: past the limit even the right secret waits out the window',
    10_000,
    async ({ manager }) => {
      const m = manager({ maxFailedVerifications: 3, failedVerificationWindowSeconds: 1 });
      const failures: string[] = [];
      m.on('authFailed', (e) => failures.push(e.reason));
      const c = await m.create('u1');
      const sibling = await m.create('u1');
      for (let i = 0; i < 3; i++) assert.equal((await m.verify(forgeSecret(c.token))).valid, false);
      assert.equal((await m.verify(c.token)).valid, false, 'locked out: the right secret is refused too');
      assert.equal(await m.revoke(c.token), false, 'revoke by token is throttled as well');
      assert.deepEqual(failures, ['invalid', 'invalid', 'invalid', 'throttled']);
      assert.equal((await m.verify(sibling.token)).valid, true, "the user's other tokens are not affected");
      await sleep(1100);
      assert.equal((await m.verify(c.token)).valid, true, 'the window ended: the right secret works again');
    },
  );

  add(
    'a token signed by a key this server lacks is invalid here but never counted as a wrong secret',
    10_000,
    async ({ manager }) => {
      const tagSecret = { userTagSecret: SECRET_A };
      const newer = manager({
        secret: [
          { id: 'k2', secret: SECRET_B },
          { id: 'k1', secret: SECRET_A },
        ],
        ...tagSecret,
        maxFailedVerifications: 2,
      });
      const lagging = manager({ secret: [{ id: 'k1', secret: SECRET_A }], ...tagSecret, maxFailedVerifications: 2 });
      const c = await newer.create('u1');
      for (let i = 0; i < 5; i++) assert.equal((await lagging.verify(c.token)).valid, false);
      assert.equal(
        (await newer.verify(c.token)).valid,
        true,
        'a lagging server during a rollout cannot lock the token out',
      );
    },
  );

  add('throttling counts wrong secrets given to revoke too, and is off with null', 10_000, async ({ manager }) => {
    const m = manager({ maxFailedVerifications: 2, failedVerificationWindowSeconds: 60 });
    const c = await m.create('u1');
    assert.equal(await m.revoke(forgeSecret(c.token)), false);
    assert.equal(await m.revoke(forgeSecret(c.token)), false);
    assert.equal((await m.verify(c.token)).valid, false, 'two wrong revokes reached the limit');
    const open = manager({ maxFailedVerifications: null });
    const d = await open.create('u2');
    for (let i = 0; i < 30; i++) assert.equal((await open.verify(forgeSecret(d.token))).valid, false);
    assert.equal((await open.verify(d.token)).valid, true, 'no throttling when maxFailedVerifications is null');
  });

  add(
    'user ids: 42, 42n and "42" are one user; ids with : { } * spaces and Unicode never collide',
    15_000,
    async ({ manager }) => {
      const m = manager();
      await m.create(42);
      assert.equal((await m.create('42')).first, false);
      assert.equal((await m.create(42n)).first, false);
      const ids = [
        'a',
        'a:b',
        'a:',
        ':a',
        '{a}',
        '{a',
        'a}',
        'a*',
        'a b',
        'a ',
        'é',
        'e\u0301',
        '用户',
        '😀',
        'u:{x}:t:',
        '61',
      ];
      const made = new Map<string, string>();
      for (const id of ids) made.set(id, (await m.create(id)).tokenId);
      for (const id of ids) {
        const listed = await m.list(id);
        assert.deepEqual(
          listed.map((r) => r.tokenId),
          [made.get(id)],
          `user ${JSON.stringify(id)} sees only its own token`,
        );
        assert.equal(listed[0]!.userId, id);
      }
      assert.equal((await m.list('42')).length, 3);
    },
  );

  add(
    'two managers with different stores never see each other (isolation)',
    10_000,
    async ({ manager, otherStore }) => {
      const a = manager();
      const c = await a.create('u1');
      const other = await otherStore();
      const b = new TokenManager({ store: other, secret: SECRET_A });
      assert.equal((await b.verify(c.token)).valid, false);
      assert.deepEqual(await b.list('u1'), []);
    },
  );

  add('revoke one device; the other stays logged in', 10_000, async ({ manager }) => {
    const m = manager();
    const phone = await m.create('u1', { deviceName: 'phone' });
    const laptop = await m.create('u1', { deviceName: 'laptop' });
    assert.equal(await m.revoke(phone.token), true);
    assert.equal((await m.verify(phone.token)).valid, false);
    assert.equal((await m.verify(laptop.token)).valid, true);
    assert.deepEqual(
      (await m.list('u1')).map((r) => r.deviceName),
      ['laptop'],
    );
  });

  add('revokeAll ends every device; a user with no tokens is fine', 10_000, async ({ manager }) => {
    const m = manager();
    const made = [await m.create('u1'), await m.create('u1'), await m.create('u1')];
    const keep = await m.create('u2');
    const revoked = await m.revokeAll('u1');
    assert.deepEqual([...revoked].sort(), made.map((c) => c.tokenId).sort());
    for (const c of made) assert.equal((await m.verify(c.token)).valid, false);
    assert.equal((await m.verify(keep.token)).valid, true, "another user's token survives");
    assert.deepEqual(await m.revokeAll('u1'), []);
    assert.deepEqual(await m.revokeAll('nobody'), []);
    assert.equal((await m.create('u1')).first, true, 'after revokeAll the next login is first again');
  });

  add('revokeById: own token only; another user cannot revoke it', 10_000, async ({ manager }) => {
    const m = manager();
    const a = await m.create('u1');
    const b = await m.create('u2');
    assert.equal(await m.revokeById('u2', a.tokenId), false, "u2 cannot revoke u1's token");
    assert.equal((await m.verify(a.token)).valid, true);
    assert.equal(await m.revokeById('u1', 'not-a-token-id'), false);
    assert.equal(await m.revokeById('u1', a.tokenId), true);
    assert.equal((await m.verify(a.token)).valid, false);
    assert.equal(await m.revokeById('u1', a.tokenId), false, 'already gone');
    assert.equal((await m.verify(b.token)).valid, true);
  });

  add('revokeOthers keeps only the current token', 10_000, async ({ manager }) => {
    const m = manager();
    const [a, b, c] = [await m.create('u1'), await m.create('u1'), await m.create('u1')];
    const revoked = await m.revokeOthers('u1', b.tokenId);
    assert.deepEqual([...revoked].sort(), [a.tokenId, c.tokenId].sort());
    assert.equal((await m.verify(b.token)).valid, true);
    assert.equal((await m.verify(a.token)).valid, false);
    assert.equal((await m.verify(c.token)).valid, false);
  });

  add('list: newest first, current marked, no secrets', 10_000, async ({ manager }) => {
    const m = manager();
    const made = [];
    for (const name of ['one', 'two', 'three']) {
      made.push(await m.create('u1', { deviceName: name }));
      await sleep(5);
    }
    const listed = await m.list('u1', { currentTokenId: made[1]!.tokenId });
    assert.deepEqual(
      listed.map((r) => r.deviceName),
      ['three', 'two', 'one'],
    );
    assert.deepEqual(
      listed.map((r) => r.current),
      [false, true, false],
    );
    const text = JSON.stringify(listed);
    for (const c of made) assert.ok(!text.includes(c.token.slice(28, 70)), 'no secret part in the listing');
    assert.ok(!/"digest"|"keyId"/.test(text));
  });

  add('TTL: a token expires after ttlSeconds without renewal', 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: 1, renew: 'off' });
    const c = await m.create('u1');
    assert.ok(c.record.expiresAtMs! - c.record.createdAtMs === 1000);
    assert.equal((await m.verify(c.token)).valid, true);
    await sleep(1150);
    assert.equal((await m.verify(c.token)).valid, false);
    assert.deepEqual(await m.list('u1'), []);
    assert.equal((await m.create('u1')).first, true, 'expired tokens do not count: next login is first');
  });

  add('immortal tokens only by name: ttlSeconds null', 10_000, async ({ manager }) => {
    const mortal = await manager().create('u1');
    assert.equal(
      mortal.record.expiresAtMs! - mortal.record.createdAtMs,
      14 * 24 * 3600 * 1000,
      'default TTL is 14 days',
    );
    const m = manager({ ttlSeconds: null });
    const c = await m.create('u1');
    assert.equal(c.record.expiresAtMs, null);
    const v = await m.verify(c.token);
    assert.ok(v.valid && v.record.expiresAtMs === null);
    const perToken = await manager().create('u1', { ttlSeconds: null });
    assert.equal(perToken.record.expiresAtMs, null, 'per-token immortal');
  });

  // The four cases of the plugin's renewal (token has / has no TTL) x (configured TTL number / null).
  add('renewal, token has TTL, configured TTL is a number: expiry reset to now + TTL', 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: 60, touchIntervalSeconds: 0 });
    const c = await m.create('u1');
    await sleep(30);
    const v = await m.verify(c.token);
    assert.ok(v.valid && v.renewed);
    assert.equal(v.record.expiresAtMs, v.record.lastUsedAtMs + 60_000);
    assert.ok(v.record.expiresAtMs! > c.record.expiresAtMs!);
  });

  add('renewal, token has TTL, configured TTL is null: the token becomes immortal', 10_000, async ({ manager }) => {
    const c = await manager({ ttlSeconds: 60 }).create('u1');
    const v = await manager({ ttlSeconds: null, touchIntervalSeconds: 0 }).verify(c.token);
    assert.ok(v.valid && v.renewed);
    assert.equal(v.record.expiresAtMs, null);
    await sleep(20);
    const again = await manager({ ttlSeconds: null, renew: 'off' }).verify(c.token);
    assert.ok(again.valid && again.record.expiresAtMs === null, 'stays immortal in the store');
  });

  add(
    'renewal, token immortal, configured TTL a number, overwriteNoneTtl true: gets the TTL',
    10_000,
    async ({ manager }) => {
      const c = await manager({ ttlSeconds: null }).create('u1');
      const v = await manager({ ttlSeconds: 60, overwriteNoneTtl: true, touchIntervalSeconds: 0 }).verify(c.token);
      assert.ok(v.valid);
      assert.equal(v.record.expiresAtMs, v.record.lastUsedAtMs + 60_000);
    },
  );

  add(
    'renewal, token immortal, configured TTL a number, overwriteNoneTtl false: stays immortal',
    10_000,
    async ({ manager }) => {
      const c = await manager({ ttlSeconds: null }).create('u1');
      const v = await manager({ ttlSeconds: 60, overwriteNoneTtl: false, touchIntervalSeconds: 0 }).verify(c.token);
      assert.ok(v.valid);
      assert.equal(v.record.expiresAtMs, null);
    },
  );

  add('renewal, token immortal, configured TTL null: stays immortal', 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: null, touchIntervalSeconds: 0 });
    const c = await m.create('u1');
    await sleep(5);
    const v = await m.verify(c.token);
    assert.ok(v.valid && v.record.expiresAtMs === null);
  });

  add("renew 'off': last-used is written, expiry never moves", 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: 60, renew: 'off', touchIntervalSeconds: 0 });
    const c = await m.create('u1');
    await sleep(30);
    const v = await m.verify(c.token);
    assert.ok(v.valid && !v.renewed);
    assert.equal(v.record.expiresAtMs, c.record.expiresAtMs);
    assert.ok(v.record.lastUsedAtMs > c.record.lastUsedAtMs);
  });

  add("renew 'token': only the verified token is renewed", 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: 60, renew: 'token', touchIntervalSeconds: 0 });
    const a = await m.create('u1', { deviceName: 'a' });
    const b = await m.create('u1', { deviceName: 'b' });
    await sleep(30);
    const v = await m.verify(a.token);
    assert.ok(v.valid && v.record.expiresAtMs! > a.record.expiresAtMs!);
    const listed = await m.list('u1');
    assert.equal(listed.find((r) => r.deviceName === 'b')!.expiresAtMs, b.record.expiresAtMs);
  });

  add("renew 'user': every token of the user is renewed (the plugin's behaviour)", 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: 60, renew: 'user', touchIntervalSeconds: 0 });
    const a = await m.create('u1', { deviceName: 'a' });
    const b = await m.create('u1', { deviceName: 'b' });
    const other = await m.create('u2');
    await sleep(30);
    const v = await m.verify(a.token);
    assert.ok(v.valid && v.renewed);
    const listed = await m.list('u1');
    const bNow = listed.find((r) => r.deviceName === 'b')!;
    assert.ok(bNow.expiresAtMs! > b.record.expiresAtMs!, 'the other device was renewed too');
    assert.equal(bNow.expiresAtMs, v.record.expiresAtMs);
    assert.equal(bNow.lastUsedAtMs, b.record.lastUsedAtMs, "the other device's last-used is untouched");
    assert.equal((await m.list('u2'))[0]!.expiresAtMs, other.record.expiresAtMs, 'other users untouched');
  });

  add('touch interval: within it, verify writes nothing', 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: 3600, touchIntervalSeconds: 60 });
    const c = await m.create('u1');
    await sleep(20);
    for (let i = 0; i < 20; i++) {
      const v = await m.verify(c.token);
      assert.ok(v.valid && !v.renewed);
      assert.equal(v.record.lastUsedAtMs, c.record.lastUsedAtMs);
      assert.equal(v.record.expiresAtMs, c.record.expiresAtMs);
    }
  });

  add('touch interval is clamped to half the TTL, so short TTLs renew in time', 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: 2, touchIntervalSeconds: 60 });
    const c = await m.create('u1');
    await sleep(1100);
    const v = await m.verify(c.token);
    assert.ok(v.valid && v.renewed, 'renewed after half the TTL although the interval is 60 s');
    await sleep(1100);
    assert.equal((await m.verify(c.token)).valid, true, 'alive 2.2 s after creation thanks to renewal');
  });

  add('a failed verify (wrong secret) neither renews nor touches', 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: 60, touchIntervalSeconds: 0 });
    const c = await m.create('u1');
    await sleep(20);
    assert.equal((await m.verify(forgeSecret(c.token))).valid, false);
    const [r] = await m.list('u1');
    assert.equal(r!.lastUsedAtMs, c.record.lastUsedAtMs);
    assert.equal(r!.expiresAtMs, c.record.expiresAtMs);
  });

  add('per-token ttlSeconds overrides the configured TTL at creation and on renewal', 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: 3600, touchIntervalSeconds: 0 });
    const c = await m.create('u1', { ttlSeconds: 120 });
    assert.equal(c.record.expiresAtMs! - c.record.createdAtMs, 120_000);
    await sleep(20);
    const v = await m.verify(c.token);
    assert.ok(v.valid);
    assert.equal(v.record.expiresAtMs, v.record.lastUsedAtMs + 120_000);
  });

  add('absolute lifetime: renewal never extends past it, and the token dies at it', 10_000, async ({ manager }) => {
    const m = manager({ ttlSeconds: 60, absoluteLifetimeSeconds: 2, touchIntervalSeconds: 0 });
    const c = await m.create('u1');
    assert.equal(c.record.absoluteExpiresAtMs, c.record.createdAtMs + 2000);
    assert.equal(c.record.expiresAtMs, c.record.absoluteExpiresAtMs);
    for (let i = 0; i < 3; i++) {
      await sleep(500);
      const v = await m.verify(c.token);
      assert.ok(v.valid && v.record.expiresAtMs! <= c.record.absoluteExpiresAtMs!);
    }
    await sleep(2100 - 1500);
    assert.equal((await m.verify(c.token)).valid, false, 'dead at the absolute lifetime however active');
    const imm = await manager({ ttlSeconds: null, absoluteLifetimeSeconds: 60 }).create('u2');
    assert.equal(imm.record.expiresAtMs, imm.record.absoluteExpiresAtMs, 'immortal + absolute = absolute');
  });

  add("limit 'evict-lru': the least recently used token goes, never the new one", 10_000, async ({ manager }) => {
    const m = manager({ maxTokensPerUser: 2, limitPolicy: 'evict-lru', touchIntervalSeconds: 0 });
    const revokedEvents: { ids: string[]; reason: RevokeReason }[] = [];
    m.on('revoked', (e) => revokedEvents.push({ ids: e.tokenIds, reason: e.reason }));
    const a = await m.create('u1');
    await sleep(5);
    const b = await m.create('u1');
    await sleep(5);
    assert.equal((await m.verify(a.token)).valid, true, 'a is now more recently used than b');
    await sleep(5);
    const c = await m.create('u1');
    assert.deepEqual(c.evictedTokenIds, [b.tokenId]);
    assert.equal((await m.verify(b.token)).valid, false);
    assert.equal((await m.verify(a.token)).valid, true);
    assert.equal((await m.verify(c.token)).valid, true);
    assert.deepEqual(revokedEvents, [{ ids: [b.tokenId], reason: 'evicted' }]);
    const imm = await m.create('u1', { ttlSeconds: null });
    assert.equal((await m.list('u1')).length, 2, 'immortal tokens count towards the limit');
    assert.ok((await m.list('u1')).some((r) => r.tokenId === imm.tokenId));
  });

  add("limit 'reject': TokenLimitError, nothing changes", 10_000, async ({ manager }) => {
    const m = manager({ maxTokensPerUser: 2, limitPolicy: 'reject' });
    const a = await m.create('u1');
    const b = await m.create('u1');
    await assert.rejects(
      m.create('u1'),
      (e: unknown) => e instanceof TokenLimitError && e.code === 'ERR_TOKEN_LIMIT' && e.limit === 2,
    );
    assert.equal((await m.verify(a.token)).valid, true);
    assert.equal((await m.verify(b.token)).valid, true);
    assert.equal((await m.list('u1')).length, 2);
    await m.revoke(a.token);
    assert.equal((await m.create('u1')).first, false, 'room again after a logout');
  });

  add('lowering the limit later: the next login evicts down to the new limit', 10_000, async ({ manager }) => {
    const m = manager();
    for (let i = 0; i < 5; i++) await m.create('u1');
    const c = await manager({ maxTokensPerUser: 2 }).create('u1');
    assert.equal(c.evictedTokenIds.length, 4);
    assert.equal((await m.list('u1')).length, 2);
    await assert.rejects(manager({ maxTokensPerUser: 1, limitPolicy: 'reject' }).create('u1'), TokenLimitError);
  });

  add(
    'device texts: cut without splitting an emoji; lone surrogates stored as U+FFFD, never a store fault',
    10_000,
    async ({ manager }) => {
      const m = manager();
      const c = await m.create('u1', { deviceName: `${'a'.repeat(199)}😀`, userAgent: 'UA \uD800 x', ip: '\uDC00' });
      assert.equal(c.record.deviceName, 'a'.repeat(199), 'the cut at 200 does not leave half an emoji');
      assert.equal(c.record.userAgent, 'UA \uFFFD x');
      assert.equal(c.record.ip, '\uFFFD');
      const v = await m.verify(c.token);
      assert.ok(v.valid && v.record.userAgent === 'UA \uFFFD x' && v.record.deviceName === 'a'.repeat(199));
      const flag = await m.create('u1', { deviceName: `${'a'.repeat(197)}🇫🇷`, userAgent: `${'b'.repeat(509)}👍🏽` });
      assert.equal(flag.record.deviceName, 'a'.repeat(197), 'a flag is two code points: cut whole, not in half');
      assert.equal(flag.record.userAgent, 'b'.repeat(509), 'an emoji with a skin tone is cut whole');
      const emoji = await m.create('u1', {
        deviceName: '📱 Alice’s phone',
        metadata: { note: 'odd \uD800 text', list: [] },
      });
      const listed = (await m.list('u1')).find((r) => r.tokenId === emoji.tokenId)!;
      assert.equal(listed.deviceName, '📱 Alice’s phone');
      assert.deepEqual(
        listed.metadata,
        { note: 'odd \uD800 text', list: [] },
        'metadata JSON kept as given, empty arrays included',
      );
    },
  );

  add('metadata: stored as given; too large is a RangeError before any store call', 10_000, async ({ manager }) => {
    const m = manager({ maxMetadataBytes: 64 });
    const c = await m.create('u1', { metadata: { a: [1, 2], b: 'x' } });
    assert.deepEqual(c.record.metadata, { a: [1, 2], b: 'x' });
    await assert.rejects(
      m.create('u1', { metadata: { big: 'x'.repeat(100) } }),
      (e: unknown) => e instanceof RangeError && /maxMetadataBytes/.test((e as Error).message),
    );
    await assert.rejects(m.create('u1', { metadata: [1] as never }), TypeError);
    assert.equal((await m.list('u1')).length, 1, 'the refused creates stored nothing');
  });

  add(
    'events: created, verified, revoked (with reasons), authFailed (no token in payloads)',
    10_000,
    async ({ manager }) => {
      const m = manager({ touchIntervalSeconds: 0 });
      const seen: [string, unknown][] = [];
      for (const name of ['created', 'verified', 'revoked', 'authFailed'] as const)
        m.on(name, (e: unknown) => seen.push([name, e]));
      const a = await m.create('u1');
      const b = await m.create('u1');
      const c = await m.create('u1');
      await m.verify(a.token);
      await m.verify('garbage');
      await m.verify(forgeSecret(a.token));
      await m.revoke(a.token);
      await m.revokeById('u1', b.tokenId, { reason: 'logout' });
      await m.revokeOthers('u1', c.tokenId);
      await m.revokeAll('u1');
      const names = seen.map(([n]) => n);
      assert.deepEqual(names, [
        'created',
        'created',
        'created',
        'verified',
        'authFailed',
        'authFailed',
        'revoked',
        'revoked',
        'revoked',
      ]);
      const reasons = seen.filter(([n]) => n === 'revoked').map(([, e]) => (e as { reason: string }).reason);
      assert.deepEqual(reasons, ['logout', 'logout', 'logout-all']);
      assert.deepEqual(
        seen.filter(([n]) => n === 'authFailed').map(([, e]) => e),
        [
          { reason: 'malformed', tokenId: null },
          { reason: 'invalid', tokenId: a.tokenId },
        ],
      );
      const text = JSON.stringify(seen);
      for (const t of [a, b, c]) assert.ok(!text.includes(t.token), 'no token string in any event');
    },
  );

  add(
    'lookup by token id: the record, a digest check, nothing changed (no renewal, no counting)',
    10_000,
    async ({ manager, store }) => {
      const m = manager({ maxFailedVerifications: 2, touchIntervalSeconds: 0 });
      const a = await m.create('looked-up', { deviceName: 'tablet', userAgent: 'UA/1', ip: '203.0.113.9' });
      const userTag = a.tokenId.slice(0, 8);
      const bare = await store.lookup({ tokenId: a.tokenId, userTag });
      assert.ok(bare, 'found by id alone');
      assert.equal(bare.digestMatches, null, 'no digests given: no check');
      assert.deepEqual(bare.record, a.record);
      const inspected = await m.inspect(a.token);
      assert.ok(inspected.wellFormed && inspected.found);
      assert.equal(inspected.valid, true);
      assert.equal(inspected.record.userId, 'looked-up');
      assert.equal(inspected.record.deviceName, 'tablet');
      const forged = forgeSecret(a.token);
      for (let i = 0; i < 5; i++) {
        const f = await m.inspect(forged);
        assert.ok(f.wellFormed && f.found, 'a forged secret finds the id');
        assert.equal(f.valid, false, 'but does not match');
      }
      assert.equal(
        (await m.verify(a.token)).valid,
        true,
        'five wrong secrets through lookup were not counted (the throttle is 2)',
      );
      const afterVerify = (await store.lookup({ tokenId: a.tokenId, userTag }))!.record;
      await sleep(20);
      await m.inspect(a.token);
      assert.equal(
        (await store.lookup({ tokenId: a.tokenId, userTag }))!.record.lastUsedAtMs,
        afterVerify.lastUsedAtMs,
        'lookup writes no last-used time',
      );
      assert.equal(
        (await store.lookup({ tokenId: a.tokenId, userTag }))!.record.expiresAtMs,
        afterVerify.expiresAtMs,
        'lookup renews nothing',
      );
      assert.deepEqual(await m.inspect('rmt_not-a-token'), { wellFormed: false });
      const other = manager({ secret: SECRET_B });
      const underB = await other.inspect(a.token);
      assert.ok(underB.wellFormed && underB.found && underB.valid === false, 'another secret: found, not valid');
      assert.equal(await m.revoke(a.token), true);
      assert.equal(await store.lookup({ tokenId: a.tokenId, userTag }), null, 'revoked: gone');
      const gone = await m.inspect(a.token);
      assert.deepEqual(gone, { wellFormed: true, tokenId: a.tokenId, found: false });
      assert.equal(await store.lookup({ tokenId: `${userTag}AAAAAAAAAAAAAAAA`, userTag }), null, 'unknown id');
    },
  );

  add('lookup by token id: an expired token is not found', 10_000, async ({ manager, store }) => {
    const m = manager();
    const a = await m.create('looked-up-expiring', { ttlSeconds: 1 });
    assert.ok(await store.lookup({ tokenId: a.tokenId, userTag: a.tokenId.slice(0, 8) }));
    await sleep(1100);
    assert.equal(await store.lookup({ tokenId: a.tokenId, userTag: a.tokenId.slice(0, 8) }), null);
    const i = await m.inspect(a.token);
    assert.ok(i.wellFormed && !i.found);
  });

  add(
    'race: 200 concurrent logins of one user give 200 distinct valid tokens, all listed',
    30_000,
    async ({ manager }) => {
      const m = manager({ maxTokensPerUser: null }); // no device limit, by name
      const made = await Promise.all(Array.from({ length: 200 }, (_, i) => m.create('racer', { deviceName: `d${i}` })));
      assert.equal(new Set(made.map((c) => c.token)).size, 200);
      assert.equal(made.filter((c) => c.first).length, 1, 'exactly one login saw no live token');
      const results = await Promise.all(made.map((c) => m.verify(c.token)));
      assert.ok(results.every((r) => r.valid));
      assert.equal((await m.list('racer')).length, 200);
    },
  );

  add(
    'race: 100 parallel logins against a limit of 10 leave exactly 10 (both policies)',
    30_000,
    async ({ manager }) => {
      const evict = manager({ maxTokensPerUser: 10, limitPolicy: 'evict-lru' });
      const made = await Promise.all(Array.from({ length: 100 }, () => evict.create('lim')));
      const listed = await evict.list('lim');
      assert.equal(listed.length, 10);
      const evicted = new Set(made.flatMap((c) => c.evictedTokenIds));
      assert.equal(evicted.size, 90);
      for (const c of made) assert.ok(!c.evictedTokenIds.includes(c.tokenId), 'a login never evicts its own token');
      const reject = manager({ maxTokensPerUser: 10, limitPolicy: 'reject' });
      const settled = await Promise.allSettled(Array.from({ length: 100 }, () => reject.create('lim2')));
      assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 10);
      assert.ok(
        settled
          .filter((s) => s.status === 'rejected')
          .every((s) => (s as PromiseRejectedResult).reason instanceof TokenLimitError),
      );
      assert.equal((await reject.list('lim2')).length, 10);
    },
  );

  add('race: revokeAll racing 100 logins leaves no token created before it', 30_000, async ({ manager }) => {
    const m = manager({ maxTokensPerUser: null }); // no device limit, by name
    const before = await Promise.all(Array.from({ length: 20 }, () => m.create('r')));
    const racing = Array.from({ length: 100 }, () => m.create('r'));
    const revoked = await m.revokeAll('r');
    const during = await Promise.all(racing);
    for (const c of before)
      assert.equal((await m.verify(c.token)).valid, false, 'created before revokeAll was called: revoked');
    const revokedSet = new Set(revoked);
    for (const c of [...before, ...during]) {
      const valid = (await m.verify(c.token)).valid;
      assert.equal(
        valid,
        !revokedSet.has(c.tokenId),
        'each token is either revoked by revokeAll or created after it: never both, never neither',
      );
    }
    assert.equal((await m.list('r')).length, 120 - revoked.length);
  });

  add('race: renewal racing revoke never brings a revoked token back', 30_000, async ({ manager }) => {
    const m = manager({ touchIntervalSeconds: 0, renew: 'user' });
    for (let round = 0; round < 20; round++) {
      const c = await m.create('rr');
      const verifies = Array.from({ length: 10 }, () => m.verify(c.token));
      const revoked = m.revoke(c.token);
      await Promise.all([...verifies, revoked]);
      assert.equal(await revoked, true);
      assert.equal((await m.verify(c.token)).valid, false, `round ${round}: stays revoked`);
      assert.deepEqual(await m.list('rr'), []);
    }
  });

  // The local verify cache and the store's revocation watch (Store.watchRevocations, optional).
  add(
    'watchRevocations announces every removal (revoke, revokeById, revokeAll, revokeOthers, eviction at create), nothing else',
    20_000,
    async ({ store, manager }) => {
      if (typeof store.watchRevocations !== 'function') {
        assert.throws(
          () => manager({ verifyCache: {} }),
          { name: 'InvalidArgumentValueError' },
          'a store without watchRevocations refuses verifyCache',
        );
        return;
      }
      const heard = new Set<string>();
      const watch = store.watchRevocations(
        {
          revoked: (ids) => {
            for (const id of ids) heard.add(id);
          },
          reset: () => {},
        },
        { heartbeatIntervalMs: 20 },
      );
      try {
        const start = performance.now();
        while (watch.syncedAtMs() < start) {
          assert.ok(performance.now() - start < 10_000, 'the watch gets in sync within 10 s');
          await sleep(10);
        }
        const m = manager({ maxTokensPerUser: 2 });
        const [a, b, c, d, e, f, g] = [
          await m.create('w1'),
          await m.create('w1'),
          await m.create('w2'),
          await m.create('w2'),
          await m.create('w3'),
          await m.create('w3'),
          await m.create('w4'),
        ];
        const h = await m.create('w4');
        const evicting = await m.create('w4'); // evicts g or h (the least recently used; created in one millisecond they tie)
        assert.equal(evicting.evictedTokenIds.length, 1);
        const [evicted] = evicting.evictedTokenIds;
        const survivor = evicted === g!.tokenId ? h : g;
        assert.ok([g!.tokenId, h.tokenId].includes(evicted!));
        assert.equal(await m.revoke(a!.token), true);
        assert.equal(await m.revokeById('w1', b!.tokenId), true);
        assert.deepEqual((await m.revokeAll('w2')).sort(), [c!.tokenId, d!.tokenId].sort());
        assert.deepEqual(await m.revokeOthers('w3', e!.tokenId), [f!.tokenId]);
        const expected = [...[a, b, c, d, f].map((t) => t!.tokenId), evicted!].sort();
        const until = performance.now() + 5_000;
        while (heard.size < expected.length && performance.now() < until) await sleep(5);
        const synced = performance.now();
        while (watch.syncedAtMs() < synced && performance.now() < until) await sleep(5); // anything else would have arrived by now
        assert.deepEqual(
          [...heard].sort(),
          expected,
          'exactly the removed ids (not e, the surviving w4 token nor the new one)',
        );
        assert.ok(!heard.has(survivor!.tokenId) && !heard.has(evicting.tokenId));
      } finally {
        await watch.close();
      }
    },
  );

  add(
    "verifyCache: a token revoked through one manager is refused by another manager's cache within maxStalenessMs; hits skip the store",
    20_000,
    async ({ store, manager }) => {
      if (typeof store.watchRevocations !== 'function')
        return assert.throws(() => manager({ verifyCache: {} }), { name: 'InvalidArgumentValueError' });
      const maxStalenessMs = 500;
      const writer = manager();
      const reader = manager({ verifyCache: { maxStalenessMs } });
      try {
        while (!reader.verifyCacheStats!.active) await sleep(5);
        for (const revokeBy of ['revoke', 'revokeById', 'revokeAll', 'revokeOthers'] as const) {
          const t = await writer.create(`vc-${revokeBy}`, { scopes: ['read'] });
          const keep = await writer.create(`vc-${revokeBy}`);
          const first = await reader.verify(t.token);
          assert.ok(first.valid);
          const before = reader.verifyCacheStats!.hits;
          const again = await reader.verify(t.token);
          assert.ok(again.valid && again.renewed === false);
          assert.deepEqual(again.record.scopes, ['read'], 'the stored scopes');
          assert.equal(reader.verifyCacheStats!.hits, before + 1, 'the second verify is a hit');
          const start = performance.now();
          if (revokeBy === 'revoke') await writer.revoke(t.token);
          else if (revokeBy === 'revokeById') await writer.revokeById(`vc-${revokeBy}`, t.tokenId);
          else if (revokeBy === 'revokeAll') await writer.revokeAll(`vc-${revokeBy}`);
          else await writer.revokeOthers(`vc-${revokeBy}`, keep.tokenId);
          while ((await reader.verify(t.token)).valid) {
            assert.ok(performance.now() - start <= maxStalenessMs, `${revokeBy}: refused within ${maxStalenessMs} ms`);
            await new Promise((r) => setImmediate(r));
          }
        }
      } finally {
        await reader.close();
      }
    },
  );

  add(
    'verifyCache: a wrong secret goes to the store (counted, throttled), even for a cached token id',
    20_000,
    async ({ store, manager }) => {
      if (typeof store.watchRevocations !== 'function')
        return assert.throws(() => manager({ verifyCache: {} }), { name: 'InvalidArgumentValueError' });
      const m = manager({ verifyCache: {}, maxFailedVerifications: 3 });
      try {
        while (!m.verifyCacheStats!.active) await sleep(5);
        const t = await m.create('vc-throttle');
        assert.ok((await m.verify(t.token)).valid);
        assert.ok((await m.verify(t.token)).valid);
        assert.ok(m.verifyCacheStats!.hits >= 1, 'cached');
        for (let i = 0; i < 3; i++) assert.equal((await m.verify(forgeSecret(t.token))).valid, false);
        assert.equal(
          (await m.verify(t.token)).valid,
          false,
          'locked out: the right secret is refused by the store, not served from the cache',
        );
      } finally {
        await m.close();
      }
    },
  );

  add(
    'verifyCache: last-used and renewal writes keep their throttled rate (a cached entry ends when a touch is due)',
    20_000,
    async ({ store, manager }) => {
      if (typeof store.watchRevocations !== 'function')
        return assert.throws(() => manager({ verifyCache: {} }), { name: 'InvalidArgumentValueError' });
      const m = manager({ verifyCache: { maxStalenessMs: 60_000 }, touchIntervalSeconds: 1 });
      try {
        while (!m.verifyCacheStats!.active) await sleep(5);
        const t = await m.create('vc-touch');
        const r1 = await m.verify(t.token);
        assert.ok(r1.valid && !r1.renewed);
        for (let i = 0; i < 20; i++) assert.ok((await m.verify(t.token)).valid);
        assert.ok(m.verifyCacheStats!.hits >= 20);
        assert.equal(
          (await m.list('vc-touch'))[0]!.lastUsedAtMs,
          t.record.createdAtMs,
          'no write within the touch interval',
        );
        await sleep(1_100);
        const r2 = await m.verify(t.token);
        assert.ok(r2.valid && r2.renewed, 'the first verify after the interval goes to the store, which renews');
        assert.ok((await m.list('vc-touch'))[0]!.lastUsedAtMs > t.record.createdAtMs, 'last-used written');
        assert.ok((await m.verify(t.token)).valid);
      } finally {
        await m.close();
      }
    },
  );

  addDpopStoreCases(add);
  add(
    "step-up: authenticated at creation with its acr; reauthenticate sets the store clock's now and replaces the acr, nothing else",
    10_000,
    async ({ manager }) => {
      const m = manager({ touchIntervalSeconds: 3600 });
      const c = await m.create('su', { acr: 'pwd' });
      assert.equal(c.record.authenticatedAtMs, c.record.createdAtMs, 'a login is an authentication');
      assert.equal(c.record.acr, 'pwd');
      assert.equal((await m.create('su2')).record.acr, null, 'acr defaults to null');
      const v1 = await m.verify(c.token);
      assert.ok(v1.valid);
      assert.equal(v1.record.authenticatedAtMs, c.record.createdAtMs);
      assert.equal(v1.record.acr, 'pwd');
      assert.ok(v1.verifiedAtMs >= c.record.createdAtMs, 'verifiedAtMs is the store clock at verification');
      await sleep(25);
      const events: unknown[] = [];
      m.on('reauthenticated', (e) => events.push(e));
      const r = await m.reauthenticate('su', c.tokenId, { acr: 'mfa' });
      assert.ok(r, 'a live token is reauthenticated');
      assert.ok(
        r.authenticatedAtMs >= c.record.createdAtMs + 20,
        `authenticatedAtMs moved to now (${r.authenticatedAtMs - c.record.createdAtMs} ms later)`,
      );
      assert.equal(r.acr, 'mfa');
      assert.deepEqual(events, [{ record: r }]);
      const v2 = await m.verify(c.token);
      assert.ok(v2.valid);
      assert.equal(v2.record.authenticatedAtMs, r.authenticatedAtMs, 'verify reads it back');
      assert.equal(v2.record.acr, 'mfa');
      assert.ok(v2.verifiedAtMs >= r.authenticatedAtMs, "one clock: the store's");
      assert.deepEqual(
        { ...v2.record, authenticatedAtMs: 0, acr: null },
        { ...v1.record, authenticatedAtMs: 0, acr: null },
        'creation, last use, expiry, device details, scopes and metadata are untouched',
      );
      const listed = (await m.list('su')).find((t) => t.tokenId === c.tokenId);
      assert.equal(listed?.authenticatedAtMs, r.authenticatedAtMs);
      const plain = await m.reauthenticate('su', c.tokenId);
      assert.equal(plain?.acr, null, 'a proof without acr clears the old one (time and level describe one proof)');
      await assert.rejects(m.reauthenticate('su', c.token), /token id/, 'the whole token where its id is expected');
      await assert.rejects(m.reauthenticate('su', c.tokenId, { acr: 'two words' }), /acr/);
      await assert.rejects(m.create('su', { acr: '' }), /acr/);
      await assert.rejects(m.reauthenticate('su', c.tokenId, { acr: 5 as never }), /acr/);
      await assert.rejects(m.reauthenticate('su', c.tokenId, { acrs: 'x' } as never), /acrs/);
    },
  );

  add(
    "step-up: reauthenticate never resurrects a revoked or expired token, nor touches another user's",
    10_000,
    async ({ manager }) => {
      const m = manager({ ttlSeconds: 1, renew: 'off' });
      const gone = await m.create('sr');
      await m.revoke(gone.token);
      assert.equal(await m.reauthenticate('sr', gone.tokenId), null, 'revoked');
      assert.equal((await m.verify(gone.token)).valid, false);
      const mine = await m.create('sr');
      assert.equal(
        await m.reauthenticate('someone-else', mine.tokenId, { acr: 'mfa' }),
        null,
        "another user's token id",
      );
      const v = await m.verify(mine.token);
      assert.ok(v.valid);
      assert.equal(v.record.authenticatedAtMs, mine.record.createdAtMs, 'untouched');
      assert.equal(v.record.acr, null);
      assert.equal(await m.reauthenticate('sr', 'not-a-token-id'), null, 'not a token id: no store call needed');
      await sleep(1100);
      assert.equal(await m.reauthenticate('sr', mine.tokenId), null, 'expired');
      assert.equal((await m.verify(mine.token)).valid, false, 'still expired');
      assert.deepEqual(await m.list('sr'), []);
    },
  );

  add('race: reauthenticate racing revoke and revokeAll never brings a token back', 30_000, async ({ manager }) => {
    const m = manager();
    for (let round = 0; round < 20; round++) {
      const c = await m.create('rs');
      const reauths = Array.from({ length: 5 }, () => m.reauthenticate('rs', c.tokenId, { acr: 'mfa' }));
      const revoked = round % 2 === 0 ? m.revoke(c.token) : m.revokeAll('rs').then((ids) => ids.includes(c.tokenId));
      await Promise.all([...reauths, revoked]);
      assert.equal(await revoked, true);
      assert.equal((await m.verify(c.token)).valid, false, `round ${round}: stays revoked`);
      assert.equal(await m.reauthenticate('rs', c.tokenId), null);
      assert.deepEqual(await m.list('rs'), []);
    }
  });

  return cases;
}

class Ctx {
  readonly extraStores: Store[] = [];
  constructor(
    readonly store: Store,
    private readonly factory: StoreFactory,
  ) {}
  /** A manager over this case's store (default secret A; options override). */
  manager = (options: Partial<Omit<TokenManagerOptions, 'store'>> = {}): TokenManager =>
    new TokenManager({ store: this.store, secret: SECRET_A, ...options });
  /** Another isolated store from the factory (for isolation checks). */
  otherStore = async (): Promise<Store> => {
    const s = await this.factory.create();
    this.extraStores.push(s);
    return s;
  };
}
