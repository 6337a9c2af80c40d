/**
 * `redis-multitokens/nestjs` as a user gets it from the built package (dist/, made by `npm run build`
 * before the tests): it loads as ESM and as CommonJS with the same names (its classes are decorated by
 * plain calls, so the build needs no decorator support), and an app that mixes copies (the ESM core's
 * TokenManager, the CommonJS module, guard and filter: the dual-package hazard, as in a Nest app built to
 * CommonJS whose config code is ESM) still answers a Redis outage with 503 and Retry-After, from the
 * guard and from TokenErrorFilter for an error thrown in a route, never a 500.
 */
import 'reflect-metadata';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module, Post } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/redis-server.js';
import { TEST_SECRET } from '../support/redis.js';

const require = createRequire(import.meta.url);
type NestEntry = typeof import('../../src/nestjs.js');

describe('redis-multitokens/nestjs from dist', () => {
  it('loads as ESM and as CommonJS with the same export names', async () => {
    const esm = (await import('redis-multitokens/nestjs')) as Record<string, unknown>;
    const cjs = require('redis-multitokens/nestjs') as Record<string, unknown>;
    expect(Object.keys(esm).sort()).toEqual(
      [
        'CurrentAuth',
        'CurrentUser',
        'Device',
        'IS_PUBLIC_KEY',
        'OPTIONAL_AUTH_KEY',
        'OptionalAuth',
        'Public',
        'REQUIRED_SCOPES_KEY',
        'REQUIRED_STEP_UP_KEY',
        'RequireScopes',
        'RequireStepUp',
        'TOKEN_AUTH_OPTIONS',
        'TOKEN_MANAGER',
        'TokenAuthException',
        'TokenAuthGuard',
        'TokenAuthModule',
        'TokenErrorFilter',
        'deviceFromRequest',
        'dpopKeyFromRequest',
        'requestAuth',
      ].sort(),
    );
    expect(Object.keys(cjs).sort()).toEqual(Object.keys(esm).sort());
  });

  it('an ESM TokenManager with the CommonJS module: a Redis outage is 503 + Retry-After, not 500', async () => {
    const core = (await import('redis-multitokens')) as typeof import('../../src/index.js');
    const { IoredisStore } = (await import('redis-multitokens/ioredis')) as typeof import('../../src/ioredis.js');
    const nest = require('redis-multitokens/nestjs') as NestEntry;
    const store = new IoredisStore({
      url: `redis://127.0.0.1:${await freePort()}`,
      keyPrefix: 'rmt-test:nestjs-dual:',
      commandTimeoutMs: 300,
    });
    const manager = new core.TokenManager({ secret: TEST_SECRET, store });

    @Controller()
    class Routes {
      @Get('me')
      me() {
        return { ok: true };
      }

      @nest.Public()
      @Post('login')
      login() {
        return manager.create('u1');
      }
    }
    @Module({
      imports: [nest.TokenAuthModule.forRoot({ manager })],
      controllers: [Routes],
      providers: [
        { provide: APP_GUARD, useClass: nest.TokenAuthGuard },
        { provide: APP_FILTER, useClass: nest.TokenErrorFilter },
      ],
    })
    class AppModule {}

    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    try {
      await app.listen(0, '127.0.0.1');
      const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
      const token = 'rmt_6b86b273kind5FntlMJiNnZWLEv8upYpB2FxXselUtFdeFWkrT2snjUJBt2VrKe6Fnb1ShqlY';
      for (const r of [
        await fetch(`${base}/me`, { headers: { authorization: `Bearer ${token}` } }),
        await fetch(`${base}/login`, { method: 'POST' }),
      ]) {
        expect(r.status).toBe(503);
        expect(r.headers.get('retry-after')).toBe('1');
        expect(await r.json()).toMatchObject({ reason: 'store_unavailable' });
      }
    } finally {
      await app.close();
      await manager.close();
    }
  });
});
