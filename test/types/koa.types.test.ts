/**
 * Type tests of `redis-multitokens/koa` without a registered user type (checked by `tsc --noEmit -p .`;
 * vitest runs them as no-ops). With a `Register` declaration, see test/types/register/koa.types.test.ts.
 * The adapter declares nothing global: `ctx.state.auth` is typed by the state type of its middleware.
 */
import Router from '@koa/router';
import Koa, { type Middleware, type ParameterizedContext } from 'koa';
import { describe, expectTypeOf, it } from 'vitest';
import { TokenManager, type TokenRecord } from '../../src/index.js';
import {
  deviceFromRequest,
  optionalTokenAuth,
  requireScopes,
  tokenAuth,
  tokenErrorHandler,
  type AuthState,
  type DeviceDetails,
  type OptionalAuthState,
  type TokenAuth,
} from '../../src/koa.js';

interface MyUser {
  id: string;
  name: string;
}

describe('koa types (no registered user)', () => {
  const manager = new TokenManager({ secret: 'x'.repeat(32) });

  it('ctx.state.auth on router routes: set after tokenAuth, optional after optionalTokenAuth', () => {
    const router = new Router();
    router.get('/me', tokenAuth(manager), (ctx) => {
      expectTypeOf(ctx.state.auth).toEqualTypeOf<TokenAuth<unknown>>();
      expectTypeOf(ctx.state.auth.token).toEqualTypeOf<TokenRecord>();
      expectTypeOf(ctx.state.auth.userId).toEqualTypeOf<string>();
      // @ts-expect-error without a registered user type (or a type argument), user is unknown
      void ctx.state.auth.user.name;
    });
    router.get('/typed', tokenAuth<MyUser>(manager, { loadUser: (id) => ({ id, name: 'n' }) }), (ctx) => {
      expectTypeOf(ctx.state.auth.user).toEqualTypeOf<MyUser>();
      // @ts-expect-error MyUser has no `email`
      void ctx.state.auth.user.email;
    });
    // Without a registered user type, the user type is inferred from loadUser.
    router.get('/inferred', tokenAuth(manager, { loadUser: async (id) => ({ id, plan: 'pro' as const }) }), (ctx) => {
      expectTypeOf(ctx.state.auth.user.plan).toEqualTypeOf<'pro'>();
    });
    router.get('/optional', optionalTokenAuth(manager), (ctx) => {
      expectTypeOf(ctx.state.auth).toEqualTypeOf<TokenAuth<unknown> | undefined>();
      // @ts-expect-error possibly undefined on an anonymous request
      void ctx.state.auth.userId;
    });
    router.get('/optional-flag', tokenAuth(manager, { optional: true }), (ctx) => {
      expectTypeOf(ctx.state.auth).toEqualTypeOf<TokenAuth<unknown> | undefined>();
    });
    // requireScopes composes with tokenAuth, in both call forms.
    router.get(
      '/admin',
      tokenAuth<MyUser>(manager, { realm: 'admin' }),
      requireScopes(manager, ['admin'], { realm: 'admin' }),
      (ctx) => {
        expectTypeOf(ctx.state.auth.user.name).toEqualTypeOf<string>();
      },
    );
    router.get('/write', tokenAuth(manager), requireScopes(manager, 'read', ['write']), (ctx) => {
      expectTypeOf(ctx.state.auth.userId).toEqualTypeOf<string>();
    });
  });

  it('app.use chains carry the state; middleware and option types', () => {
    const app = new Koa();
    app
      .use(tokenErrorHandler())
      .use(tokenAuth<MyUser>(manager))
      .use((ctx) => {
        expectTypeOf(ctx.state.auth.user).toEqualTypeOf<MyUser>();
      });
    // An app typed with the state up front, for routes registered apart from the middleware.
    const typed = new Router<AuthState<MyUser>>();
    typed.get('/x', (ctx) => {
      expectTypeOf(ctx.state.auth.user.name).toEqualTypeOf<string>();
    });
    // Another library's state (koa-jwt's `user`, say) sits beside `auth` without a clash. (@koa/router
    // infers one middleware's state per route: give the other one as the router's state.)
    const jwt: Middleware<{ user: { sub: string } }> = async (_ctx, next) => next();
    new Router<{ user: { sub: string } }>().get('/both', jwt, tokenAuth(manager), (ctx) => {
      expectTypeOf(ctx.state.user.sub).toEqualTypeOf<string>();
      expectTypeOf(ctx.state.auth.userId).toEqualTypeOf<string>();
    });

    expectTypeOf(tokenAuth(manager)).toEqualTypeOf<Middleware<AuthState<unknown>>>();
    expectTypeOf(optionalTokenAuth(manager)).toEqualTypeOf<Middleware<OptionalAuthState<unknown>>>();
    expectTypeOf(tokenErrorHandler()).toEqualTypeOf<Middleware>();
    // @ts-expect-error scopes is an array
    void (() => tokenAuth(manager, { scopes: 'admin' }));
    // @ts-expect-error optionalTokenAuth takes no `optional`
    void (() => optionalTokenAuth(manager, { optional: false }));
    // @ts-expect-error loadUser must return the type argument's user
    tokenAuth<MyUser>(manager, { loadUser: (id) => ({ id }) });
    // @ts-expect-error scopes are strings
    void (() => requireScopes(manager, 1));
    // @ts-expect-error errorBody is a function
    void (() => tokenErrorHandler({ errorBody: 'json' }));
    // @ts-expect-error the manager comes first
    void (() => tokenAuth({ realm: 'api' }));
  });

  it('deviceFromRequest takes any Koa context', () => {
    void (() => expectTypeOf(deviceFromRequest({} as ParameterizedContext<AuthState>)).toEqualTypeOf<DeviceDetails>());
    expectTypeOf<DeviceDetails>().toEqualTypeOf<{ userAgent: string | null; ip: string | null }>();
  });
});
