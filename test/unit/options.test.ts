/**
 * Option validation at construction (before any store call): wrong types are TypeErrors, values out of
 * range are RangeErrors, each naming the option; `null` is the only way to ask for immortal tokens.
 */
import { describe, expect, it } from 'vitest';
import { TokenManager, type TokenManagerOptions } from '../../src/index.js';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../src/core/errors.js';
import type { Store } from '../../src/core/store.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { TEST_SECRET } from '../support/redis.js';

/** A real MemoryStore whose every method call is recorded: construction must make none. */
function recordingStore(): { store: Store; calls: string[] } {
  const inner = new MemoryStore({ sweepIntervalMs: 0 });
  const calls: string[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return v.apply(target, args);
      };
    },
  });
  return { store, calls };
}

const make = (o: Partial<TokenManagerOptions> & Record<string, unknown>) => () =>
  new TokenManager({ secret: TEST_SECRET, ...o } as TokenManagerOptions);

describe('TokenManager options', () => {
  const durationOptions = ['ttlSeconds', 'touchIntervalSeconds', 'absoluteLifetimeSeconds'] as const;
  describe.each(durationOptions)('%s', (name) => {
    it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 10 * 365 * 24 * 3600 + 1, -0.5])(
      'rejects %s with a RangeError naming it',
      (value) => {
        expect(make({ [name]: value })).toThrow(InvalidArgumentValueError);
        expect(make({ [name]: value })).toThrow(new RegExp(name));
      },
    );
    it.each(['60', true, {}, [], 10n])('rejects %s (wrong type) with a TypeError naming it', (value) => {
      expect(make({ [name]: value })).toThrow(InvalidArgumentTypeError);
      expect(make({ [name]: value })).toThrow(new RegExp(name));
    });
  });

  it('zero: only touchIntervalSeconds accepts it', () => {
    expect(make({ ttlSeconds: 0 })).toThrow(/ttlSeconds/);
    expect(make({ absoluteLifetimeSeconds: 0 })).toThrow(/absoluteLifetimeSeconds/);
    expect(make({ touchIntervalSeconds: 0 })).not.toThrow();
  });

  it('null means immortal for ttlSeconds only, and "none" for absoluteLifetimeSeconds; touchIntervalSeconds refuses it', () => {
    expect(make({ ttlSeconds: null })).not.toThrow();
    expect(make({ absoluteLifetimeSeconds: null })).not.toThrow();
    expect(make({ touchIntervalSeconds: null as never })).toThrow(InvalidArgumentTypeError);
  });

  it('per-token ttlSeconds is checked the same way, before any store call', async () => {
    const { store, calls } = recordingStore();
    const m = new TokenManager({ store, secret: TEST_SECRET });
    for (const bad of [-5, 0, 1.5, Number.NaN, '60', 10 ** 12])
      await expect(m.create('u', { ttlSeconds: bad as number })).rejects.toThrow(/ttlSeconds/);
    expect(calls).toEqual([]);
    const immortal = await m.create('u', { ttlSeconds: null });
    expect(immortal.record.expiresAtMs).toBeNull();
  });

  it.each([
    [{ renew: 'always' }, /renew/],
    [{ limitPolicy: 'drop' }, /limitPolicy/],
    [{ maxTokensPerUser: 0 }, /maxTokensPerUser/],
    [{ maxTokensPerUser: 10_001 }, /maxTokensPerUser/],
    [{ maxTokensPerUser: 2.5 }, /maxTokensPerUser/],
    [{ overwriteNoneTtl: 'yes' }, /overwriteNoneTtl/],
    [{ maxMetadataBytes: -1 }, /maxMetadataBytes/],
    [{ maxFailedVerifications: 0 }, /maxFailedVerifications/],
    [{ failedVerificationWindowSeconds: 0 }, /failedVerificationWindowSeconds/],
  ] as [Record<string, unknown>, RegExp][])('rejects %o naming the option', (o, re) => {
    expect(make(o)).toThrow(re);
  });

  it('refuses unknown (misspelt) options instead of silently using a default', async () => {
    expect(make({ ttl: 5 })).toThrow(/unknown option `ttl`.*ttlSeconds/);
    const m = new TokenManager({ secret: TEST_SECRET });
    await expect(m.create('u', { deviceNmae: 'x' } as never)).rejects.toThrow(
      /unknown option `deviceNmae`.*deviceName/,
    );
  });

  it('a whole token where a token id is expected is a loud error; a bad revoke reason too', async () => {
    await expect(new TokenManager({ secret: TEST_SECRET }).revokeById('u', 123 as never)).rejects.toThrow(
      InvalidArgumentTypeError,
    );
    await expect(new TokenManager({ secret: TEST_SECRET }).list('u', null as never)).rejects.toThrow(
      InvalidArgumentTypeError,
    );
    await expect(new TokenManager({ secret: TEST_SECRET }).list('u', { current: 'x' } as never)).rejects.toThrow(
      /unknown option `current`/,
    );
    const m = new TokenManager({ secret: TEST_SECRET });
    const c = await m.create('u');
    await expect(m.revokeById('u', c.token)).rejects.toThrow(
      /token id.*not the token itself; to revoke by the token use revoke\(token\)$/,
    );
    await expect(m.revokeOthers('u', c.token)).rejects.toThrow(
      /^revokeOthers .*not the token itself; pass the id of the token to keep/,
    );
    await expect(m.list('u', { currentTokenId: c.token })).rejects.toThrow(
      /^list .*not the token itself; pass the id of the calling token as currentTokenId/,
    );
    // Each hint fits its caller: reauthenticate never suggests revoking.
    const hint = await m.reauthenticate('u', c.token).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(hint).toMatch(
      /^reauthenticate takes a token id .*not the token itself; pass the id of the token whose user just proved who they are/,
    );
    expect(hint).not.toMatch(/revoke/);
    await expect(m.revokeById('u', c.tokenId, { reason: 'oops' as never })).rejects.toThrow(/reason/);
    expect((await m.verify(c.token)).valid).toBe(true);
    expect(await m.revokeById('u', 'not-an-id')).toBe(false);
  });

  it('refuses to start without a secret of at least 32 bytes, naming the option', () => {
    expect(() => new TokenManager({} as TokenManagerOptions)).toThrow(/secret/);
    expect(make({ secret: 'short' })).toThrow(/at least 32 bytes/);
    expect(make({ secret: 'é'.repeat(16) })).not.toThrow(); // 32 UTF-8 bytes
    expect(make({ secret: 'x'.repeat(31) })).toThrow(InvalidArgumentValueError);
    expect(make({ secret: [] })).toThrow(/at least one key/);
    expect(
      make({
        secret: [
          { id: 'a', secret: TEST_SECRET },
          { id: 'a', secret: TEST_SECRET },
        ],
      }),
    ).toThrow(/duplicate/);
    expect(make({ secret: [{ id: 'bad id!', secret: TEST_SECRET }] })).toThrow(/id/);
    expect(make({ secret: 42 as never })).toThrow(InvalidArgumentTypeError);
    expect(() => new TokenManager(undefined as never)).toThrow(InvalidArgumentTypeError);
  });

  it('constructs without any store call, with the documented defaults', async () => {
    const { store, calls } = recordingStore();
    const m = new TokenManager({ store, secret: TEST_SECRET });
    expect(calls).toEqual([]);
    const c = await m.create('u');
    expect(c.record.expiresAtMs! - c.record.createdAtMs).toBe(14 * 24 * 3600 * 1000);
    expect(c.record.absoluteExpiresAtMs).toBeNull();
  });

  it('create: bad user ids and options are typed errors before any store call', async () => {
    const { store, calls } = recordingStore();
    const m = new TokenManager({ store, secret: TEST_SECRET });
    for (const bad of ['', Number.NaN, 1.5, {}, null, undefined, [], 'x'.repeat(257), '\uD800', 10n ** 300n])
      await expect(m.create(bad as never)).rejects.toSatisfy(
        (e: unknown) =>
          (e instanceof InvalidArgumentTypeError || e instanceof InvalidArgumentValueError) &&
          /userId/.test((e as Error).message),
      );
    await expect(m.create('u', { scopes: ['has space'] })).rejects.toThrow(/scopes/);
    await expect(m.create('u', { scopes: 'read' as never })).rejects.toThrow(/scopes/);
    await expect(m.create('u', { deviceName: 42 as never })).rejects.toThrow(/deviceName/);
    expect(calls).toEqual([]);
  });
});

