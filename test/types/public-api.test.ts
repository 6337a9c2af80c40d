/**
 * Type tests of the public API (checked by `tsc --noEmit`, which `npm test` runs; vitest runs them as
 * no-op assertions). They pin the shapes users code against.
 */
import express from 'express';
import { describe, expectTypeOf, it } from 'vitest';
import {
  TokenManager,
  type TokenRecord,
  type VerifyResult,
  type TokenEvents,
  type CreatedToken,
} from '../../src/index.js';
import { getAuth, tokenAuth, type TokenAuth } from '../../src/express.js';
import { IoredisStore } from '../../src/ioredis.js';

describe('public types', () => {
  it('TokenManager methods', () => {
    expectTypeOf<TokenManager['create']>().parameter(0).toEqualTypeOf<string | number | bigint>();
    expectTypeOf<ReturnType<TokenManager['create']>>().resolves.toEqualTypeOf<CreatedToken>();
    expectTypeOf<ReturnType<TokenManager['verify']>>().resolves.toEqualTypeOf<VerifyResult>();
    expectTypeOf<ReturnType<TokenManager['revokeAll']>>().resolves.toEqualTypeOf<string[]>();
    expectTypeOf<TokenRecord['expiresAtMs']>().toEqualTypeOf<number | null>();
    expectTypeOf<TokenRecord['jkt']>().toEqualTypeOf<string | null>();
    expectTypeOf<TokenEvents['revoked'][0]['reason']>().toEqualTypeOf<
      'logout' | 'logout-all' | 'logout-others' | 'evicted' | 'admin'
    >();
  });

  it('events: listeners typed by TokenEvents (the generic EventEmitter of @types/node >= 20.11.21)', () => {
    void ((m: TokenManager) => {
      m.on('verified', (e) => expectTypeOf(e.record).toEqualTypeOf<TokenRecord>());
      m.once('authFailed', (e) => expectTypeOf(e.tokenId).toEqualTypeOf<string | null>());
      // @ts-expect-error not an event of TokenManager
      m.on('verifyed', () => {});
      // @ts-expect-error the payload of `revoked` has no `record`
      m.on('revoked', (e) => e.record);
    });
  });

  it('verify narrows on `valid`', () => {
    const v = {} as VerifyResult;
    if (v.valid) expectTypeOf(v.record).toEqualTypeOf<TokenRecord>();
    else
      expectTypeOf(v.reason).toEqualTypeOf<
        'malformed' | 'invalid' | 'dpop_required' | 'dpop_mismatch' | 'dpop_replay' | 'dpop_unbound'
      >();
  });

  it('options: units in names, null only where documented', () => {
    // @ts-expect-error ttlSeconds takes seconds as a number, not a string
    void (() => new TokenManager({ secret: 'x'.repeat(32), ttlSeconds: '60' }));
    // @ts-expect-error touchIntervalSeconds cannot be null
    void (() => new TokenManager({ secret: 'x'.repeat(32), touchIntervalSeconds: null }));
    void (() =>
      new TokenManager({
        secret: 'x'.repeat(32),
        ttlSeconds: null,
        store: new IoredisStore({ url: 'redis://localhost' }),
      }));
  });

  it('Express: req.auth is typed, getAuth takes the app user type', () => {
    const app = express();
    const tokens = new TokenManager({ secret: 'x'.repeat(32) });
    app.get('/me', tokenAuth(tokens), (req) => {
      expectTypeOf(req.auth).toEqualTypeOf<TokenAuth | undefined>();
      expectTypeOf(getAuth<{ name: string }>(req).user.name).toEqualTypeOf<string>();
      expectTypeOf(getAuth(req).token).toEqualTypeOf<TokenRecord>();
    });
  });
});
