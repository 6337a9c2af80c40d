/**
 * Type tests of `redis-multitokens/fastify` without a registered user type (checked by `tsc --noEmit -p .`;
 * vitest runs them as no-ops). With a `Register` declaration, see test/types/register/fastify.types.test.ts.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import { TokenManager, type TokenRecord } from '../../src/index.js';
import {
  deviceFromRequest,
  tokenAuthPlugin,
  tokenErrorHandler,
  type DeviceDetails,
  type TokenAuth,
  type TokenAuthHook,
} from '../../src/fastify.js';

describe('fastify types (no registered user)', () => {
  it('request.auth, the plugin options, the route hooks, the error handler', async () => {
    const app = Fastify();
    const manager = new TokenManager({ secret: 'x'.repeat(32) });
    await app.register(tokenAuthPlugin, { manager, loadUser: async (id) => ({ id }), realm: 'api', global: false });
    // @ts-expect-error the manager is required
    void (() => app.register(tokenAuthPlugin, { loadUser: async (id: string) => ({ id }) }));
    // @ts-expect-error scopes is an array
    void (() => app.register(tokenAuthPlugin, { manager, scopes: 'admin' }));
    // @ts-expect-error global is a boolean
    void (() => app.register(tokenAuthPlugin, { manager, global: 'yes' }));

    app.get('/me', { onRequest: app.tokenAuth() }, async (request) => {
      expectTypeOf(request.auth).toEqualTypeOf<TokenAuth | null>();
      expectTypeOf(request.auth!.token).toEqualTypeOf<TokenRecord>();
      expectTypeOf(request.auth!.userId).toEqualTypeOf<string>();
      expectTypeOf(request.auth!.user).toBeUnknown();
      // @ts-expect-error without a registered user type, user is unknown
      void request.auth!.user.name;
      return { ok: true };
    });
    // Hooks fit onRequest and preHandler, in routes with typed generics too, alone or in arrays.
    app.post<{ Body: { userId: string } }>(
      '/x',
      { onRequest: [app.tokenAuth({ optional: true })], preHandler: app.requireScopes('admin', ['write']) },
      async (request) => request.body.userId,
    );
    // Calls that must not compile are wrapped in functions that never run.
    // @ts-expect-error per-route options are optional/scopes/realm/loadUser only
    void (() => app.tokenAuth({ manager }));
    // @ts-expect-error scopes are strings
    void (() => app.requireScopes(1));
    // The realm (and errorBody) of a scope check, as the other adapters' requireScopes.
    expectTypeOf(
      app.requireScopes(['admin'], { realm: 'admin', errorBody: (r) => r.body.reason }),
    ).toEqualTypeOf<TokenAuthHook>();
    // @ts-expect-error requireScopes options take realm and errorBody only
    void (() => app.requireScopes(['admin'], { realms: 'x' }));

    app.setErrorHandler(tokenErrorHandler());
    expectTypeOf(deviceFromRequest).parameter(0).toEqualTypeOf<FastifyRequest>();
    expectTypeOf(deviceFromRequest).returns.toEqualTypeOf<DeviceDetails>();
    expectTypeOf<DeviceDetails>().toEqualTypeOf<{ userAgent: string | null; ip: string | null }>();
    expectTypeOf(tokenErrorHandler()).returns.toEqualTypeOf<FastifyReply>();
    // @ts-expect-error errorBody is a function
    void (() => tokenErrorHandler({ errorBody: 'json' }));
  });
});