describe('verifyCache option', () => {
  it.each([
    [{ maxEntries: 0 }, InvalidArgumentValueError, /verifyCache\.maxEntries/],
    [{ maxEntries: 1.5 }, InvalidArgumentValueError, /verifyCache\.maxEntries/],
    [{ maxEntries: 1_000_001 }, InvalidArgumentValueError, /verifyCache\.maxEntries/],
    [{ maxStalenessMs: 9 }, InvalidArgumentValueError, /verifyCache\.maxStalenessMs/],
    [{ maxStalenessMs: 60_001 }, InvalidArgumentValueError, /verifyCache\.maxStalenessMs/],
    [{ maxStalenessMs: '1000' }, InvalidArgumentTypeError, /verifyCache\.maxStalenessMs/],
    [{ maxStaleness: 1000 }, InvalidArgumentTypeError, /unknown option `maxStaleness`/],
    [true, InvalidArgumentTypeError, /verifyCache must be an object/],
    [[], InvalidArgumentTypeError, /verifyCache must be an object/],
  ])('%j is refused with a typed error naming the field', (value, type, message) => {
    expect(make({ verifyCache: value as never })).toThrow(type);
    expect(make({ verifyCache: value as never })).toThrow(message);
  });

  it('is off by default and with null or false (no stats); {} gives the defaults', async () => {
    for (const v of [undefined, null, false] as const)
      expect(new TokenManager({ secret: TEST_SECRET, verifyCache: v }).verifyCacheStats).toBeNull();
    const m = new TokenManager({ secret: TEST_SECRET, verifyCache: {} });
    expect(m.verifyCacheStats).toEqual({ hits: 0, misses: 0, entries: 0, active: true, resets: 0 });
    await m.close();
  });

  it('a store without watchRevocations is refused by name', () => {
    const { store } = recordingStore();
    const bare: Store = {
      create: store.create.bind(store),
      verify: store.verify.bind(store),
      revokeToken: store.revokeToken.bind(store),
      revokeById: store.revokeById.bind(store),
      revokeAll: store.revokeAll.bind(store),
      list: store.list.bind(store),
      lookup: store.lookup.bind(store),
      reauthenticate: store.reauthenticate.bind(store),
    };
    expect(make({ store: bare, verifyCache: {} })).toThrow(/verifyCache needs a store .*watchRevocations/);
  });

  it('records served by the cache are frozen (a caller cannot change what the next request gets), with the stored scopes', async () => {
    const m = new TokenManager({ secret: TEST_SECRET, verifyCache: {} });
    const t = await m.create('u', { scopes: ['read'], metadata: { plan: { tier: 'pro' } } });
    const a = await m.verify(t.token);
    const b = await m.verify(t.token);
    expect(m.verifyCacheStats!.hits).toBe(1);
    if (!a.valid || !b.valid) throw new Error('valid');
    expect(b.record).toBe(a.record);
    expect(() => (b.record.scopes as string[]).push('admin')).toThrow(TypeError);
    expect(() => ((b.record.metadata as { plan: { tier: string } }).plan.tier = 'free')).toThrow(TypeError);
    expect(b.record.scopes).toEqual(['read']);
    await m.close();
  });
});

describe('MemoryStore options', () => {
  it('refuses an unknown option, a bad clock and a sweep interval that is not a whole number of milliseconds from 0 to one day', () => {
    expect(() => new MemoryStore({ sweepInterval: 5 } as never)).toThrow(
      /MemoryStore: unknown option `sweepInterval` \(did you mean `sweepIntervalMs`\?\)/,
    );
    expect(() => new MemoryStore({ sweepIntervalMs: -1 })).toThrow(RangeError);
    expect(() => new MemoryStore({ sweepIntervalMs: 1.5 })).toThrow(
      /sweepIntervalMs must be a whole number from 0 to 86400000/,
    );
    expect(() => new MemoryStore({ sweepIntervalMs: 'x' as never })).toThrow(TypeError);
    expect(() => new MemoryStore({ now: 5 as never })).toThrow(/now must be a function/);
    expect(() => new MemoryStore(null as never)).toThrow(TypeError);
    const ok = new MemoryStore({ sweepIntervalMs: 0, now: () => 1 });
    expect(ok.size).toBe(0);
  });
});
