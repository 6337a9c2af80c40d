/**
 * The HTTP contract suite (src/testing/http-suite.ts) on NestJS 11, on the Express platform and on the
 * Fastify platform, over the memory store and Redis. The contract app is the one every adapter builds:
 * TokenAuthModule.forRoot with the case's options, TokenAuthGuard as APP_GUARD, TokenErrorFilter as
 * APP_FILTER, and one controller with the contract's routes.
 */
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Inject, Module, Post, Req } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'vitest';
import type { TokenManager } from '../../src/index.js';
import {
  CurrentAuth,
  Device,
  dpopKeyFromRequest,
  type NestHttpRequest,
  OptionalAuth,
  Public,
  RequireScopes,
  RequireStepUp,
  TOKEN_MANAGER,
  TokenAuthGuard,
  TokenAuthModule,
  TokenErrorFilter,
  type DeviceDetails,
} from '../../src/nestjs.js';
import { httpContractCases, type HttpAdapterHarness, type HttpContractApp } from '../../src/testing/index.js';
import { contractStores } from '../support/contract.js';

@Controller()
class ContractController {
  constructor(@Inject(TOKEN_MANAGER) private readonly tokens: TokenManager) {}

  @Get('me')
  me(@CurrentAuth() auth: CurrentAuth) {
    return { userId: auth.userId, user: auth.user, tokenId: auth.token.tokenId, scopes: auth.token.scopes };
  }

  @OptionalAuth()
  @Get('optional')
  optional(@CurrentAuth() auth: CurrentAuth | null) {
    return { authenticated: auth !== null, userId: auth?.userId ?? null };
  }

  @RequireScopes('admin')
  @Get('scoped')
  scoped() {
    return { ok: true };
  }

  @RequireStepUp({ maxAgeSeconds: 1 })
  @Get('step-up')
  stepUp() {
    return { ok: true };
  }

  @RequireStepUp({ maxAgeSeconds: 600, acr: ['mfa', 'hwk'] })
  @Get('step-up-acr')
  stepUpAcr() {
    return { ok: true };
  }

  /** Errors of `create` are not caught here: they go to the exception filters (TokenErrorFilter). */
  @Public()
  @Post('login')
  @HttpCode(201)
  async login(
    @Body() body: { userId?: never; deviceName?: never } | undefined,
    @Device() device: DeviceDetails,
    @Req() req: NestHttpRequest,
  ) {
    const jkt = await dpopKeyFromRequest(req);
    const { token, tokenId, first, record } = await this.tokens.create(body?.userId as never, {
      deviceName: body?.deviceName,
      ...device,
      jkt,
    });
    return { token, tokenId, first, userAgent: record.userAgent, ip: record.ip };
  }

  @Get('devices')
  devices(@CurrentAuth() auth: CurrentAuth) {
    return this.tokens.list(auth.userId, { currentTokenId: auth.token.tokenId });
  }

  @Public()
  @Get('crash')
  crash() {
    throw new Error('boom');
  }
}

/** The contract app's root module for one case. */
export function nestContractModule({ manager, auth }: HttpContractApp) {
  @Module({
    imports: [TokenAuthModule.forRoot({ manager, ...auth })],
    controllers: [ContractController],
    providers: [
      { provide: APP_GUARD, useClass: TokenAuthGuard },
      { provide: APP_FILTER, useClass: TokenErrorFilter },
    ],
  })
  class ContractModule {}
  return ContractModule;
}

function harness(name: string, platform: 'express' | 'fastify'): HttpAdapterHarness {
  return {
    name,
    async start(contract) {
      const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
      const app = await NestFactory.create(nestContractModule(contract), adapter, {
        logger: false,
        abortOnError: false,
      });
      await app.listen(0, '127.0.0.1');
      return {
        url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`,
        close: () => app.close(),
      };
    },
  };
}

const stores = contractStores();
for (const h of [harness('nestjs 11 (express)', 'express'), harness('nestjs 11 (fastify)', 'fastify')])
  for (const [storeName, s] of stores)
    describe.concurrent(`${h.name} / ${storeName}`, () => {
      for (const c of httpContractCases(h, s)) it(c.name, c.run, c.timeoutMs);
    });
