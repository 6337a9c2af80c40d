/**
 * The step-up requirement (RFC 9470) of src/http/step-up.ts on its own: the age boundary on the store's
 * clock (a MemoryStore with its own clock, so no sleep), acr matching, and the options every adapter's
 * `requireStepUp` refuses when the route is defined. The HTTP answers on every adapter are in the
 * contract suite (src/testing/http-suite.ts, "step-up: ...").
 */
import { describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { checkStepUpRule, stepUpRequirement } from '../../src/http/step-up.js';
import { requireStepUp as expressStepUp } from '../../src/express.js';
import { requireStepUp as koaStepUp } from '../../src/koa.js';
import { requireStepUp as honoStepUp } from '../../src/hono.js';
import { RequireStepUp } from '../../src/nestjs.js';
import { TEST_SECRET } from '../support/redis.js';

function clocked() {
  let now = 1_700_000_000_000;
  const store = new MemoryStore({ now: () => now, sweepIntervalMs: 0 });
  const manager = new TokenManager({ store, secret: TEST_SECRET });
  return { manager, at: (ms: number) => (now = ms), now: () => now };
}

describe('stepUpRequirement', () => {
  it('passes up to exactly maxAgeSeconds after the last authentication, on the store clock, and refuses one millisecond later', async () => {
    const { manager, at, now } = clocked();
    const check = stepUpRequirement(manager, { maxAgeSeconds: 300 });
    const start = now();
    const c = await manager.create('u');
    const verifyAt = async (ms: number) => {
      at(ms);
      const v = await manager.verify(c.token);
      if (!v.valid) throw new Error('invalid');
      expect(v.verifiedAtMs).toBe(ms);
      return check({ token: v.record, verifiedAtMs: v.verifiedAtMs });
    };
    expect(await verifyAt(start + 300_000)).toBeNull();
    const refused = await verifyAt(start + 300_001);
    expect(refused?.status).toBe(401);
    expect(refused?.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", error_description="more recent authentication is required: within the last 300 seconds", max_age="300"',
    );
    expect(refused?.body).toEqual({
      error: 'insufficient_user_authentication',
      reason: 'insufficient_user_authentication',
      message: 'more recent authentication is required: within the last 300 seconds',
      maxAgeSeconds: 300,
    });
    at(start + 400_000);
    expect((await manager.reauthenticate('u', c.tokenId))?.authenticatedAtMs).toBe(start + 400_000);
    expect(await verifyAt(start + 700_000)).toBeNull();
    expect(await verifyAt(start + 700_001)).not.toBeNull();
    expect(check(null)?.body).toMatchObject({ reason: 'missing_token' });
  });

  it('acr: the token must hold one of the levels; the challenge lists them in order, with max_age when the route has one', async () => {
    const { manager } = clocked();
    const check = stepUpRequirement(manager, { acr: ['hwk', 'mfa'], realm: 'admin' });
    const mfa = (await manager.create('u', { acr: 'mfa' })).record;
    const pwd = (await manager.create('u', { acr: 'pwd' })).record;
    expect(check({ token: mfa })).toBeNull();
    const refused = check({ token: pwd });
    expect(refused?.headers['WWW-Authenticate']).toBe(
      'Bearer realm="admin", error="insufficient_user_authentication", error_description="a different authentication level is required: hwk or mfa", acr_values="hwk mfa"',
    );
    expect(refused?.body).toMatchObject({ acrValues: ['hwk', 'mfa'] });
    expect(refused?.body).not.toHaveProperty('maxAgeSeconds');
  });

  it('refuses a bad requirement when the route is defined, in every adapter', () => {
    const { manager } = clocked();
    const bad: [unknown, RegExp][] = [
      [{}, /maxAgeSeconds, acr, or both/],
      [{ maxAgeSeconds: 0 }, /maxAgeSeconds/],
      [{ maxAgeSeconds: 1.5 }, /maxAgeSeconds/],
      [{ maxAgeSeconds: '300' }, /maxAgeSeconds/],
      [{ maxAgeSeconds: 400_000_000 }, /maxAgeSeconds/],
      [{ acr: '' }, /acr/],
      [{ acr: 'two words' }, /acr/],
      [{ acr: 5 }, /acr/],
      [{ maxAge: 300 }, /maxAge/],
      [null, /options must be an object/],
    ];
    for (const [options, message] of bad) {
      expect(() => checkStepUpRule('requireStepUp', options), JSON.stringify(options)).toThrow(message);
      expect(() => expressStepUp(manager, options as never)).toThrow(message);
      expect(() => koaStepUp(manager, options as never)).toThrow(message);
      expect(() => honoStepUp(manager, options as never)).toThrow(message);
      expect(() => RequireStepUp(options as never)).toThrow(message);
    }
    expect(() => expressStepUp(manager, { maxAgeSeconds: 60, realm: 'a"b' })).toThrow(/realm/);
    expect(checkStepUpRule('x', { maxAgeSeconds: 60, acr: ['mfa', 'mfa'] })).toEqual({
      maxAgeSeconds: 60,
      acrValues: ['mfa'],
    });
  });
});
