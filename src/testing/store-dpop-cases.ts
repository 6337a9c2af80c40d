/**
 * The DPoP (RFC 9449) cases of the Store conformance suite, run by `storeConformanceCases` on every
 * store: the bound record (`jkt`), and the store's part of the check ({@link StoreDpopCheck}): bound
 * vs unbound, the key match, and the `jti` replay check in the same call as the token check.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TokenManager, TokenManagerOptions } from '../core/manager.js';
import type { StoreDpopCheck } from '../core/store.js';
import { forgeSecret } from './store-suite.js';

type AddCase = (
  name: string,
  timeoutMs: number,
  body: (ctx: { manager: (options?: Partial<Omit<TokenManagerOptions, 'store'>>) => TokenManager }) => Promise<void>,
) => void;

/** A random 43-character base64url string: the shape of a JWK SHA-256 thumbprint, or of a jti hash. */
const b64 = () => randomBytes(32).toString('base64url');
const check = (jkt: string, jtiHash = b64(), replayWindowMs = 120_000): StoreDpopCheck => ({
  jkt,
  jtiHash,
  replayWindowMs,
});

/** Adds the DPoP cases through the suite's `add`. */
export function addDpopStoreCases(add: AddCase): void {
  add(
    'DPoP: a bound token keeps its jkt in create, verify and list; a bearer token has jkt null',
    10_000,
    async ({ manager }) => {
      const m = manager();
      const jkt = b64();
      const bound = await m.create('alice', { jkt, deviceName: 'bound' });
      const plain = await m.create('alice', { deviceName: 'plain' });
      assert.equal(bound.record.jkt, jkt);
      assert.equal(plain.record.jkt, null);
      const v = await m.verify(bound.token, { dpop: check(jkt) });
      assert.ok(v.valid, 'verifies with its key');
      assert.equal(v.record.jkt, jkt);
      const list = await m.list('alice');
      assert.deepEqual(list.map((r) => [r.deviceName, r.jkt]).sort(), [
        ['bound', jkt],
        ['plain', null],
      ]);
      await assert.rejects(m.create('alice', { jkt: 'short' }), /43 base64url/);
      await assert.rejects(manager({ requireDpop: true }).create('alice'), { code: 'ERR_INVALID_DPOP_PROOF' });
    },
  );

  add(
    'DPoP: bound without a proof -> dpop_required; another key -> dpop_mismatch; unbound with a proof -> dpop_unbound; none counted as a wrong secret',
    10_000,
    async ({ manager }) => {
      const m = manager({ maxFailedVerifications: 1 });
      const jkt = b64();
      const bound = await m.create('bob', { jkt });
      const plain = await m.create('bob');
      assert.deepEqual(await m.verify(bound.token), { valid: false, reason: 'dpop_required' });
      assert.deepEqual(await m.verify(bound.token, { dpop: check(b64()) }), { valid: false, reason: 'dpop_mismatch' });
      assert.deepEqual(await m.verify(plain.token, { dpop: check(jkt) }), { valid: false, reason: 'dpop_unbound' });
      assert.ok(
        (await m.verify(bound.token, { dpop: check(jkt) })).valid,
        'not throttled: the refusals above were not wrong secrets',
      );
      assert.ok((await m.verify(plain.token)).valid, 'the bearer token still verifies as bearer');
    },
  );

  add(
    'DPoP: a jti passes once within its window, per user, once under concurrency, and again after the window',
    15_000,
    async ({ manager }) => {
      const m = manager();
      const jkt = b64();
      const a = await m.create('carol', { jkt });
      const b = await m.create('dave', { jkt });
      const jti = b64();
      assert.ok((await m.verify(a.token, { dpop: check(jkt, jti, 1000) })).valid, 'first use');
      assert.deepEqual(await m.verify(a.token, { dpop: check(jkt, jti, 1000) }), {
        valid: false,
        reason: 'dpop_replay',
      });
      assert.ok(
        (await m.verify(b.token, { dpop: check(jkt, jti, 1000) })).valid,
        "the same jti for another user is that user's first use",
      );
      const same = b64();
      const results = await Promise.all(Array.from({ length: 8 }, () => m.verify(a.token, { dpop: check(jkt, same) })));
      assert.equal(results.filter((r) => r.valid).length, 1, 'exactly one of 8 concurrent uses of one jti passes');
      await sleep(1_200);
      assert.ok(
        (await m.verify(a.token, { dpop: check(jkt, jti, 1000) })).valid,
        'forgotten after its window (milliseconds)',
      );
    },
  );

  add(
    'DPoP: a wrong secret with a proof is a counted mismatch, and does not record the jti',
    10_000,
    async ({ manager }) => {
      const m = manager({ maxFailedVerifications: 2 });
      const jkt = b64();
      const { token } = await m.create('erin', { jkt });
      const jti = b64();
      assert.deepEqual(await m.verify(forgeSecret(token), { dpop: check(jkt, jti) }), {
        valid: false,
        reason: 'invalid',
      });
      assert.ok(
        (await m.verify(token, { dpop: check(jkt, jti) })).valid,
        'the jti of a refused token was not recorded',
      );
    },
  );
}
