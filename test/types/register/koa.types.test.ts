/**
 * Type tests of `redis-multitokens/koa` with the app's user declared once in `Register` (./user.ts):
 * `ctx.state.auth.user` is that type without casts or type arguments, and `loadUser` must return it.
 * Checked by `tsc --noEmit -p test/types/register`.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { describe, expectTypeOf, it } from 'vitest';
import { TokenManager } from 'redis-multitokens';
import { optionalTokenAuth, requireScopes, tokenAuth, type TokenAuth } from 'redis-multitokens/koa';
import type { AppUser } from './user.js';

describe('koa types with a registered user', () => {
  it('ctx.state.auth.user is the registered user; loadUser must return it', () => {
    const manager = new TokenManager({ secret: 'x'.repeat(32) });
    const router = new Router();
    router.get(
      '/me',
      tokenAuth(manager, { loadUser: async (id) => ({ id, name: `user ${id}` }) }),
      requireScopes(manager, 'read'),
      (ctx) => {
        expectTypeOf(ctx.state.auth).toEqualTypeOf<TokenAuth<AppUser>>();
        expectTypeOf(ctx.state.auth.user.name).toEqualTypeOf<string>();
        // @ts-expect-error AppUser has no `email`
        void ctx.state.auth.user.email;
      },
    );
    router.get('/maybe', optionalTokenAuth(manager), (ctx) => {
      expectTypeOf(ctx.state.auth?.user).toEqualTypeOf<AppUser | undefined>();
    });
    // @ts-expect-error loadUser must return the registered user (or null/undefined/false)
    tokenAuth(manager, { loadUser: async (id: string) => ({ id }) });
    tokenAuth(manager, { loadUser: async () => null });
    new Koa().use(tokenAuth(manager)).use((ctx) => {
      expectTypeOf(ctx.state.auth.user).toEqualTypeOf<AppUser>();
    });
  });
});
