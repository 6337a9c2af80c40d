/**
 * Type tests of `redis-multitokens/fastify` with the app's user declared once in `Register` (./user.ts):
 * `request.auth.user` is that type without casts, and `loadUser` must return it.
 * Checked by `tsc --noEmit -p test/types/register`.
 */
import Fastify from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import { TokenManager } from '../../../src/index.js';
import { tokenAuthPlugin, type TokenAuth } from '../../../src/fastify.js';
import type { AppUser } from './user.js';

describe('fastify types with a registered user', () => {
  it('request.auth.user is the registered user; loadUser must return it', async () => {
    const app = Fastify();
    const manager = new TokenManager({ secret: 'x'.repeat(32) });
    await app.register(tokenAuthPlugin, { manager, loadUser: async (id) => ({ id, name: `user ${id}` }) });
    // @ts-expect-error loadUser must return the registered user (or null/undefined/false)
    void (() => app.register(tokenAuthPlugin, { manager, loadUser: async (id: string) => ({ id }) }));
    void (() => app.register(tokenAuthPlugin, { manager, loadUser: async () => null }));

    app.get('/me', async (request) => {
      expectTypeOf(request.auth).toEqualTypeOf<TokenAuth<AppUser> | null>();
      if (!request.auth) return null;
      expectTypeOf(request.auth.user).toEqualTypeOf<AppUser>();
      expectTypeOf(request.auth.user.name).toEqualTypeOf<string>();
      // @ts-expect-error AppUser has no `email`
      void request.auth.user.email;
      return request.auth.user.name;
    });
    // @ts-expect-error per-route loadUser must return the registered user too
    void (() => app.tokenAuth({ loadUser: () => ({ id: 'x' }) }));
  });
});
