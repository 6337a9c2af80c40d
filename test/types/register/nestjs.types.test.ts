/**
 * Type tests of `redis-multitokens/nestjs` with the app's user declared once in `Register` (./user.ts):
 * `CurrentUser`, `CurrentAuth['user']`, `requestAuth(req).user` are that type without casts or generics,
 * and the module's `loadUser` must return it. Checked by `tsc --noEmit -p test/types/register`.
 */
import { Controller, Get } from '@nestjs/common';
import { describe, expectTypeOf, it } from 'vitest';
import { TokenManager } from '../../../src/index.js';
import { CurrentAuth, CurrentUser, TokenAuthModule, requestAuth, type TokenAuth } from '../../../src/nestjs.js';
import type { AppUser } from './user.js';

const manager = new TokenManager({ secret: 'x'.repeat(32) });

describe('nestjs types with a registered user', () => {
  it('the decorators types are the registered user', () => {
    expectTypeOf<CurrentUser>().toEqualTypeOf<AppUser>();
    expectTypeOf<CurrentAuth['user']>().toEqualTypeOf<AppUser>();
    expectTypeOf(() => requestAuth({})).returns.toEqualTypeOf<TokenAuth<AppUser> | null>();

    @Controller()
    class MeController {
      @Get('me')
      me(@CurrentAuth() auth: CurrentAuth, @CurrentUser() user: CurrentUser) {
        expectTypeOf(auth.user.name).toEqualTypeOf<string>();
        // @ts-expect-error AppUser has no email
        void user.email;
        return user.name;
      }
    }
    void MeController;
  });

  it('loadUser must return the registered user', () => {
    TokenAuthModule.forRoot({ manager, loadUser: async (id) => ({ id, name: `user ${id}` }) });
    TokenAuthModule.forRoot({ manager, loadUser: async () => null });
    // @ts-expect-error loadUser must return the registered user (or null/undefined/false)
    void (() => TokenAuthModule.forRoot({ manager, loadUser: async (id: string) => ({ id }) }));
    TokenAuthModule.forRootAsync({ useFactory: () => ({ manager, loadUser: (id: string) => ({ id, name: id }) }) });
    // @ts-expect-error the factory's loadUser must return the registered user too
    void (() => TokenAuthModule.forRootAsync({ useFactory: () => ({ manager, loadUser: (id: string) => ({ id }) }) }));
  });
});
