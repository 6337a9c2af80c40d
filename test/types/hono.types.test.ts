/**
 * Type tests of `redis-multitokens/hono` without a registered user type (checked by `tsc --noEmit -p .`;
 * vitest runs them as no-ops). With a `Register` declaration, see test/types/register/hono.types.test.ts.
 * The adapter declares nothing global (no `ContextVariableMap`): `c.get('auth')` is typed by the `Env`
 * of its middleware.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context, type ErrorHandler, type MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { describe, expectTypeOf, it } from 'vitest';
import { TokenManager, type TokenRecord } from '../../src/index.js';
import {
  deviceFromRequest,
  optionalTokenAuth,
  requireScopes,
  tokenAuth,
  tokenErrorHandler,
  type AuthEnv,
  type DeviceDetails,
  type OptionalAuthEnv,
  type TokenAuth,
} from '../../src/hono.js';

interface MyUser {
  id: string;
  name: string;
}

describe('hono types (no registered user)', () => {
  const manager = new TokenManager({ secret: 'x'.repeat(32) });

  it("c.get('auth') and c.var.auth: set after tokenAuth, optional after optionalTokenAuth", () => {
    const app = new Hono();
    app.get('/me', tokenAuth(manager), (c) => {
      expectTypeOf(c.get('auth')).toEqualTypeOf<TokenAuth<unknown>>();
      expectTypeOf(c.var.auth.token).toEqualTypeOf<TokenRecord>();
      // @ts-expect-error without a registered user type (or a type argument), user is unknown
      void c.get('auth').user.name;
      return c.json({ userId: c.get('auth').userId });
    });
    app.get('/typed', tokenAuth<MyUser>(manager, { loadUser: (id) => ({ id, name: 'n' }) }), (c) => {
      expectTypeOf(c.get('auth').user).toEqualTypeOf<MyUser>();
      // @ts-expect-error MyUser has no `email`
      void c.get('auth').user.email;
      return c.text(c.get('auth').user.name);
    });
    // Without a registered user type, the user type is inferred from loadUser.
    app.get('/inferred', tokenAuth(manager, { loadUser: async (id) => ({ id, plan: 'pro' as const }) }), (c) => {
      expectTypeOf(c.get('auth').user.plan).toEqualTypeOf<'pro'>();
      return c.text('ok');
    });
    app.get('/optional', optionalTokenAuth(manager), (c) => {
      expectTypeOf(c.get('auth')).toEqualTypeOf<TokenAuth<unknown> | undefined>();
      // @ts-expect-error possibly undefined on an anonymous request
      void c.get('auth').userId;
      return c.text('ok');
    });
    app.get(
      '/admin',
      tokenAuth<MyUser>(manager, { realm: 'admin' }),
      requireScopes(manager, ['admin'], { realm: 'admin' }),
      (c) => {
        expectTypeOf(c.get('auth').user.name).toEqualTypeOf<string>();
        return c.text('ok');
      },
    );
    app.get('/write', tokenAuth(manager), requireScopes(manager, 'read', ['write']), (c) =>
      c.text(c.get('auth').userId),
    );
    // @ts-expect-error no middleware, no `auth` variable
    app.get('/none', (c) => c.text(c.get('auth').userId));
  });

  it('an app typed with the Env up front; another Env beside it; option types', () => {
    const app = new Hono<AuthEnv<MyUser>>();
    app.use(tokenAuth<MyUser>(manager));
    app.get('/x', (c) => c.text(c.get('auth').user.name));
    const other = createMiddleware<{ Variables: { requestId: string } }>(async (_c, next) => next());
    new Hono().get('/both', other, tokenAuth(manager), (c) => {
      expectTypeOf(c.get('requestId')).toEqualTypeOf<string>();
      expectTypeOf(c.get('auth').userId).toEqualTypeOf<string>();
      return c.text('ok');
    });
    app.onError(tokenErrorHandler());
    app.onError(
      tokenErrorHandler({ fallback: (_err, c) => c.text('oops', 500), errorBody: (r) => ({ code: r.body.reason }) }),
    );

    expectTypeOf(tokenAuth(manager)).toEqualTypeOf<MiddlewareHandler<AuthEnv<unknown>>>();
    expectTypeOf(optionalTokenAuth(manager)).toEqualTypeOf<MiddlewareHandler<OptionalAuthEnv<unknown>>>();
    expectTypeOf(tokenErrorHandler()).toEqualTypeOf<ErrorHandler>();
    // @ts-expect-error scopes is an array
    void (() => tokenAuth(manager, { scopes: 'admin' }));
    // @ts-expect-error loadUser must return the type argument's user
    tokenAuth<MyUser>(manager, { loadUser: (id) => ({ id }) });
    // @ts-expect-error fallback is an error handler
    void (() => tokenErrorHandler({ fallback: 'json' }));
    // @ts-expect-error requireScopes takes the manager first
    void (() => requireScopes('admin'));
  });

  it('deviceFromRequest: a Hono context and where the IP comes from', () => {
    const c = {} as Context;
    expectTypeOf(deviceFromRequest).returns.toEqualTypeOf<DeviceDetails>();
    void (() => expectTypeOf(deviceFromRequest(c, { getConnInfo })).toEqualTypeOf<DeviceDetails>());
    void (() => deviceFromRequest(c, { proxyHops: 1 }));
    // @ts-expect-error proxyHops is a number of proxies
    void (() => deviceFromRequest(c, { proxyHops: true }));
    // @ts-expect-error getConnInfo is a function of the context
    void (() => deviceFromRequest(c, { getConnInfo: '127.0.0.1' }));
  });
});
