/**
 * Type tests of `redis-multitokens/nestjs` without a `Register` declaration (the user type is then
 * `unknown` unless given as a generic). Checked by `tsc --noEmit -p .`; vitest runs them as no-op
 * assertions. The typed-user variant with `Register` is test/types/register/nestjs.types.test.ts.
 */
import { Controller, Get, Inject, type CanActivate, type ExceptionFilter } from '@nestjs/common';
import type { Request as ExpressRequest } from 'express';
import type { FastifyRequest } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import { TokenManager } from '../../src/index.js';
import {
  CurrentAuth,
  CurrentUser,
  Device,
  OptionalAuth,
  Public,
  RequireScopes,
  TOKEN_MANAGER,
  type TokenAuthGuard,
  TokenAuthModule,
  type TokenErrorFilter,
  deviceFromRequest,
  requestAuth,
  type DeviceDetails,
  type TokenAuth,
} from '../../src/nestjs.js';

interface AppUser {
  id: string;
  name: string;
}

const manager = new TokenManager({ secret: 'x'.repeat(32) });

describe('nestjs types (no Register declaration)', () => {
  it('the user type is unknown by default, the generic where given', () => {
    expectTypeOf<CurrentUser>().toEqualTypeOf<unknown>();
    expectTypeOf<CurrentAuth>().toEqualTypeOf<TokenAuth<unknown>>();
    expectTypeOf<CurrentAuth<AppUser>['user']>().toEqualTypeOf<AppUser>();
    expectTypeOf(() => requestAuth<AppUser>({})).returns.toEqualTypeOf<TokenAuth<AppUser> | null>();
    expectTypeOf(() => requestAuth({})).returns.toEqualTypeOf<TokenAuth<unknown> | null>();
  });

  it('module options: loadUser returns the user type; scopes and optional are per route', () => {
    TokenAuthModule.forRoot<AppUser>({
      manager,
      loadUser: async (id) => ({ id, name: id }),
      realm: 'api',
      global: false,
    });
    TokenAuthModule.forRoot<AppUser>({ manager, loadUser: () => null });
    // @ts-expect-error loadUser must return the declared user (or null/undefined/false)
    void (() => TokenAuthModule.forRoot<AppUser>({ manager, loadUser: async (id: string) => ({ id }) }));
    // @ts-expect-error the manager is required
    void (() => TokenAuthModule.forRoot({ realm: 'api' }));
    // @ts-expect-error scopes are set per route with @RequireScopes
    void (() => TokenAuthModule.forRoot({ manager, scopes: ['admin'] }));
    TokenAuthModule.forRoot({ manager, errorBody: (r) => ({ code: r.body.reason, status: r.status }) });
    TokenAuthModule.forRootAsync({
      inject: ['CONFIG'],
      useFactory: async (config: { realm: string }) => ({ manager, realm: config.realm }),
    });
    // @ts-expect-error useFactory must give the module options (a manager)
    void (() => TokenAuthModule.forRootAsync({ useFactory: () => ({ realm: 'api' }) }));
  });

  it('decorators fit controllers and routes; param types come from the exported types', () => {
    @RequireScopes('read')
    @Controller('reports')
    class ReportsController {
      constructor(@Inject(TOKEN_MANAGER) readonly tokens: TokenManager) {}

      @RequireScopes('admin', ['audit'])
      @Get()
      list(@CurrentAuth() auth: CurrentAuth<AppUser>, @CurrentUser() user: AppUser, @Device() device: DeviceDetails) {
        expectTypeOf(auth.user.name).toEqualTypeOf<string>();
        expectTypeOf(auth.token.scopes).toEqualTypeOf<string[]>();
        expectTypeOf(device.ip).toEqualTypeOf<string | null>();
        // @ts-expect-error AppUser has no email
        void auth.user.email;
        return user.name;
      }

      @Public()
      @Get('open')
      open() {}

      @OptionalAuth()
      @Get('maybe')
      maybe(@CurrentAuth() auth: CurrentAuth | null) {
        // @ts-expect-error the default user is unknown: narrow it or declare Register
        void auth?.user.name;
      }
    }
    void ReportsController;
    // @ts-expect-error scopes are strings
    void (() => RequireScopes(1));
  });

  it('deviceFromRequest takes the request of either platform', () => {
    expectTypeOf(deviceFromRequest).toBeCallableWith({} as ExpressRequest);
    expectTypeOf(deviceFromRequest).toBeCallableWith({} as FastifyRequest);
    expectTypeOf(deviceFromRequest).returns.toEqualTypeOf<DeviceDetails>();
  });

  it('the guard and the filter are Nest enhancers', () => {
    expectTypeOf<TokenAuthGuard>().toExtend<CanActivate>();
    expectTypeOf<TokenErrorFilter>().toExtend<ExceptionFilter>();
    expectTypeOf<ConstructorParameters<typeof TokenErrorFilter>>().toExtend<
      [unknown?, { errorBody?: (r: never) => unknown }?]
    >();
  });
});
