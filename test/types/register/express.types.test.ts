/**
 * Type tests of `redis-multitokens/express` with the app's user declared once in `Register` (./user.ts):
 * `req.auth.user` and `getAuth(req).user` are that type without casts, and `loadUser` must return it.
 * Checked by `tsc --noEmit -p test/types/register`.
 */
import express from 'express';
import { describe, expectTypeOf, it } from 'vitest';
import { TokenManager, type RegisteredUser } from '../../../src/index.js';
import {
  getAuth,
  optionalTokenAuth,
  requireScopes,
  tokenAuth,
  tokenErrorHandler,
  type TokenAuth,
} from '../../../src/express.js';
import type { AppUser } from './user.js';

describe('express types with a registered user', () => {
  it('req.auth.user and getAuth(req).user are the registered user; loadUser must return it', () => {
    expectTypeOf<RegisteredUser>().toEqualTypeOf<AppUser>();
    const app = express();
    const manager = new TokenManager({ secret: 'x'.repeat(32) });
    const auth = tokenAuth(manager, { loadUser: async (id) => ({ id, name: `user ${id}` }) });
    // @ts-expect-error loadUser must return the registered user (or null/undefined/false)
    void (() => tokenAuth(manager, { loadUser: async (id: string) => ({ id }) }));
    // @ts-expect-error the optional variant too
    void (() => optionalTokenAuth(manager, { loadUser: () => ({ name: 'no id' }) }));
    void (() => tokenAuth(manager, { loadUser: () => null }));

    app.get('/me', auth, requireScopes(manager, ['admin'], { realm: 'admin' }), (req, res) => {
      expectTypeOf(req.auth).toEqualTypeOf<TokenAuth<AppUser> | undefined>();
      expectTypeOf(req.auth!.user.name).toEqualTypeOf<string>();
      expectTypeOf(getAuth(req).user).toEqualTypeOf<AppUser>();
      // @ts-expect-error AppUser has no `email`
      void getAuth(req).user.email;
      res.json(getAuth(req).user);
    });
    app.use(tokenErrorHandler({ errorBody: (r) => ({ code: r.body.reason }) }));
    // @ts-expect-error requireScopes options take realm and errorBody only
    void (() => requireScopes(manager, ['admin'], { realms: 'x' }));
  });
});
