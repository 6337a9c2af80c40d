/**
 * The demo API on NestJS 11 (the Express platform by default; `createNestDemoServer(options, 'fastify')`
 * runs it on the Fastify platform): routes to the framework-free handlers of demo/api.ts,
 * authentication by `redis-multitokens/nestjs` (TokenAuthModule, TokenAuthGuard as APP_GUARD, @Public
 * on the open routes), the devices page from `publicFile` as StreamableFile answers, and one exception
 * filter that sends the guard's refusals as they are and every other error through the demo's handler.
 *
 * Compiled with `experimentalDecorators` (the repository's tsconfig) and without
 * `emitDecoratorMetadata` (tsx/esbuild cannot emit it): every injection names its token with @Inject.
 */
import 'reflect-metadata';
import {
  Body,
  Catch,
  Controller,
  Delete,
  Get,
  HttpException,
  Inject,
  Module,
  NotFoundException,
  Param,
  Query,
  Post,
  Req,
  Res,
  StreamableFile,
  type ArgumentsHost,
  type ExceptionFilter,
  type INestApplication,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, HttpAdapterHost, NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import type { Response as ExpressResponse } from 'express';
import {
  CurrentAuth,
  Device,
  dpopKeyFromRequest,
  Public,
  RequireStepUp,
  type NestHttpRequest,
  TokenAuthException,
  TokenAuthGuard,
  TokenAuthModule,
  type DeviceDetails,
} from 'redis-multitokens/nestjs';
import {
  API_HEADERS,
  BODY_LIMIT_BYTES,
  INVALID_JSON_BODY,
  SECURITY_HEADERS,
  createDemoApi,
  demoStepUp,
  invalidJson,
  PAGE_PATHS,
  publicFile,
  type DemoApi,
  type DemoAppOptions,
  type DemoFactory,
  type DemoResponse,
  type User,
} from '../api.js';

/** Injection token of the demo's handlers. */
const DEMO_API = 'DEMO_API';

/** Sends a handler's answer (status, the API headers and its own, JSON body or none) on either platform. */
function send(adapterHost: HttpAdapterHost, res: unknown, answer: DemoResponse): void {
  const adapter = adapterHost.httpAdapter;
  for (const [name, value] of Object.entries({ ...API_HEADERS, ...answer.headers }))
    adapter.setHeader(res, name, value);
  if (answer.body === undefined) {
    adapter.status(res, answer.status);
    adapter.end(res);
  } else adapter.reply(res, answer.body, answer.status);
}

@Controller()
class DemoController {
  constructor(
    @Inject(DEMO_API) private readonly api: DemoApi,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
  ) {}

  private async answer(res: unknown, answer: Promise<DemoResponse>): Promise<void> {
    send(this.adapterHost, res, await answer);
  }

  /** The devices page (no `Cache-Control: no-store` on these). */
  @Public()
  @Get([...PAGE_PATHS])
  async page(@Req() req: { url: string }): Promise<StreamableFile> {
    const file = await publicFile(new URL(req.url, 'http://demo').pathname);
    if (!file) throw new NotFoundException();
    return new StreamableFile(file.content, { type: file.contentType, length: file.content.length });
  }

  @Public()
  @Get('health')
  health(@Res() res: unknown) {
    return this.answer(res, this.api.health());
  }

  @Public()
  @Post('register')
  register(@Body() body: unknown, @Res() res: unknown) {
    return this.answer(res, this.api.register(body));
  }

  @Public()
  @Post('login')
  login(@Body() body: unknown, @Device() device: DeviceDetails, @Req() req: NestHttpRequest, @Res() res: unknown) {
    return this.answer(
      res,
      this.api.login(body, device, () => dpopKeyFromRequest(req)),
    );
  }

  @Get('me')
  me(@CurrentAuth() auth: CurrentAuth<User>, @Res() res: unknown) {
    return this.answer(res, this.api.me(auth));
  }

  @Post('logout')
  logout(@CurrentAuth() auth: CurrentAuth<User>, @Res() res: unknown) {
    return this.answer(res, this.api.logout(auth));
  }

  @Post('reauthenticate')
  reauthenticate(@CurrentAuth() auth: CurrentAuth<User>, @Body() body: unknown, @Res() res: unknown) {
    return this.answer(res, this.api.reauthenticate(auth, body));
  }

  @Get('devices')
  devices(@CurrentAuth() auth: CurrentAuth<User>, @Query() query: Record<string, unknown>, @Res() res: unknown) {
    return this.answer(res, this.api.devices(auth, query));
  }

  @Delete('devices/:id')
  deleteDevice(@CurrentAuth() auth: CurrentAuth<User>, @Param('id') id: string, @Res() res: unknown) {
    return this.answer(res, this.api.deleteDevice(auth, id));
  }
}

/**
 * The sensitive routes, behind step-up (RFC 9470): a password check within the last
 * `stepUpMaxAgeSeconds` (a controller per app, since the requirement is the app's option).
 */
function sensitiveController(stepUp: { maxAgeSeconds: number }) {
  @RequireStepUp(stepUp)
  @Controller()
  class SensitiveController {
    constructor(
      @Inject(DEMO_API) private readonly api: DemoApi,
      @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    ) {}

    @Post('logout-others')
    async logoutOthers(@CurrentAuth() auth: CurrentAuth<User>, @Res() res: unknown) {
      send(this.adapterHost, res, await this.api.logoutOthers(auth));
    }

    @Post('logout-all')
    async logoutAll(@CurrentAuth() auth: CurrentAuth<User>, @Res() res: unknown) {
      send(this.adapterHost, res, await this.api.logoutAll(auth));
    }

    @Post('change-password')
    async changePassword(@CurrentAuth() auth: CurrentAuth<User>, @Body() body: unknown, @Res() res: unknown) {
      send(this.adapterHost, res, await this.api.changePassword(auth, body));
    }
  }
  return SensitiveController;
}

/**
 * Every exception of the app: the guard's refusals (401/503 with their headers and the library's body)
 * as they are, Nest's "no such route" as the demo's 404, a body that is not JSON as the demo's 400, and
 * everything else through the demo's error handler (the library's errors by their HTTP meaning, 500 logged).
 */
@Catch()
class DemoExceptionFilter implements ExceptionFilter {
  constructor(
    @Inject(DEMO_API) private readonly api: DemoApi,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<unknown>();
    if (this.adapterHost.httpAdapter.isHeadersSent(res)) return void this.adapterHost.httpAdapter.end(res);
    // Nest hands the body parser's and Fastify's refusals (bad JSON, a bad %-escape, a form body on
    // Fastify: 415) to the filters as HttpExceptions.
    const status = exception instanceof HttpException ? exception.getStatus() : undefined;
    const answer: DemoResponse =
      exception instanceof TokenAuthException
        ? exception.refusal
        : exception instanceof NotFoundException
          ? this.api.notFound()
          : status === 415 // not JSON: a 400, as on Express, where express.json() leaves such a body unread
            ? {
                status: 400,
                body: {
                  error: 'invalid_request',
                  message: 'send a JSON object body with Content-Type: application/json',
                },
              }
            : status !== undefined && status >= 400 && status < 500
              ? { status, body: { error: 'invalid_request', message: 'bad request' } }
              : this.api.error(exception);
    send(this.adapterHost, res, answer);
  }
}

/** Builds the demo app on NestJS (not yet listening). It opens nothing itself: the caller owns `tokens` and `db`. */
export async function createNestApp(
  options: DemoAppOptions,
  platform: 'express' | 'fastify' = 'express',
): Promise<INestApplication> {
  const api = createDemoApi(options);

  @Module({
    imports: [
      TokenAuthModule.forRoot<User>({
        manager: options.tokens,
        loadUser: (userId, token) => api.loadUser(userId, token),
      }),
    ],
    controllers: [DemoController, sensitiveController(demoStepUp(options))],
    providers: [
      { provide: DEMO_API, useValue: api },
      { provide: APP_GUARD, useClass: TokenAuthGuard },
      { provide: APP_FILTER, useClass: DemoExceptionFilter },
    ],
  })
  class DemoModule {}

  const trustProxy = options.trustProxy ?? false;
  let app: INestApplication;
  if (platform === 'express') {
    const express = await NestFactory.create<NestExpressApplication>(DemoModule, new ExpressAdapter(), {
      logger: false,
      bodyParser: false,
      abortOnError: false,
    });
    express.disable('x-powered-by');
    express.set('trust proxy', trustProxy);
    // strict: false: any JSON value (null, a string) reaches the handlers' validation, as on every framework.
    express.useBodyParser('json', { limit: BODY_LIMIT_BYTES, strict: false });
    // A body that is not JSON gets the demo's invalid_json answer here: Nest would turn body-parser's
    // error into a BadRequestException that no longer says what went wrong.
    express.use(
      (error: { type?: unknown } | undefined, _req: unknown, res: ExpressResponse, next: (error?: unknown) => void) => {
        if (error?.type !== 'entity.parse.failed') return next(error);
        const answer = invalidJson();
        res
          .status(answer.status)
          .set({ ...SECURITY_HEADERS, ...API_HEADERS })
          .json(answer.body);
      },
    );
    app = express;
  } else {
    // Fastify's trustProxy takes true, a hop count, or addresses (a string of comma-separated ones).
    // Errors Fastify answers before any route (a malformed %-escape in the path) get the demo's answer too.
    const adapter = new FastifyAdapter({
      trustProxy,
      bodyLimit: BODY_LIMIT_BYTES,
      frameworkErrors: (error: Error, _request: unknown, reply: FastifyReply) => {
        const answer = api.error(error);
        void reply
          .code(answer.status)
          .headers({ ...SECURITY_HEADERS, ...API_HEADERS, ...answer.headers })
          .send(answer.body);
      },
    });
    // bodyParser: false keeps Fastify's JSON parser only (no form bodies), as express.json() does.
    app = await NestFactory.create(DemoModule, adapter, { logger: false, bodyParser: false, abortOnError: false });
    // JSON that does not parse reaches the handlers as INVALID_JSON_BODY (their invalid_json answer):
    // Nest would turn Fastify's parser error into an HttpException that no longer says what went wrong.
    const fastify = adapter.getInstance();
    fastify.removeContentTypeParser('application/json');
    fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
      let value: unknown;
      try {
        value = JSON.parse(text as string);
      } catch {
        value = INVALID_JSON_BODY;
      }
      done(null, value);
    });
  }
  // Every answer (page, assets, API, errors) carries the security headers.
  app.use((_req: unknown, res: { setHeader(name: string, value: string): void }, next: () => void) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    next();
  });
  return app;
}

/** A demo server over a Nest app: `listen` resolves with the bound port; `close` closes the app (never `tokens` or `db`). */
export async function createNestDemoServer(options: DemoAppOptions, platform: 'express' | 'fastify' = 'express') {
  const app = await createNestApp(options, platform);
  return {
    async listen(port: number, host: string): Promise<number> {
      await app.listen(port, host);
      return (app.getHttpServer().address() as { port: number }).port;
    },
    close: () => app.close(),
  };
}

/** The demo on NestJS (`DEMO_FRAMEWORK=nestjs`), on the Express platform. */
export const createDemoServer: DemoFactory = (options) => createNestDemoServer(options, 'express');
