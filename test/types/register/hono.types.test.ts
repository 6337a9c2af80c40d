/**
 * Type tests of `redis-multitokens/hono` with the app's user declared once in `Register` (./user.ts):
 * `c.get('auth').user` is that type without casts or type arguments, and `loadUser` must return it.
 * Checked by `tsc --noEmit -p test/types/register`.
 */
import { Hono } from 'hono';
import { describe, expectTypeOf, it } from 'vitest';
import { TokenManager } from 'redis-multitokens';
import { optionalTokenAuth, requireScopes, tokenAuth, type AuthEnv, type TokenAuth } from 'redis-multitokens/hono';
import type { AppUser } from './user.js';

describe('hono types with a registered user', () => {
  it("c.get('auth').user is the registered user; loadUser must return it", () => {
    const manager = new TokenManager({ secret: 'x'.repeat(32) });
    const app = new Hono();
    app.get(
      '/me',
      tokenAuth(manager, { loadUser: async (id) => ({ id, name: `user ${id}` }) }),
      requireScopes(manager, 'read'),
      (c) => {
        expectTypeOf(c.get('auth')).toEqualTypeOf<TokenAuth<AppUser>>();
        expectTypeOf(c.var.auth.user.name).toEqualTypeOf<string>();
        // @ts-expect-error AppUser has no `email`
        void c.get('auth').user.email;
        return c.text(c.get('auth').user.name);
      },
    );
    app.get('/maybe', optionalTokenAuth(manager), (c) => {
      expectTypeOf(c.get('auth')?.user).toEqualTypeOf<AppUser | undefined>();
      return c.text('ok');
    });
    // @ts-expect-error loadUser must return the registered user (or null/undefined/false)
    tokenAuth(manager, { loadUser: async (id: string) => ({ id }) });
    const typed = new Hono<AuthEnv>().use(tokenAuth(manager));
    typed.get('/x', (c) => c.text(c.get('auth').user.name));
  });
});
